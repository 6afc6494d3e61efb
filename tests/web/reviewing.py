"""What the review-queue tests share: logged predictions as the algorithm service writes
them, and the queue's calls."""

import uuid

from django.utils import timezone
from rest_framework.test import APIClient

from web.learning.models import KeptBecause, LoggedPrediction

LEASE = "/api/review/lease/"
MODEL_ID = uuid.UUID("5b1c6a2e-8f0d-4d7e-9a51-0c3e2f4b6d70")


def logged(
    text: str,
    *,
    top: float = 0.55,
    margin: float = 0.1,
    entropy: float = 0.69,
    label: str = "spam",
    text_key: str = "",
    kept_text: bool = True,
) -> LoggedPrediction:
    """A logged prediction of `text`; with kept_text=False the log kept only its hash."""
    other = "ham" if label == "spam" else "spam"
    return LoggedPrediction.objects.create(
        id=uuid.uuid4(),
        created_at=timezone.now(),
        model_id=MODEL_ID,
        label=label,
        scores={label: top, other: round(1 - top, 6)},
        top_probability=top,
        margin=margin,
        entropy=entropy,
        caller="internal",
        text=text if kept_text else "",
        text_hash="" if kept_text else f"hash of {text}",
        text_key=text_key or f"key of {text.lower()}",
        kept_because=KeptBecause.UNCERTAIN,
    )


def lease(client: APIClient, **body: object) -> dict | None:
    """The leased item's body, or None when nothing is left (204)."""
    response = client.post(LEASE, body)
    assert response.status_code in (200, 204), response.json()
    return response.json() if response.status_code == 200 else None


def decide(client: APIClient, item_id: int, decision: str, **body: object):
    return client.post(f"/api/review/{item_id}/", {"decision": decision, **body})
