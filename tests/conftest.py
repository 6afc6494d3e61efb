"""Test-run isolation: every run gets its own PostgreSQL database and Redis key prefix."""

import os
import uuid

import pytest

RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """Name the Django test database after this run, so concurrent runs never share one."""
    from django.conf import settings

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_textclf_{RUN_ID}"
