from django.db.models import QuerySet

from web.data.models import Data


def data_list(*, label: str | None = None, search: str | None = None) -> QuerySet[Data]:
    """Data in id order; `label` matches exactly, `search` matches text ignoring case."""
    queryset = Data.objects.all()
    if label:
        queryset = queryset.filter(label=label)
    if search:
        queryset = queryset.filter(text__icontains=search)
    return queryset


def data_count() -> int:
    return Data.objects.count()
