"""Every entry point of the real algorithm service answers each prediction's id, and the
prediction log records it with its reference, its caller ("internal" unless named) and the
version that made it (the session's services keep every prediction:
tests/processes/conftest.py)."""

import re
import uuid

import psycopg2
import pytest
import requests

from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_grpc
from algorithm.v1 import prediction_pb2
from tests import support
from tests.processes.test_inference import infer_request, with_references

pytestmark = pytest.mark.slow

SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim"


def logged(algorithm_services, ids: list[str]) -> dict[str, tuple]:
    """(model_id, caller, reference, request_id, label) of each id, once all are written."""

    def read():
        conn = psycopg2.connect(algorithm_services.env["DATABASE_URL"])
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(
                    "SELECT id::text, model_id::text, caller, reference, request_id, label "
                    "FROM predictions WHERE id = ANY(%s::uuid[])",
                    (ids,),
                )
                rows = {row[0]: row[1:] for row in cursor.fetchall()}
        finally:
            conn.close()
        return rows if len(rows) == len(ids) else None

    return support.wait_until(read, 10, "the predictions in the log", interval=0.05)


def assert_ids(ids: list[str]) -> None:
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(prediction_id, version=4)) == prediction_id for prediction_id in ids)


def test_grpc_predictions_are_logged_with_their_origin(
    algorithm_services, prediction_stub, active_model_id
):
    one = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text=SPAM, reference="ticket-1", request_id="req-1"),
        timeout=5,
    )
    batch = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(
            texts=[SPAM, "see you at dinner"],
            references=["ticket-2", ""],
            callers=["token:ab12", ""],
        ),
        timeout=5,
    )
    ids = [one.prediction_id, *(p.prediction_id for p in batch.predictions)]

    assert_ids(ids)
    assert logged(algorithm_services, ids) == {
        ids[0]: (active_model_id, "internal", "ticket-1", "req-1", "spam"),
        ids[1]: (active_model_id, "token:ab12", "ticket-2", "", "spam"),
        ids[2]: (active_model_id, "internal", "", "", "ham"),
    }


def test_shim_and_inference_protocol_predictions_are_logged_with_their_references(
    algorithm_services, grpc_channel, active_model_id
):
    url = f"{algorithm_services.http_url}/predict"
    shim = algorithm_services.shim
    # Named: the shim's processes may take a moment to follow ACTIVE.
    model = {"model_id": active_model_id}
    one = shim.post(url, json={"text": SPAM, "reference": "ticket-3", **model}, timeout=5).json()
    batch = shim.post(
        url,
        json={"texts": [SPAM, "ok"], "references": ["ticket-4", "ticket-5"], **model},
        headers={"X-Request-ID": "shim-req-1"},
        timeout=5,
    ).json()
    oip_request = with_references(infer_request([SPAM, "ok"]), ["ticket-6", ""])
    # As web passes its callers on; a direct caller sends neither.
    oip_request.parameters["caller"].string_param = "token:cd34"
    oip_request.parameters["request_id"].string_param = "web-req-1"
    inferred = oip_grpc.GRPCInferenceServiceStub(grpc_channel).ModelInfer(oip_request, timeout=5)
    oip_ids = inferred.parameters["prediction_ids"].string_param.split(",")
    ids = [one["prediction_id"], *(p["prediction_id"] for p in batch["predictions"]), *oip_ids]

    assert_ids(ids)
    assert logged(algorithm_services, ids) == {
        ids[0]: (active_model_id, "internal", "ticket-3", "", "spam"),
        ids[1]: (active_model_id, "internal", "ticket-4", "shim-req-1", "spam"),
        ids[2]: (active_model_id, "internal", "ticket-5", "shim-req-1", "ham"),
        ids[3]: (active_model_id, "token:cd34", "ticket-6", "web-req-1", "spam"),
        ids[4]: (active_model_id, "token:cd34", "", "web-req-1", "ham"),
    }
    metrics = requests.get(
        f"http://127.0.0.1:{algorithm_services.env['ALGORITHM_METRICS_PORT']}/metrics", timeout=5
    ).text
    written = re.search(
        r'^textclf_prediction_log_records_total\{outcome="written"\} (\S+)$', metrics, re.M
    )
    assert written and float(written.group(1)) >= 3
