from collections.abc import Iterable
from typing import TypedDict

from django.db import transaction

from web.data.models import Data


class DataFields(TypedDict):
    text: str
    label: str


def data_create(*, text: str, label: str) -> Data:
    return Data.objects.create(text=text, label=label)


@transaction.atomic
def data_bulk_create(*, items: Iterable[DataFields]) -> list[Data]:
    """Insert every item or, if any insert fails, none of them."""
    return Data.objects.bulk_create(
        [Data(text=item["text"], label=item["label"]) for item in items], batch_size=1000
    )


def data_update(*, data: Data, text: str | None = None, label: str | None = None) -> Data:
    """Change the given fields; None leaves a field as it is."""
    changes = {
        name: value for name, value in {"text": text, "label": label}.items() if value is not None
    }
    if not changes:
        return data
    for name, value in changes.items():
        setattr(data, name, value)
    data.save(update_fields=[*changes, "updated_at"])
    return data


def data_delete(*, data: Data) -> None:
    data.delete()
