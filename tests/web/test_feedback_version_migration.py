"""Feedback given before its table held the prediction's version and label gets both from the
log when the release migrates (web/learning/migrations/0005_feedback_version.py), so that live
accuracy counts it as it did before; feedback saved since carries them itself."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.web.feedback import MODEL, logged
from web.learning.models import Feedback

BEFORE = [("learning", "0004_shadow_columns")]
AFTER = [("learning", "0005_feedback_version")]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_feedback_given_before_the_release_gets_its_predictions_version_and_label():
    leaf = MigrationExecutor(connection).loader.graph.leaf_nodes("learning")
    try:
        apps = _migrate(BEFORE)
        prediction_model = apps.get_model("learning", "LoggedPrediction")
        spam, ham = logged(label="spam"), logged(label="ham", model_id=(other := uuid.uuid4()))
        for prediction, label in ((spam, "ham"), (ham, "ham")):
            apps.get_model("learning", "Feedback").objects.create(
                prediction=prediction_model.objects.get(id=prediction.id),
                label=label,
                given_by="token:x",
            )

        _migrate(AFTER)

        with connection.cursor() as cursor:
            cursor.execute("SELECT prediction_id, model_id, predicted, label FROM feedback")
            found = sorted(cursor.fetchall(), key=lambda row: row[2])
        assert found == [(ham.id, other, "ham", "ham"), (spam.id, MODEL, "spam", "ham")]
    finally:
        _migrate(leaf)


@pytest.mark.django_db
def test_feedback_saved_carries_its_predictions_version_and_label():
    prediction = logged(label="spam")

    given = Feedback.objects.create(prediction=prediction, label="ham", given_by="token:x")

    given.refresh_from_db()
    assert (given.model_id, given.predicted, given.label) == (MODEL, "spam", "ham")
