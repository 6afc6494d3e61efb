"""The canary's automatic rollback: a candidate that errs too often, or whose live accuracy
falls below its bound, stops answering (its canary is cleared from TRAFFIC), and the decision
is recorded with the counts it was taken on (promotion_decisions.py)."""

import dataclasses
import datetime
import logging

from algorithm.domain import live_accuracy, promotion_decisions, traffic_counts
from algorithm.domain.records import PromotionDecision
from algorithm.domain.store import ModelStore
from algorithm.domain.traffic import Canary, Traffic

logger = logging.getLogger(__name__)


def _reasons(canary: Canary, evidence: dict[str, object]) -> list[str]:
    """Why the canary must go, measured into evidence; none while it holds its bounds or has
    too few answers (and feedback) to judge."""
    since = datetime.datetime.fromisoformat(canary.since)
    answers, errors = traffic_counts.counts_since(canary.model_id, since)
    error_rate = errors / answers if answers else None
    evidence.update(
        window={"since": canary.since, "until": datetime.datetime.now(datetime.UTC).isoformat()},
        answers=answers,
        errors=errors,
        error_rate=error_rate,
    )
    reasons = []
    judged = error_rate is not None and answers >= canary.min_answers
    if judged and error_rate is not None and error_rate > canary.max_error_rate:
        reasons.append(
            f"{errors} errors in {answers} answers ({error_rate:.1%}), above the bound of "
            f"{canary.max_error_rate:.1%}"
        )
    if canary.min_live_accuracy is not None:
        live = live_accuracy.live_accuracy([canary.model_id])[canary.model_id].last_rows
        evidence.update(feedback=live.feedback, live_accuracy=live.accuracy)
        enough = live.accuracy is not None and live.feedback >= canary.min_feedback
        if enough and live.accuracy is not None and live.accuracy < canary.min_live_accuracy:
            reasons.append(
                f"live accuracy {live.accuracy:.1%} on {live.feedback} feedback, below the "
                f"bound of {canary.min_live_accuracy:.1%}"
            )
    return reasons


def check_canary(store: ModelStore) -> PromotionDecision | None:
    """Roll the canary back if it breaks a bound; the decision, or None if none was taken."""
    canary = store.read_traffic().canary
    if canary is None:
        return None
    evidence: dict[str, object] = {}
    reasons = _reasons(canary, evidence)
    if not reasons:
        return None

    def cleared(current: Traffic) -> Traffic:
        # Only the canary judged: one set meanwhile is left for the next check.
        return Traffic(shadow=current.shadow) if current.canary == canary else current

    before, _ = store.update_traffic(cleared)
    if before.canary != canary:
        return None
    reason = "Canary rolled back: " + "; ".join(reasons) + "."
    logger.warning("%s (model %s)", reason, canary.model_id)
    return promotion_decisions.decision_record(
        kind="canary_rollback",
        outcome="rolled_back",
        champion_id=store.active_id(),
        candidate_id=canary.model_id,
        reason=reason,
        rule=dataclasses.asdict(canary),
        evidence=evidence,
    )
