"""Every service's Prometheus metrics: promtool accepts them, and a real Prometheus scrapes the
stack, loads the alert rules and counts every prediction."""

import json
import subprocess

import pytest
import requests

from tests import support
from tests.e2e.conftest import SAMPLE_TEXTS

pytestmark = pytest.mark.slow


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

    def answered_by_the_active_version():
        predicted = requests.post(
            f"{stack['web']}/api/predict/",
            json={"text": SAMPLE_TEXTS[0]},
            headers=headers,
            timeout=10,
        )
        assert predicted.status_code == 200, predicted.text
        version = predicted.json()["model_id"]
        algorithm = _metrics(stack["metrics"]["algorithm"])
        active = f'textclf_model_version_info{{model_version="{version}",state="active"}} 1.0'
        return (version, algorithm) if active in algorithm else None

    # A module before this one trained a version: the old one answers until the new is loaded.
    version, algorithm = support.wait_until(
        answered_by_the_active_version, 30, "the active version answering", interval=0.5
    )
    web = _metrics(stack["metrics"]["web"])
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
    assert 'textclf_model_loads_total{outcome="loaded"}' in algorithm
    # The worker's version has its hold-out profile: the drift gauges compare against it.
    assert f'textclf_prediction_top_probability_count{{model_version="{version}"}}' in algorithm
    assert f'textclf_drift_label_psi{{model_version="{version}"}}' in algorithm
    assert f'textclf_drift_top_probability_delta{{model_version="{version}"}}' in algorithm
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
