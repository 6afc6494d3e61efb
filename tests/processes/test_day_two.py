"""Day-two commands as an operator runs them (python -m algorithm.tools.ops), against a real
PostgreSQL database, Redis keys and model folder of their own: backup and restore, and the
retraining of a model the image's libraries can no longer load."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid

import psycopg2
import pytest
import redis

from algorithm.domain import ml
from algorithm.domain.store import ModelIntegrityError, ModelStore, _sign
from algorithm.tools.local_classifier import TextClassifier
from tests import support
from tests.processes.conftest import insert_data

pytestmark = pytest.mark.slow

SCHEDULE = "*/5 * * * *"


def ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "algorithm.tools.ops", *args],
        cwd=support.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def python(env: dict[str, str], code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=support.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def deployment(tmp_path):
    with support.isolated_env(f"ops_{uuid.uuid4().hex[:6]}", tmp_path) as env:
        support.run_checked("python -m web.manage release", env)
        yield env


def query(env: dict[str, str], sql: str) -> list[tuple]:
    conn = psycopg2.connect(env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        conn.close()


def project_redis(env: dict[str, str]) -> dict[bytes, object]:
    """Every key of the deployment but the scheduler's lock, with its value."""
    client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    values = {}
    for key in client.scan_iter(match=f"{env['REDIS_KEY_PREFIX']}*"):
        kind = client.type(key)
        values[key] = {
            b"hash": client.hgetall,
            b"zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            b"string": client.get,
            b"set": client.smembers,
        }[kind](key)
    return values


def state(env: dict[str, str]) -> dict[str, object]:
    return {
        "data": query(env, "SELECT id, text, label, source, created_at FROM data ORDER BY id"),
        "predictions": query(env, "SELECT * FROM predictions ORDER BY id"),
        "feedback": query(env, "SELECT * FROM feedback ORDER BY id"),
        "review_items": query(env, "SELECT * FROM review_items ORDER BY id"),
        "tokens": query(env, "SELECT * FROM accounts_apitoken ORDER BY id"),
        "users": query(env, "SELECT id, username FROM auth_user ORDER BY id"),
        "jobs": query(env, "SELECT id, state, model_id FROM jobs ORDER BY id"),
        "schedules": query(env, "SELECT model_id, cron_expression FROM metrics_executions"),
        "results": query(env, "SELECT id, model_id, y_true, y_pred FROM results ORDER BY id"),
        "evaluation_sets": query(env, "SELECT * FROM evaluation_sets ORDER BY id"),
        "evaluation_set_rows": query(
            env, "SELECT * FROM evaluation_set_rows ORDER BY set_id, data_id"
        ),
        "promotion_policy": query(env, "SELECT * FROM promotion_policy"),
        "promotion_decisions": query(env, "SELECT * FROM promotion_decisions ORDER BY id"),
        "traffic_counts": query(env, "SELECT * FROM traffic_counts ORDER BY model_id, minute"),
        "shadow_agreement": query(
            env,
            "SELECT * FROM shadow_agreement "
            "ORDER BY shadow_id, champion_id, champion_label, shadow_label",
        ),
        "redis": project_redis(env),
    }


def wipe(env: dict[str, str]) -> None:
    support.drop_database(env["DATABASE_URL"].rsplit("/", 1)[1])
    support.delete_redis_keys(env["REDIS_KEY_PREFIX"])
    shutil.rmtree(env["MODEL_DIR"])


@pytest.fixture
def populated(deployment, sms_rows):
    """A deployment with data, a token, two trained versions (one active), a schedule and an
    accuracy in Redis, and logged predictions with feedback and a review item."""
    env = deployment
    insert_data(env, sms_rows[:200])
    learning_rows(env)
    support.run_checked("python -m web.manage create_api_token operator", env)
    store = ModelStore(env["MODEL_DIR"])
    classifier = TextClassifier(store)
    texts, labels = [text for text, _ in sms_rows[:200]], [label for _, label in sms_rows[:200]]
    first = classifier.train(texts, labels)["model_id"]
    active = classifier.train(texts, labels, algorithm="naive_bayes")["model_id"]
    python(
        env,
        "from algorithm.domain import monitoring\n"
        "from algorithm.serving.services.monitoring import schedule_upsert\n"
        f"schedule_upsert(model_id={active!r}, cron_expression={SCHEDULE!r})\n"
        f"monitoring.result_insert(model_id={active!r}, y_true=['a', 'b'], y_pred=['a', 'a'])\n"
        f"monitoring.compute_accuracy(model_id={active!r})\n"
        "from algorithm.domain import evaluation_sets, promotion, promotion_decisions\n"
        "evaluation_sets.set_create(method='fraction', fraction=0.2)\n"
        "promotion.policy_set({'trigger': {'every_new_rows': 100}}, lambda cron: None)\n"
        "promotion_decisions.decision_record(kind='promotion', outcome='kept', "
        f"champion_id={active!r}, candidate_id={first!r}, reason='failed: accuracy "
        "improvement', rule={'metric': 'accuracy'}, evidence={'checks': []})\n",
    )
    return env, store, first, active


def learning_rows(env: dict[str, str]) -> None:
    """Two logged predictions, one with feedback that added a data row, the other leased for
    review: rows in each learning table, each naming a row of another."""
    query(
        env,
        "INSERT INTO predictions (id, created_at, model_id, label, scores, top_probability, "
        "margin, entropy, caller, request_id, reference, text, text_hash, text_key, "
        "kept_because) SELECT gen_random_uuid(), now() - n * interval '1 minute', "
        "gen_random_uuid(), 'spam', '{\"ham\": 0.4, \"spam\": 0.6}', 0.6, 0.2, 0.67, "
        "'internal', '', 'ticket-' || n, 'text ' || n, '', md5(n::text) || md5(n::text), "
        "'uncertain' FROM generate_series(1, 2) AS n RETURNING id",
    )
    query(
        env,
        "INSERT INTO data (text, label, source, created_at, updated_at) "
        "VALUES ('text 1', 'ham', 'feedback', now(), now()) RETURNING id",
    )
    query(
        env,
        "INSERT INTO feedback (prediction_id, model_id, predicted, label, created_at, "
        "updated_at, given_by, data_row_id) SELECT p.id, p.model_id, p.label, 'ham', now(), "
        "now(), 'token:0123abcd', d.id "
        "FROM predictions p, data d WHERE p.reference = 'ticket-1' AND d.source = 'feedback' "
        "RETURNING id",
    )
    query(
        env,
        "INSERT INTO review_items (text_key, prediction_id, state, reviewer, leased_until, "
        "label, decided_at) SELECT text_key, id, 'leased', 'token:0123abcd', "
        "now() + interval '5 minutes', '', NULL FROM predictions WHERE reference = 'ticket-2' "
        "RETURNING id",
    )
    query(
        env,
        "INSERT INTO traffic_counts (model_id, minute, answers, errors) "
        "SELECT model_id, date_trunc('minute', created_at), count(*), 1 FROM predictions "
        "GROUP BY 1, 2 RETURNING model_id",
    )
    query(
        env,
        "INSERT INTO shadow_agreement (shadow_id, champion_id, champion_label, shadow_label, "
        "count) SELECT gen_random_uuid(), model_id, label, 'ham', 3 FROM predictions LIMIT 1 "
        "RETURNING count",
    )


@pytest.fixture(scope="session")
def sms_rows() -> list[tuple[str, str]]:
    return [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]


def test_backup_then_wipe_then_restore_gives_back_everything(populated, tmp_path):
    env, store, first, active = populated
    before = state(env)
    text = "WINNER!! Claim your free prize now"
    (predicted,) = TextClassifier(store).predict([text])
    # The service token release made, and the one made for an operator.
    assert len(before["tokens"]) == 2 and len(before["schedules"]) == 1
    assert [len(before[table]) for table in ("predictions", "feedback", "review_items")] == [
        2,
        1,
        1,
    ]
    promotion_tables = ("evaluation_sets", "promotion_policy", "promotion_decisions")
    assert [len(before[table]) for table in promotion_tables] == [1, 1, 1]
    assert before["evaluation_set_rows"]
    assert before["traffic_counts"] and before["shadow_agreement"]
    assert any(b"monitor-accuracy" in key for key in before["redis"])
    assert any(b"accuracy:" + active.encode() in key for key in before["redis"])

    backup = ops(env, "backup", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stderr
    assert "models: 2 versions, active " + active in backup.stdout
    assert "1 of them schedules" in backup.stdout

    wipe(env)
    restored = ops(env, "restore", str(tmp_path / "backup"))

    assert restored.returncode == 0, restored.stderr
    assert state(env) == before
    assert store.read_active_id() == active
    assert {manifest["model_id"] for manifest in store.list_manifests()} == {first, active}
    assert TextClassifier(store).predict([text]) == [predicted]
    assert predicted["model_id"] == active


def test_a_restore_refuses_targets_that_hold_data_unless_forced(populated, tmp_path):
    env, store, first, active = populated
    assert ops(env, "backup", str(tmp_path / "backup")).returncode == 0
    insert_data(env, [("written after the backup", "ham")])
    store.activate(first)

    refused = ops(env, "restore", str(tmp_path / "backup"))

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: nothing was restored: the database and Redis (schedules or accuracies of this "
        f"deployment) and the model folder {store.root} already hold data; restore into empty "
        "ones, or add --force to replace what they hold.\n"
    )
    # The 200 rows, the one feedback added, and the one written since.
    assert query(env, "SELECT count(*) FROM data") == [(202,)]

    forced = ops(env, "restore", "--force", str(tmp_path / "backup"))

    assert forced.returncode == 0, forced.stderr
    assert query(env, "SELECT count(*) FROM data") == [(201,)]
    assert store.read_active_id() == active


def test_a_restore_of_a_tampered_model_archive_is_refused_and_changes_nothing(populated, tmp_path):
    env, store, first, active = populated
    folder = tmp_path / "backup"
    assert ops(env, "backup", str(folder)).returncode == 0
    # Whoever can write the backup swaps a pickle (another version's, signed in its own
    # manifest) and fixes the backup's own checksums.
    other_pickle = (store.path(first) / "model.pickle").read_bytes()
    tampered = io.BytesIO()
    with (
        tarfile.open(folder / "models.tar") as source,
        tarfile.open(fileobj=tampered, mode="w") as target,
    ):
        for member in source:
            data = source.extractfile(member).read()
            if member.name == f"{active}/model.pickle":
                data = other_pickle
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    (folder / "models.tar").write_bytes(tampered.getvalue())
    index = json.loads((folder / "backup.json").read_text())
    index["files"]["models.tar"] = hashlib.sha256(tampered.getvalue()).hexdigest()
    (folder / "backup.json").write_text(json.dumps(index))
    wipe(env)

    refused = ops(env, "restore", str(folder))

    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: model {active} in the backup failed its integrity checks, so nothing was "
        f"restored: checksum of model.pickle of {active} does not match.\n"
    )
    assert query(env, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    assert project_redis(env) == {}
    assert [path.name for path in store.root.iterdir()] == []


def test_a_backup_file_changed_afterwards_is_refused(populated, tmp_path):
    env, _, _, _ = populated
    folder = tmp_path / "backup"
    assert ops(env, "backup", str(folder)).returncode == 0
    with (folder / "database.dump").open("ab") as stream:
        stream.write(b"\0")

    refused = ops(env, "restore", "--force", str(folder))

    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: checksum of {folder / 'database.dump'} does not match backup.json: it changed.\n"
    )


def make_stale(store: ModelStore, model_id: str, library: str, version: str) -> None:
    """Make a version look as an image with other library versions wrote it, signed."""
    manifest_path = store.path(model_id) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["library_versions"][library] = version
    manifest["signature"] = _sign(manifest)
    manifest_path.write_text(json.dumps(manifest))


def test_retrain_stale_retrains_a_model_of_other_library_versions_with_its_algorithm(
    deployment, sms_rows
):
    env = deployment
    insert_data(env, sms_rows[:300])
    store = ModelStore(env["MODEL_DIR"])
    texts, labels = [text for text, _ in sms_rows[:300]], [label for _, label in sms_rows[:300]]
    kept = TextClassifier(store).train(texts, labels)["model_id"]
    parameters = ml.resolve_parameters("naive_bayes", {"alpha": 0.5})
    old = TextClassifier(store).train(
        texts, labels, algorithm="naive_bayes", parameters=parameters
    )["model_id"]
    make_stale(store, kept, "numpy", "1.26.4")
    make_stale(store, old, "scikit-learn", "1.3.2")
    with pytest.raises(ModelIntegrityError, match=r"trained with scikit-learn 1\.3\.2"):
        store.load(old)

    retrained = ops(env, "retrain-stale")

    assert retrained.returncode == 0, retrained.stderr
    new = store.read_active_id()
    assert new != old
    assert retrained.stdout == (
        f"Model {old} (scikit-learn 1.3.2) retrained as {new} (naive_bayes, alpha=0.5, "
        "ngram_max=1) on 300 rows; it is the active model now.\n"
    )
    loaded = store.load(new)
    assert (loaded.manifest["algorithm"], loaded.manifest["parameters"]) == (
        "naive_bayes",
        parameters,
    )
    assert query(env, "SELECT state, model_id::text FROM jobs") == [("succeeded", new)]

    again = ops(env, "retrain-stale")
    assert (again.returncode, again.stdout) == (
        0,
        "The active model needs no retraining: this image's libraries are those that pickled it.\n",
    )

    # --all: every version kept, without making another one active.
    everything = ops(env, "retrain-stale", "--all")

    assert everything.returncode == 0, everything.stderr
    assert store.read_active_id() == new
    listed = {manifest["model_id"] for manifest in store.list_manifests()}
    (replacement,) = listed - {kept, old, new}
    assert everything.stdout == (
        f"Model {kept} (numpy 1.26.4) retrained as {replacement} (linear_svm, C=1.0, "
        "ngram_max=1) on 300 rows.\n"
    )
    assert store.load(replacement).manifest["algorithm"] == "linear_svm"
    # The versions replaced stay, for a rollback to an image that loads them, once.
    assert store.load(replacement).manifest["retrained_from"] == kept
    assert ops(env, "retrain-stale", "--all").stdout == (
        "No model version needs retraining: each was pickled with this image's libraries, or "
        "was retrained already.\n"
    )
