"""Rows the algorithm service deletes with SQL (its retention job) and rows a restore or a
test truncates take their dependants with them as the models say, in the database itself
(web/learning/migrations/0003_database_on_delete.py)."""

import pytest
from django.db import connection

from tests.web.feedback import logged
from web.data.models import Data
from web.learning.models import Feedback, ReviewItem, ReviewState


@pytest.mark.django_db(transaction=True)
def test_deleting_a_prediction_with_sql_deletes_its_feedback_and_unlinks_its_review_item():
    row = Data.objects.create(text="win a prize", label="spam")
    prediction = logged()
    kept = logged()
    Feedback.objects.create(prediction=prediction, label="ham", given_by="token:x", data_row=row)
    Feedback.objects.create(prediction=kept, label="spam", given_by="token:x")
    item = ReviewItem.objects.create(
        text_key=prediction.text_key,
        prediction=prediction,
        state=ReviewState.SKIPPED,
        reviewer="token:x",
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM predictions WHERE id = %s", [prediction.id])
        cursor.execute("DELETE FROM data WHERE id = %s", [row.id])

    assert list(Feedback.objects.values_list("prediction_id", flat=True)) == [kept.id]
    item.refresh_from_db()
    assert item.prediction_id is None
    assert item.state == ReviewState.SKIPPED
