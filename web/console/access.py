"""Who may do what in the console: `console_view`, the one decorator every console page
uses, and the template context that hides what a person's scopes do not allow."""

import functools
from collections.abc import Callable
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.cookie import parse_cookie
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect

from common.nonblocking import before_blocking
from web.accounts.scopes import Scope, grants
from web.accounts.selectors import console_access_of
from web.console import pages
from web.console.nav import PAGES

View = Callable[..., HttpResponse]


def console_view(scope: Scope, *, post: Scope | None = None) -> Callable[[View], View]:
    """A console page: signed-in people only (others are sent to the sign-in page and back),
    `scope` to see it (GET, HEAD), `post` to send its forms (POST; by default `scope` too),
    any other method 405. A person without the scope gets the 403 page, whatever the page
    would have shown or done. Every POST needs the form's CSRF token ({% csrf_token %}).

    Sets `request.console_scopes`, from which the templates get `can` (console_context)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in ("GET", "HEAD", "POST"):
                return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
            scopes = signed_in_scopes(request)
            if scopes is None:
                return redirect_to_login(request.get_full_path(), reverse("console:sign-in"))
            needed = (post or scope) if request.method == "POST" else scope
            if not grants(scopes, needed):
                return pages.forbidden(request, needed)
            return view(request, *args, **kwargs)

        return csrf_protect(checked)

    return decorate


def signed_in_scopes(request: HttpRequest) -> tuple[str, ...] | None:
    """The scopes of the person signed in on this request, kept on it for the templates; None
    if no one is, or if their console access was removed since (the session is ended)."""
    if not request.user.is_authenticated:
        return None
    access = console_access_of(user_id=request.user.pk)
    if access is None:
        logout(request)
        return None
    request.console_scopes = tuple(access.scopes)
    return request.console_scopes


def first_page(scopes: tuple[str, ...]) -> str | None:
    """The first page of the navigation these scopes may see."""
    for page in PAGES:
        if grants(scopes, page.scope):
            return reverse(page.url_name)
    return None


def console_context(request: HttpRequest) -> dict:
    """For console pages: `can` (scope value -> whether the person has it, implications
    included: `{% if can.write %}`), `nav` (the pages they may see) and `console_user`.
    Nothing on other pages."""
    scopes = getattr(request, "console_scopes", None)
    if scopes is None:
        return {}
    return {
        "can": {scope.value: grants(scopes, scope) for scope in Scope},
        "nav": [
            {"title": page.title, "url": reverse(page.url_name), "name": page.url_name}
            for page in PAGES
            if grants(scopes, page.scope)
        ],
        "console_user": request.user.get_username(),
    }


def importer_of(cookie_header: str) -> int | None:
    """The id of the console user whose session this Cookie header carries, if their scopes
    allow writing; None otherwise. web/config/asgi.py reads a body as large as an import's
    for the import page only for them: anyone else's post there is refused by the page, and
    read only up to MAX_CONSOLE_FORM_BYTES."""
    key = parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    before_blocking()
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    # What a request's session gives AuthenticationMiddleware: its user if the session is
    # current (not expired, and signed with the user's present password).
    user = get_user(SimpleNamespace(session=session))
    if not user.is_authenticated:
        return None
    access = console_access_of(user_id=user.pk)
    return user.pk if access is not None and grants(access.scopes, Scope.WRITE) else None
