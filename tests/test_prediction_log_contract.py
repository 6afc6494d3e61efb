"""The columns of web's `predictions` table that the algorithm service writes (the prediction
log's COPY) and deletes by (retention) are the columns web's model and its latest migration
give the table, and the limits the service checks are the columns' lengths.

Web owns the table through Django migrations; the algorithm service writes it with SQL Django
never sees, through the names in algorithm/domain/prediction_log.py. A migration that renames
or drops a column, or a new table that names logged predictions, fails here instead of in
the first batch the log writes (and drops) after the release. The same for what live
accuracy (algorithm/domain/live_accuracy.py) reads of `feedback`."""

import pytest
from django.db import models
from django.db.migrations.loader import MigrationLoader

from algorithm.domain.live_accuracy import (
    FEEDBACK_COLUMNS,
    FEEDBACK_TABLE,
)
from algorithm.domain.prediction_log import (
    DISAGREEMENT,
    PREDICTION_COLUMNS,
    PREDICTION_REFERRERS,
    PREDICTIONS_TABLE,
    SAMPLED,
    UNCERTAIN,
)
from common import limits
from web.learning.models import Feedback, KeptBecause, LoggedPrediction


def _latest_migration_apps():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = loader.graph.leaf_nodes(LoggedPrediction._meta.app_label)
    return leaf, loader.project_state().apps


def _fields(model) -> dict[str, models.Field]:
    return {field.column: field for field in model._meta.concrete_fields}


@pytest.mark.parametrize("source", ["model", "latest migration"])
def test_the_log_writes_exactly_the_tables_columns(source):
    leaf, apps = _latest_migration_apps()
    model = (
        LoggedPrediction
        if source == "model"
        else apps.get_model(LoggedPrediction._meta.app_label, "LoggedPrediction")
    )

    assert model._meta.db_table == PREDICTIONS_TABLE
    # Every column: the table has no default for any, so each row must carry them all.
    assert sorted(PREDICTION_COLUMNS) == sorted(_fields(model)), (
        f"algorithm/domain/prediction_log.py writes PREDICTION_COLUMNS into {PREDICTIONS_TABLE!r}; "
        f"web's {source} ({leaf[0]}.{leaf[1]}) has other columns: change the writer with it"
    )


def test_the_services_limits_are_the_columns_lengths():
    fields = _fields(LoggedPrediction)

    assert {
        "label": fields["label"].max_length,
        "reference": fields["reference"].max_length,
        "caller": fields["caller"].max_length,
        "request_id": fields["request_id"].max_length,
    } == {
        "label": limits.MAX_LABEL_CHARS,
        "reference": limits.MAX_REFERENCE_CHARS,
        "caller": limits.MAX_CALLER_CHARS,
        "request_id": limits.MAX_REQUEST_ID_CHARS,
    }
    # The hashes: SHA-256 in hex.
    assert fields["text_hash"].max_length == fields["text_key"].max_length == 64
    assert sorted(KeptBecause.values) == sorted([UNCERTAIN, SAMPLED, DISAGREEMENT])


def test_retention_knows_every_table_that_names_a_logged_prediction():
    _, apps = _latest_migration_apps()
    migrated = apps.get_model(LoggedPrediction._meta.app_label, "LoggedPrediction")
    referrers = sorted(
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is migrated
    )

    assert referrers == sorted(PREDICTION_REFERRERS), (
        "algorithm/domain/retention.py keeps the logged predictions these name: list them in "
        "PREDICTION_REFERRERS (algorithm/domain/prediction_log.py)"
    )


@pytest.mark.parametrize("source", ["model", "latest migration"])
def test_live_accuracy_reads_columns_the_tables_have(source):
    _, apps = _latest_migration_apps()
    label = LoggedPrediction._meta.app_label
    feedback = Feedback if source == "model" else apps.get_model(label, "Feedback")

    assert feedback._meta.db_table == FEEDBACK_TABLE
    assert set(FEEDBACK_COLUMNS) <= set(_fields(feedback)), (
        f"algorithm/domain/live_accuracy.py reads FEEDBACK_COLUMNS from {FEEDBACK_TABLE!r}; "
        f"web's {source} has {sorted(_fields(feedback))}: change the reader with it"
    )
    # The prediction's version and label, copied: each as the log has it.
    for copied, original in (("model_id", "model_id"), ("predicted", "label")):
        assert type(_fields(feedback)[copied]) is type(_fields(LoggedPrediction)[original])
