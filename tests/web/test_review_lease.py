"""POST /api/review/lease/: which logged prediction comes next, each text once, one reviewer at
a time, and at most REVIEW_MAX_LEASES per reviewer, against real PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from tests.web.reviewing import LEASE, MODEL_ID, decide, lease, logged
from web.accounts.services import token_create
from web.learning.models import ReviewItem, ReviewState
from web.learning.review_selectors import Strategy
from web.learning.review_services import review_lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(token_client) -> APIClient:
    return token_client("write")


def _texts(client: APIClient, **body: object) -> list[str]:
    """The texts offered, lease after lease, until nothing is left."""
    texts = []
    while (item := lease(client, **body)) is not None:
        texts.append(item["text"])
    return texts


def test_a_lease_answers_the_item_with_its_prediction(reviewer):
    prediction = logged("Claim your prize now", top=0.52)

    before = timezone.now()
    item = lease(reviewer)

    stored = ReviewItem.objects.get()
    assert item == {
        "id": stored.id,
        "prediction_id": str(prediction.id),
        "text": "Claim your prize now",
        "label": "spam",
        "scores": {"spam": 0.52, "ham": 0.48},
        "model_id": str(MODEL_ID),
        "leased_until": stored.leased_until.isoformat().replace("+00:00", "Z"),
    }
    assert (stored.state, stored.prediction_id) == (ReviewState.LEASED, prediction.id)
    lease_seconds = (stored.leased_until - before).total_seconds()
    assert 300 <= lease_seconds < 310


ORDERS = {
    "least_confidence": ["unsure", "split", "spread"],
    "margin": ["split", "spread", "unsure"],
    "entropy": ["spread", "unsure", "split"],
}


@pytest.mark.parametrize("strategy", sorted(ORDERS))
def test_each_strategy_offers_its_most_uncertain_first(reviewer, strategy):
    logged("unsure", top=0.40, margin=0.30, entropy=0.90)
    logged("split", top=0.45, margin=0.05, entropy=0.70)
    logged("spread", top=0.50, margin=0.20, entropy=1.00)
    # Only its hash was kept: nothing a person could read.
    logged("hashed", top=0.10, margin=0.01, entropy=2.00, kept_text=False)

    assert _texts(reviewer, strategy=strategy) == ORDERS[strategy]


def test_least_confidence_unbalanced_is_the_default(reviewer):
    logged("second", top=0.5)
    logged("first", top=0.4)

    assert _texts(reviewer) == ["first", "second"]


def test_balanced_takes_turns_between_predicted_labels(reviewer):
    for top in (0.51, 0.52, 0.53):
        logged(f"spam {top}", top=top, label="spam")
    for top in (0.55, 0.56):
        logged(f"ham {top}", top=top, label="ham")

    assert _texts(reviewer, balanced=True) == [
        "spam 0.51",
        "ham 0.55",
        "spam 0.52",
        "ham 0.56",
        "spam 0.53",
    ]


def test_the_same_text_is_offered_once_however_often_it_was_predicted(reviewer, token_client):
    logged("Win CASH now", top=0.41, text_key="one text")
    logged("win  cash NOW", top=0.42, text_key="one text")
    logged("See you at lunch", top=0.60)

    assert _texts(reviewer) == ["Win CASH now", "See you at lunch"]
    assert lease(token_client("write", username="bob")) is None


def test_a_bad_strategy_is_a_400_naming_the_choices(reviewer):
    response = reviewer.post(LEASE, {"strategy": "random"})

    assert response.status_code == 400
    assert response.json()["message"] == (
        'Invalid input: strategy: Unknown strategy "random": use least_confidence, margin, '
        "entropy or disagreement."
    )


def test_nothing_left_is_a_204(reviewer):
    response = reviewer.post(LEASE, {})

    assert response.status_code == 204
    assert response.content == b""


def test_an_expired_lease_is_offered_again_and_the_first_holder_may_no_longer_decide(
    reviewer, token_client
):
    prediction = logged("Claim your prize now")
    first = lease(reviewer)
    other = token_client("write", username="bob")
    assert lease(other) is None  # leased: offered to no one else

    ReviewItem.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    again = lease(other)

    assert (again["id"], again["prediction_id"]) == (first["id"], str(prediction.id))
    response = decide(reviewer, first["id"], "accept")
    assert response.status_code == 409
    assert response.json()["message"] == (
        "This item is not leased to you: only the reviewer holding its lease may decide it; "
        "lease another with POST /api/review/lease/."
    )
    assert decide(other, again["id"], "accept").status_code == 200


def test_a_reviewer_holds_at_most_review_max_leases(reviewer, token_client, settings):
    settings.REVIEW_MAX_LEASES = 2
    for number in range(4):
        logged(f"text {number}", top=0.5 + number / 100)
    first, _ = lease(reviewer), lease(reviewer)

    refused = reviewer.post(LEASE, {})

    assert refused.status_code == 409
    assert refused.json() == {
        "message": "You hold 2 unexpired leases, the most a reviewer may hold "
        "(REVIEW_MAX_LEASES): decide some with POST /api/review/{id}/, or wait for them to "
        "expire, before leasing more.",
        "extra": {},
    }
    assert lease(token_client("write", username="bob"))["text"] == "text 2"
    assert decide(reviewer, first["id"], "skip").status_code == 200
    assert lease(reviewer)["text"] == "text 3"


def test_a_read_token_cannot_lease(token_client):
    logged("Claim your prize now")

    response = token_client("read").post(LEASE, {})

    assert response.status_code == 403
    assert response.json()["extra"] == {"required_scope": "write", "token_scopes": ["read"]}
    assert not ReviewItem.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_lease_under_way_is_skipped_not_waited_for():
    logged("first", top=0.40)
    logged("second", top=0.50)

    def lease_elsewhere() -> str:
        try:
            item = review_lease(reviewer="token:bbbbbbbb", strategy=Strategy.LEAST_CONFIDENCE)
            return item.prediction.text
        finally:
            connections.close_all()

    with transaction.atomic():  # holds its lease's locks until the block ends
        mine = review_lease(reviewer="token:aaaaaaaa", strategy=Strategy.LEAST_CONFIDENCE)
        with ThreadPoolExecutor(1) as pool:
            theirs = pool.submit(lease_elsewhere).result(timeout=10)

    assert (mine.prediction.text, theirs) == ("first", "second")
    assert review_lease(reviewer="token:cccccccc", strategy=Strategy.LEAST_CONFIDENCE) is None


@pytest.mark.django_db(transaction=True)
def test_reviewers_leasing_at_once_get_different_items():
    for number in range(4):
        logged(f"text {number}", top=0.5 + number / 100)
    keys = [token_create(username=f"reviewer{n}", scopes=["write"])[1] for n in range(6)]
    start = threading.Barrier(len(keys))

    def lease_at_once(key: str) -> dict | None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        start.wait()
        try:
            return lease(client)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(keys)) as pool:
        items = list(pool.map(lease_at_once, keys))

    leased = [item["text"] for item in items if item is not None]
    assert sorted(leased) == ["text 0", "text 1", "text 2", "text 3"]
    assert ReviewItem.objects.count() == 4
    assert len(set(ReviewItem.objects.values_list("reviewer", flat=True))) == 4


@pytest.mark.django_db(transaction=True)
def test_one_reviewer_leasing_many_at_once_never_passes_the_limit(settings):
    settings.REVIEW_MAX_LEASES = 2
    for number in range(5):
        logged(f"text {number}")
    _, key = token_create(username="greedy", scopes=["write"])
    start = threading.Barrier(5)

    def lease_at_once(_: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        start.wait()
        try:
            return client.post(LEASE, {}).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lease_at_once, range(5)))

    assert sorted(statuses) == [200, 200, 409, 409, 409]
    assert ReviewItem.objects.count() == 2
