"""Hot swap under load: predictions at concurrency 16 while a new version is trained and
activated, then while an older one is activated again."""

import datetime
import json
import subprocess
import sys
import time

from bench.context import Context
from bench.stack import API_TOKEN, REPO_ROOT
from bench.targets import Target, at_most
from tests import support

SETTLE_SECONDS = 2.0


def _first_answer_from(records: list, model_id: str, after: float) -> float | None:
    return next((t for t, status, mid in records if t >= after and mid == model_id), None)


def train_and_wait(ctx: Context) -> dict:
    """Train on the data table through the API and wait for the job to end."""
    job = ctx.stack.api("POST", "/api/train/", json={}).json()

    def ended():
        state = ctx.stack.api("GET", f"/api/jobs/{job['job_id']}/").json()
        return state if state["state"] in ("succeeded", "failed") else None

    job = support.wait_until(ended, 600, "the training job ending", interval=0.2)
    if job["state"] != "succeeded":
        raise RuntimeError(f"training failed: {job['error']}")
    return job


def run(ctx: Context) -> tuple[dict, list[Target]]:
    stack = ctx.stack
    old_model = ctx.models["sms"]
    out = stack.workdir / "hot-swap.json"
    concurrency = ctx.sizes.hot_swap_concurrency
    load = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.watch_load",
            stack.url("web", "/api/predict/"),
            API_TOKEN,
            str(concurrency),
            str(out),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
    )
    try:
        time.sleep(SETTLE_SECONDS)
        training_started = time.time()
        job = train_and_wait(ctx)
        job_end = datetime.datetime.fromisoformat(job["end_time"]).timestamp()
        time.sleep(SETTLE_SECONDS)
        stack.api("POST", f"/api/models/{old_model}/activate/").raise_for_status()
        reactivated = time.time()
        time.sleep(SETTLE_SECONDS)
    finally:
        load.stdin.close()
        load.wait(timeout=60)
    records = json.loads(out.read_text())
    new_model = job["model_id"]
    # From the start of training: the new version may answer before its job's end is written.
    new_seen = _first_answer_from(records, new_model, training_started)
    old_seen = _first_answer_from(records, old_model, reactivated)
    failed = sum(1 for _, status, _ in records if status != 200)
    figures = {
        "concurrency": concurrency,
        "requests": len(records),
        "failed": failed,
        "new_model_id": new_model,
        "job_end_to_new_model_s": None if new_seen is None else round(new_seen - job_end, 3),
        "activate_to_old_model_s": None if old_seen is None else round(old_seen - reactivated, 3),
    }
    never = 3600.0  # a model never seen misses the target by far
    targets = [
        at_most("Hot swap failed requests", failed, 0, "requests", "0"),
        at_most(
            "Hot swap: job end → first answer by the new model",
            figures["job_end_to_new_model_s"] if new_seen else never,
            1.0,
            "s",
            "1 s",
        ),
        at_most(
            "Hot swap: activate → first answer by the old model",
            figures["activate_to_old_model_s"] if old_seen else never,
            1.0,
            "s",
            "1 s",
        ),
    ]
    return figures, targets
