"""The web app's settings, routed through bench.web_urls: same middleware, authentication
and gunicorn configuration, plus the reference endpoints."""

from web.config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web_urls"
