"""Safe promotion through the real services: the gRPC server, a worker, the monitoring
worker and the scheduler, driven over REST. With an evaluation set, a challenger trained on
shuffled labels is kept with the evidence (both versions' per-label tables on the same
rows), a better one is promoted and served, and the policy's every-N-rows trigger queues a
challenger by itself."""

import random

import psycopg2
import pytest

from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support
from tests.processes.conftest import insert_data

pytestmark = pytest.mark.slow

EVERY_NEW_ROWS = 40


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The services of one deployment, with the promotion check every second."""
    workdir = tmp_path_factory.mktemp("promotion")
    with support.isolated_env("promo", workdir) as env:
        env["PROMOTION_CHECK_SECONDS"] = "1"
        support.run_checked("python -m web.manage release", env)
        services = [
            support.Service(name, support.procfile_command(name), env, workdir)
            for name in ("algorithm_grpc", "algorithm_celery", "algorithm_monitor", "scheduler")
        ]
        try:
            services[0].wait_for_port(int(env["ALGORITHM_GRPC_PORT"]))
            for worker in services[1:3]:
                support.wait_until(lambda w=worker: "ready." in w.output(), 60, "a worker ready")
            yield env
        finally:
            for service in services:
                service.stop()


@pytest.fixture
def rest(api_client, settings, stack):
    settings.ALGORITHM_GRPC_TARGET = stack["ALGORITHM_GRPC_TARGET"]
    return api_client


def sql(env, query: str, params=()) -> list[tuple]:
    conn = psycopg2.connect(env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def decided(rest, job_id: str) -> dict:
    """The decision on a challenger's job, once its worker took it."""
    job = support.wait_until(
        lambda: (
            (found := rest.get(f"/api/jobs/{job_id}/").json())["state"] in ("succeeded", "failed")
            and found
        ),
        120,
        f"job {job_id} to end",
        interval=0.2,
    )
    assert job["state"] == "succeeded", job["error"]
    decisions = rest.get("/api/promotion/decisions/").json()["results"]
    (decision,) = [found for found in decisions if found["job_id"] == job_id]
    return decision


def set_labels(env, labels: dict[int, str]) -> None:
    for row_id, label in labels.items():
        sql(env, "UPDATE data SET label = %s WHERE id = %s", (label, row_id))


def per_label_supports(figures: dict) -> dict[str, int]:
    return {label: scores["support"] for label, scores in figures["per_label"].items()}


def test_challengers_are_kept_promoted_and_triggered(rest, stack):
    rows = [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]
    insert_data(stack, random.Random(1).sample(rows, 1500))
    created = rest.post("/api/evaluation-set/", {"method": "fraction", "fraction": 0.3, "seed": 1})
    assert created.status_code == 201, created.json()
    set_rows = created.json()["rows"]

    # A modest champion: trained while the data holds few rows beside the set's, and the
    # first version of all, so promoted for want of a champion.
    training = sql(
        stack,
        "SELECT id, text, label FROM data "
        "WHERE id NOT IN (SELECT data_id FROM evaluation_set_rows) ORDER BY id",
    )
    sql(stack, "DELETE FROM data WHERE id = ANY(%s)", ([row[0] for row in training[150:]],))
    first_job = rest.post("/api/train/", {"promotion": True}, format="json")
    assert first_job.status_code == 202, first_job.json()
    first = decided(rest, first_job.json()["job_id"])
    champion_id = first["candidate_id"]
    assert (first["outcome"], first["reason"]) == ("promoted", "no champion")
    model = rest.get(f"/api/models/{champion_id}/").json()
    assert model["active"] and model["evaluation"]["rows"] == set_rows
    insert_data(stack, [(text, label) for _, text, label in training[150:]])
    policy = rest.put(
        "/api/promotion/policy/",
        {"trigger": {"every_new_rows": EVERY_NEW_ROWS}},
        format="json",
    )
    assert policy.status_code == 200, policy.json()

    # Labels shuffled where training reads them; the evaluation set's stay true.
    in_set = {row_id for (row_id,) in sql(stack, "SELECT data_id FROM evaluation_set_rows")}
    true_labels = dict(sql(stack, "SELECT id, label FROM data"))
    training_ids = sorted(set(true_labels) - in_set)
    shuffled = [true_labels[row_id] for row_id in training_ids]
    random.Random(2).shuffle(shuffled)
    set_labels(stack, dict(zip(training_ids, shuffled, strict=True)))

    noisy = rest.post("/api/promotion/challenger/")
    assert noisy.status_code == 202, noisy.json()
    kept = decided(rest, noisy.json()["job_id"])

    evidence = kept["evidence"]
    assert kept["outcome"] == "kept", kept["reason"]
    assert rest.get(f"/api/models/{champion_id}/").json()["active"]
    assert evidence["evaluation_set"] == {"id": created.json()["set_id"], "rows": set_rows}
    assert evidence["champion"]["model_id"] == champion_id
    assert evidence["challenger"]["model_id"] == kept["candidate_id"]
    # Both per-label tables count the same rows: the evaluation set's.
    supports = per_label_supports(evidence["champion"])
    assert supports == per_label_supports(evidence["challenger"])
    assert sum(supports.values()) == set_rows
    assert not all(check["passed"] for check in evidence["checks"])

    set_labels(stack, {row_id: true_labels[row_id] for row_id in training_ids})
    better = rest.post("/api/promotion/challenger/")
    promoted = decided(rest, better.json()["job_id"])

    assert promoted["outcome"] == "promoted", promoted["evidence"]["checks"]
    gain = (
        promoted["evidence"]["challenger"]["accuracy"]
        - promoted["evidence"]["champion"]["accuracy"]
    )
    assert gain > 0
    assert rest.get(f"/api/models/{promoted['candidate_id']}/").json()["active"]
    channel = support.service_channel(stack["ALGORITHM_GRPC_TARGET"])
    stub = prediction_pb2_grpc.PredictionServiceStub(channel)
    support.wait_until(
        lambda: (
            stub.Predict(prediction_pb2.PredictRequest(text="win cash"), timeout=5).model_id
            == promoted["candidate_id"]
        ),
        5,
        "the promoted version being served",
    )
    channel.close()

    # The trigger: EVERY_NEW_ROWS new rows, and the scheduler's check queues a challenger.
    jobs_before = sql(stack, "SELECT count(*) FROM jobs WHERE promotion")[0][0]
    insert_data(stack, random.Random(3).sample(rows, EVERY_NEW_ROWS))
    support.wait_until(
        lambda: sql(stack, "SELECT count(*) FROM jobs WHERE promotion")[0][0] > jobs_before,
        30,
        "the trigger to queue a challenger",
        interval=0.5,
    )
    (job_id,) = sql(
        stack, "SELECT id::text FROM jobs WHERE promotion ORDER BY create_time DESC LIMIT 1"
    )[0]
    assert decided(rest, job_id)["kind"] == "promotion"


def test_a_challenger_under_the_shadow_rule_is_promoted_once_it_agreed_on_live_predictions(
    rest, stack
):
    """The shadow rule end to end: the challenger is the shadow, the gRPC server scores real
    predictions with it and flushes the agreement, and the scheduler's promotion check on
    the monitoring worker promotes it once enough were compared."""
    if rest.get("/api/evaluation-set/").status_code == 404:
        rows = [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]
        insert_data(stack, random.Random(1).sample(rows, 1500))
        created = rest.post("/api/evaluation-set/", {"method": "fraction", "fraction": 0.3})
        assert created.status_code == 201, created.json()
    rule = {"min_shadow_agreement": 0.9, "min_shadow_predictions": 30}
    assert rest.put("/api/promotion/policy/", rule, format="json").status_code == 200
    # A champion trained on the data as it is: the challenger, trained on the same rows,
    # matches it on the set (so it passes there) and agrees with it on every text.
    champion_job = rest.post("/api/train/", {}, format="json").json()["job_id"]
    support.wait_until(
        lambda: rest.get(f"/api/jobs/{champion_job}/").json()["state"] == "succeeded",
        120,
        "the champion trained",
        interval=0.2,
    )
    champion_id = rest.get(f"/api/jobs/{champion_job}/").json()["model_id"]

    job_id = rest.post("/api/promotion/challenger/").json()["job_id"]
    shadowing = decided(rest, job_id)

    assert shadowing["outcome"] == "shadowing", shadowing["reason"]
    challenger_id = shadowing["candidate_id"]
    split = rest.get("/api/traffic/").json()
    assert (split["shadow"]["model_id"], split["shadow"]["share"]) == (challenger_id, 1.0)
    assert split["champion_id"] == champion_id == shadowing["champion_id"]
    assert rest.post("/api/promotion/challenger/").status_code == 409  # one at a time

    channel = support.service_channel(stack["ALGORITHM_GRPC_TARGET"])
    stub = prediction_pb2_grpc.PredictionServiceStub(channel)
    texts = ["win cash now", "are we meeting for lunch?", "claim your free prize", "ok see you"]

    def final() -> dict | None:
        for text in texts:
            answer = stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
            assert answer.model_id in (champion_id, challenger_id)
        decisions = rest.get("/api/promotion/decisions/").json()["results"]
        ended = [d for d in decisions if d["job_id"] == job_id and d["outcome"] != "shadowing"]
        return ended[0] if ended else None

    promoted = support.wait_until(final, 60, "the shadow rule's final decision", interval=0.2)
    channel.close()

    assert promoted["outcome"] == "promoted", promoted["reason"]
    shadow = promoted["evidence"]["shadow"]
    assert shadow["predictions"] >= 30 and shadow["agreed"] == shadow["predictions"]
    assert promoted["evidence"]["checks"][-1] == {
        "name": "shadow agreement",
        "value": 1,
        "bound": 0.9,
        "passed": True,
    }
    assert rest.get(f"/api/models/{challenger_id}/").json()["active"]
    assert rest.get("/api/traffic/").json()["shadow"] is None
