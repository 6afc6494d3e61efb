"""The promotion policy's shadow rule (min_shadow_agreement): a challenger that passed its
checks on the evaluation set does not answer yet. `shadow_set` makes it the shadow (every
prediction, keeping any canary) and promotion.decide records a `shadowing` decision; then
`check_shadowing`, run by the promotion check every PROMOTION_CHECK_SECONDS, counts how often
it gave the champion's label on the champion's own predictions (traffic_counts) and, once
min_shadow_predictions were compared, promotes or keeps it, recording the final decision on
the same job. Until then the policy queues no other challenger (promotion._challenger).
"""

import datetime
import logging
from collections.abc import Mapping
from typing import Any

from algorithm.domain import db, promotion_decisions, traffic, traffic_counts
from algorithm.domain.errors import FailedPrecondition, NotFound
from algorithm.domain.records import PromotionDecision
from algorithm.domain.store import ModelStore

logger = logging.getLogger(__name__)

DEFAULT_MIN_PREDICTIONS = 500
# Every prediction: the sooner min_shadow_predictions are compared, the sooner it is decided.
SHARE = 1.0
CHECK_NAME = "shadow agreement"

Verdict = tuple[promotion_decisions.Outcome, str, dict[str, Any]]


def shadow_set(
    store: ModelStore, model_id: str, champion_id: str, rule: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """Make the challenger the shadow; the evidence its decision adds (`shadow`: the rule's
    bounds and where counting starts) and the decision's reason."""
    # Comparisons already counted for the pair (a shadow an admin set before) are not the
    # rule's: only those from now on are judged.
    before = traffic_counts.agreement(model_id, champion_id)
    shadow = traffic.Shadow(model_id=model_id, share=SHARE, since=traffic.now())
    previous, _ = store.update_traffic(
        lambda current: traffic.Traffic(canary=current.canary, shadow=shadow)
    )
    needed = rule.get("min_shadow_predictions") or DEFAULT_MIN_PREDICTIONS
    reason = (
        f"every check passed; the challenger is the shadow until {needed} of the champion's "
        "predictions are compared"
    )
    if previous.shadow is not None and previous.shadow.model_id != model_id:
        reason += f", in place of the shadow {previous.shadow.model_id}"
    evidence = {
        "since": shadow.since,
        "min_agreement": rule["min_shadow_agreement"],
        "min_predictions": needed,
        "counted_before": {"predictions": before["predictions"], "agreed": before["agreed"]},
    }
    return evidence, reason


def check_shadowing(store: ModelStore) -> PromotionDecision | None:
    """Judge the challenger awaiting its shadow agreement, if one is: its final decision, or
    None while there is none or it waits for predictions."""
    with db.transaction() as cursor:
        # Locked, so that two checks at once record one final decision: the second waits
        # here, then finds the first one's.
        pending = promotion_decisions.shadowing_awaiting(cursor, lock=True)
        if pending is None or promotion_decisions.final_decided(cursor, pending["job_id"]):
            return None
        verdict = _verdict(pending, store)
        if verdict is None:
            return None
        outcome, reason, evidence = verdict
        decision = promotion_decisions.decision_record(
            kind="promotion",
            outcome=outcome,
            champion_id=pending["champion_id"],
            candidate_id=pending["candidate_id"],
            reason=reason,
            rule=pending["rule"],
            evidence=evidence,
            job_id=pending["job_id"],
            cursor=cursor,
        )
    logger.info(
        "Challenger %s %s after shadowing %s: %s",
        pending["candidate_id"],
        outcome,
        pending["champion_id"],
        reason,
    )
    return decision


def _verdict(pending: PromotionDecision, store: ModelStore) -> Verdict | None:
    """The final decision's outcome, reason and evidence, its change to the traffic made;
    None while too few predictions were compared."""
    candidate, champion = str(pending["candidate_id"]), str(pending["champion_id"])
    bounds = pending["evidence"]["shadow"]
    shadow, active = store.read_traffic().shadow, store.active_id()
    counts = traffic_counts.agreement(candidate, champion)
    predictions = counts["predictions"] - bounds["counted_before"]["predictions"]
    agreed = counts["agreed"] - bounds["counted_before"]["agreed"]
    evidence = {
        **pending["evidence"],
        "shadow": {
            **bounds,
            "until": datetime.datetime.now(datetime.UTC).isoformat(),
            "predictions": predictions,
            "agreed": agreed,
            "agreement": agreed / predictions if predictions else None,
        },
    }
    # First, since activating the challenger also takes it out of the traffic.
    if active != champion:
        now = "the challenger itself" if active == candidate else active or "none"
        _clear_shadow(store, candidate)
        return (
            "kept",
            f"The active version is no longer the champion {champion} (it is {now}): not judged.",
            evidence,
        )
    if shadow is None or shadow.model_id != candidate:
        now = f"it is {shadow.model_id}" if shadow else "no shadow is set"
        return "kept", f"The shadow is no longer the challenger ({now}): not judged.", evidence
    if predictions < bounds["min_predictions"]:
        return None
    value, bound = agreed / predictions, bounds["min_agreement"]
    check = {"name": CHECK_NAME, "value": value, "bound": bound, "passed": value >= bound}
    evidence["checks"] = [*pending["evidence"].get("checks", []), check]
    figures = f"{value:.1%} on {predictions} predictions"
    if not check["passed"]:
        _clear_shadow(store, candidate)
        return "kept", f"failed: {CHECK_NAME} ({figures}, below {bound:.1%})", evidence
    try:
        store.activate(candidate)  # which takes it out of the traffic
    except (FailedPrecondition, NotFound) as error:
        _clear_shadow(store, candidate)
        return "kept", error.message, evidence
    return "promoted", f"every check passed, {CHECK_NAME} {figures}", evidence


def _clear_shadow(store: ModelStore, model_id: str) -> None:
    """Take the challenger out as the shadow; any other part the traffic has stays."""
    store.update_traffic(
        lambda current: (
            traffic.Traffic(canary=current.canary)
            if current.shadow is not None and current.shadow.model_id == model_id
            else current
        )
    )
