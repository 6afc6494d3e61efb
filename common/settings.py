"""The settings more than one service reads, each read once from the environment.

One rule for every variable: unset or empty (or only spaces) means the default.
"""

import os
import pathlib
import time
import tomllib
import urllib.parse

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_int_between(name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole number from `minimum` to `maximum`; anything else is refused at start-up."""
    raw = env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be a whole number from {minimum} to {maximum}, not {raw!r}.")
    return value


def env_switch(name: str, default: bool) -> bool:
    """on or off (in any case); anything else is refused at start-up."""
    raw = env(name, "on" if default else "off").lower()
    if raw not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, not {raw!r}.")
    return raw == "on"


def env_seconds(name: str, default: float, maximum: float) -> float:
    """A number of seconds from 0 to `maximum`; anything else is refused at start-up."""
    raw = env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= maximum:  # NaN and the infinities fail this too
        raise ValueError(f"{name} must be a number of seconds from 0 to {maximum:g}, not {raw!r}.")
    return value


def env_fraction(name: str, default: float) -> float:
    """A number from 0 to 1 (a share, a probability); anything else is refused at start-up."""
    raw = env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # NaN fails this too
        raise ValueError(f"{name} must be a number from 0 to 1, not {raw!r}.")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (in any case); anything else is refused at start-up."""
    raw = env(name, default).lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
    return raw


def env_path(name: str, default: str) -> pathlib.Path:
    """A path; a relative one is taken from the repository's root, where `make run` runs."""
    path = pathlib.Path(env(name, default))
    return path if path.is_absolute() else REPO_ROOT / path


# Where the secrets not given in the environment are generated and kept (common.credentials).
SECRETS_DIR = env_path("SECRETS_DIR", "var/secrets")


def optional_secret(name: str) -> str:
    """The secret's value, the environment's or the one kept in SECRETS_DIR; "" if neither.
    (common.credentials generates them, and has `secret`, which refuses to start without.)"""
    value = env(name, "")
    if value:
        return value
    try:
        return (SECRETS_DIR / name).read_text().strip()
    except FileNotFoundError:
        return ""


def with_password(url: str, secret_name: str) -> str:
    """`url` with the password kept as `secret_name` (compose's generated ones), unless the URL
    names a password itself or no such secret exists (`make run`'s local servers)."""
    parts = urllib.parse.urlsplit(url)
    password = parts.password is None and optional_secret(secret_name)
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


DATABASE_URL = with_password(
    env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/textclf"), "DATABASE_PASSWORD"
)
REDIS_URL = with_password(env("REDIS_URL", "redis://127.0.0.1:6379/0"), "REDIS_PASSWORD")
# Prepended to every Redis key the services write (queues, schedules, throttle counters), so
# several deployments (or test runs) can share one Redis server.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", "")
LOG_DIR = env_path("LOG_DIR", "var/log")
# The longest one SQL statement may run for a request (web's views, the algorithm service's
# calls), so that a search over a large table answers an error instead of holding a worker
# and a connection. Imports (web) have their own, larger bound; training reads have none.
DATABASE_STATEMENT_TIMEOUT_SECONDS = env_seconds("DATABASE_STATEMENT_TIMEOUT_SECONDS", 5, 300)

# The address every server listens on. Only loopback by default, so `make run` exposes
# nothing; the image sets 0.0.0.0, since a container's network is its own.
LISTEN_ADDRESS = env("LISTEN_ADDRESS", "127.0.0.1")

ALGORITHM_GRPC_PORT = env_int("ALGORITHM_GRPC_PORT", 50051)
ALGORITHM_HTTP_PORT = env_int("ALGORITHM_HTTP_PORT", 5000)
# Web's processes, read here rather than in web/config/settings.py because gunicorn's
# configuration (web/gunicorn.conf.py) reads them before Django is set up: its port, its
# worker processes (each an event loop), the threads per worker that run Django for every
# request but predictions and liveness (web/config/asgi.py), and those for the token and
# budget checks of predictions that need the database or Redis (common/nonblocking.py).
# Each thread may hold a database connection, so WEB_WORKERS * (WEB_THREADS +
# WEB_CHECK_THREADS + 2) must stay below PostgreSQL's max_connections.
WEB_PORT = env_int("WEB_PORT", 8000)
WEB_WORKERS = env_int("WEB_WORKERS", os.cpu_count() or 1)
WEB_THREADS = env_int("WEB_THREADS", 16)
WEB_CHECK_THREADS = env_int("WEB_CHECK_THREADS", 4)
if not 1 <= WEB_CHECK_THREADS <= 64:
    raise ValueError(f"WEB_CHECK_THREADS must be from 1 to 64, not {WEB_CHECK_THREADS}.")
# Predictions that arrive together in one process share one call (common/coalescing.py): in
# web, one PredictBatch call to the algorithm service; in the algorithm service, one call to
# the model. Each such call carries up to COALESCE_MAX_BATCH texts, with at most
# COALESCE_MAX_IN_FLIGHT calls under way per model version: one at a time makes the fullest
# batches, since what queues behind a call goes out together next. Off, every prediction goes
# out on a call of its own (the benchmark measures the gain apart).
PREDICT_COALESCING = env_switch("PREDICT_COALESCING", True)
# At most the texts one prediction call takes (common/limits.py MAX_BATCH_TEXTS).
COALESCE_MAX_BATCH = env_int_between("COALESCE_MAX_BATCH", 64, 1, 1_000)
COALESCE_MAX_IN_FLIGHT = env_int_between("COALESCE_MAX_IN_FLIGHT", 1, 1, 64)
# Prometheus metrics, each service's at /metrics on a port of its own (common/metrics.py),
# never published outside; the samples of each process tree are kept in METRICS_DIR.
# The process tree (the Procfile's name) this process belongs to: set by common/launch.py for
# the command it starts, empty in a process started otherwise.
METRICS_TREE_VARIABLE = "TEXTCLF_METRICS_TREE"
METRICS_TREE = env(METRICS_TREE_VARIABLE, "")
WEB_METRICS_PORT = env_int("WEB_METRICS_PORT", 9511)
ALGORITHM_METRICS_PORT = env_int("ALGORITHM_METRICS_PORT", 9512)
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 9513)
SCHEDULER_METRICS_PORT = env_int("SCHEDULER_METRICS_PORT", 9514)
METRICS_DIR = env_path("METRICS_DIR", "var/metrics")

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# Set by the image build (docker build --build-arg ...); "unknown" outside an image.
BUILD_TIME = env("BUILD_TIME", "unknown")
GIT_REVISION = env("GIT_REVISION", "unknown")
STARTED_AT = time.time()


def __getattr__(name: str) -> str:
    # Secrets are read on first use, not at import: the command that generates them imports
    # this module too. MODEL_SIGNING_KEY signs every model manifest; a manifest whose
    # signature does not match is never loaded.
    if name == "MODEL_SIGNING_KEY":
        from common.credentials import secret

        globals()[name] = value = secret(name)
        return value
    # Set only while the key is being rotated: manifests it signed are accepted too, until
    # `python -m algorithm.tools.ops resign-models` has signed them all with MODEL_SIGNING_KEY.
    if name == "MODEL_SIGNING_KEY_PREVIOUS":
        globals()[name] = value = optional_secret(name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
