"""The console's Review page in process (no algorithm service answers here, so texts are shown
unmarked): items leased by the chosen strategy through the API's service, decided by a
numbered label's button, a correction or a skip, the next item answered in place for htmx,
and no item of one reviewer ever shown to another."""

import re

import pytest

from tests.web.console import csrf_token, post_form, signed_in
from tests.web.reviewing import logged
from web.data.models import Data, Source
from web.learning.models import ReviewItem, ReviewState

pytestmark = pytest.mark.django_db

PAGE = "/console/review/"
LEASE = "/console/review/lease/"


def _item(html: str) -> int | None:
    found = re.search(r'data-item-id="(\d+)"', html)
    return int(found.group(1)) if found else None


def _text(html: str) -> str:
    return re.search(r"data-item-text>([^<]*)</p>", html).group(1)


def _buttons(html: str) -> list[tuple[str, str]]:
    return re.findall(r'name="pick" value="([^"]+)" data-key="(\d)"', html)


def test_a_writer_labels_the_least_confident_item_first_with_its_numbered_button():
    logged("Are we still on for tonight", top=0.58)
    logged("Claim your free prize", top=0.51, label="spam")
    client, _ = signed_in("write")
    start = client.get(PAGE).content.decode()
    assert _item(start) is None and "Start reviewing" in start

    leased = post_form(client, LEASE, {"strategy": "least_confidence"}, form_page=PAGE)
    assert leased.status_code == 302
    page = client.get(leased["Location"]).content.decode()
    assert _text(page) == "Claim your free prize"
    assert _buttons(page) == [("ham", "1"), ("spam", "2")]
    assert "spam (the model's)" in page
    assert "Not explained:" in page  # no algorithm service here: the text unmarked, and why
    bars = re.findall(r'data-key="(\w+)" data-value="([\d.]+)"', page.split("item-scores", 1)[1])
    assert bars == [("spam", "0.51"), ("ham", "0.49")]

    item = _item(page)
    decided = post_form(client, f"/console/review/{item}/", {"pick": "ham"}, form_page=PAGE)
    assert decided.status_code == 302
    assert ReviewItem.objects.get(pk=item).state == ReviewState.CORRECTED
    following = client.get(decided["Location"]).content.decode()
    assert f"Item {item} labelled ham: row" in following
    assert _text(following) == "Are we still on for tonight"

    post_form(client, f"/console/review/{_item(following)}/", {"pick": "spam"}, form_page=PAGE)
    assert ReviewItem.objects.get(pk=_item(following)).state == ReviewState.ACCEPTED
    assert sorted(Data.objects.values_list("text", "label", "source")) == [
        ("Are we still on for tonight", "spam", Source.REVIEW),
        ("Claim your free prize", "ham", Source.REVIEW),
    ]
    done = client.get(PAGE).content.decode()
    assert "1 accepted, 1 corrected, 0 skipped, 0 leased" in done


def test_htmx_gets_the_next_item_panel_and_a_bad_correction_keeps_the_item():
    logged("first text", top=0.51)
    logged("second text", top=0.52)
    client, _ = signed_in("write")
    token = csrf_token(client, PAGE)
    htmx = {"HTTP_HX_REQUEST": "true"}
    panel = client.post(LEASE, {"csrfmiddlewaretoken": token}, **htmx).content.decode()
    assert "<html" not in panel
    first = _item(panel)

    wrong = client.post(
        f"/console/review/{first}/",
        {"decision": "correct", "other_label": "", "csrfmiddlewaretoken": token},
        **htmx,
    )
    assert wrong.status_code == 200  # htmx swaps only a 2xx answer in
    assert "label: This field may not be blank." in wrong.content.decode()
    assert _item(wrong.content.decode()) == first

    corrected = client.post(
        f"/console/review/{first}/",
        {"decision": "correct", "other_label": "greeting", "csrfmiddlewaretoken": token},
        **htmx,
    ).content.decode()
    assert _text(corrected) == "second text"
    skipped = client.post(
        f"/console/review/{_item(corrected)}/",
        {"decision": "skip", "csrfmiddlewaretoken": token},
        **htmx,
    ).content.decode()
    assert "Nothing left to review" in skipped
    assert list(Data.objects.values_list("text", "label")) == [("first text", "greeting")]
    assert ReviewItem.objects.get(pk=_item(corrected)).state == ReviewState.SKIPPED


def test_two_reviewers_never_see_the_same_item_nor_decide_the_others():
    for index in range(4):
        logged(f"text {index}", top=0.5 + index / 100)
    alice, _ = signed_in("write")
    bob, _ = signed_in("write")
    seen = {}
    for name, client in (("alice", alice), ("bob", bob), ("alice", alice), ("bob", bob)):
        page = client.post(
            LEASE, {"csrfmiddlewaretoken": csrf_token(client, PAGE)}, HTTP_HX_REQUEST="true"
        ).content.decode()
        seen.setdefault(name, []).append(_item(page))
        # Each decides what they hold, so the next lease is a new item.
        post_form(client, f"/console/review/{_item(page)}/", {"decision": "skip"}, PAGE)
    assert not set(seen["alice"]) & set(seen["bob"])
    assert len(set(seen["alice"]) | set(seen["bob"])) == 4

    logged("held by alice", top=0.4)
    held = _item(
        alice.post(
            LEASE, {"csrfmiddlewaretoken": csrf_token(alice, PAGE)}, HTTP_HX_REQUEST="true"
        ).content.decode()
    )
    taken = post_form(bob, f"/console/review/{held}/", {"pick": "ham"}, form_page=PAGE)
    assert taken.status_code == 409
    assert "This item is not leased to you" in taken.content.decode()
    assert ReviewItem.objects.get(pk=held).state == ReviewState.LEASED


def test_a_reader_gets_no_review_page_and_every_post_is_refused():
    logged("a text", top=0.5)
    writer, _ = signed_in("write")
    item = _item(
        writer.post(
            LEASE, {"csrfmiddlewaretoken": csrf_token(writer, PAGE)}, HTTP_HX_REQUEST="true"
        ).content.decode()
    )
    reader, _ = signed_in("read")
    assert reader.get(PAGE).status_code == 403
    token = csrf_token(reader, "/console/")
    for path in (LEASE, f"/console/review/{item}/"):
        answer = reader.post(path, {"pick": "ham", "csrfmiddlewaretoken": token})
        assert answer.status_code == 403
    assert ReviewItem.objects.get(pk=item).state == ReviewState.LEASED
    assert not Data.objects.exists()
