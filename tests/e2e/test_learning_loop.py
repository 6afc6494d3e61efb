"""The learning loop as its users run it, on the e2e stack and its trained SMS model:
predictions with references, feedback by reference (some of it correcting the model), the
review queue worked by two reviewers, and a retraining that learns the corrections."""

import concurrent.futures
import uuid

import pytest
import requests

from tests import support
from tests.e2e.test_data_training_and_prediction import wait_for_job

pytestmark = pytest.mark.slow

# Texts the model has not seen. The corrected ones share words it has no label for, so that
# a retraining on the corrections can learn them.
CORRECTED = [f"zorblax quibbly {n}, the garden meeting moved to thursday" for n in range(10)]
PLAIN = [f"see you at the station at {n} o'clock, bring the tickets" for n in range(160)]
SPAMMY = [f"WINNER! claim your {n}00 pound cash prize now, text WIN to 8{n:04d}" for n in range(20)]
# The same texts again under other references: the review queue shows each text once.
REPEATED = [text.upper() for text in PLAIN[:10]]
TEXTS = CORRECTED + PLAIN + SPAMMY + REPEATED


def _post(stack, path: str, body: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(
        f"{stack['web']}{path}", json=body, headers=headers or stack["headers"], timeout=10
    )


def _reviewer(stack, name: str) -> dict:
    response = _post(stack, "/api/tokens/", {"user": name, "name": name, "scopes": ["write"]})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Token {response.json()['key']}"}


def _give(stack, body: dict) -> list[requests.Response] | None:
    """The answer to a feedback, or None while its prediction is not in the log yet: the log
    is written off the answer path."""
    response = _post(stack, "/api/feedback/", body)
    return None if response.status_code == 404 else [response]


def _lease(stack, headers: dict) -> dict | None:
    response = _post(stack, "/api/review/lease/", {"strategy": "least_confidence"}, headers)
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


def _by_hand(pairs: list[tuple[str, str]]) -> dict:
    """Accuracy and each label's precision and recall of (predicted, true) pairs."""
    labels = {}
    for label in sorted({label for pair in pairs for label in pair}):
        support = sum(true == label for _, true in pairs)
        predicted = sum(guess == label for guess, _ in pairs)
        correct = sum(guess == true == label for guess, true in pairs)
        labels[label] = (
            round(correct / predicted, 6) if predicted else None,
            round(correct / support, 6) if support else None,
            support,
        )
    correct = sum(guess == true for guess, true in pairs)
    return {"count": len(pairs), "accuracy": round(correct / len(pairs), 6), "labels": labels}


def _live(window: dict) -> dict:
    """A live accuracy window in _by_hand's terms."""
    return {
        "count": window["feedback_count"],
        "accuracy": round(window["accuracy"], 6),
        "labels": {
            entry["label"]: (
                None if entry["precision"] is None else round(entry["precision"], 6),
                None if entry["recall"] is None else round(entry["recall"], 6),
                entry["support"],
            )
            for entry in window["labels"]
        },
    }


def test_predictions_feedback_and_review_feed_the_next_version(stack):
    run = uuid.uuid4().hex[:8]
    references = [f"ticket-{run}-{n}" for n in range(len(TEXTS))]
    assert len(TEXTS) == 200
    response = _post(stack, "/api/predict/", {"texts": TEXTS, "references": references})
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["reference"] for a in answers] == references
    assert len({a["prediction_id"] for a in answers}) == 200
    model_id = answers[0]["model_id"]
    predicted = {ref: a["label"] for ref, a in zip(references, answers, strict=True)}
    assert all(predicted[ref] == "ham" for ref in references[: len(CORRECTED)])

    # Feedback by reference on 50 predictions: the 10 corrections (added to the data), 40
    # that agree with the model.
    feedback = [(ref, "spam", True) for ref in references[:10]] + [
        (ref, predicted[ref], False) for ref in references[10:50]
    ]
    for reference, label, add in feedback:
        body = {"reference": reference, "label": label, "add_to_data": add}
        [given] = support.wait_until(
            lambda body=body: _give(stack, body), 10, f"{reference} in the log", interval=0.2
        )
        assert given.status_code == 201, given.text
    again = _post(stack, "/api/feedback/", {"reference": references[0], "label": "ham"})
    assert again.status_code == 409

    # Live accuracy is the figure computed here by hand from the same 50 pairs.
    detail = requests.get(
        f"{stack['web']}/api/models/{model_id}/", headers=stack["headers"], timeout=10
    ).json()
    assert detail["live_accuracy_error"] is None
    pairs = [(predicted[reference], label) for reference, label, _ in feedback]
    live = detail["live_accuracy"]
    assert _live(live["last_rows"]) == _live(live["last_days"]) == _by_hand(pairs)

    # Two reviewers lease at once and never get the same item.
    alice, bob = _reviewer(stack, f"alice-{run}"), _reviewer(stack, f"bob-{run}")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda h: _lease(stack, h), [alice, bob])
    assert first and second and first["id"] != second["id"]
    assert first["text"].lower() != second["text"].lower()

    # Alice works the queue to its end: least confident first, each text once; she corrects
    # the spam the model missed and accepts the rest.
    seen = [first["text"]]
    confidence = [max(first["scores"].values())]
    item, decided = first, 0
    while item is not None:
        decision = (
            {"decision": "correct", "label": "spam"}
            if item["text"] in CORRECTED
            else {"decision": "accept"}
        )
        response = _post(stack, f"/api/review/{item['id']}/", decision, alice)
        assert response.status_code == 200, response.text
        decided += 1
        item = _lease(stack, alice)
        if item is not None:
            seen.append(item["text"])
            confidence.append(max(item["scores"].values()))
    normalised = [" ".join(text.lower().split()) for text in [*seen, second["text"]]]
    assert len(normalised) == len(set(normalised))
    assert confidence == sorted(confidence)
    data = requests.get(
        f"{stack['web']}/api/data/?source=review", headers=stack["headers"], timeout=10
    ).json()
    assert data["count"] == decided
    corrections = requests.get(
        f"{stack['web']}/api/data/?source=feedback", headers=stack["headers"], timeout=10
    ).json()
    assert {row["text"] for row in corrections["results"]} >= set(CORRECTED)

    # A retraining on the enlarged data learns the corrections.
    response = _post(stack, "/api/train/", {})
    assert response.status_code == 202, response.text
    job = wait_for_job(stack, response.json()["job_id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["model_id"] != model_id
    response = _post(stack, "/api/predict/", {"texts": CORRECTED, "model_id": job["model_id"]})
    assert response.status_code == 200, response.text
    assert sum(a["label"] == "spam" for a in response.json()) >= 9
