"""PromotionService: the evaluation set, the promotion policy, challengers on demand and the
decisions, as messages (algorithm/domain/evaluation_sets.py, promotion.py,
promotion_decisions.py)."""

import logging
from collections.abc import Mapping
from typing import Any

from algorithm.domain import evaluation_sets, promotion, promotion_decisions
from algorithm.domain.errors import NotFound, parse_uuid
from algorithm.domain.records import PromotionDecision, PromotionPolicyRecord
from algorithm.serving.services.paging import next_page_token, page_bounds
from algorithm.serving.services.training import enqueued
from algorithm.v1 import promotion_pb2, training_pb2
from common.proto_json import from_json

logger = logging.getLogger(__name__)


def _set_message(found: Mapping[str, Any]) -> promotion_pb2.EvaluationSet:
    return from_json(promotion_pb2.EvaluationSet, {**found, "set_id": found["id"]})


def get_evaluation_set() -> promotion_pb2.EvaluationSet:
    found = evaluation_sets.set_current()
    if found is None:
        raise NotFound(
            "There is no evaluation set; create one (POST /api/evaluation-set/ with "
            '{"method": "fraction", "fraction": 0.2}).'
        )
    return _set_message(found)


def create_evaluation_set(**fields: Any) -> promotion_pb2.EvaluationSet:
    """A new current set (evaluation_sets.set_create's fields)."""
    created = evaluation_sets.set_create(**fields)
    logger.info("Evaluation set %s made: %s rows", created["id"], created["rows"])
    return _set_message(created)


def delete_evaluation_set() -> None:
    evaluation_sets.set_delete()


def _check_cron(expression: str) -> None:
    # Imported here so the serving paths never pay for Celery's import.
    from algorithm.cron import parse_cron

    parse_cron(expression)


def _policy_message(record: PromotionPolicyRecord) -> promotion_pb2.PromotionPolicyRecord:
    return from_json(promotion_pb2.PromotionPolicyRecord, record)


def get_policy() -> promotion_pb2.PromotionPolicyRecord:
    return _policy_message(promotion.policy_get())


def set_policy(*, policy: Mapping[str, Any]) -> promotion_pb2.PromotionPolicyRecord:
    return _policy_message(promotion.policy_set(policy, _check_cron))


def delete_policy() -> None:
    promotion.policy_delete()


def train_challenger(*, request_id: str = "") -> training_pb2.Job:
    """A challenger trained now with the policy's algorithm and parameters."""
    request_uuid = parse_uuid(request_id, "request_id") if request_id else None
    return enqueued(promotion.challenger_create(request_id=request_uuid))


def _decision_message(decision: PromotionDecision) -> promotion_pb2.Decision:
    return from_json(promotion_pb2.Decision, {**decision, "decision_id": decision["id"]})


def list_decisions(
    *, page_size: int = 0, page_token: str = ""
) -> promotion_pb2.ListDecisionsResponse:
    """One page of decisions, newest first."""
    offset, size = page_bounds(page_size, page_token)
    found, total = promotion_decisions.decision_list(limit=size, offset=offset)
    return promotion_pb2.ListDecisionsResponse(
        decisions=[_decision_message(decision) for decision in found],
        next_page_token=next_page_token(offset, size, total),
        total_size=total,
    )


def get_decision(*, decision_id: str) -> promotion_pb2.Decision:
    return _decision_message(promotion_decisions.decision_get(decision_id))
