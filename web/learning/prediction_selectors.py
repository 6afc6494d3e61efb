from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from web.learning.models import LoggedPrediction


def prediction_list(
    *,
    model_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    reference: str | None = None,
    label: str | None = None,
    kept_because: str | None = None,
) -> QuerySet[LoggedPrediction]:
    """Logged predictions, newest first, with their feedback if any; `since` and `until` bound
    the time of the prediction (the first included, the second not), the others match
    exactly."""
    queryset = LoggedPrediction.objects.select_related("feedback").order_by("-created_at", "-id")
    if model_id is not None:
        queryset = queryset.filter(model_id=model_id)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    if reference:
        queryset = queryset.filter(reference=reference)
    if label:
        queryset = queryset.filter(label=label)
    if kept_because:
        queryset = queryset.filter(kept_because=kept_because)
    return queryset
