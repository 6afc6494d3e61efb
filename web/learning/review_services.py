"""The review queue's writes: lease a logged prediction to one reviewer, and record what they
decided, as a labelled row of `data` when they accept or correct it.

Two reviewers never hold the same text: a text is one review item (unique `text_key`), and a
lease creates it, or takes over one whose lease expired, in one transaction. The candidate
rows a lease is taking are locked and skipped by the others (SKIP LOCKED), so reviewers
leasing at once each get the next free one instead of waiting; two rows of the same text
meet at the unique key, where the later one gives way and moves on.
"""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from web.data.models import Data, Source
from web.learning.models import LoggedPrediction, ReviewItem, ReviewState
from web.learning.review_selectors import (
    Strategy,
    review_candidates,
    review_labels_in_rank,
    review_leases,
    review_taken_by_label,
)

# A balanced lease picks its label among the labels of this many best candidates: deep
# enough to meet every label the model predicts with some doubt, shallow enough to read in
# a few milliseconds on each lease. A label whose best candidate ranks deeper waits until
# the ones above it are taken.
BALANCE_WINDOW = 200

_LEASE_ANOTHER = "lease another with POST /api/review/lease/"


class Decision(models.TextChoices):
    ACCEPT = "accept", "the model's label is right: add the text to data with it"
    CORRECT = "correct", "add the text to data with the label given"
    SKIP = "skip", "add nothing, and never offer the text again"


class ReviewRefused(Exception):
    """The queue's state does not allow the request; the message says why to a person."""


class ReviewItemNotFound(Exception):
    pass


@transaction.atomic
def review_lease(*, reviewer: str, strategy: Strategy, balanced: bool = False) -> ReviewItem | None:
    """Lease the best candidate (review_selectors.review_candidates) to `reviewer` for
    REVIEW_LEASE_SECONDS: its review item, with the prediction, or None when none is left.

    `balanced` takes turns between predicted labels: the label with the fewest items decided
    or leased so far, among those of the BALANCE_WINDOW best candidates, gives the item.
    ReviewRefused if the reviewer already holds REVIEW_MAX_LEASES unexpired leases.
    """
    _one_lease_at_a_time(reviewer)
    now = timezone.now()
    held = review_leases(reviewer=reviewer, now=now).count()
    if held >= settings.REVIEW_MAX_LEASES:
        raise ReviewRefused(
            f"You hold {held} unexpired leases, the most a reviewer may hold "
            f"(REVIEW_MAX_LEASES): decide some with POST /api/review/{{id}}/, or wait for "
            "them to expire, before leasing more."
        )
    leased_until = now + timedelta(seconds=settings.REVIEW_LEASE_SECONDS)
    # Each lost race is a text another lease has just committed, which the next query
    # leaves out: the loop ends.
    while (prediction := _next_candidate(strategy, balanced, now)) is not None:
        item = _take(prediction, reviewer, leased_until, now)
        if item is not None:
            return item
    return None


def _one_lease_at_a_time(reviewer: str) -> None:
    """Hold the reviewer's own lock until the transaction ends, so that leases one reviewer
    asks for at once are counted one after another and never pass REVIEW_MAX_LEASES
    together. (A transaction-level advisory lock: there is no reviewer row to lock.)"""
    digest = hashlib.blake2b(f"review:{reviewer}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)]
        )


def _next_candidate(strategy: Strategy, balanced: bool, now: datetime) -> LoggedPrediction | None:
    # Rows other leases are taking are skipped, not waited for. NO KEY: feedback, whose
    # foreign key locks the prediction it names, is not held up by a lease.
    lockable = review_candidates(strategy=strategy, now=now).select_for_update(
        skip_locked=True, no_key=True
    )
    for label in _labels_in_turn(strategy, now) if balanced else []:
        prediction = lockable.filter(label=label).first()
        if prediction is not None:
            return prediction
    # Unbalanced; or balanced, when leases under way hold every candidate of those labels.
    return lockable.first()


def _labels_in_turn(strategy: Strategy, now: datetime) -> list[str]:
    """The window's labels, the one with the fewest items taken first; the better-ranked
    first among equals (sorted is stable)."""
    labels = review_labels_in_rank(strategy=strategy, now=now, first=BALANCE_WINDOW)
    taken = review_taken_by_label(now=now)
    return sorted(labels, key=lambda label: taken.get(label, 0))


def _take(
    prediction: LoggedPrediction, reviewer: str, leased_until: datetime, now: datetime
) -> ReviewItem | None:
    """Lease the prediction's text: a new review item, or the one whose lease expired. None
    when another lease took the text first."""
    item = ReviewItem.objects.select_for_update().filter(text_key=prediction.text_key).first()
    if item is None:
        try:
            with transaction.atomic():  # a savepoint: losing the race undoes only this insert
                return ReviewItem.objects.create(
                    text_key=prediction.text_key,
                    prediction=prediction,
                    state=ReviewState.LEASED,
                    reviewer=reviewer,
                    leased_until=leased_until,
                )
        except IntegrityError:
            return None
    if item.state != ReviewState.LEASED or item.leased_until > now:
        return None
    item.prediction, item.reviewer, item.leased_until = prediction, reviewer, leased_until
    item.save(update_fields=["prediction", "reviewer", "leased_until"])
    return item


@transaction.atomic
def review_decide(
    *, item_id: int, reviewer: str, decision: Decision, label: str = ""
) -> ReviewItem:
    """Record the decision of the reviewer holding the item's unexpired lease: accept and
    correct add the text to `data` (source "review") with the model's label or `label`, in
    this transaction, and link the row; skip adds nothing. Either way the text is never
    offered again. ReviewItemNotFound, or ReviewRefused when the lease is not theirs."""
    item = (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("prediction")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise ReviewItemNotFound(f"There is no review item {item_id}.")
    now = timezone.now()
    _check_holder(item, reviewer, now)
    if decision == Decision.SKIP:
        item.state = ReviewState.SKIPPED
    else:
        prediction = item.prediction
        if prediction is None:
            raise ReviewRefused(
                "The prediction log's retention has deleted this item's prediction, and its "
                f"text with it: skip the item, or {_LEASE_ANOTHER}."
            )
        accepted = decision == Decision.ACCEPT
        item.state = ReviewState.ACCEPTED if accepted else ReviewState.CORRECTED
        item.label = prediction.label if accepted else label
        item.data_row = Data.objects.create(
            text=prediction.text, label=item.label, source=Source.REVIEW
        )
    item.decided_at, item.leased_until = now, None
    item.save(update_fields=["state", "label", "decided_at", "leased_until", "data_row"])
    return item


def _check_holder(item: ReviewItem, reviewer: str, now: datetime) -> None:
    if item.state != ReviewState.LEASED:
        raise ReviewRefused(
            f"This item was already decided ({item.state}) and is offered no more: "
            f"{_LEASE_ANOTHER}."
        )
    if item.reviewer != reviewer:
        raise ReviewRefused(
            "This item is not leased to you: only the reviewer holding its lease may decide "
            f"it; {_LEASE_ANOTHER}."
        )
    if item.leased_until <= now:
        raise ReviewRefused(
            f"Your lease on this item ended at {item.leased_until.isoformat()} (leases last "
            f"REVIEW_LEASE_SECONDS, {settings.REVIEW_LEASE_SECONDS} s): lease again with "
            "POST /api/review/lease/; the item is offered again to whoever leases first."
        )
