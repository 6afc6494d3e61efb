"""The whole stack as local processes, started by `make run`, driven like a user would."""

import json
import pathlib
import subprocess
import sys
import threading
import time

import grpc
import pytest
import requests

from algorithm.v1 import prediction_pb2, prediction_pb2_grpc, training_pb2, training_pb2_grpc
from tests import support

pytestmark = pytest.mark.slow

SAMPLE_TEXTS = [
    "WINNER!! You have won a free prize, call 09061701461 now to claim",
    "Are we still meeting for lunch tomorrow?",
    "URGENT! Your mobile number has been awarded a £2000 bonus",
    "ok see you at home later",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stack")
    with support.make_run("e2e", workdir) as (env, _):
        shim = f"http://127.0.0.1:{env['ALGORITHM_HTTP_PORT']}"
        # An open port is not readiness: the shim answers its own.
        support.wait_until(lambda: _healthy(f"{shim}/health"), 60, "the shim answering 200")
        yield {
            "web": f"http://127.0.0.1:{env['WEB_PORT']}",
            "grpc": env["ALGORITHM_GRPC_TARGET"],
            "shim": shim,
            "models": pathlib.Path(env["MODEL_DIR"]),
            "token": env["API_TOKEN"],
            "headers": {"Authorization": f"Token {env['API_TOKEN']}"},
            "metrics": {
                service: f"http://127.0.0.1:{env[f'{service.upper()}_METRICS_PORT']}/metrics"
                for service in ("web", "algorithm", "worker", "scheduler")
            },
        }


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stubs(stack):
    channel = support.service_channel(stack["grpc"])
    yield (
        prediction_pb2_grpc.PredictionServiceStub(channel),
        training_pb2_grpc.TrainingServiceStub(channel),
    )
    channel.close()


def wait_for_job(stack, job_id: str, timeout: float = 180) -> dict:
    def ended():
        response = requests.get(
            f"{stack['web']}/api/jobs/{job_id}/", headers=stack["headers"], timeout=5
        )
        assert response.status_code == 200, response.text
        job = response.json()
        return job if job["state"] in ("succeeded", "failed") else None

    return support.wait_until(ended, timeout, f"job {job_id} ending", interval=0.5)


def test_user_loads_data_trains_and_predicts_over_every_interface(stack, stubs):
    web, headers = stack["web"], stack["headers"]
    prediction_stub, training_stub = stubs

    # Before the first model: a clear 409 / FAILED_PRECONDITION everywhere.
    response = requests.post(f"{web}/api/predict/", json={"text": "hi"}, headers=headers, timeout=5)
    assert response.status_code == 409
    assert "No model has been trained yet" in response.json()["message"]
    response = support.shim_session().post(
        f"{stack['shim']}/predict", json={"text": "hi"}, timeout=5
    )
    assert response.status_code == 409
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # Load the SMS Spam Collection through the public API.
    rows = [
        {"text": row["text"], "label": row["label"]} for row in support.read_tsv("sms_spam.tsv")
    ]
    response = requests.post(f"{web}/api/data/", json=rows, headers=headers, timeout=60)
    assert response.status_code == 201, response.text[:500]
    response = requests.get(f"{web}/api/data/?label=spam", headers=headers, timeout=5)
    assert response.json()["count"] == 747

    # Train through REST and follow the job to its end.
    started = time.monotonic()
    response = requests.post(f"{web}/api/train/", headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5
    job = response.json()
    assert job["state"] in ("queued", "running")
    assert response.headers["Location"] == f"/api/jobs/{job['job_id']}/"
    job = wait_for_job(stack, job["job_id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["rows_read"] == job["rows_total"] == 5574
    assert job["progress"] == 1
    assert job["metrics"]["accuracy"] >= 0.95
    assert set(job["metrics"]["per_label"]) == {"ham", "spam"}
    model_id = job["model_id"]
    assert (stack["models"] / model_id / "model.pickle").is_file()
    assert (stack["models"] / model_id / "vectorizer.pickle").is_file()

    # REST, gRPC and the Flask shim agree, naming the same model.
    for text in SAMPLE_TEXTS:
        answers = [
            support.wait_until(
                lambda text=text: _predict_rest(web, headers, text, model_id),
                5,
                "the new model being served",
            )
        ]
        shim = (
            support.shim_session()
            .post(f"{stack['shim']}/predict", json={"text": text}, timeout=5)
            .json()
        )
        answers.append(shim)
        reply = prediction_stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
        answers.append(
            {"label": reply.label, "scores": dict(reply.scores), "model_id": reply.model_id}
        )
        for answer in answers:
            assert answer["model_id"] == model_id
            assert answer["label"] == answers[0]["label"]
            assert answer["label"] == max(answer["scores"], key=answer["scores"].get)
            assert sum(answer["scores"].values()) == pytest.approx(1)
            assert answer["scores"] == pytest.approx(answers[0]["scores"])
    assert _predict_rest(web, headers, SAMPLE_TEXTS[0], model_id)["label"] == "spam"
    assert _predict_rest(web, headers, SAMPLE_TEXTS[1], model_id)["label"] == "ham"

    # A batch over REST answers a list in request order.
    response = requests.post(
        f"{web}/api/predict/", json={"texts": SAMPLE_TEXTS}, headers=headers, timeout=5
    )
    assert [p["label"] for p in response.json()] == ["spam", "ham", "spam", "ham"]

    # A second training, started over gRPC and watched to its end, is served without a restart.
    reply = training_stub.Train(
        training_pb2.TrainRequest(algorithm="logistic_regression"), timeout=5
    )
    states = [
        update.job.state
        for update in training_stub.WatchJob(
            training_pb2.WatchJobRequest(job_id=reply.job.job_id), timeout=180
        )
    ]
    assert states[-1] == training_pb2.JOB_STATE_SUCCEEDED
    second = requests.get(f"{web}/api/jobs/{reply.job.job_id}/", headers=headers, timeout=5).json()
    assert second["model_id"] != model_id
    served = support.wait_until(
        lambda: _predict_rest(web, headers, SAMPLE_TEXTS[0], second["model_id"]),
        2,
        "the second model being served",
    )
    assert served["label"] == "spam"


def _predict_rest(base: str, headers: dict, text: str, expected_model: str) -> dict | None:
    response = requests.post(
        f"{base}/api/predict/", json={"text": text}, headers=headers, timeout=5
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["model_id"] == expected_model else None


def test_grpcurl_lists_and_calls_services_without_proto_files(stack):
    grpcurl = str(support.VENV_BIN / "grpcurl")
    credential = f"authorization: {support.service_authorization()}"
    listed = subprocess.run(
        [grpcurl, "-plaintext", "-H", credential, stack["grpc"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {
        "algorithm.v1.PredictionService",
        "algorithm.v1.TrainingService",
        "grpc.health.v1.Health",
        "inference.GRPCInferenceService",
    }
    called = subprocess.run(
        [
            grpcurl,
            "-plaintext",
            "-H",
            credential,
            "-d",
            '{"text": "free entry to win a prize"}',
            stack["grpc"],
            "algorithm.v1.PredictionService/Predict",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert called.returncode == 0, called.stderr
    answer = json.loads(called.stdout)
    assert set(answer) == {"label", "scores", "model_id"}
    health = subprocess.run(
        # grpcurl asks reflection for the method first, and reflection wants the credential;
        # probes that call Health directly need none (tests/algorithm/test_service_auth.py).
        [grpcurl, "-plaintext", "-H", credential, stack["grpc"], "grpc.health.v1.Health/Check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(health.stdout) == {"status": "SERVING"}


def test_without_the_credential_only_health_answers(stack):
    grpcurl = str(support.VENV_BIN / "grpcurl")
    for flags, args in (
        ([], ["list"]),
        (["-d", '{"text": "hi"}'], ["algorithm.v1.PredictionService/Predict"]),
    ):
        refused = subprocess.run(
            [grpcurl, "-plaintext", *flags, stack["grpc"], *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode != 0
        assert "Unauthenticated" in refused.stderr, refused.stderr
        assert "ALGORITHM_SERVICE_TOKEN" in refused.stderr
    wrong = subprocess.run(
        [grpcurl, "-plaintext", "-H", "authorization: Bearer guess", stack["grpc"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Unauthenticated" in wrong.stderr, wrong.stderr
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = requests.post(
            f"{stack['shim']}/predict", json={"text": "hi"}, headers=headers, timeout=5
        )
        assert response.status_code == 401
        assert response.json()["message"] == (
            "This service needs its credential: send the header "
            "'authorization: Bearer <ALGORITHM_SERVICE_TOKEN>'."
        )
    assert requests.get(f"{stack['shim']}/health", timeout=5).status_code == 200


def test_smoke_script_drives_every_rest_method_against_the_stack(stack):
    result = subprocess.run(
        [sys.executable, "scripts/smoke.py", "--url", stack["web"], "--token", stack["token"]],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [
        line.split("  ")[1].strip() for line in result.stdout.splitlines() if line.startswith("ok")
    ]
    assert steps == [
        "health",
        "import data",
        "list data",
        "list algorithms",
        "train",
        "predict",
        "predict a batch",
        "evaluate",
        "delete metric record",
        "train another",
        "activate older",
        "retrain",
        "delete model",
        "list models",
        "info",
        "log",
    ]
    assert result.stdout.splitlines()[-1] == "smoke test passed"


def test_smoke_script_stops_at_the_first_failure(stack):
    result = subprocess.run(
        [sys.executable, "scripts/smoke.py", "--url", stack["web"], "--token", "wrong"],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["ok  health                 ok"]
    assert result.stderr.startswith("FAILED  POST /data/import/: HTTP 401")


def test_rest_rollback_under_concurrent_predictions_fails_no_request(stack):
    web, headers = stack["web"], stack["headers"]
    models = requests.get(f"{web}/api/models/", headers=headers, timeout=5).json()["results"]
    assert len(models) >= 2, "the earlier tests train several versions"
    first, second = models[0]["model_id"], models[1]["model_id"]
    failures, answered_by = [], set()
    stop = threading.Event()

    def predict_until_stopped():
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    f"{web}/api/predict/", json={"text": "win a prize"}, headers=headers, timeout=10
                )
                if response.status_code == 200:
                    answered_by.add(response.json()["model_id"])
                else:
                    failures.append((response.status_code, response.text[:200]))

    threads = [threading.Thread(target=predict_until_stopped) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for model_id in (second, first, second):
            response = requests.post(
                f"{web}/api/models/{model_id}/activate/", headers=headers, timeout=10
            )
            assert response.status_code == 200, response.text
            activated = time.monotonic()
            support.wait_until(
                lambda model_id=model_id: _predict_rest(web, headers, "hi", model_id),
                1,
                f"{model_id} being served",
                interval=0.02,
            )
            assert time.monotonic() - activated < 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert {first, second} <= answered_by


def _metrics(url: str) -> str:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, url
    check = subprocess.run(
        ["promtool", "check", "metrics"],
        input=response.text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, f"{url}:\n{check.stdout}{check.stderr}"
    return response.text


def test_every_service_serves_metrics_that_promtool_accepts(stack):
    headers = stack["headers"]
    predicted = requests.post(
        f"{stack['web']}/api/predict/", json={"text": SAMPLE_TEXTS[0]}, headers=headers, timeout=10
    )
    assert predicted.status_code == 200, predicted.text
    version = predicted.json()["model_id"]

    web = _metrics(stack["metrics"]["web"])
    algorithm = _metrics(stack["metrics"]["algorithm"])
    worker = _metrics(stack["metrics"]["worker"])
    _metrics(stack["metrics"]["scheduler"])

    # By route template, never by path: one series for every data id.
    assert 'textclf_http_requests_total{method="POST",route="api/predict/",status="200"}' in web
    assert "textclf_coalesced_batch_texts_bucket" in web
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="PredictBatch",'
        'grpc_service="algorithm.v1.PredictionService",grpc_type="unary"}'
    ) in algorithm
    assert f'textclf_predictions_total{{model_version="{version}"}}' in algorithm
    active = f'textclf_model_version_info{{model_version="{version}",state="active"}} 1.0'
    assert active in algorithm
    assert 'textclf_model_loads_total{outcome="loaded"}' in algorithm
    assert 'textclf_jobs_total{kind="train",state="succeeded"}' in worker
    assert 'textclf_queue_tasks{queue="celery"} 0.0' in worker


def _prometheus_value(url: str, query: str) -> float | None:
    try:
        response = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
    except requests.RequestException:
        return None
    result = response.json()["data"]["result"] if response.status_code == 200 else []
    return float(result[0]["value"][1]) if result else None


def test_a_real_prometheus_scrapes_the_stack_and_counts_every_prediction(stack, tmp_path):
    rules = support.REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
    targets = {
        name: url.removeprefix("http://").removesuffix("/metrics")
        for name, url in stack["metrics"].items()
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [target]}]}
            for name, target in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = support.free_port()
    url = f"http://127.0.0.1:{port}"
    server = support.Service(
        "prometheus",
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        {},
        tmp_path,
    )
    query = "sum(textclf_predictions_total)"
    try:
        server.wait_for_port(port, timeout=60)
        support.wait_until(
            lambda: _prometheus_value(url, "count(up == 1)") == len(targets),
            60,
            "Prometheus scraping every service",
        )
        support.wait_until(lambda: _prometheus_value(url, query) is not None, 30, "a scrape")
        before = _prometheus_value(url, query)
        sent = 25
        for index in range(sent):
            response = requests.post(
                f"{stack['web']}/api/predict/",
                json={"text": SAMPLE_TEXTS[index % len(SAMPLE_TEXTS)]},
                headers=stack["headers"],
                timeout=10,
            )
            assert response.status_code == 200, response.text

        support.wait_until(
            lambda: _prometheus_value(url, query) == before + sent,
            30,
            f"Prometheus counting {sent} more predictions than {before}",
        )
        # The rules load and evaluate: a served stack raises no alert that a model is missing.
        alerts = requests.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        names = {rule["name"] for group in alerts for rule in group["rules"]}
        assert "TextclfNoModelLoaded" in names
        assert _prometheus_value(url, 'ALERTS{alertname="TextclfNoModelLoaded"}') is None
    finally:
        server.stop()


def test_tritonclients_http_client_predicts_through_web_with_a_token(stack):
    answers = [
        requests.post(
            f"{stack['web']}/api/predict/",
            json={"text": text},
            headers=stack["headers"],
            timeout=10,
        ).json()
        for text in SAMPLE_TEXTS
    ]
    seen = support.run_inference_client(
        "check_client_http.py",
        stack["web"].removeprefix("http://"),
        answers[0]["model_id"],
        *SAMPLE_TEXTS,
        env={"INFERENCE_AUTHORIZATION": f"Token {stack['token']}"},
    )

    assert (seen["live"], seen["ready"], seen["model_ready"], seen["version_ready"]) == (
        True,
        True,
        True,
        True,
    )
    assert seen["labels"] == [answer["label"] for answer in answers]
    for row, answer in zip(seen["probabilities"], answers, strict=True):
        assert row == pytest.approx([answer["scores"][c] for c in seen["class_order"]], abs=1e-6)
    assert seen["errors"] == {
        "no_credential": "401",
        "unknown_model": "404",
        "unknown_version": "404",
        "wrong_datatype": "400",
    }
