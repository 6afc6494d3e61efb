"""The console's sign-in: console users made by the command, sessions for /console/ alone,
the idle timeout, CSRF on every form, and failed sign-ins throttled per client address and
per user name before any password is hashed."""

import runpy
import uuid
from io import StringIO

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command

from tests import support
from tests.web.console import PASSWORD, browser, console_user, csrf_token, sign_in, signed_in
from web.accounts.models import ConsoleAccess
from web.accounts.services import token_create

pytestmark = pytest.mark.django_db


def test_a_visitor_is_sent_to_the_sign_in_page_and_back():
    client = browser()
    answer = client.get("/console/tokens/")
    assert answer.status_code == 302
    assert answer["Location"] == "/console/sign-in/?next=/console/tokens/"
    username = console_user("admin")
    signed = sign_in(client, username, next="/console/tokens/")
    assert (signed.status_code, signed["Location"]) == (302, "/console/tokens/")
    assert client.get("/console/tokens/").status_code == 200


def test_sign_in_sends_only_to_a_console_page():
    client = browser()
    username = console_user("read")
    signed = sign_in(client, username, next="https://elsewhere.example/console/")
    assert signed["Location"] == "/console/"
    other = browser()
    assert sign_in(other, username, next="/api/tokens/")["Location"] == "/console/"


def test_a_predict_only_user_lands_on_try_it():
    client = browser()
    assert sign_in(client, console_user("predict"))["Location"] == "/console/try/"


def test_the_session_cookie_is_the_consoles_alone_and_ends_after_the_idle_time(settings):
    client = browser()
    signed = sign_in(client, console_user("read"))
    cookie = signed.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["path"] == "/console/"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == settings.CONSOLE_IDLE_MINUTES * 60 == 1800
    # Each request of a signed-in person starts the idle time again.
    session = Session.objects.get(session_key=cookie.value)
    later = client.get("/console/")
    assert later.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 1800
    assert Session.objects.get(session_key=cookie.value).expire_date > session.expire_date


def test_the_api_never_takes_a_session_only_tokens():
    client, _ = signed_in("admin")
    answer = client.get("/api/tokens/")
    assert answer.status_code == 401
    assert answer.json()["message"] == "Authentication credentials were not provided."


def test_a_visitor_who_is_not_signed_in_writes_no_session_row():
    client = browser()
    client.cookies["textclf_console_session"] = "a" * 32  # a key the database never gave
    for path in ("/console/sign-in/", "/console/", "/console/nowhere/"):
        client.get(path)
    assert Session.objects.count() == 0


def test_every_console_form_needs_its_csrf_token():
    client = browser()
    username = console_user("admin")
    refused = client.post("/console/sign-in/", {"username": username, "password": PASSWORD})
    assert refused.status_code == 403
    assert "The form has expired" in refused.content.decode()
    assert sign_in(client, username).status_code == 302
    revoke = client.post("/console/sign-out/")
    assert revoke.status_code == 403


def test_sign_out_ends_the_session():
    client, _ = signed_in("read")
    token = csrf_token(client, "/console/")
    assert client.post("/console/sign-out/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get("/console/").status_code == 302
    assert Session.objects.count() == 0


def test_a_wrong_password_is_refused_and_says_so():
    client = browser()
    answer = sign_in(client, console_user("read"), password="not the password at all")
    assert answer.status_code == 401
    assert "Wrong user name or password." in answer.content.decode()
    assert client.get("/console/").status_code == 302


def test_a_token_user_cannot_sign_in():
    token_create(username="token-only", scopes=["admin"])
    assert sign_in(browser(), "token-only", password="").status_code == 400
    assert sign_in(browser(), "token-only", password="anything at all").status_code == 401


def test_removed_console_access_ends_the_session_at_the_next_request():
    client, username = signed_in("admin")
    call_command("console_user", "delete", username, stdout=StringIO())
    assert client.get("/console/").status_code == 302


def test_a_new_password_ends_every_session_of_the_user():
    client, username = signed_in("read")
    new = "another long passphrase here"
    call_command("console_user", "set-password", username, stdin=StringIO(new), stdout=StringIO())
    assert client.get("/console/").status_code == 302
    assert sign_in(browser(), username, password=new).status_code == 302


@pytest.fixture
def hashes(monkeypatch):
    """Counts the passwords hashed."""
    counted = []
    original = PBKDF2PasswordHasher.encode

    def encode(self, password, salt, iterations=None):
        counted.append(1)
        return original(self, password, salt, iterations)

    monkeypatch.setattr(PBKDF2PasswordHasher, "encode", encode)
    return counted


@pytest.fixture
def low_bounds(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"sign_in_address": "5/day", "sign_in_user": "3/day"},
    }


def test_failures_past_the_address_bound_are_refused_before_any_hash(low_bounds, hashes):
    client = browser()
    answers = [
        sign_in(client, f"nobody-{uuid.uuid4().hex[:6]}", password="guess").status_code
        for _ in range(8)
    ]
    assert answers == [401] * 5 + [429] * 3
    assert len(hashes) == 5
    refused = sign_in(client, console_user("read"))  # the right password does not help
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 86_400


def test_failures_past_the_user_name_bound_are_refused_from_every_address(low_bounds, hashes):
    username = console_user("read")
    answers = [sign_in(browser(), username, password="guess").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    assert len(hashes) == 1 + 3  # the user's creation, then three guesses
    assert sign_in(browser(), username).status_code == 429
    assert sign_in(browser(), console_user("read")).status_code == 302


def test_sign_in_is_paused_while_redis_cannot_count_failures(settings):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    answer = sign_in(browser(), console_user("read"))
    assert answer.status_code == 503
    assert "Sign-in is unavailable" in answer.content.decode()


def test_console_user_command_creates_lists_and_deletes(capsys):
    username = console_user("write", "predict", username="carol")
    assert ConsoleAccess.objects.get(user__username=username).scopes == ["predict", "write"]
    listed = StringIO()
    call_command("console_user", "list", stdout=listed)
    assert "carol  predict,write" in listed.getvalue()
    with pytest.raises(CommandError, match="console user already"):
        console_user("read", username="carol")
    call_command("console_user", "delete", "carol", stdout=StringIO())
    assert not ConsoleAccess.objects.exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("12345678901234", "entirely numeric"), ("", "standard input")],
)
def test_console_user_command_refuses_a_weak_or_missing_password(password, message):
    with pytest.raises(CommandError, match=message):
        console_user("read", password=password)
    assert not ConsoleAccess.objects.exists()


def test_console_user_command_never_makes_the_service_user_a_console_user():
    with pytest.raises(CommandError, match="deployment's own"):
        console_user("admin", username="service")


def test_the_idle_time_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    path = str(support.REPO_ROOT / "web" / "config" / "settings.py")
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", "5")
    assert runpy.run_path(path)["SESSION_COOKIE_AGE"] == 300
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", "0")
    with pytest.raises(ValueError, match="CONSOLE_IDLE_MINUTES must be a whole number from 1"):
        runpy.run_path(path)
