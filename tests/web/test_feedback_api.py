"""/api/feedback/: the true label of a logged prediction, by its id or its reference, the
refusals, replacing, and the list."""

import datetime
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from common import limits
from tests.web.feedback import MODEL, URL, body, giver, logged
from web.data.models import Data
from web.learning.models import Feedback

pytestmark = pytest.mark.django_db

NOT_LOGGED = (
    "The prediction log keeps uncertain predictions and a sample of the others, writes each a "
    "moment after its answer and deletes old ones: this one may not have been kept by the "
    "log's policy, may not be written yet (try again in a few seconds), or may be past its "
    "retention."
)


# Given, by id or by reference.


def test_feedback_by_prediction_id_is_recorded_and_answered_201(token_client):
    predict_client = token_client("predict")
    prediction = logged()

    response = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": "ham"})

    assert response.status_code == 201
    feedback = Feedback.objects.get()
    assert (feedback.prediction_id, feedback.label, feedback.data_row) == (
        prediction.id,
        "ham",
        None,
    )
    assert feedback.given_by == giver()
    assert response.json() == body(feedback)
    assert response.json()["correct"] is False
    assert Data.objects.count() == 0


def test_feedback_by_reference_is_about_the_latest_prediction_carrying_it(token_client):
    predict_client = token_client("predict")
    logged(reference="ticket-7", ago=datetime.timedelta(minutes=5))
    latest = logged(reference="ticket-7", ago=datetime.timedelta(minutes=1))
    logged(reference="ticket-8")

    response = predict_client.post(URL, {"reference": "ticket-7", "label": "spam"})

    assert response.status_code == 201
    assert Feedback.objects.get().prediction_id == latest.id
    assert (response.json()["reference"], response.json()["correct"]) == ("ticket-7", True)


# Refused.


def test_an_unknown_prediction_id_is_a_404_saying_the_log_may_not_have_kept_it(token_client):
    predict_client = token_client("predict")
    logged()
    unknown = uuid.uuid4()

    response = predict_client.post(URL, {"prediction_id": str(unknown), "label": "ham"})

    assert response.status_code == 404
    assert response.json() == {
        "message": f"No logged prediction has the id {unknown}. {NOT_LOGGED}",
        "extra": {},
    }
    assert Feedback.objects.count() == 0


def test_an_unknown_reference_is_a_404_too(token_client):
    predict_client = token_client("predict")
    logged(reference="ticket-7")

    response = predict_client.post(URL, {"reference": "ticket-9", "label": "ham"})

    assert response.status_code == 404
    assert response.json()["message"] == (
        f"No logged prediction carries the reference 'ticket-9'. {NOT_LOGGED}"
    )


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "This field may not be blank."),
        (" \t ", "This field may not be blank."),
        (
            "x" * (limits.MAX_LABEL_CHARS + 1),
            f"Ensure this field has no more than {limits.MAX_LABEL_CHARS} characters.",
        ),
        (None, "This field may not be null."),
    ],
    ids=["empty", "blank", "too-long", "null"],
)
def test_a_blank_or_too_long_label_is_a_400(label, message, token_client):
    predict_client = token_client("predict")
    prediction = logged()

    response = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": label})

    assert response.status_code == 400
    assert response.json() == {
        "message": f"Invalid input: label: {message}",
        "extra": {"fields": {"label": [message]}},
    }
    assert Feedback.objects.count() == 0


def test_a_label_of_the_longest_length_is_taken(token_client):
    predict_client = token_client("predict")
    prediction = logged()
    label = "ş" * limits.MAX_LABEL_CHARS

    response = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": label})

    assert response.status_code == 201
    assert Feedback.objects.get().label == label


@pytest.mark.parametrize("both", [False, True], ids=["neither", "both"])
def test_naming_the_prediction_neither_or_both_ways_is_a_400(both, token_client):
    predict_client = token_client("predict")
    prediction = logged(reference="ticket-7")
    names = {"prediction_id": str(prediction.id), "reference": "ticket-7"} if both else {}

    response = predict_client.post(URL, {**names, "label": "ham"})

    message = (
        'Send "prediction_id" (from the prediction\'s answer) or "reference" (the one sent with '
        "the prediction) to say which prediction this is about" + (", not both." if both else ".")
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": f"Invalid input: {message}",
        "extra": {"fields": {"non_field_errors": [message]}},
    }


def test_a_second_feedback_is_a_409_naming_the_first(token_client):
    predict_client = token_client("predict")
    prediction = logged()
    first = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": "ham"})

    again = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": "spam"})

    assert first.status_code == 201
    assert again.status_code == 409
    given = Feedback.objects.get()
    assert again.json() == {
        "message": f"Prediction {prediction.id} already has feedback (label 'ham', given "
        f'{given.created_at.isoformat(timespec="seconds")}): send "replace": true to replace it.',
        "extra": {"feedback_id": given.id, "label": "ham"},
    }
    assert given.label == "ham"


def test_replace_changes_the_label_and_answers_200(token_client):
    predict_client = token_client("predict")
    prediction = logged()
    first = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": "ham"})
    other = token_client("predict", username="bob")

    replaced = other.post(
        URL, {"prediction_id": str(prediction.id), "label": "spam", "replace": True}
    )

    assert (first.status_code, replaced.status_code) == (201, 200)
    feedback = Feedback.objects.get()
    assert (feedback.label, feedback.given_by) == ("spam", giver("bob"))
    assert replaced.json() == body(feedback)
    assert replaced.json()["id"] == first.json()["id"]
    assert replaced.json()["created_at"] == first.json()["created_at"]


def test_replace_with_no_earlier_feedback_simply_gives_it(token_client):
    predict_client = token_client("predict")
    prediction = logged()

    response = predict_client.post(
        URL, {"prediction_id": str(prediction.id), "label": "ham", "replace": True}
    )

    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_feedbacks_at_once_on_one_prediction_take_one_and_refuse_the_other(token_client):
    prediction = logged()
    clients = [token_client("predict", username=name) for name in ("alice", "bob")]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def give(client) -> None:
        try:
            barrier.wait()
            response = client.post(URL, {"prediction_id": str(prediction.id), "label": "ham"})
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=give, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [201, 409]
    assert Feedback.objects.count() == 1


# Listed.


def test_the_list_is_newest_first_and_filters_by_model_and_time(token_client):
    other_model = uuid.uuid4()
    rows = [
        Feedback.objects.create(prediction=logged(model_id=model), label="ham", given_by="t")
        for model in (MODEL, other_model, MODEL)
    ]
    start = timezone.now() - datetime.timedelta(days=3)
    for days, row in enumerate(rows):
        Feedback.objects.filter(pk=row.pk).update(created_at=start + datetime.timedelta(days=days))
    for row in rows:
        row.refresh_from_db()
    reader = token_client("read")

    def listed(query: dict) -> list[int]:
        response = reader.get(URL, query)
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["results"]]

    everything = reader.get(URL).json()
    assert everything == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [body(row) for row in reversed(rows)],
    }
    assert listed({"model_id": str(MODEL)}) == [rows[2].id, rows[0].id]
    since = (start + datetime.timedelta(days=1)).isoformat()
    assert listed({"since": since}) == [rows[2].id, rows[1].id]
    assert listed({"until": since}) == [rows[0].id]
    assert listed({"model_id": str(other_model), "since": since}) == [rows[1].id]
    assert reader.get(URL, {"model_id": "not-a-uuid"}).status_code == 400
    assert reader.get(URL, {"page_size": 1}).json()["next"] == (
        "http://testserver/api/feedback/?page=2&page_size=1"
    )


def test_a_predict_token_cannot_list_feedback(token_client):
    predict_client = token_client("predict")
    response = predict_client.get(URL)

    assert response.status_code == 403
    assert response.json()["extra"] == {"required_scope": "read", "token_scopes": ["predict"]}


def test_a_read_token_cannot_give_feedback(token_client):
    prediction = logged()

    response = token_client("read").post(URL, {"prediction_id": str(prediction.id), "label": "ham"})

    assert response.status_code == 403
    assert Feedback.objects.count() == 0


def test_the_schema_documents_each_answer_and_the_scope(anonymous_client):
    schema = anonymous_client.get("/api/schema/?format=json").json()
    give, read = (schema["paths"][URL][method] for method in ("post", "get"))

    assert {"200", "201", "400", "401", "403", "404", "409", "413", "429"} <= set(give["responses"])
    assert "Needs a token with the `predict` scope" in give["description"]
    assert "Needs a token with the `read` scope" in read["description"]
    assert {parameter["name"] for parameter in read["parameters"]} >= {
        "model_id",
        "since",
        "until",
        "page",
        "page_size",
    }
