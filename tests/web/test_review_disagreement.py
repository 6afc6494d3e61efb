"""The review queue's `disagreement` strategy: the logged predictions a shadow version labelled
otherwise, newest first, and only those."""

import uuid
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from tests.web.reviewing import lease, logged
from web.learning.models import KeptBecause, LoggedPrediction

pytestmark = pytest.mark.django_db

SHADOW_ID = uuid.UUID("0d6f4c1a-2b3e-4f50-8a71-9c2d3e4f5a6b")


@pytest.fixture
def reviewer(token_client) -> APIClient:
    return token_client("write")


def _shadowed(text: str, shadow_label: str | None, minutes_ago: int) -> None:
    prediction = logged(text, top=0.95, margin=0.9)
    LoggedPrediction.objects.filter(pk=prediction.pk).update(
        created_at=prediction.created_at - timedelta(minutes=minutes_ago),
        shadow_model_id=SHADOW_ID if shadow_label else None,
        shadow_label=shadow_label,
        kept_because=KeptBecause.DISAGREEMENT if shadow_label != "spam" else KeptBecause.SAMPLED,
    )


def test_disagreements_come_newest_first_and_nothing_else(reviewer):
    _shadowed("older disagreement", "ham", minutes_ago=10)
    _shadowed("newer disagreement", "ham", minutes_ago=1)
    _shadowed("the shadow agreed", "spam", minutes_ago=0)
    _shadowed("no shadow scored it", None, minutes_ago=0)

    texts = []
    while (item := lease(reviewer, strategy="disagreement")) is not None:
        texts.append(item["text"])

    assert texts == ["newer disagreement", "older disagreement"]
    # The other strategies still offer the rest.
    assert lease(reviewer, strategy="least_confidence")["text"] in {
        "the shadow agreed",
        "no shadow scored it",
    }
