"""/api/feedback/ with add_to_data: the labelled data row it writes in the same transaction,
the scope it needs, the text it takes, and what replacing does to the row."""

import pytest

from tests.web.feedback import TEXT, URL, logged
from web.data.models import Data
from web.learning.models import Feedback

pytestmark = pytest.mark.django_db


def test_add_to_data_writes_a_feedback_row_linked_from_the_feedback(token_client):
    writer_client = token_client("predict", "write")
    prediction = logged(reference="ticket-7")

    response = writer_client.post(
        URL, {"reference": "ticket-7", "label": "ham", "add_to_data": True}
    )

    assert response.status_code == 201
    row = Data.objects.get()
    # Trimmed, as every data row is.
    assert (row.text, row.label, row.source) == (TEXT.strip(), "ham", "feedback")
    assert Feedback.objects.get(prediction=prediction).data_row == row
    assert response.json()["data_id"] == row.id
    listed = writer_client.get("/api/data/?source=feedback").json()["results"]
    assert [(item["id"], item["source"]) for item in listed] == [(row.id, "feedback")]


def test_add_to_data_without_the_write_scope_is_a_403_and_changes_nothing(token_client):
    predict_client = token_client("predict")
    prediction = logged()

    response = predict_client.post(
        URL, {"prediction_id": str(prediction.id), "label": "ham", "add_to_data": True}
    )

    assert response.status_code == 403
    assert response.json() == {
        "message": "Adding the text to the data (add_to_data) needs a token with the 'write' "
        "scope as well; this token has 'predict'. Send the feedback alone, or ask an admin for "
        "a token with the 'write' scope.",
        "extra": {"required_scope": "write", "token_scopes": ["predict"]},
    }
    assert (Feedback.objects.count(), Data.objects.count()) == (0, 0)


def test_add_to_data_on_a_prediction_whose_text_was_not_kept_needs_the_text(token_client):
    writer_client = token_client("predict", "write")
    prediction = logged(text="")
    feedback = {"prediction_id": str(prediction.id), "label": "ham", "add_to_data": True}

    refused = writer_client.post(URL, feedback)
    taken = writer_client.post(URL, {**feedback, "text": "See you at lunch "})

    message = (
        f"The prediction log kept no text of prediction {prediction.id} (its policy keeps some "
        'texts as a hash only, or none): send the text predicted as "text" to add it to the '
        "data."
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "message": f"Invalid input: text: {message}",
        "extra": {"fields": {"text": [message]}},
    }
    assert taken.status_code == 201
    assert list(Data.objects.values_list("text", "label", "source")) == [
        ("See you at lunch", "ham", "feedback")
    ]


def test_feedback_alone_on_a_prediction_whose_text_was_not_kept_is_taken(token_client):
    predict_client = token_client("predict")
    prediction = logged(text="")

    response = predict_client.post(URL, {"prediction_id": str(prediction.id), "label": "ham"})

    assert response.status_code == 201


def test_a_text_other_than_the_one_the_log_kept_is_a_400(token_client):
    writer_client = token_client("predict", "write")
    prediction = logged()

    response = writer_client.post(
        URL,
        {
            "prediction_id": str(prediction.id),
            "label": "ham",
            "add_to_data": True,
            "text": "Some other text",
        },
    )

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        "text": [
            f"This is not the text of prediction {prediction.id}, which the log kept: leave "
            '"text" out to add the logged one.'
        ]
    }
    assert (Feedback.objects.count(), Data.objects.count()) == (0, 0)


def test_replacing_feedback_that_added_a_row_relabels_the_row(token_client):
    writer_client = token_client("predict", "write")
    predict_client = token_client("predict")
    prediction = logged()
    given = {"prediction_id": str(prediction.id), "add_to_data": True}
    writer_client.post(URL, {**given, "label": "ham"})
    row = Data.objects.get()

    refused = predict_client.post(
        URL, {"prediction_id": str(prediction.id), "label": "other", "replace": True}
    )
    replaced = writer_client.post(URL, {**given, "label": "spam", "replace": True})

    assert refused.status_code == 403
    assert refused.json()["message"].startswith(
        f"Replacing feedback that added a data row (row {row.id}, which it relabels) needs a "
        "token with the 'write' scope as well"
    )
    assert replaced.status_code == 200
    # Relabelled, not added twice.
    assert list(Data.objects.values_list("id", "label", "source")) == [(row.id, "spam", "feedback")]
    assert (Feedback.objects.get().label, replaced.json()["data_id"]) == ("spam", row.id)


def test_a_deleted_data_row_leaves_the_feedback_without_one(token_client):
    writer_client = token_client("predict", "write")
    prediction = logged()
    writer_client.post(
        URL, {"prediction_id": str(prediction.id), "label": "ham", "add_to_data": True}
    )

    deleted = writer_client.delete(f"/api/data/{Data.objects.get().id}/")

    assert deleted.status_code == 204
    assert Feedback.objects.get().data_row is None
