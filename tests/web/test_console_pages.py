"""The console's pages in process (no algorithm service answers here): scopes decide what
a person sees and may send, the security headers, the tokens page, Try it's validation,
and an overview that still answers while the algorithm service is away."""

import re

import pytest

from tests.web.console import browser, post_form, signed_in
from web.accounts.models import ApiToken, digest_of
from web.data.models import Data

pytestmark = pytest.mark.django_db


def _links(html: str) -> set[str]:
    return set(re.findall(r'<a href="(/console/[^"]*)"', html))


def test_every_console_answer_allows_only_its_own_files_and_no_cache():
    for path in ("/console/sign-in/", "/console/", "/console/nowhere/"):
        answer = browser().get(path)
        assert answer["Content-Security-Policy"].startswith("default-src 'self';"), path
        assert "no-store" in answer["Cache-Control"], path
    page = browser().get("/console/sign-in/").content.decode()
    assert "<script>" not in page and "style=" not in page
    assert re.findall(r'<script src="([^"]+)"', page) == ["/static/django_htmx/htmx-2.min.js"]


def test_an_unknown_console_path_is_the_consoles_404_page():
    answer = browser().get("/console/nowhere/")
    assert answer.status_code == 404
    assert "There is no such page in the console." in answer.content.decode()


def test_the_nav_shows_only_the_pages_a_user_may_see():
    reader, _ = signed_in("read")
    assert _links(reader.get("/console/").content.decode()) == {
        "/console/",
        "/console/data/",
        "/console/training/",
        "/console/versions/",
    }
    predictor, _ = signed_in("predict")
    assert _links(predictor.get("/console/try/").content.decode()) == {"/console/try/"}
    admin, _ = signed_in("admin")
    assert _links(admin.get("/console/").content.decode()) == {
        "/console/",
        "/console/data/",
        "/console/review/",
        "/console/training/",
        "/console/versions/",
        "/console/try/",
        "/console/tokens/",
    }


def test_a_read_only_user_gets_403_and_no_control_on_the_pages_beyond_their_scope():
    client, _ = signed_in("read")
    for path in ("/console/tokens/", "/console/try/"):
        page = client.get(path)
        assert page.status_code == 403
        html = page.content.decode()
        assert "needs the" in html
        # Only the sign-out form: nothing that creates, revokes or classifies.
        assert re.findall(r'<form[^>]*action="([^"]+)"', html) == ["/console/sign-out/"]
    token = ApiToken.objects.count()
    sent = post_form(client, "/console/tokens/", {"user": "mallory", "scopes": "admin"})
    assert sent.status_code == 403
    assert ApiToken.objects.count() == token
    assert post_form(client, "/console/try/", {"text": "win cash"}).status_code == 403


def test_the_overview_answers_while_the_algorithm_service_is_away():
    Data.objects.bulk_create(
        [Data(text=f"t{i}", label=label) for i, label in enumerate(["spam", "ham", "ham"])]
    )
    client, _ = signed_in("read")
    page = client.get("/console/")
    assert page.status_code == 200
    html = page.content.decode()
    by_label = re.search(r'data-chart="rows-by-label">(.*?)</svg>', html, re.S).group(1)
    assert re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', by_label) == [
        ("ham", "2.0"),
        ("spam", "1.0"),
    ]
    by_source = re.search(r'data-chart="rows-by-source">(.*?)</svg>', html, re.S).group(1)
    assert re.findall(r'data-key="([^"]+)"', by_source) == ["api"]
    assert "The algorithm service did not answer" in html
    assert 'data-health="database" data-ok="true"' in html
    assert 'data-health="algorithm" data-ok="false"' in html


def test_an_admin_creates_a_token_whose_key_is_shown_once_and_revokes_it():
    client, _ = signed_in("admin")
    created = post_form(
        client,
        "/console/tokens/",
        {"user": "ci-bot", "name": "nightly", "scopes": ["read", "predict"], "expires_in_days": 7},
    )
    assert created.status_code == 200
    html = created.content.decode()
    key = re.search(r"<output[^>]*data-key[^>]*>([^<]+)</output>", html).group(1)
    token = ApiToken.objects.get(digest=digest_of(key))
    assert (token.user.username, token.name, token.scopes) == (
        "ci-bot",
        "nightly",
        ["read", "predict"],
    )
    assert token.expires_at is not None
    listed = client.get("/console/tokens/").content.decode()
    assert f'data-token="{token.fingerprint}"' in listed
    assert key not in listed
    revoked = post_form(
        client, f"/console/tokens/{token.pk}/revoke/", {}, form_page="/console/tokens/"
    )
    assert (revoked.status_code, revoked["Location"]) == (302, "/console/tokens/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert (
        f"Token {token.fingerprint} is revoked." in client.get("/console/tokens/").content.decode()
    )


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"user": "", "scopes": "read"}, "user: This field may not be blank."),
        ({"user": "x", "scopes": "root"}, "scopes: "),
        ({"user": "x", "scopes": "read", "expires_in_days": "0"}, "expires_in_days: A whole"),
    ],
)
def test_a_bad_token_form_is_a_400_naming_the_field(form, error):
    client, _ = signed_in("admin")
    answer = post_form(client, "/console/tokens/", form)
    assert answer.status_code == 400
    assert error in answer.content.decode()
    assert not ApiToken.objects.filter(user__username="x").exists()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"text": "   "}, "text: "),
        ({"text": "win", "model_id": "not-a-version"}, "model_id: "),
    ],
)
def test_try_it_refuses_what_the_api_refuses_with_the_field_named(form, error):
    client, _ = signed_in("predict")
    answer = post_form(client, "/console/try/", form)
    assert answer.status_code == 400
    assert error in answer.content.decode()


def test_try_it_names_the_algorithm_service_when_it_is_away():
    client, _ = signed_in("predict")
    answer = post_form(client, "/console/try/", {"text": "win a prize now"})
    assert answer.status_code == 503
    assert 'role="alert"' in answer.content.decode()


def test_try_it_refuses_a_text_over_the_limit():
    client, _ = signed_in("predict")
    answer = post_form(client, "/console/try/", {"text": "x" * 25_000})
    assert answer.status_code == 400
    assert "text: " in answer.content.decode()
