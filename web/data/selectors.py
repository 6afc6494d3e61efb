from datetime import datetime

from django.db.models import QuerySet

from web.data.models import Data


def data_list(
    *,
    label: str | None = None,
    search: str | None = None,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Data]:
    """Data in id order; `label` and `source` match exactly, `search` matches text ignoring
    case, `since` and `until` bound the creation time (the first included, the second not)."""
    queryset = Data.objects.all()
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    if label:
        queryset = queryset.filter(label=label)
    if source:
        queryset = queryset.filter(source=source)
    if search:
        queryset = queryset.filter(text__icontains=search)
    return queryset


def data_count() -> int:
    return Data.objects.count()
