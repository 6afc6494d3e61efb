"""WSGI entry point: Django for everything but predictions, behind web/config/asgi.py."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.config.settings")

application = get_wsgi_application()

# Import the URLconf, and with it every view, now rather than on a worker's first request:
# gunicorn preloads this module, so its workers fork with all of it imported, and no request
# waits while a new worker imports.
get_resolver().url_patterns  # noqa: B018
