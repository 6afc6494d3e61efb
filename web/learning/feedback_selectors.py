from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from web.learning.models import Feedback, LoggedPrediction


def prediction_for_feedback(
    *, prediction_id: UUID | None = None, reference: str | None = None
) -> LoggedPrediction | None:
    """The logged prediction with this id, or the latest one carrying this reference, locked
    until the transaction ends so that two feedbacks on it take turns; None if the log has
    none. Call it inside a transaction."""
    predictions = LoggedPrediction.objects.select_for_update()
    if prediction_id is not None:
        return predictions.filter(id=prediction_id).first()
    return predictions.filter(reference=reference).order_by("-created_at", "-id").first()


def feedback_list(
    *,
    model_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Feedback]:
    """Feedback, newest first, with its prediction; `model_id` is the version that predicted,
    `since` and `until` bound the time the feedback was first given (the first included)."""
    queryset = (
        Feedback.objects.select_related("prediction")
        .defer("prediction__text")  # up to MAX_TEXT_CHARS each, and no list shows it
        .order_by("-created_at", "-id")
    )
    if model_id is not None:
        queryset = queryset.filter(prediction__model_id=model_id)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    return queryset
