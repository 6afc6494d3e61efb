"""Smoke test a live deployment: every REST method, in the order a user meets them.

    python scripts/smoke.py --url http://localhost:8000 --token "$(make -s token)"

Prints one line per step and stops with exit code 1 at the first step that fails (2 for
bad arguments). It adds data and model versions to the deployment it runs against, and
deletes only what it made besides those: a metric record and one model version.
Standard library only, so it runs from any Python 3.11.
"""

import argparse
import json
import pathlib
import sys
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_DATASET = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "sms_spam.tsv"
JOB_TIMEOUT_SECONDS = 300


class StepFailed(Exception):
    pass


class Api:
    def __init__(self, url: str, token: str, timeout: float):
        self.base = url.rstrip("/") + "/api"
        self.headers = {"Authorization": f"Token {token}"}
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        expect: int = 200,
    ) -> Any:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {**self.headers, **({"Content-Type": content_type} if data else {})}
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except OSError as error:
            raise StepFailed(f"{method} {path}: {error}") from error
        if status != expect:
            raise StepFailed(
                f"{method} {path}: HTTP {status}, expected {expect}: {payload[:300]!r}"
            )
        return json.loads(payload) if payload else None

    def wait_for_job(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}/")
            if job["state"] == "succeeded":
                return job
            if job["state"] == "failed":
                raise StepFailed(f"job {job_id} failed: {job['error']}")
            time.sleep(0.5)
        raise StepFailed(f"job {job_id} did not end within {JOB_TIMEOUT_SECONDS} s")


def run(api: Api, dataset: pathlib.Path) -> None:
    def step(name: str, detail: str) -> None:
        print(f"ok  {name:<22} {detail}", flush=True)

    health = api.call("GET", "/health/")
    step("health", health["status"])

    media = "text/csv" if dataset.suffix == ".csv" else "text/tab-separated-values"
    imported = api.call(
        "POST", "/data/import/", raw=dataset.read_bytes(), content_type=media, expect=201
    )
    step("import data", f"{imported['rows_inserted']} rows from {dataset.name}")
    page = api.call("GET", "/data/?page_size=1")
    step("list data", f"{page['count']} rows in all")

    algorithms = api.call("GET", "/algorithms/")
    step("list algorithms", ", ".join(a["name"] for a in algorithms))

    first = api.wait_for_job(api.call("POST", "/train/", {}, expect=202)["job_id"])
    step("train", f"model {first['model_id']}, accuracy {first['metrics']['accuracy']:.3f}")

    text = "Congratulations! You have won a free prize, call now to claim"
    prediction = api.call("POST", "/predict/", {"text": text})
    step("predict", f"{prediction['label']} by model {prediction['model_id']}")
    batch = api.call("POST", "/predict/", {"texts": [text, "see you at lunch"]})
    step("predict a batch", ", ".join(p["label"] for p in batch))

    record = api.call("POST", f"/models/{first['model_id']}/evaluate/", {}, expect=202)
    api.wait_for_job(record["job_id"])
    record = api.call("GET", f"/metrics/{record['metric_id']}/")
    step(
        "evaluate",
        f"metric record {record['metric_id']}, accuracy {record['metrics']['accuracy']:.3f}",
    )
    api.call("DELETE", f"/metrics/{record['metric_id']}/", expect=204)
    step("delete metric record", record["metric_id"])

    second = api.wait_for_job(
        api.call("POST", "/train/", {"algorithm": "logistic_regression"}, expect=202)["job_id"]
    )
    step("train another", f"model {second['model_id']} (logistic_regression)")
    api.call("POST", f"/models/{first['model_id']}/activate/")
    served = _wait_until_served(api, first["model_id"])
    step("activate older", f"model {served} serves again")

    retrained = api.wait_for_job(
        api.call("POST", f"/models/{first['model_id']}/retrain/", {}, expect=202)["job_id"]
    )
    step("retrain", f"model {retrained['model_id']} from {first['model_id']}")

    api.call("DELETE", f"/models/{second['model_id']}/", expect=204)
    api.call("GET", f"/models/{second['model_id']}/", expect=404)
    step("delete model", second["model_id"])
    models = api.call("GET", "/models/")
    step("list models", f"{models['count']} versions")

    info = api.call("GET", "/info/")
    active = (info["algorithm"] or {}).get("active_model") or {}
    step("info", f"version {info['version']}, active model {active.get('model_id')}")
    lines = api.call("GET", "/log/?lines=20")
    step("log", f"{len(lines)} lines")


def _wait_until_served(api: Api, model_id: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answer = api.call("POST", "/predict/", {"text": "hello"})
        if answer["model_id"] == model_id:
            return model_id
        time.sleep(0.1)
    raise StepFailed(f"model {model_id} was not served within 5 s of its activation")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the web service, e.g. http://localhost:8000")
    parser.add_argument("--token", required=True, help="an API token")
    parser.add_argument("--dataset", type=pathlib.Path, default=DEFAULT_DATASET, help="TSV or CSV")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per HTTP call")
    args = parser.parse_args()
    try:
        run(Api(args.url, args.token, args.timeout), args.dataset)
    except StepFailed as error:
        print(f"FAILED  {error}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
