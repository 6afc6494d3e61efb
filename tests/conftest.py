"""Test-run isolation: every run gets its own PostgreSQL database and Redis key prefix."""

import os
import uuid
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])
# Each pytest-xdist worker is a run of its own: its database, Redis keys and stacks.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and not RUN_ID.endswith(_WORKER):
    RUN_ID = os.environ["TEST_RUN_ID"] = f"{RUN_ID}{_WORKER}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """Name the Django test database after this run, so concurrent runs never share one."""
    from django.conf import settings

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_textclf_{RUN_ID}"


@pytest.fixture(scope="session", autouse=True)
def redis_cache_of_this_run():
    """Keep this run's cache keys (the throttles' counters) apart from every other run's."""
    from django.conf import settings
    from django.test.utils import override_settings

    from tests.support import delete_redis_keys

    prefix = f"textclf-test-{RUN_ID}:"
    with override_settings(
        CACHES={"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    ):
        yield
    delete_redis_keys(prefix)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def token_client(db) -> Callable[..., APIClient]:
    """Makes REST clients, each holding a real token with the scopes given, of a user
    (created if new)."""
    from web.accounts.services import token_create

    def make(*scopes: str, username: str = "alice", **options) -> APIClient:
        _, key = token_create(username=username, scopes=scopes, **options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def api_client(token_client) -> APIClient:
    """A REST client holding a real admin token of a fresh user: it may call everything."""
    return token_client("admin")


# Folders whose tests start a stack, servers or containers, and modules whose tests each
# start a Python process that loads scikit-learn: `make test-fast` leaves them out.
_SLOW_FOLDERS = {"processes", "fuzz", "e2e", "faults", "hostile", "browser"}
_SLOW_MODULES = {"test_cli.py", "test_layers.py"}


# The benchmark suite at its smoke size: minutes, where a module of most others takes seconds.
_LONGEST_MODULE = "test_bench.py"
# Folders `make test` runs after the rest, in one process: the hostile-load suite, whose
# bounds are measured against a legitimate caller, and the folders whose modules share one
# stack in name order (pytest-xdist would spread their modules over its workers).
_SERIAL_FOLDERS = {"hostile", "e2e", "browser", "fuzz"}


def pytest_collection_modifyitems(items):
    for item in items:
        path = item.path.relative_to(item.config.rootpath)
        if (len(path.parts) > 2 and path.parts[1] in _SLOW_FOLDERS) or path.name in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if len(path.parts) > 2 and path.parts[1] in _SERIAL_FOLDERS:
            item.add_marker(pytest.mark.serial)
    # The longest test first (`--no-loadscope-reorder` keeps this order): started last, it
    # would leave the other worker idle for most of its time.
    items.sort(key=lambda item: item.path.name != _LONGEST_MODULE)
