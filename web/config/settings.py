"""Django settings for the web service.

Every value that differs between deployments comes from an environment variable
read here, and only here; the rest of the code reads `django.conf.settings`.
"""

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from common import limits
from common import settings as common_settings
from common.credentials import secret
from common.logs import logging_config
from common.settings import env, env_int, env_seconds

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_bool(name: str, default: bool) -> bool:
    value = env(name, "")
    return value.lower() in {"1", "true", "yes", "on"} if value else default


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", default=False)

# Secrets have no default: each is given in the environment or generated at the first start
# (common/credentials.py).
SECRET_KEY = secret("DJANGO_SECRET_KEY")

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# `ensure_api_token` gives the service user exactly this token, with the admin scope.
API_TOKEN = secret("API_TOKEN")
# Web's credential for the algorithm service, which refuses calls without it.
ALGORITHM_SERVICE_TOKEN = secret("ALGORITHM_SERVICE_TOKEN")

REDIS_URL = common_settings.REDIS_URL
REDIS_KEY_PREFIX = common_settings.REDIS_KEY_PREFIX
# By default, the algorithm service `make run` starts on this machine, wherever its ports are.
ALGORITHM_GRPC_TARGET = common_settings.env(
    "ALGORITHM_GRPC_TARGET", f"127.0.0.1:{common_settings.ALGORITHM_GRPC_PORT}"
)
# Connections each web process opens to each algorithm address for predictions. A replica's
# gRPC server processes share one port and the kernel hands each connection to one of them
# (ALGORITHM_GRPC_PROCESSES): calls go to the connection with the fewest under way, so every
# process a connection reaches takes its share, and a few more connections than processes
# leave none without one but by a small chance.
ALGORITHM_GRPC_CONNECTIONS = common_settings.env_int_between("ALGORITHM_GRPC_CONNECTIONS", 4, 1, 64)

LOG_DIR = common_settings.LOG_DIR
LOG_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "web.accounts",
    "web.data",
    "web.learning",
    "web.algorithm_proxy",
    "web.console",
]

MIDDLEWARE = [
    "web.api.middleware.MetricsMiddleware",
    "web.api.middleware.RequestIdMiddleware",
    # These four add their headers to every answer, the refusals below included.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.api.middleware.RefusedBodyMiddleware",
    "web.api.middleware.OneHostAndAuthorizationMiddleware",
    "django.middleware.common.CommonMiddleware",
    "web.api.middleware.RequireContentLengthMiddleware",
    # Sessions, sign-in, messages and htmx for /console/ alone: the API never reads a
    # session cookie (web/console/middleware.py).
    "web.console.middleware.ConsoleMiddleware",
]

ROOT_URLCONF = "web.config.urls"
WSGI_APPLICATION = "web.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "web.console.access.console_context",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        common_settings.DATABASE_URL,
        conn_max_age=60,
        conn_health_checks=True,
    )
}
# Without a connect timeout, libpq waits on an unreachable host for minutes and the
# health check (and every request) hangs with it; a URL's own value still wins.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
# Each statement of a request is bounded (DATABASE_STATEMENT_TIMEOUT_SECONDS), so a search
# over a large table answers 503 instead of holding a worker; imports set their own bound.
DATABASES["default"]["OPTIONS"]["options"] = " ".join(
    filter(
        None,
        [
            DATABASES["default"]["OPTIONS"].get("options"),
            "-c statement_timeout="
            f"{round(common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000)}",
        ],
    )
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the throttles' counters, in Redis so that every worker process shares them.
# Short timeouts and no retries: throttling fails open (web/api/throttling.py), and a slow
# Redis must not slow every write and prediction down.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {
            "socket_connect_timeout": 0.25,
            "socket_timeout": 0.25,
            "retry": Retry(NoBackoff(), 0),
        },
    }
}

# Request bodies above it are refused with a JSON 413 (web/api/parsers.py, web/api/bodies.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = limits.MAX_JSON_BODY_BYTES
# A request's whole body must arrive within this long; it is read on the event loop before
# the request takes one of the WEB_THREADS threads (web/config/asgi.py), so a client that
# sends headers and then stalls holds no thread, and is answered 408 when it passes. The
# largest import (DATA_IMPORT_MAX_BYTES) arrives in time at 1.2 MB/s.
REQUEST_BODY_TIMEOUT_SECONDS = env_seconds("REQUEST_BODY_TIMEOUT_SECONDS", 60, maximum=110)
# What the request bodies a web process reads ahead of their answers may hold in its memory
# at once, and a quarter of it per token (web/api/bodies.py): with the default, a token's
# slow or stalled bodies hold at most 8 MiB a process, whatever the number of connections.
WEB_BODY_MEMORY_BYTES = env_int("WEB_BODY_MEMORY_BYTES", 32 * 1024 * 1024)
if WEB_BODY_MEMORY_BYTES < 4 * DATA_UPLOAD_MAX_MEMORY_SIZE:
    raise ImproperlyConfigured(
        "WEB_BODY_MEMORY_BYTES must be at least 4 times DATA_UPLOAD_MAX_MEMORY_SIZE "
        f"({4 * DATA_UPLOAD_MAX_MEMORY_SIZE} bytes), so that a token may send one body of "
        f"the largest size; not {WEB_BODY_MEMORY_BYTES}."
    )
# Imports (POST /api/data/import/) are streamed from the request or from the temporary file
# Django spools an upload to, never held in memory, so their limit is separate and larger.
DATA_IMPORT_MAX_BYTES = limits.MAX_IMPORT_BYTES
# An import's statements may run this long (the rest of a request: the common bound); under
# gunicorn's 120 s timeout, so the import fails with a message before its worker is killed.
DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS = env_seconds(
    "DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS", 100, maximum=110
)

# The review queue (web/learning/review_services.py): how long a leased item stays with its
# reviewer before it is offered to others, and how many unexpired leases one reviewer (a
# token) may hold, so that no caller can take the whole queue.
REVIEW_LEASE_SECONDS = common_settings.env_int_between("REVIEW_LEASE_SECONDS", 300, 10, 86_400)
REVIEW_MAX_LEASES = common_settings.env_int_between("REVIEW_MAX_LEASES", 20, 1, 1_000)

# Exports (GET /api/data/export/, /api/predictions/export/) each hold a thread of the
# WEB_THREADS pool while their client reads (web/api/exports.py): at most this many run at once
# per web process, the next is answered 503, so slow readers never hold the pool.
EXPORT_MAX_CONCURRENT = common_settings.env_int_between("EXPORT_MAX_CONCURRENT", 2, 1, 64)
if EXPORT_MAX_CONCURRENT >= common_settings.WEB_THREADS:
    raise ImproperlyConfigured(
        f"EXPORT_MAX_CONCURRENT ({EXPORT_MAX_CONCURRENT}) must be below WEB_THREADS "
        f"({common_settings.WEB_THREADS}), so that exports leave threads for every other "
        "request: lower EXPORT_MAX_CONCURRENT or raise WEB_THREADS."
    )

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# The console (web/console/): people sign in with a password and keep a session, stored in
# the database so that every web replica knows it. A session ends after this long without a
# request (each request of a signed-in person starts the time again) and at sign-out.
CONSOLE_IDLE_MINUTES = common_settings.env_int_between("CONSOLE_IDLE_MINUTES", 30, 1, 24 * 60)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = CONSOLE_IDLE_MINUTES * 60
# Sent to the console's paths only, never to the API's, and out of scripts' reach; the
# middleware marks both cookies Secure on requests that came over HTTPS (SECURE_PROXY_SSL_HEADER
# below says so behind the trusted proxies).
SESSION_COOKIE_NAME = "textclf_console_session"
SESSION_COOKIE_PATH = "/console/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "textclf_console_csrf"
CSRF_COOKIE_PATH = "/console/"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "web.console.pages.csrf_failure"
LOGIN_URL = "console:sign-in"
# A signed cookie, so that a message to a visitor who is not signed in writes no session row.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
# At most this many sign-ins check a password at once in a web process (each check is a
# PBKDF2 hash, a fraction of a second of CPU): beyond it a sign-in is answered 429 at once,
# so a flood of them from many addresses cannot take the process's threads or its cores.
CONSOLE_SIGN_IN_CONCURRENCY = common_settings.env_int_between(
    "CONSOLE_SIGN_IN_CONCURRENCY", 2, 1, 16
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


# How long a web process trusts a token it has checked, so requests skip the database; a
# revoked token stops working within this time (web/accounts/authentication.py).
API_TOKEN_CACHE_SECONDS = env_seconds("API_TOKEN_CACHE_SECONDS", 10, maximum=60)
# While the database cannot be reached, a process keeps accepting a token it checked within
# this long, so predictions outlive an outage. A token revoked just before an outage works
# in a process that had checked it for at most this long (or API_TOKEN_CACHE_SECONDS, if
# longer) after that check: the bound on that window (docs/security.md).
API_TOKEN_OUTAGE_GRACE_SECONDS = env_seconds("API_TOKEN_OUTAGE_GRACE_SECONDS", 300, maximum=3600)

_RATE = re.compile(r"^\d+/(s|sec|m|min|h|hour|d|day)$")


def _env_rate(name: str, default: str) -> str | None:
    """A throttle rate such as 600/min from the environment; `off` throttles nothing."""
    value = env(name, default).lower()
    if value == "off":
        return None
    if not _RATE.match(value):
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 600/min (per s, min, hour or day) or off, "
            f"not {value!r}."
        )
    return value


# Requests per client (a token's user; without a token, the client address). Generous: a
# limit against runaway clients, not a quota. `auth_failures`: requests per client address
# whose token the database did not know (web/accounts/authentication.py), so guessing
# tokens costs a bounded number of queries. `sign_in_address`, `sign_in_user`: the console's
# failed sign-ins per client address and per user name, checked before a password is hashed
# (web/api/throttling.py SignInFailures).
THROTTLE_RATES = {
    "read": _env_rate("THROTTLE_RATE_READ", "12000/min"),
    "predict": _env_rate("THROTTLE_RATE_PREDICT", "60000/min"),
    "write": _env_rate("THROTTLE_RATE_WRITE", "6000/min"),
    "auth_failures": _env_rate("THROTTLE_RATE_AUTH_FAILURES", "60/min"),
    "sign_in_address": _env_rate("THROTTLE_RATE_SIGN_IN_ADDRESS", "20/hour"),
    "sign_in_user": _env_rate("THROTTLE_RATE_SIGN_IN_USER", "10/hour"),
}

MAX_TRUSTED_PROXIES = 5


def _env_proxy_count(name: str) -> int:
    raw = env(name, "0")
    if not (raw.isdigit() and int(raw) <= MAX_TRUSTED_PROXIES):
        raise ImproperlyConfigured(
            f"{name} must be a number of proxies from 0 to {MAX_TRUSTED_PROXIES}, not {raw!r}."
        )
    return int(raw)


# The proxies in front of web that each append the address they received a request from to
# X-Forwarded-For (ingress-nginx in Kubernetes: 1). The client address, which budgets
# without a token are counted for, is that many entries from the header's end; with 0 the
# header is ignored and the client is the connection's peer, so that a caller cannot pick a
# fresh budget by writing a header. Nothing else decides the address: gunicorn's uvicorn
# workers leave X-Forwarded-* alone (forwarded_allow_ips in web/gunicorn.conf.py).
WEB_TRUSTED_PROXY_COUNT = _env_proxy_count("WEB_TRUSTED_PROXY_COUNT")
# Behind those proxies, the scheme the client used is theirs to say (links in paginated
# answers); directly reached, a request's X-Forwarded-Proto is ignored.
if WEB_TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["web.accounts.authentication.TokenAuthentication"],
    # A token, with the scope the view needs (web/accounts/scopes.py).
    "DEFAULT_PERMISSION_CLASSES": ["web.accounts.permissions.HasRequiredScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["web.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "web.api.pagination.PageNumberPagination",
    "DEFAULT_THROTTLE_CLASSES": ["web.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    "NUM_PROXIES": WEB_TRUSTED_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "web.api.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "web.api.exception_handlers.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "textclf API",
    "DESCRIPTION": (
        "Manage labelled training data, train text classifiers and ask for predictions. "
        "Send `Authorization: Token <key>` on every call except health, schema and docs; "
        "each operation names the token scope it needs (`read`, `predict`, `write` or "
        "`admin`). "
        'Every error answers `{"message": ..., "extra": {...}}`; validation errors list '
        "their fields under `extra.fields`."
    ),
    "VERSION": common_settings.VERSION,
    # Spelled out: the inference protocol's /v2/ paths would make the common prefix "/",
    # and every operation id would change.
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    # The machine serving the docs may have no internet access: assets come from
    # drf-spectacular-sidecar through our own static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "web.api.schema.document_throttling",
        "web.api.schema.document_inference_errors",
    ],
}

LOGGING = logging_config("web")
