"""The console's pages as its navigation lists them (web/console/nav.py), each with its path,
printed as one ``BENCH_JSON [...]`` line: ``python -m bench.console_pages``, run in the
stack's environment by the console section, so that a page added to the navigation is
measured with no edit to the bench."""

import json
import os

import django


def main() -> None:
    # As web/manage.py does: Django's settings module, unless the environment names one.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.config.settings")
    django.setup()
    from django.urls import reverse

    from web.console.nav import PAGES

    pages = [
        {"title": page.title, "url_name": page.url_name, "path": reverse(page.url_name)}
        for page in PAGES
    ]
    print(f"BENCH_JSON {json.dumps(pages)}")


if __name__ == "__main__":
    main()
