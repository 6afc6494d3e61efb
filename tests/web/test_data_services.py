"""The data services and selector, called directly as other code would."""

import pytest
from django.db import DataError

from web.data.models import Data
from web.data.selectors import data_list
from web.data.services import data_bulk_create, data_create, data_delete, data_update

pytestmark = pytest.mark.django_db


def test_data_bulk_create_failing_in_a_later_batch_inserts_nothing():
    # 1,500 items are two INSERT batches; the second one breaks the column limit.
    items = [{"text": f"t{i}", "label": "ok"} for i in range(1500)]
    items[1200]["label"] = "x" * 101

    with pytest.raises(DataError, match="value too long"):
        data_bulk_create(items=items)

    assert Data.objects.count() == 0


def test_data_bulk_create_returns_saved_rows_in_input_order():
    created = data_bulk_create(items=[{"text": "a", "label": "1"}, {"text": "b", "label": "2"}])

    assert [(d.id, d.text) for d in created] == list(Data.objects.values_list("id", "text"))


def test_data_update_with_no_changes_does_not_touch_the_row():
    item = data_create(text="t", label="l")

    assert data_update(data=item) is item
    assert Data.objects.get().updated_at == item.updated_at


def test_data_update_changes_only_given_fields():
    item = data_create(text="t", label="l")

    data_update(data=item, label="new")

    assert Data.objects.values_list("text", "label").get() == ("t", "new")


def test_data_delete_removes_the_row():
    item = data_create(text="t", label="l")

    data_delete(data=item)

    assert not Data.objects.exists()


def test_data_list_filters_compose_and_keep_id_order():
    rows = [
        data_create(text=text, label=label)
        for text, label in [
            ("Alpha beta", "x"),
            ("beta", "y"),
            ("BETA gamma", "x"),
            ("delta", "x"),
        ]
    ]

    assert list(data_list(label="x", search="beta")) == [rows[0], rows[2]]
    assert list(data_list()) == rows
