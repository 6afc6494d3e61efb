"""The console's pages in the navigation, in the order it shows them; each shown only to
those whose scopes grant the page's (web/console/access.py)."""

from dataclasses import dataclass

from web.accounts.scopes import Scope


@dataclass(frozen=True)
class Page:
    title: str
    # The route's name in web/console/urls.py (app name "console").
    url_name: str
    # What it takes to see the page (its GET).
    scope: Scope


PAGES = (
    Page("Overview", "console:overview", Scope.READ),
    Page("Data", "console:data", Scope.READ),
    Page("Review", "console:review", Scope.WRITE),
    Page("Training", "console:training", Scope.READ),
    Page("Versions", "console:versions", Scope.READ),
    Page("Try it", "console:try-it", Scope.PREDICT),
    Page("Tokens", "console:tokens", Scope.ADMIN),
)
