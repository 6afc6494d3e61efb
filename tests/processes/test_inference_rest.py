"""The inference protocol's REST form as web serves it under /v2, over the gRPC server's
inference.GRPCInferenceService, on a deployment where no Flask shim runs: tritonclient's HTTP
client sees what it sees from the shim (tests/processes/test_inference_client.py), and
web's own answers keep the protocol's error shape."""

import uuid
from types import SimpleNamespace

import pytest
import requests

from algorithm.domain.store import ModelStore
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support
from tests.processes.test_inference_client import HTTP_CLIENT_ERRORS, TEXTS, assert_client_saw

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_over_grpc(tmp_path_factory, sms_rows):
    """web and the gRPC server of one deployment, and nothing listening on the shim's port."""
    workdir = tmp_path_factory.mktemp("inference-rest")
    with support.isolated_env("v2", workdir) as env:
        support.run_checked("python -m web.manage release", env)
        model_id = support.publish_model(ModelStore(env["MODEL_DIR"]), sms_rows)
        token = support.run_checked(
            "python -m web.manage create_api_token v2-caller --scope predict", env
        ).strip()
        started = []
        try:
            for name, port in (("algorithm_grpc", "ALGORITHM_GRPC_PORT"), ("web", "WEB_PORT")):
                started.append(support.Service(name, support.procfile_command(name), env, workdir))
                started[-1].wait_for_port(int(env[port]))
            url = f"http://127.0.0.1:{env['WEB_PORT']}"
            support.wait_until(
                lambda: requests.get(f"{url}/api/health/", timeout=5).json()["predictions"] == "ok",
                60,
                "web ready, with the model answering",
            )
            yield SimpleNamespace(
                env=env, url=url, model_id=model_id, authorization=f"Token {token}"
            )
        finally:
            for service in started:
                service.stop()


def test_v2_answers_through_web_with_no_shim_running(web_over_grpc):
    assert not support.port_open(int(web_over_grpc.env["ALGORITHM_HTTP_PORT"]))
    with support.service_channel(web_over_grpc.env["ALGORITHM_GRPC_TARGET"]) as channel:
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        predictions = [
            stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5) for text in TEXTS
        ]

    seen = support.run_inference_client(
        "check_client_http.py",
        web_over_grpc.url.removeprefix("http://"),
        web_over_grpc.model_id,
        *TEXTS,
        env={"INFERENCE_AUTHORIZATION": web_over_grpc.authorization},
    )

    model_id = web_over_grpc.model_id
    assert_client_saw(seen, predictions, model_id, model_id, dimension=int)
    assert seen["errors"] == HTTP_CLIENT_ERRORS


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[1]", 400, "The body must be a JSON object with 'inputs'."),
        (b'{"inputs": {}}', 400, "'inputs' must be a list of tensors."),
        (
            b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [1]}]}',
            400,
            "'inputs[0].data' must hold texts (strings), not 1.",
        ),
        (
            b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1e400], "data": []}]}',
            400,
            "'inputs[0].shape' must be a list of integers.",
        ),
        (
            b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [99999999999999999999],'
            b' "data": ["hi"]}]}',
            400,
            "'inputs[0].shape' must be a list of 64-bit integers.",
        ),
        (
            b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1],'
            b' "data": ["\\ud800"]}]}',
            400,
            "text[0] is not UTF-8 text.",
        ),
        (
            b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2],'
            b' "data": [["a"], ["b"]]}], "id": "call-1", "outputs": [{"name": "label"}]}',
            200,
            None,
        ),
    ],
    ids=[
        "not-an-object",
        "inputs-not-a-list",
        "not-texts",
        "shape-not-integers",
        "shape-beyond-64-bits",
        "lone-surrogate",
        "nested-data",
    ],
)
def test_web_reads_the_protocols_json_itself(web_over_grpc, body, status, error):
    response = requests.post(
        f"{web_over_grpc.url}/v2/models/textclf/infer",
        data=body,
        headers={"Authorization": web_over_grpc.authorization},
        timeout=10,
    )
    assert response.status_code == status, response.text
    if error is not None:
        assert response.json() == {"error": error}
    else:
        answer = response.json()
        assert (answer["id"], [o["name"] for o in answer["outputs"]]) == ("call-1", ["label"])
        assert answer["outputs"][0]["shape"] == [2]


def test_v2_takes_a_reference_per_text_and_answers_each_prediction_id(web_over_grpc):
    """Needs the algorithm service's prediction ids (issue 26's prediction log)."""
    texts = ["win cash now", "lunch at noon?"]
    body = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [2], "data": texts},
            {"name": "reference", "datatype": "BYTES", "shape": [2], "data": ["t-1", "t-2"]},
        ]
    }
    response = requests.post(
        f"{web_over_grpc.url}/v2/models/textclf/infer",
        json=body,
        headers={"Authorization": web_over_grpc.authorization},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    ids = response.json()["parameters"]["prediction_ids"].split(",")
    assert [str(uuid.UUID(prediction_id)) for prediction_id in ids] == ids
    assert len(set(ids)) == len(texts)


def test_the_probes_need_no_token_and_answer_false_with_400(web_over_grpc):
    url = web_over_grpc.url
    assert requests.get(f"{url}/v2/health/live", timeout=5).json() == {"live": True}
    assert requests.get(f"{url}/v2/health/ready", timeout=5).json() == {"ready": True}
    missing = "00000000-0000-0000-0000-000000000000"
    response = requests.get(f"{url}/v2/models/textclf/versions/{missing}/ready", timeout=5)
    assert (response.status_code, response.json()) == (400, {"name": "textclf", "ready": False})
    response = requests.get(f"{url}/v2/models/textclf%3F/ready", timeout=5)
    assert (response.status_code, response.json()) == (
        404,
        {"error": "Model 'textclf?' is not served here; the one model is 'textclf'."},
    )
