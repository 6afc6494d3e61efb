"""The daily retention job deletes logged predictions past their age, then the oldest past
the row cap, in batches; those that feedback or a review item names stay."""

import datetime
import uuid

import pytest

from algorithm.domain import retention

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture
def logged(database_url):
    """Makes logged predictions (web's model, in the test database), each `days` old."""
    from web.learning.models import LoggedPrediction

    def make(*ages_in_days: float) -> list[str]:
        rows = [
            LoggedPrediction(
                id=uuid.uuid4(),
                created_at=NOW - datetime.timedelta(days=days),
                model_id=uuid.uuid4(),
                label="ham",
                scores={"ham": 0.55, "spam": 0.45},
                top_probability=0.55,
                margin=0.1,
                entropy=0.69,
                caller="internal",
                text_key=f"key-{index}-{days}",
                kept_because="uncertain",
            )
            for index, days in enumerate(ages_in_days)
        ]
        LoggedPrediction.objects.bulk_create(rows)
        return [str(row.id) for row in rows]

    return make


def kept() -> set[str]:
    from web.learning.models import LoggedPrediction

    return {str(pk) for pk in LoggedPrediction.objects.values_list("id", flat=True)}


def test_predictions_past_their_age_are_deleted_but_those_feedback_or_review_names(logged):
    from web.learning.models import Feedback, ReviewItem

    _old, with_feedback, reviewed, young = logged(31, 40, 50, 29)
    Feedback.objects.create(prediction_id=with_feedback, label="spam", given_by="token:ab12")
    ReviewItem.objects.create(
        text_key="key-2-50", prediction_id=reviewed, state="accepted", reviewer="alice"
    )

    assert retention.purge_predictions(days=30, max_rows=0) == 1
    assert kept() == {with_feedback, reviewed, young}
    assert retention.purge_predictions(days=0, max_rows=0) == 0


def test_the_oldest_past_the_cap_are_deleted_in_batches(logged, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_ROWS", 2)
    ids = logged(*range(1, 8))  # one a day, the newest first

    assert retention.purge_predictions(days=30, max_rows=3) == 4
    assert kept() == set(ids[:3])
    assert retention.purge_predictions(days=30, max_rows=3) == 0


def test_the_daily_purge_counts_the_logged_predictions_it_deleted(logged, monkeypatch):
    monkeypatch.setattr(retention.settings, "JOB_RETENTION_DAYS", 0)
    monkeypatch.setattr(retention.settings, "RESULT_RETENTION_DAYS", 0)
    monkeypatch.setattr(retention.settings, "PREDICTION_LOG_RETENTION_DAYS", 30)
    monkeypatch.setattr(retention.settings, "PREDICTION_LOG_MAX_ROWS", 1)
    logged(1, 2, 100)

    assert retention.purge_expired() == {
        "jobs": 0,
        "evaluation_rows": 0,
        "results": 0,
        "predictions": 2,
    }
