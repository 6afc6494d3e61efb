"""A predict-only caller floods the service while the shadow scores every prediction: the
shadow skips what its budget (SHADOW_MAX_TEXTS_PER_SECOND per process) and its queue
(SHADOW_QUEUE) cannot take, instead of queueing without bound or doubling the CPU the flood
costs, and the legitimate caller's answers keep their deadline (bounds.py)."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from algorithm import settings
from algorithm.domain.store import ModelStore
from tests import support
from tests.hostile import bounds

SENDERS = 4
TEXTS = [f"{n} free entry to win a prize, or lunch at noon?" for n in range(100)]


def _shadow_counts(stack) -> dict[str, float]:
    text = requests.get(stack.metrics["algorithm"], timeout=5).text
    found = re.findall(r'^textclf_shadow_predictions_total\{outcome="(\w+)"\} (\S+)$', text, re.M)
    return {outcome: float(value) for outcome, value in found}


def test_a_flood_with_a_full_shadow_makes_the_shadow_skip_not_queue(stack):
    rows = [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]
    shadow_id = support.publish_model(ModelStore(stack.env["MODEL_DIR"]), rows[::4], False)
    split = {"shadow": {"model_id": shadow_id, "share": 1.0}}
    response = requests.put(
        f"{stack.web}/api/traffic/", json=split, headers=stack.admin_headers, timeout=10
    )
    assert response.status_code == 200, response.text
    flooder = stack.token("shadow-flooder", "predict")
    try:
        time.sleep(1)  # the servers follow the split
        before = _shadow_counts(stack)
        started = time.monotonic()
        with bounds.held(stack, "a flood with the shadow scoring every prediction") as attack:
            with ThreadPoolExecutor(SENDERS) as pool:

                def send(_number: int) -> int:
                    response = requests.post(
                        f"{stack.web}/api/predict/",
                        json={"texts": TEXTS},
                        headers=flooder,
                        timeout=10,
                    )
                    assert response.status_code in (200, 429), response.text[:200]
                    return len(TEXTS) if response.status_code == 200 else 0

                sent = 0
                while time.monotonic() - started < 6:
                    sent += sum(pool.map(send, range(SENDERS)))
            attack.keep(1)
        # The queue drains within its bound: at most SHADOW_QUEUE texts a process waited.
        time.sleep(2)
        elapsed = time.monotonic() - started
        after = _shadow_counts(stack)
    finally:
        requests.delete(f"{stack.web}/api/traffic/", headers=stack.admin_headers, timeout=10)
    scored = sum(after.get(o, 0) - before.get(o, 0) for o in ("agree", "disagree"))
    skipped = after.get("skipped", 0) - before.get("skipped", 0)
    processes = int(stack.env.get("ALGORITHM_GRPC_PROCESSES") or settings.GRPC_PROCESSES)
    budget = settings.SHADOW_MAX_TEXTS_PER_SECOND * (elapsed + 1) * processes
    print(f"shadow: {sent} sent, {scored:.0f} scored, {skipped:.0f} skipped, budget {budget:.0f}")
    assert sent > budget, "the flood must send more than the shadow's budget for this to mean much"
    assert skipped > 0
    assert scored <= budget
    assert scored + skipped >= 0.95 * sent
