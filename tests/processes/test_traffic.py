"""Traffic against the real gRPC server, worker and scheduler: a canary takes its share of the
predictions, sticky by reference; a canary whose candidate errs is rolled back by the
scheduled check, with its decision recorded; the shadow's agreement is the one computed by
hand from each version's own answers."""

import collections
import time
from concurrent import futures

import psycopg2
import psycopg2.extras
import pytest

from algorithm.domain import traffic as traffic_domain
from algorithm.serving import traffic
from algorithm.v1 import prediction_pb2, traffic_pb2, traffic_pb2_grpc
from tests import support, tampering

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def traffic_stub(grpc_channel):
    return traffic_pb2_grpc.TrafficServiceStub(grpc_channel)


@pytest.fixture(autouse=True)
def no_split_after(traffic_stub):
    """Every other test of the session predicts without a split."""
    traffic_stub.ClearTraffic(traffic_pb2.ClearTrafficRequest(), timeout=10)
    yield
    traffic_stub.ClearTraffic(traffic_pb2.ClearTrafficRequest(), timeout=10)
    time.sleep(0.5)  # a watcher poll or two: the servers follow


@pytest.fixture(scope="module")
def rollback_checks(algorithm_services, tmp_path_factory):
    """The scheduler and the monitor worker, checking the canary every second."""
    workdir = tmp_path_factory.mktemp("traffic-checks")
    env = {
        **support.metrics_apart(algorithm_services.env, workdir / "metrics"),
        "TRAFFIC_CHECK_SECONDS": "1",
    }
    services = [
        support.Service(name, support.procfile_command(name), env, workdir)
        for name in ("algorithm_monitor", "scheduler")
    ]
    try:
        support.wait_until(lambda: "ready." in services[0].output(), 60, "the monitor worker")
        yield services
    finally:
        for service in services:
            service.stop()


def _predict(stub, text: str, reference: str = "", model_id: str = "") -> str:
    request = prediction_pb2.PredictRequest(text=text, reference=reference, model_id=model_id)
    return stub.Predict(request, timeout=10).model_id


def _wait_for_canary(prediction_stub, canary: traffic_pb2.Canary) -> None:
    """Until the server routes a reference the canary takes to it."""
    routing = traffic_domain.canary_from(
        {"model_id": canary.model_id, "percent": canary.percent}, "2026-01-01T00:00:00+00:00"
    )
    reference = next(f"probe-{i}" for i in range(10_000) if routing.routes(f"probe-{i}"))
    support.wait_until(
        lambda: _predict(prediction_stub, "hello", reference) == canary.model_id,
        5,
        "the canary being followed",
        interval=0.05,
    )


def _query(env, sql: str, parameters=()) -> list[dict]:
    connection = psycopg2.connect(env["DATABASE_URL"])
    try:
        with connection, connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, parameters)
            return cur.fetchall()
    finally:
        connection.close()


def test_a_canary_takes_its_share_and_each_reference_sticks(
    algorithm_services, active_model_id, sms_rows, prediction_stub, traffic_stub
):
    candidate = algorithm_services.publish_model(sms_rows[::2], activate=False)
    canary = traffic_pb2.Canary(model_id=candidate, percent=10, min_answers=1_000_000)
    reply = traffic_stub.SetTraffic(traffic_pb2.SetTrafficRequest(canary=canary), timeout=10)
    assert reply.traffic.champion_id == active_model_id
    assert reply.traffic.canary.since.seconds > 0
    _wait_for_canary(prediction_stub, canary)
    references = [f"customer-{index}" for index in range(2_000)]

    with futures.ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda ref: _predict(prediction_stub, "free prize", ref), references))
        again = list(
            pool.map(lambda ref: _predict(prediction_stub, "see you", ref), references[:300])
        )

    shares = collections.Counter(first)
    assert set(shares) == {active_model_id, candidate}
    assert 0.07 <= shares[candidate] / len(references) <= 0.13
    assert again == first[:300]


def test_a_canary_that_errs_is_rolled_back_by_the_check_with_its_decision(
    algorithm_services, active_model_id, sms_rows, prediction_stub, traffic_stub, rollback_checks
):
    candidate = algorithm_services.publish_model(sms_rows[1::2], activate=False)
    canary = traffic_pb2.Canary(model_id=candidate, percent=50, min_answers=20)
    traffic_stub.SetTraffic(traffic_pb2.SetTrafficRequest(canary=canary), timeout=10)
    # After the checks setting it made, before any serving process loaded it.
    tampering.truncate(algorithm_services.store.path(candidate))

    answered = [_predict(prediction_stub, "win cash now", f"order-{i}") for i in range(200)]

    # Whoever the split sent to the broken candidate was answered by the active version.
    assert set(answered) == {active_model_id}
    support.wait_until(
        lambda: (
            not traffic_stub.GetTraffic(
                traffic_pb2.GetTrafficRequest(), timeout=10
            ).traffic.HasField("canary")
        ),
        30,
        "the canary being rolled back",
    )
    (decision,) = _query(
        algorithm_services.env,
        "SELECT * FROM promotion_decisions WHERE candidate_id = %s",
        (candidate,),
    )
    assert (decision["kind"], decision["outcome"]) == ("canary_rollback", "rolled_back")
    assert str(decision["champion_id"]) == active_model_id
    assert decision["rule"]["max_error_rate"] == 0.05
    evidence = decision["evidence"]
    assert evidence["answers"] >= 20
    assert evidence["errors"] == evidence["answers"]
    assert "above the bound of 5.0%" in decision["reason"]


def test_the_shadow_agreement_is_what_each_version_answers(
    algorithm_services, active_model_id, sms_rows, prediction_stub, traffic_stub
):
    # Trained on a tenth of the rows: it agrees with the champion often, not always.
    shadow_id = algorithm_services.publish_model(sms_rows[::10], activate=False)
    shadow = traffic_pb2.Shadow(model_id=shadow_id, share=1.0)
    traffic_stub.SetTraffic(traffic_pb2.SetTrafficRequest(shadow=shadow), timeout=10)
    agreement = traffic_pb2.GetShadowAgreementRequest()
    support.wait_until(
        lambda: (
            _predict(prediction_stub, "warm up")
            and traffic_stub.GetShadowAgreement(agreement, timeout=10).predictions > 0
        ),
        10,
        "the shadow scoring",
        interval=0.2,
    )
    time.sleep(2 * traffic.FLUSH_SECONDS)  # the warm-up's last comparisons are written
    before = traffic_stub.GetShadowAgreement(agreement, timeout=10)
    texts = [text for text, _ in sms_rows[:150]]

    prediction_ids = []
    for text in texts:
        request = prediction_pb2.PredictRequest(text=text)
        prediction_ids.append(prediction_stub.Predict(request, timeout=10).prediction_id)
        time.sleep(0.01)  # well within the shadow's budget of texts a second
    support.wait_until(
        lambda: (
            traffic_stub.GetShadowAgreement(agreement, timeout=10).predictions
            >= before.predictions + len(texts)
        ),
        10,
        "the comparisons being counted",
    )
    after = traffic_stub.GetShadowAgreement(agreement, timeout=10)

    def labels(model_id):
        request = prediction_pb2.PredictBatchRequest(texts=texts, model_id=model_id)
        return [p.label for p in prediction_stub.PredictBatch(request, timeout=30).predictions]

    champion_labels, shadow_labels = labels(active_model_id), labels(shadow_id)
    agreed = sum(a == b for a, b in zip(champion_labels, shadow_labels, strict=True))
    assert after.shadow_id == shadow_id and after.current
    assert after.predictions - before.predictions == len(texts)
    assert after.agreed - before.agreed == agreed

    def shadowed_rows():
        rows = _query(
            algorithm_services.env,
            "SELECT id, shadow_model_id, shadow_label FROM predictions WHERE id = ANY(%s::uuid[])",
            (prediction_ids,),
        )
        return rows if len(rows) == len(texts) else None

    rows = support.wait_until(shadowed_rows, 10, "the shadowed predictions in the log")
    logged = {str(row["id"]): (str(row["shadow_model_id"]), row["shadow_label"]) for row in rows}
    assert [logged[pid] for pid in prediction_ids] == [(shadow_id, s) for s in shadow_labels]
