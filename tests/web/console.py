"""Helpers for the console's in-process tests: console users made by the command, and
browsers (Django's test client, CSRF checked as a browser's form would be)."""

import uuid
from io import StringIO

from django.core.management import call_command
from django.test import Client

PASSWORD = "correct horse battery staple"


def console_user(*scopes: str, username: str | None = None, password: str = PASSWORD) -> str:
    """A console user made by `console_user create`, the password on standard input."""
    username = username or f"person-{uuid.uuid4().hex[:8]}"
    args = ["console_user", "create", username]
    for scope in scopes:
        args += ["--scope", scope]
    call_command(*args, stdin=StringIO(password + "\n"), stdout=StringIO())
    return username


def fresh_address() -> str:
    """A client address of the test's own, so that failed sign-ins of other tests (counted in
    this run's Redis) leave its budget whole."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def browser(address: str | None = None) -> Client:
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=address or fresh_address())


def csrf_token(client: Client, path: str = "/console/sign-in/") -> str:
    """The CSRF token of a form on `path`, as a browser would send it back."""
    page = client.get(path)
    text = page.content.decode()
    marker = 'name="csrfmiddlewaretoken" value="'
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    token = csrf_token(client)
    return client.post(
        "/console/sign-in/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token, **extra},
    )


def signed_in(*scopes: str) -> tuple[Client, str]:
    """A browser signed in as a new console user with these scopes, and the user's name."""
    username = console_user(*scopes)
    client = browser()
    answer = sign_in(client, username)
    assert answer.status_code == 302, answer.content[:500]
    return client, username


def post_form(client: Client, path: str, data: dict, form_page: str | None = None):
    """A form's POST with the CSRF token a page of the console gave."""
    return client.post(path, {**data, "csrfmiddlewaretoken": csrf_token(client, form_page or path)})
