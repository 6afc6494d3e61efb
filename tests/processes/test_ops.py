"""Operations: /api/info/ and GetInfo, /api/log/ across services, request ids end to end."""

import re
import socket

import pytest
from rest_framework.test import APIClient

from algorithm.v1 import info_pb2, info_pb2_grpc
from tests import support

pytestmark = pytest.mark.slow


def test_info_names_the_build_and_the_deployed_models_training(
    web_client, active_model_id, algorithm_services, grpc_channel
):
    algorithm_services.replace_data([("a", "x"), ("b", "y")])
    response = web_client.get("/api/info/")
    assert response.status_code == 200
    info = response.json()
    assert info["version"] == "0.1.0"
    assert (info["build_time"], info["git_revision"]) == ("unknown", "unknown")
    assert info["algorithm_error"] is None
    algorithm = info["algorithm"]
    assert algorithm["active_model"]["model_id"] == active_model_id
    assert algorithm["active_model"]["metrics"]["accuracy"] >= 0.95
    assert algorithm["active_model"]["create_time"]
    assert algorithm["data_rows"] == 2
    assert algorithm["model_count"] >= 1
    assert algorithm["uptime_seconds"] > 0

    reply = info_pb2_grpc.InfoServiceStub(grpc_channel).GetInfo(
        info_pb2.GetInfoRequest(), timeout=5
    )
    assert reply.active_model.model_id == active_model_id
    assert (reply.data_rows, reply.model_count) == (2, algorithm["model_count"])


def test_info_names_the_replica_that_answered_and_counts_its_predictions(
    web_client, active_model_id
):
    before = web_client.get("/api/info/").json()["algorithm"]
    assert before["replica"] == socket.gethostname()
    for body in ({"text": "win a prize"}, {"texts": ["win cash now", "lunch?", "call me"]}):
        assert web_client.post("/api/predict/", body, format="json").status_code == 200
    after = web_client.get("/api/info/").json()["algorithm"]
    assert after["texts_predicted"] - before["texts_predicted"] == 4


def test_info_still_answers_when_the_algorithm_service_is_down(web_client, settings):
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{support.free_port()}"
    response = web_client.get("/api/info/")
    assert response.status_code == 200
    assert response.json()["algorithm"] is None
    assert response.json()["algorithm_error"] == (
        "The algorithm service is unavailable; try again shortly."
    )


def test_a_request_id_follows_the_call_into_the_algorithm_services_log(
    web_client, algorithm_services
):
    response = web_client.post("/api/train/", {}, format="json", HTTP_X_REQUEST_ID="req-ops-42")
    assert response.status_code == 202
    assert response["X-Request-ID"] == "req-ops-42"
    job_id = response.json()["job_id"]

    def logged():
        records = web_client.get("/api/log/?service=algorithm-grpc&lines=200").json()
        return [r for r in records if r.get("id") == "req-ops-42"]

    (record,) = support.wait_until(logged, 5, "the request id in the gRPC log")
    # Let the job end here, so that the model it activates cannot surprise a later test.
    support.wait_until(
        lambda: web_client.get(f"/api/jobs/{job_id}/").json()["state"] in ("succeeded", "failed"),
        60,
        "the job ending",
        interval=0.3,
    )
    assert record["service"] == "algorithm-grpc"
    assert record["message"].startswith(f"Queued training job {job_id}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def test_worker_lines_carry_the_job_id_and_the_log_merges_services_by_time(
    web_client, algorithm_services, grpc_channel
):
    response = web_client.post("/api/train/", {}, format="json")
    job_id = response.json()["job_id"]
    support.wait_until(
        lambda: web_client.get(f"/api/jobs/{job_id}/").json()["state"] in ("succeeded", "failed"),
        60,
        "the job ending",
        interval=0.3,
    )
    worker = web_client.get("/api/log/?service=worker&lines=100").json()
    assert any(r.get("id") == job_id for r in worker)
    merged = web_client.get("/api/log/?lines=50").json()
    assert 0 < len(merged) <= 50
    times = [r["time"] for r in merged if "time" in r]
    assert times == sorted(times)
    assert {r["service"] for r in merged if "service" in r} >= {"worker", "algorithm-grpc"}
    assert len(web_client.get("/api/log/").json()) <= 20


@pytest.mark.parametrize("query", ["lines=0", "lines=1001", "lines=x", "service=nope"])
def test_log_rejects_bad_queries(web_client, query):
    response = web_client.get(f"/api/log/?{query}")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]


def test_log_and_info_need_a_token(db):
    assert APIClient().get("/api/log/").status_code == 401
    assert APIClient().get("/api/info/").status_code == 401


def test_grpc_info_is_served_with_reflection(algorithm_services):
    channel = support.service_channel(algorithm_services.grpc_target)
    reply = info_pb2_grpc.InfoServiceStub(channel).GetInfo(info_pb2.GetInfoRequest(), timeout=5)
    assert reply.version == "0.1.0"
    channel.close()
