"""What the learning loop's endpoints let a caller hold: the disk through the prediction log
(a predict-only token), the review queue's leases (a write token), and web's threads
through exports that are never read (a read token). Each attack runs while a legitimate
caller goes on predicting (bounds.py)."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import requests

from algorithm.domain.prediction_log import text_key_of
from tests import support
from tests.hostile import bounds
from tests.hostile.conftest import LOGGED

SENDERS = 4
# Long texts the model is unsure of: every one would be kept in full without the budget.
FILLER = "lorem ipsum dolor sit amet " * 150


def _logged_text(stack, since: float) -> tuple[int, int]:
    """Bytes of full text, and records kept as a hash only, logged since then."""
    conn = psycopg2.connect(stack.env["DATABASE_URL"], connect_timeout=5)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(octet_length(text)), 0), count(*) FILTER (WHERE text = '') "
                "FROM predictions WHERE created_at >= to_timestamp(%s)",
                (since,),
            )
            full, hashed = cursor.fetchone()
    finally:
        conn.close()
    return int(full), int(hashed)


def _settled(stack, since: float) -> tuple[int, int]:
    """_logged_text once two readings a second apart agree: the log is written off the
    answer path."""
    readings = [_logged_text(stack, since)]

    def still() -> bool:
        time.sleep(1)
        readings.append(_logged_text(stack, since))
        return readings[-1] == readings[-2]

    support.wait_until(still, 30, "the log written")
    return readings[-1]


def _queue_uncertain(stack, texts: list[str]) -> None:
    """Logged uncertain predictions of the texts, as the algorithm service writes them: the
    stack's other tests spend the log's per-minute text budget, past which texts would be
    kept as hashes, which the queue never offers."""
    conn = psycopg2.connect(stack.env["DATABASE_URL"], connect_timeout=5)
    try:
        with conn, conn.cursor() as cursor:
            for text in texts:
                cursor.execute(
                    "INSERT INTO predictions (id, created_at, model_id, label, scores, "
                    "top_probability, margin, entropy, caller, request_id, reference, text, "
                    "text_hash, text_key, kept_because) VALUES (%s, now(), %s, 'spam', "
                    "%s, 0.55, 0.1, 0.69, 'internal', '', '', %s, '', %s, 'uncertain')",
                    (
                        str(uuid.uuid4()),
                        stack.model_id,
                        json.dumps({"spam": 0.55, "ham": 0.45}),
                        text,
                        text_key_of(text),
                    ),
                )
    finally:
        conn.close()


def test_one_reviewer_holds_a_bounded_number_of_leases_and_others_still_review(stack):
    """REVIEW_MAX_LEASES (20) per reviewer: a token leasing without deciding is refused past
    them, and another reviewer still gets items."""
    mallory, alice = stack.token("lease-hoarder", "write"), stack.token("reviewer", "write")
    _queue_uncertain(stack, [f"{n} maybe, maybe not {n}" for n in range(30)])

    def lease(headers):
        return requests.post(f"{stack.web}/api/review/lease/", json={}, headers=headers, timeout=10)

    statuses = [lease(mallory).status_code for _ in range(30)]
    assert statuses == [200] * 20 + [409] * 10
    assert lease(alice).status_code == 200


def test_exports_never_read_hold_a_bounded_share_of_web(stack):
    """A read token opens exports and never reads them: past EXPORT_MAX_CONCURRENT per web
    process the next are refused at once, and predictions and health go on answering."""
    reader = stack.token("slow-reader", "read")
    rows = [{"text": f"{n} " + "x" * 2_000, "label": "ham"} for n in range(1_500)]
    for _ in range(4):
        response = requests.post(
            f"{stack.web}/api/data/", json=rows, headers=stack.admin_headers, timeout=60
        )
        assert response.status_code == 201, response.text[:200]
    held_open = []
    try:
        with bounds.held(stack, "exports never read") as attack:
            statuses = []
            for _ in range(8):
                response = requests.get(
                    f"{stack.web}/api/data/export/?format=csv",
                    headers=reader,
                    stream=True,
                    timeout=10,
                )
                statuses.append(response.status_code)
                held_open.append(response)
            attack.keep(3)
        assert statuses.count(503) >= 1, statuses
        assert statuses.count(200) >= 1, statuses
    finally:
        for response in held_open:
            response.close()


def test_a_predict_token_cannot_fill_the_disk_through_the_prediction_log(stack):
    """Past PREDICTION_LOG_TEXT_BYTES_PER_MINUTE a process keeps texts as hashes: what the
    log stores in full is bounded by the budget, however much is sent."""
    headers = stack.token("log-filler", "predict")
    started = time.time()
    sent = 0
    with bounds.held(stack, "long texts to fill the prediction log") as attack:
        with ThreadPoolExecutor(SENDERS) as pool:

            def send(number: int) -> int:
                texts = [f"{number}-{n} {FILLER}" for n in range(10)]
                response = requests.post(
                    f"{stack.web}/api/predict/", json={"texts": texts}, headers=headers, timeout=10
                )
                assert response.status_code in (200, 429), response.text[:200]
                return sum(len(text) for text in texts) if response.status_code == 200 else 0

            deadline = time.monotonic() + 5
            number = 0
            while time.monotonic() < deadline:
                sent += sum(pool.map(send, range(number, number + SENDERS)))
                number += SENDERS
        attack.keep(1)
    full, hashed = _settled(stack, started)
    budget = int(LOGGED["PREDICTION_LOG_TEXT_BYTES_PER_MINUTE"])
    processes = int(stack.env["ALGORITHM_GRPC_PROCESSES"])
    print(f"\nsent {sent:,} bytes of text; kept {full:,} in full, {hashed:,} texts as hashes")
    assert sent > 4 * budget * processes
    # Within one minute's budget, or two where the attack straddled a window's end.
    assert full <= 2 * budget * processes
    assert hashed > 0
