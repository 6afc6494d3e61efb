"""/api/predictions/: the prediction log listed and exported with the same filters, and an
admin's delete by filter with its dry run."""

import csv
import datetime
import io
import json
import uuid

import pytest
from django.utils import timezone

from tests.web.feedback import MODEL, logged
from web.api import exports
from web.learning import prediction_services
from web.learning.models import Feedback, LoggedPrediction, ReviewItem, ReviewState

pytestmark = pytest.mark.django_db

URL = "/api/predictions/"
EXPORT = "/api/predictions/export/"
OTHER_MODEL = uuid.UUID("0d9a3f5e-8c4b-4e1f-b2a7-5c6d7e8f9a01")
HOUR = datetime.timedelta(hours=1)


def body(response) -> str:
    assert response.status_code == 200, response.json()
    return b"".join(response.streaming_content).decode()


def iso(value: datetime.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def item(prediction: LoggedPrediction, feedback_label: str | None = None) -> dict:
    return {
        "prediction_id": str(prediction.id),
        "created_at": iso(prediction.created_at),
        "model_id": str(prediction.model_id),
        "label": prediction.label,
        "scores": prediction.scores,
        "top_probability": prediction.top_probability,
        "margin": prediction.margin,
        "entropy": prediction.entropy,
        "caller": prediction.caller,
        "request_id": prediction.request_id,
        "reference": prediction.reference,
        "text": prediction.text,
        "text_hash": prediction.text_hash,
        "kept_because": prediction.kept_because,
        "has_feedback": feedback_label is not None,
        "feedback_label": feedback_label,
    }


@pytest.fixture
def log():
    """Four logged predictions, an hour apart, the newest first; the second has feedback."""
    predictions = [
        logged(reference="ticket-1", text="Win a prize, now"),
        logged(reference="ticket-2", label="ham", ago=HOUR, text=""),
        logged(model_id=OTHER_MODEL, ago=2 * HOUR),
        logged(reference="ticket-1", ago=3 * HOUR),
    ]
    LoggedPrediction.objects.filter(pk=predictions[2].pk).update(kept_because="sampled")
    predictions[2].kept_because = "sampled"
    Feedback.objects.create(prediction=predictions[1], label="spam", given_by="token:x")
    return predictions


def test_the_list_shows_each_prediction_newest_first_with_its_feedback(token_client, log):
    response = token_client("read").get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "count": 4,
        "next": None,
        "previous": None,
        "results": [item(log[0]), item(log[1], "spam"), item(log[2]), item(log[3])],
    }


def test_the_list_filters(api_client, log):
    since = iso(timezone.now() - 90 * datetime.timedelta(minutes=1))
    expected = {
        f"model_id={MODEL}": [log[0], log[1], log[3]],
        f"model_id={OTHER_MODEL}": [log[2]],
        "reference=ticket-1": [log[0], log[3]],
        "label=ham": [log[1]],
        "kept_because=sampled": [log[2]],
        f"since={since}": [log[0], log[1]],
        f"until={since}": [log[2], log[3]],
        "reference=ticket-1&label=spam&kept_because=uncertain": [log[0], log[3]],
        "reference=": log,
    }

    for query, predictions in expected.items():
        listed = api_client.get(f"{URL}?{query}").json()["results"]
        assert [row["prediction_id"] for row in listed] == [str(p.id) for p in predictions], query


def test_an_unknown_reason_is_a_400_naming_the_reasons(api_client):
    response = api_client.get(f"{URL}?kept_because=bored")

    assert response.status_code == 400
    assert response.json()["message"] == (
        'Invalid input: kept_because: Unknown reason "bored": use uncertain, sampled, disagreement.'
    )


def test_the_jsonl_export_is_the_list_with_the_same_filters(token_client, log):
    client = token_client("read")

    for query in ("", "reference=ticket-1", f"model_id={OTHER_MODEL}", "label=ham"):
        lines = body(client.get(f"{EXPORT}?format=jsonl&{query}")).splitlines()
        exported = [json.loads(line) for line in lines]
        assert exported == client.get(f"{URL}?{query}").json()["results"], query


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(body(response), newline="")))


def test_the_csv_export_writes_scores_as_json_and_no_feedback_as_empty(api_client, log):
    response = api_client.get(f"{EXPORT}?reference=ticket-2")
    without_feedback = csv_rows(api_client.get(f"{EXPORT}?reference=ticket-1"))

    assert response["Content-Disposition"].startswith('attachment; filename="predictions-')
    assert csv_rows(response) == [
        {
            **{name: str(value) for name, value in item(log[1], "spam").items()},
            "scores": '{"ham":0.55,"spam":0.45}',
            "has_feedback": "true",
        }
    ]
    assert [(row["has_feedback"], row["feedback_label"]) for row in without_feedback] == [
        ("false", ""),
        ("false", ""),
    ]


def test_an_export_over_batches_keeps_predictions_of_the_same_instant_in_order(
    api_client, monkeypatch
):
    monkeypatch.setattr(exports, "FIRST_BATCH_ROWS", 2)
    monkeypatch.setattr(exports, "MAX_BATCH_ROWS", 3)
    monkeypatch.setattr(exports, "MIN_BATCH_ROWS", 2)
    predictions = [logged() for _ in range(11)]
    # Batch boundaries fall among predictions logged at one instant.
    same_instant = [prediction.pk for prediction in predictions[2:9]]
    LoggedPrediction.objects.filter(pk__in=same_instant).update(created_at=timezone.now() - HOUR)

    lines = body(api_client.get(f"{EXPORT}?format=jsonl")).splitlines()

    assert [json.loads(line)["prediction_id"] for line in lines] == [
        row["prediction_id"] for row in api_client.get(URL).json()["results"]
    ]
    assert len(set(lines)) == 11


# An admin's delete by filter.


def test_a_dry_run_counts_and_deletes_nothing(api_client, log):
    response = api_client.delete(f"{URL}?reference=ticket-1&dry_run=true")

    assert (response.status_code, response.json()) == (200, {"dry_run": True, "count": 2})
    assert LoggedPrediction.objects.count() == 4


def test_a_delete_takes_what_the_list_selects_with_its_feedback(api_client, log, monkeypatch):
    monkeypatch.setattr(prediction_services, "BATCH_ROWS", 1)  # several batches
    item_of_deleted = ReviewItem.objects.create(
        text_key="ef" * 32, prediction=log[1], state=ReviewState.SKIPPED, reviewer="token:x"
    )

    response = api_client.delete(f"{URL}?model_id={MODEL}&until={iso(timezone.now() - HOUR / 2)}")

    assert (response.status_code, response.json()) == (200, {"dry_run": False, "count": 2})
    assert set(LoggedPrediction.objects.values_list("pk", flat=True)) == {log[0].pk, log[2].pk}
    assert Feedback.objects.count() == 0
    item_of_deleted.refresh_from_db()
    assert (item_of_deleted.prediction, item_of_deleted.state) == (None, ReviewState.SKIPPED)


def test_all_deletes_the_whole_log(api_client, log):
    response = api_client.delete(f"{URL}?all=true")

    assert (response.status_code, response.json()) == (200, {"dry_run": False, "count": 4})
    assert LoggedPrediction.objects.count() == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "",
            "Name what to delete with since, until, model_id, reference, label or kept_because "
            "(see how many first with dry_run=true), or send all=true to delete every logged "
            "prediction.",
        ),
        ("reference=&dry_run=true", None),
        (
            "all=true&reference=ticket-1",
            "all=true deletes every logged prediction: send it without filters, or the filters "
            "without it.",
        ),
        (
            "refrence=ticket-1",
            "Unknown parameter 'refrence': a delete takes since, until, model_id, reference, "
            "label, kept_because, dry_run, all.",
        ),
        ("page=2&reference=ticket-1", None),
    ],
)
def test_a_delete_without_a_filter_or_with_an_unknown_one_is_a_400(api_client, log, query, message):
    response = api_client.delete(f"{URL}?{query}")

    assert response.status_code == 400
    if message is not None:
        assert response.json()["message"] == f"Invalid input: {message}"
    assert LoggedPrediction.objects.count() == 4
