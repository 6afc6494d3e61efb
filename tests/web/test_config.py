"""Settings from the environment, logging, and the manage.py / gunicorn / WSGI entry points."""

import importlib
import logging
import multiprocessing
import os
import re
import runpy
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from concurrent_log_handler import ConcurrentRotatingFileHandler
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from common import settings as common_settings
from common.credentials import MissingSecret
from common.logs import correlated

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_NAMES = [
    "DATABASE_URL",
    "REDIS_URL",
    "ALGORITHM_GRPC_TARGET",
    "LOG_DIR",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "API_TOKEN",
    "SECRETS_DIR",
    "LISTEN_ADDRESS",
    "API_TOKEN_CACHE_SECONDS",
    "API_TOKEN_OUTAGE_GRACE_SECONDS",
    "WEB_TRUSTED_PROXY_COUNT",
    "WEB_BODY_MEMORY_BYTES",
    "WEB_PORT",
    "WEB_WORKERS",
    "WEB_THREADS",
    "WEB_CHECK_THREADS",
    "REVIEW_LEASE_SECONDS",
    "REVIEW_MAX_LEASES",
    "EXPORT_MAX_CONCURRENT",
]


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    """Evaluate a fresh copy of the settings module under the given environment."""

    def load(**env: str) -> dict:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
        monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "secrets"))
        monkeypatch.setenv("ALGORITHM_SERVICE_TOKEN", "service-token")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # What web shares with the other services is read by common.settings.
        importlib.reload(common_settings)
        return runpy.run_path(str(REPO_ROOT / "web" / "config" / "settings.py"))

    yield load
    monkeypatch.undo()
    importlib.reload(common_settings)


def test_settings_defaults(load_settings, tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "API_TOKEN").write_text("generated-token\n")
    (tmp_path / "secrets" / "DJANGO_SECRET_KEY").write_text("generated-key\n")
    loaded = load_settings()

    database = loaded["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["PORT"], database["NAME"]) == (
        "django.db.backends.postgresql",
        "127.0.0.1",
        5432,
        "textclf",
    )
    assert database["USER"] == "postgres"
    assert database["CONN_MAX_AGE"] == 60
    assert database["OPTIONS"] == {"connect_timeout": 3, "options": "-c statement_timeout=5000"}
    assert loaded["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert loaded["ALGORITHM_GRPC_TARGET"] == "127.0.0.1:50051"
    assert loaded["DEBUG"] is False
    assert loaded["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert (loaded["API_TOKEN"], loaded["SECRET_KEY"]) == ("generated-token", "generated-key")
    assert loaded["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 4 * 1024 * 1024


def test_settings_read_the_environment(load_settings, tmp_path):
    loaded = load_settings(
        DATABASE_URL="postgres://u:p@db:6543/other?connect_timeout=10",
        REDIS_URL="redis://redis:6379/1",
        ALGORITHM_GRPC_TARGET="algorithm:50051",
        LOG_DIR=str(tmp_path / "elsewhere"),
        DJANGO_SECRET_KEY="from-env",
        DJANGO_DEBUG="true",
        DJANGO_ALLOWED_HOSTS="web, example.com ,",
        API_TOKEN="  tok  ",
        DATABASE_STATEMENT_TIMEOUT_SECONDS="2.5",
    )

    database = loaded["DATABASES"]["default"]
    assert (database["USER"], database["PASSWORD"], database["HOST"], database["PORT"]) == (
        "u",
        "p",
        "db",
        6543,
    )
    assert database["OPTIONS"] == {"connect_timeout": 10, "options": "-c statement_timeout=2500"}
    assert loaded["REDIS_URL"] == "redis://redis:6379/1"
    assert loaded["ALGORITHM_GRPC_TARGET"] == "algorithm:50051"
    assert loaded["LOG_DIR"] == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere").is_dir()
    assert loaded["SECRET_KEY"] == "from-env"
    assert loaded["DEBUG"] is True
    assert loaded["ALLOWED_HOSTS"] == ["web", "example.com"]
    assert loaded["API_TOKEN"] == "tok"


def test_a_secret_neither_given_nor_generated_stops_the_start(load_settings, tmp_path):
    with pytest.raises(MissingSecret) as error:
        load_settings()

    secrets_dir = tmp_path / "secrets"
    assert str(error.value) == (
        f"DJANGO_SECRET_KEY is not set and {secrets_dir / 'DJANGO_SECRET_KEY'} does not exist: "
        "set DJANGO_SECRET_KEY, or run `python -m common.credentials` (make run and compose's "
        "secrets step do) to generate it."
    )


@pytest.mark.parametrize(
    "name, value, maximum",
    [
        ("API_TOKEN_CACHE_SECONDS", "inf", "60"),
        ("API_TOKEN_CACHE_SECONDS", "61", "60"),
        ("API_TOKEN_CACHE_SECONDS", "nan", "60"),
        ("API_TOKEN_CACHE_SECONDS", "-1", "60"),
        ("API_TOKEN_OUTAGE_GRACE_SECONDS", "1e9", "3600"),
        ("API_TOKEN_OUTAGE_GRACE_SECONDS", "a while", "3600"),
        ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "inf", "300"),
        ("DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS", "600", "110"),
    ],
)
def test_times_are_bounded(load_settings, name, value, maximum):
    with pytest.raises(ValueError) as error:
        load_settings(**{name: value, "DJANGO_SECRET_KEY": "k", "API_TOKEN": "t"})

    assert str(error.value) == (
        f"{name} must be a number of seconds from 0 to {maximum}, not {value!r}."
    )


def test_token_times_default_to_ten_seconds_and_five_minutes(load_settings):
    loaded = load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t")

    assert (loaded["API_TOKEN_CACHE_SECONDS"], loaded["API_TOKEN_OUTAGE_GRACE_SECONDS"]) == (
        10,
        300,
    )


def test_review_leases_default_to_five_minutes_and_twenty_a_reviewer(load_settings):
    loaded = load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t")
    assert (loaded["REVIEW_LEASE_SECONDS"], loaded["REVIEW_MAX_LEASES"]) == (300, 20)

    loaded = load_settings(
        DJANGO_SECRET_KEY="k", API_TOKEN="t", REVIEW_LEASE_SECONDS="60", REVIEW_MAX_LEASES="5"
    )
    assert (loaded["REVIEW_LEASE_SECONDS"], loaded["REVIEW_MAX_LEASES"]) == (60, 5)


@pytest.mark.parametrize(
    ("name", "value", "bounds"),
    [
        ("REVIEW_LEASE_SECONDS", "5", "from 10 to 86400"),
        ("REVIEW_LEASE_SECONDS", "5m", "from 10 to 86400"),
        ("REVIEW_MAX_LEASES", "0", "from 1 to 1000"),
    ],
)
def test_review_lease_settings_are_bounded(load_settings, name, value, bounds):
    with pytest.raises(ValueError) as error:
        load_settings(**{name: value, "DJANGO_SECRET_KEY": "k", "API_TOKEN": "t"})

    assert str(error.value) == f"{name} must be a whole number {bounds}, not {value!r}."


def test_two_exports_run_at_once_by_default_and_fewer_than_the_threads(load_settings):
    assert load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t")["EXPORT_MAX_CONCURRENT"] == 2
    loaded = load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", EXPORT_MAX_CONCURRENT="5")
    assert loaded["EXPORT_MAX_CONCURRENT"] == 5

    with pytest.raises(ValueError) as error:
        load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", EXPORT_MAX_CONCURRENT="0")
    assert str(error.value) == (
        "EXPORT_MAX_CONCURRENT must be a whole number from 1 to 64, not '0'."
    )
    with pytest.raises(ImproperlyConfigured) as refused:
        load_settings(
            DJANGO_SECRET_KEY="k", API_TOKEN="t", EXPORT_MAX_CONCURRENT="4", WEB_THREADS="4"
        )
    assert str(refused.value) == (
        "EXPORT_MAX_CONCURRENT (4) must be below WEB_THREADS (4), so that exports leave "
        "threads for every other request: lower EXPORT_MAX_CONCURRENT or raise WEB_THREADS."
    )


def test_the_client_is_the_peer_unless_proxies_are_trusted(load_settings):
    for unset in ({}, {"WEB_TRUSTED_PROXY_COUNT": " "}):
        loaded = load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", **unset)
        assert loaded["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
        assert "SECURE_PROXY_SSL_HEADER" not in loaded

    loaded = load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", WEB_TRUSTED_PROXY_COUNT="1")

    assert loaded["REST_FRAMEWORK"]["NUM_PROXIES"] == 1
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize("value", ["6", "-1", "one", "1.5"])
def test_the_trusted_proxy_count_is_bounded(load_settings, value):
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", WEB_TRUSTED_PROXY_COUNT=value)

    assert str(error.value) == (
        f"WEB_TRUSTED_PROXY_COUNT must be a number of proxies from 0 to 5, not {value!r}."
    )


def test_the_body_memory_leaves_each_token_room_for_one_body_of_the_largest_size(
    load_settings,
):
    assert load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t")["WEB_BODY_MEMORY_BYTES"] == 2**25

    with pytest.raises(ImproperlyConfigured) as error:
        load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", WEB_BODY_MEMORY_BYTES="1000000")

    assert "WEB_BODY_MEMORY_BYTES must be at least 4 times" in str(error.value)


def test_relative_log_dir_is_under_the_repository_root(load_settings):
    loaded = load_settings(LOG_DIR="var/log", DJANGO_SECRET_KEY="k", API_TOKEN="t")

    assert loaded["LOG_DIR"] == REPO_ROOT / "var" / "log"


def test_logs_go_to_the_rotating_file_one_line_per_record():
    (handler,) = [
        h for h in logging.getLogger().handlers if isinstance(h, ConcurrentRotatingFileHandler)
    ]
    assert Path(handler.baseFilename) == common_settings.LOG_DIR / "web.log"
    marker = f"marker {uuid.uuid4().hex}"

    with correlated("req-1"):
        logging.getLogger("web.test").warning("%s\nsecond line", marker)

    lines = (common_settings.LOG_DIR / "web.log").read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if marker in line]
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z WARNING web req-1 web\.test: "
        rf"{marker}\\nsecond line",
        line,
    )


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert out.getvalue() == "No changes detected\n"


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_runs_as_a_module_from_the_repository_root():
    result = run_python("-m", "web.manage", "check")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_manage_lists_the_project_commands():
    result = run_python("-m", "web.manage", "help", "--commands")

    # `release` (web.algorithm_proxy) is what `make run` and the containers run first.
    assert {"ensure_api_token", "create_api_token", "release"} <= set(result.stdout.split())


def test_web_port_processes_and_threads_default_when_unset_or_empty(load_settings):
    load_settings(DJANGO_SECRET_KEY="k", API_TOKEN="t", WEB_PORT="", WEB_WORKERS=" ")

    read = (common_settings.WEB_PORT, common_settings.WEB_WORKERS, common_settings.WEB_THREADS)
    assert read == (8000, multiprocessing.cpu_count(), 16)


def test_gunicorn_config_defaults():
    config = runpy.run_path(str(REPO_ROOT / "web" / "gunicorn.conf.py"))

    assert (config["worker_class"], config["reuse_port"]) == ("uvicorn_worker.UvicornWorker", True)
    assert config["wsgi_app"] == "web.config.asgi:application"
    assert (config["accesslog"], config["timeout"], config["preload_app"]) == ("-", 120, True)


def test_gunicorn_takes_port_and_workers_from_the_settings():
    check = [
        "-m",
        "gunicorn",
        "--config",
        "web/gunicorn.conf.py",
        "--check-config",
        "--print-config",
    ]
    result = run_python(*check, WEB_PORT="9123", WEB_WORKERS="3")

    # Loopback only, unless LISTEN_ADDRESS says otherwise (the image says 0.0.0.0).
    assert re.search(r"^bind\s*=\s*\['127\.0\.0\.1:9123'\]$", result.stdout, re.M), result.stderr
    assert re.search(r"^workers\s*=\s*3$", result.stdout, re.M)


def test_gunicorn_loads_the_asgi_app_with_its_config():
    result = run_python(
        "-m", "gunicorn", "--config", "web/gunicorn.conf.py", "--check-config", "--print-config"
    )

    assert result.returncode == 0, result.stderr
    assert re.search(r"^wsgi_app\s*=\s*web\.config\.asgi:application$", result.stdout, re.M)


def test_uvicorn_takes_no_client_address_or_scheme_from_forwarded_headers(monkeypatch):
    # Web's own setting decides them (WEB_TRUSTED_PROXY_COUNT), on both of its paths.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    result = run_python(
        "-m", "gunicorn", "--config", "web/gunicorn.conf.py", "--check-config", "--print-config"
    )

    assert result.returncode == 0, result.stderr
    assert re.search(r"^forwarded_allow_ips\s*=\s*\[\]$", result.stdout, re.M)


def test_the_preloaded_asgi_module_has_imported_every_view():
    # gunicorn preloads it: workers fork with the views imported, so none imports on a request.
    result = run_python(
        "-c", "import sys, web.config.asgi; print('web.algorithm_proxy.views' in sys.modules)"
    )

    assert (result.returncode, result.stdout) == (0, "True\n"), result.stderr
