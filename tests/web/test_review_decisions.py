"""POST /api/review/{id}/ and GET /api/review/: the leaseholder's decisions become rows of
`data` with the source `review`; anyone else is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from common.limits import MAX_LABEL_CHARS
from tests.web.reviewing import decide, lease, logged
from web.data.models import Data, Source
from web.learning.models import ReviewItem, ReviewState

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(token_client) -> APIClient:
    return token_client("write")


@pytest.fixture
def leased(reviewer) -> dict:
    """An item leased to `reviewer`: the model said spam to "Claim your prize now"."""
    logged("Claim your prize now", label="spam")
    return lease(reviewer)


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_accept_adds_the_text_to_data_with_the_predicted_label(reviewer, leased):
    response = decide(reviewer, leased["id"], "accept")

    assert response.status_code == 200
    row = Data.objects.get()
    item = ReviewItem.objects.get()
    assert (row.text, row.label, row.source) == ("Claim your prize now", "spam", Source.REVIEW)
    assert response.json() == {
        "id": leased["id"],
        "state": "accepted",
        "prediction_id": leased["prediction_id"],
        "label": "spam",
        "data_id": row.id,
        "decided_at": _iso(item.decided_at),
    }
    assert (item.state, item.data_row_id, item.leased_until) == (ReviewState.ACCEPTED, row.id, None)


def test_correct_adds_the_text_with_the_label_given(reviewer, leased):
    response = decide(reviewer, leased["id"], "correct", label="ham")

    assert response.status_code == 200
    row = Data.objects.get()
    assert (row.text, row.label, row.source) == ("Claim your prize now", "ham", Source.REVIEW)
    assert (response.json()["state"], response.json()["label"]) == ("corrected", "ham")
    assert ReviewItem.objects.get().data_row == row


def test_skip_adds_nothing_and_the_text_is_never_offered_again(reviewer, leased):
    response = decide(reviewer, leased["id"], "skip")

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["data_id"]) == ("skipped", None)
    assert not Data.objects.exists()
    ReviewItem.objects.update(leased_until=timezone.now() - timedelta(days=1))
    assert lease(reviewer) is None


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"decision": "correct"}, "label", "A correction needs the right label."),
        ({"decision": "correct", "label": ""}, "label", "This field may not be blank."),
        (
            {"decision": "correct", "label": "x" * (MAX_LABEL_CHARS + 1)},
            "label",
            f"Ensure this field has no more than {MAX_LABEL_CHARS} characters.",
        ),
        ({"decision": "correct", "label": 5}, "label", "Not a valid string."),
        (
            {"decision": "accept", "label": "ham"},
            "label",
            "Only a correction takes a label, not accept.",
        ),
        (
            {"decision": "approve"},
            "decision",
            'Unknown decision "approve": use accept, correct or skip.',
        ),
    ],
)
def test_an_invalid_decision_is_a_400_and_writes_nothing(reviewer, leased, body, field, message):
    response = reviewer.post(f"/api/review/{leased['id']}/", body)

    assert response.status_code == 400
    assert response.json()["extra"] == {"fields": {field: [message]}}
    assert not Data.objects.exists()
    assert ReviewItem.objects.get().state == ReviewState.LEASED


def test_only_the_leaseholder_may_decide(leased, token_client):
    response = decide(token_client("write", username="bob"), leased["id"], "accept")

    assert response.status_code == 409
    assert response.json() == {
        "message": "This item is not leased to you: only the reviewer holding its lease may "
        "decide it; lease another with POST /api/review/lease/.",
        "extra": {},
    }
    assert not Data.objects.exists()


def test_a_decision_after_the_lease_ended_is_a_409_saying_when(reviewer, leased):
    ended = timezone.now() - timedelta(seconds=1)
    ReviewItem.objects.update(leased_until=ended)

    response = decide(reviewer, leased["id"], "accept")

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Your lease on this item ended at {ended.isoformat()} (leases last "
        "REVIEW_LEASE_SECONDS, 300 s): lease again with POST /api/review/lease/; the item is "
        "offered again to whoever leases first."
    )
    assert not Data.objects.exists()


def test_a_second_decision_is_a_409(reviewer, leased):
    assert decide(reviewer, leased["id"], "accept").status_code == 200

    response = decide(reviewer, leased["id"], "correct", label="ham")

    assert response.status_code == 409
    assert response.json()["message"] == (
        "This item was already decided (accepted) and is offered no more: lease another with "
        "POST /api/review/lease/."
    )
    assert list(Data.objects.values_list("label", flat=True)) == ["spam"]


@pytest.mark.parametrize("item_id", [424242, 10**20])
def test_an_unknown_item_is_a_404(reviewer, item_id):
    response = decide(reviewer, item_id, "skip")

    assert response.status_code == 404
    assert response.json() == {"message": f"There is no review item {item_id}.", "extra": {}}


def test_an_item_whose_prediction_retention_deleted_can_be_skipped_not_accepted(reviewer, leased):
    ReviewItem.objects.get().prediction.delete()

    refused = decide(reviewer, leased["id"], "accept")

    assert refused.status_code == 409
    assert refused.json()["message"] == (
        "The prediction log's retention has deleted this item's prediction, and its text with "
        "it: skip the item, or lease another with POST /api/review/lease/."
    )
    assert decide(reviewer, leased["id"], "skip").status_code == 200


def test_the_overview_shows_my_leases_and_my_items_by_state(reviewer, token_client):
    for number in range(4):
        logged(f"text {number}", top=0.5 + number / 100)
    accepted, skipped, kept = lease(reviewer), lease(reviewer), lease(reviewer)
    decide(reviewer, accepted["id"], "accept")
    decide(reviewer, skipped["id"], "skip")
    lease(token_client("write", username="bob"))  # someone else's

    response = token_client("read").get("/api/review/")
    mine = reviewer.get("/api/review/")

    assert response.json() == {
        "leases": [],
        "counts": {"leased": 0, "accepted": 0, "corrected": 0, "skipped": 0},
    }
    assert mine.status_code == 200
    assert mine.json() == {
        "leases": [kept],
        "counts": {"leased": 1, "accepted": 1, "corrected": 0, "skipped": 1},
    }


def test_a_read_token_cannot_decide(leased, token_client):
    response = decide(token_client("read"), leased["id"], "accept")

    assert response.status_code == 403
    assert response.json()["extra"] == {"required_scope": "write", "token_scopes": ["read"]}
