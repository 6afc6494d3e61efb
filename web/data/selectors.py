from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Window

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


@dataclass(frozen=True)
class DataPage:
    """One page of rows, newest first, and the cursors of the pages beside it: `older`, the
    `before` of the next older page, and `newer`, the `after` of the next newer one (None
    where there is no such page)."""

    rows: list[Data]
    older: int | None
    newer: int | None


def data_page(
    *, size: int, before: int | None = None, after: int | None = None, **filters: Any
) -> DataPage:
    """The rows data_list(**filters) selects, `size` at a time, newest first: the newest, or
    those just older than the row `before`, or just newer than the row `after`.

    Keyset paging on the primary key: a page costs the same however deep it is and nothing
    counts the table, where an offset would read every row it skips."""
    selected = data_list(**filters)
    if after is not None:
        rows = list(selected.filter(id__gt=after).order_by("id")[: size + 1])
        if not rows:  # nothing newer is left (deleted since): the newest page instead
            return data_page(size=size, **filters)
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = selected.filter(id__lte=after).exists()
    else:
        older = selected if before is None else selected.filter(id__lt=before)
        rows = list(older.order_by("-id")[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = before is not None and selected.filter(id__gte=before).exists()
    return DataPage(
        rows=rows,
        older=rows[-1].pk if rows and more_older else None,
        newer=rows[0].pk if rows and more_newer else None,
    )


def data_count() -> int:
    return Data.objects.count()


def data_counts(*, field: str, limit: int) -> tuple[list[tuple[str, int]], int]:
    """Rows per value of `field` ("label" or "source"), the most first: the first `limit`
    values, and how many values there are in all."""
    if field not in ("label", "source"):
        raise ValueError(f"Rows are counted by label or by source, not by {field!r}.")
    # One pass, over the field's index alone: count(*) needs no column of the rows, and the
    # window counts the groups before LIMIT takes the first.
    counted = (
        Data.objects.values(field)
        .annotate(rows=Count("*"))
        .annotate(values=Window(Count("*")))
        .order_by("-rows", field)
    )
    found = list(counted[:limit])
    return [(row[field], row["rows"]) for row in found], found[0]["values"] if found else 0
