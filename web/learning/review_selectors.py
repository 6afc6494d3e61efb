"""What the review queue reads: the logged predictions it may offer, in a strategy's order,
and what a reviewer holds."""

from datetime import datetime

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from web.accounts.models import ApiToken
from web.learning.models import LoggedPrediction, ReviewItem, ReviewState


class Strategy(models.TextChoices):
    """Which predictions a person's label teaches the model most, first."""

    LEAST_CONFIDENCE = "least_confidence", "lowest top probability first"
    MARGIN = "margin", "smallest gap between the two most probable labels first"
    ENTROPY = "entropy", "highest entropy of the scores first"
    DISAGREEMENT = "disagreement", "predictions the shadow version labelled otherwise, newest first"


# Each has its index on `predictions` (web/learning/models.py).
_ORDER = {
    Strategy.LEAST_CONFIDENCE: "top_probability",
    Strategy.MARGIN: "margin",
    Strategy.ENTROPY: "-entropy",
    Strategy.DISAGREEMENT: "-created_at",
}
# Which logged predictions a strategy offers at all: every one, but for `disagreement`.
_ONLY = {Strategy.DISAGREEMENT: Q(shadow_label__isnull=False) & ~Q(shadow_label=F("label"))}


def _expired(now: datetime) -> Q:
    return Q(state=ReviewState.LEASED, leased_until__lte=now)


def review_candidates(*, strategy: Strategy, now: datetime) -> QuerySet[LoggedPrediction]:
    """The logged predictions the queue may offer, best first: their text was kept, and no
    review item holds their text (one text is offered once) but a lease expired by `now`."""
    taken = ReviewItem.objects.filter(text_key=OuterRef("text_key")).exclude(_expired(now))
    return (
        LoggedPrediction.objects.exclude(text="")
        .filter(_ONLY.get(strategy, Q()), ~Exists(taken))
        .order_by(_ORDER[strategy])
    )


def review_labels_in_rank(*, strategy: Strategy, now: datetime, first: int) -> list[str]:
    """The predicted labels of the `first` best candidates, each once, in rank order."""
    labels = review_candidates(strategy=strategy, now=now).values_list("label", flat=True)
    return list(dict.fromkeys(labels[:first]))


def review_taken_by_label(*, now: datetime) -> dict[str, int]:
    """Review items decided or under an unexpired lease, by the label the model predicted."""
    rows = (
        ReviewItem.objects.exclude(_expired(now))
        .filter(prediction__isnull=False)
        .values_list("prediction__label")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


def review_leases(*, reviewer: str, now: datetime) -> QuerySet[ReviewItem]:
    """The reviewer's unexpired leases, the oldest-ending first, with their predictions."""
    return (
        ReviewItem.objects.select_related("prediction")
        .filter(reviewer=reviewer, state=ReviewState.LEASED, leased_until__gt=now)
        .order_by("leased_until", "id")
    )


def review_counts(*, reviewer: str, now: datetime) -> dict[str, int]:
    """The reviewer's items by state: unexpired leases, and what they decided."""
    rows = (
        ReviewItem.objects.filter(reviewer=reviewer)
        .exclude(_expired(now))
        .values_list("state")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict.fromkeys(ReviewState.values, 0) | dict(rows)


def reviewer_of_token(*, token_id: int) -> str:
    """Who a token's holder is to the queue: "token:<fingerprint>", as the prediction log
    names a REST caller."""
    token = ApiToken.objects.only("digest").get(pk=token_id)
    return f"token:{token.fingerprint}"


def reviewer_of_console_user(*, user_id: int, username: str) -> str:
    """Who a console user is to the queue: "user:<id>:<name>" (as much of the name as fits the
    column; the id alone keeps two people apart)."""
    return f"user:{user_id}:{username}"[: ReviewItem._meta.get_field("reviewer").max_length]
