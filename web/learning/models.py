"""The learning loop's tables. Web owns them; the algorithm service writes the prediction log
(algorithm/domain/prediction_log.py, held to this model by
tests/test_prediction_log_contract.py) and its daily retention job deletes old rows."""

from typing import Any

from django.db import models

from common.limits import MAX_LABEL_CHARS, MAX_REFERENCE_CHARS


class KeptBecause(models.TextChoices):
    """Why a prediction is in the log (the policy in docs/operations.md)."""

    UNCERTAIN = "uncertain"
    SAMPLED = "sampled"
    # The shadow version labelled it otherwise than the version that answered.
    DISAGREEMENT = "disagreement"


# A logged prediction whose text was kept.
_KEPT = ~models.Q(text="")


class LoggedPrediction(models.Model):
    """One logged prediction, written by the algorithm service off its answer path."""

    # The prediction_id of the answer.
    id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField()
    model_id = models.UUIDField()
    label = models.CharField(max_length=MAX_LABEL_CHARS)
    # Label -> probability, in the model's class order.
    scores = models.JSONField()
    # The review queue's strategies rank by these, computed once when the record is written.
    top_probability = models.FloatField()
    margin = models.FloatField()
    entropy = models.FloatField()
    # "internal", or "token:<fingerprint>" for a REST caller.
    caller = models.CharField(max_length=64)
    request_id = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=MAX_REFERENCE_CHARS, blank=True)
    # At most one of the two, as the policy decides; both empty when it keeps no text (a
    # text is never empty: the service refuses blank texts).
    text = models.TextField(blank=True)
    text_hash = models.CharField(max_length=64, blank=True)
    # A keyed hash of the text lower-cased with its white space collapsed: the same text
    # twice is one review item.
    text_key = models.CharField(max_length=64)
    kept_because = models.CharField(max_length=16, choices=KeptBecause.choices)
    # The shadow version that also scored the text, and its label (docs/api.md, traffic);
    # both NULL when no shadow did: an empty label would read as one the shadow gave.
    shadow_model_id = models.UUIDField(null=True, blank=True)
    shadow_label = models.CharField(  # noqa: DJ001
        max_length=MAX_LABEL_CHARS, null=True, blank=True
    )

    class Meta:
        db_table = "predictions"
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["created_at"], name="predictions_created_idx"),
            models.Index(fields=["model_id", "created_at"], name="predictions_model_idx"),
            models.Index(
                fields=["reference", "-created_at"],
                name="predictions_reference_idx",
                condition=~models.Q(reference=""),
            ),
            models.Index(fields=["text_key"], name="predictions_text_key_idx"),
            # One per strategy of the review queue (web/learning/review_selectors.py), over
            # the predictions whose text was kept, the only ones it offers: a lease reads
            # them in order and stops at the first not yet taken.
            models.Index(
                fields=["top_probability"], name="predictions_review_top_idx", condition=_KEPT
            ),
            models.Index(fields=["margin"], name="predictions_review_margin_idx", condition=_KEPT),
            models.Index(
                fields=["-entropy"], name="predictions_review_entropy_idx", condition=_KEPT
            ),
            models.Index(
                fields=["-created_at"],
                name="predictions_review_shadow_idx",
                condition=_KEPT & models.Q(shadow_label__isnull=False),
            ),
        )

    def __str__(self) -> str:
        return f"{self.id}: {self.label} ({self.top_probability:.2f})"


class Feedback(models.Model):
    """The true label of one logged prediction, as its caller or a person gave it."""

    prediction = models.OneToOneField(
        LoggedPrediction, on_delete=models.CASCADE, related_name="feedback"
    )
    # The prediction's version and label, copied when the feedback is saved (neither ever
    # changes), so that live accuracy reads a version's newest feedback from this table's
    # index alone instead of joining the whole prediction log.
    model_id = models.UUIDField()
    predicted = models.CharField(max_length=MAX_LABEL_CHARS)
    label = models.CharField(max_length=MAX_LABEL_CHARS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who gave it: "token:<fingerprint>", or "user:<name>" from the console.
    given_by = models.CharField(max_length=64)
    # The labelled row the feedback added to `data`, if it asked for one.
    data_row = models.ForeignKey(
        "data.Data", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "feedback"
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["created_at"], name="feedback_created_idx"),
            # Holding both labels, it answers live accuracy's reads with index-only scans.
            models.Index(
                fields=["model_id", "-created_at", "-id"],
                include=["predicted", "label"],
                name="feedback_model_idx",
            ),
        )

    def __str__(self) -> str:
        return f"{self.prediction_id}: {self.label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.model_id is None:
            self.model_id, self.predicted = self.prediction.model_id, self.prediction.label
        super().save(*args, **kwargs)


class ReviewState(models.TextChoices):
    LEASED = "leased"
    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    SKIPPED = "skipped"


class ReviewItem(models.Model):
    """A text of the log taken into the review queue: leased to one reviewer until
    leased_until, then decided. One per text_key, so that no text is shown twice and two
    reviewers never hold the same one."""

    text_key = models.CharField(max_length=64, unique=True)
    prediction = models.ForeignKey(
        LoggedPrediction, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=16, choices=ReviewState.choices)
    reviewer = models.CharField(max_length=64)
    leased_until = models.DateTimeField(null=True, blank=True)
    # The label the reviewer gave (accepted: the model's; corrected: theirs).
    label = models.CharField(max_length=MAX_LABEL_CHARS, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    data_row = models.ForeignKey(
        "data.Data", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "review_items"
        indexes = (models.Index(fields=["reviewer", "state"], name="review_reviewer_idx"),)

    def __str__(self) -> str:
        return f"{self.text_key[:8]}: {self.state}"
