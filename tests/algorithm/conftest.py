"""Fixtures for the algorithm unit tests: one tiny trained model, model folders in tmp_path,
the algorithm side's database access pointed at the test database."""

import datetime
import pickle
import urllib.parse
import uuid
from typing import Any

import pytest

from algorithm.domain import db, ml
from algorithm.domain.store import ModelStore
from algorithm.tools.sql_schema import apply_schema
from common import settings as common_settings
from tests.support import read_tsv


@pytest.fixture(scope="session")
def tiny_model() -> ml.TrainedModel:
    """The ten-row Turkish example, trained once for the whole session (a few milliseconds)."""
    rows = read_tsv("confirmation_tr.tsv")
    return ml.train(
        [row["text"] for row in rows],
        [row["label"] for row in rows],
        ml.DEFAULT_ALGORITHM,
        ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {}),
    )


@pytest.fixture
def metadata(tiny_model) -> dict[str, Any]:
    return {
        "algorithm": ml.DEFAULT_ALGORITHM,
        "parameters": ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {}),
        "labels": tiny_model.labels,
        "metrics": tiny_model.metrics,
    }


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def publish(store, tiny_model, metadata):
    """Publish the tiny model under a fresh id; return the id."""

    def publish_version() -> str:
        model_id = str(uuid.uuid4())
        store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, metadata)
        return model_id

    return publish_version


@pytest.fixture
def unpickled(monkeypatch):
    """Every pickle.loads call made while the test runs."""
    calls = []
    real_loads = pickle.loads

    def recording_loads(data, *args, **kwargs):
        calls.append(len(data))
        return real_loads(data, *args, **kwargs)

    monkeypatch.setattr(pickle, "loads", recording_loads)
    return calls


@pytest.fixture(scope="session")
def other_model():
    """A model unlike the tiny one, so its pickles differ byte for byte."""
    rows = read_tsv("confirmation_tr.tsv")
    return ml.train(
        [row["text"] for row in rows],
        [row["label"] for row in rows],
        "naive_bayes",
        ml.resolve_parameters("naive_bayes", {"alpha": 0.5}),
    )


@pytest.fixture
def database_url(transactional_db, monkeypatch) -> str:
    """The algorithm side's connections (db.transaction, db.connect) made to the test
    database, which has web's migrations; committed rows are visible to every connection and
    deleted after the test. The pool's connections are closed after it."""
    from django.db import connection

    test_database = f"/{connection.settings_dict['NAME']}"
    url = urllib.parse.urlsplit(common_settings.DATABASE_URL)._replace(path=test_database)
    monkeypatch.setattr(common_settings, "DATABASE_URL", url.geturl())
    monkeypatch.setattr(db, "_pool", None)
    yield url.geturl()
    if db._pool is not None:
        db._pool.closeall()


# Safe promotion's tables, emptied around each test that uses them (the test database's own
# flush empties only web's).
PROMOTION_TABLES = (
    "evaluation_set_rows, evaluation_sets, promotion_policy, promotion_decisions, "
    "shadow_agreement, jobs CASCADE"
)


@pytest.fixture
def tables(database_url):
    """The algorithm side's tables in the test database, safe promotion's empty."""
    apply_schema()
    with db.transaction() as cursor:
        cursor.execute(f"TRUNCATE {PROMOTION_TABLES}")
    yield
    with db.transaction() as cursor:
        cursor.execute(f"TRUNCATE {PROMOTION_TABLES}")


# The version feedback() gives feedback on unless told another.
VERSION = str(uuid.uuid4())


@pytest.fixture
def feedback(database_url):
    """Makes a logged prediction of `predicted` for a version with feedback `actual` given
    `days` ago; the newest made last."""
    from web.learning.models import Feedback, LoggedPrediction

    def make(predicted: str, actual: str, *, days: float = 0, model_id: str = VERSION) -> None:
        given_at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
        prediction = LoggedPrediction.objects.create(
            id=uuid.uuid4(),
            created_at=given_at,
            model_id=model_id,
            label=predicted,
            scores={predicted: 0.9},
            top_probability=0.9,
            margin=0.8,
            entropy=0.3,
            caller="internal",
            text_key=uuid.uuid4().hex,
            kept_because="sampled",
        )
        given = Feedback.objects.create(prediction=prediction, label=actual, given_by="token:ab")
        # auto_now_add set it to now; update() leaves it as given.
        Feedback.objects.filter(pk=given.pk).update(created_at=given_at)

    return make
