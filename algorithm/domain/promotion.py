"""The promotion policy (table ``promotion_policy``) and its decisions: when a challenger is
trained, and whether it replaces the champion (the active version).

A challenger is a training job with ``promotion`` set: the worker publishes its version
without activating it, then `decide` measures champion and challenger on the same rows of
the current evaluation set and applies the rule: the challenger's metric must beat the
champion's by min_improvement, and no label's recall may drop by more than max_recall_drop.
The decision, with the rule and both versions' figures, is recorded
(algorithm/domain/promotion_decisions.py). With min_shadow_agreement set, a challenger that
passes is first the shadow, and promoted only once it agrees with the champion often enough
on live predictions (algorithm/domain/shadow_promotion.py).
"""

import datetime
import logging
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from psycopg2.extras import Json

from algorithm.domain import (
    db,
    evaluation,
    evaluation_sets,
    jobs,
    ml,
    promotion_decisions,
    shadow_promotion,
)
from algorithm.domain.datasource import DATA_TABLE
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from algorithm.domain.records import (
    Job,
    Metrics,
    PromotionDecision,
    PromotionPolicy,
    PromotionPolicyRecord,
)
from algorithm.domain.store import ModelStore
from common import limits

logger = logging.getLogger(__name__)

# The columns of web's `data` table this module reads (tests/test_data_table_contract.py).
DATA_COLUMNS = ("id",)
METRICS = ("accuracy", "macro_f1")
# The rule when a challenger is trained with Train's promotion flag and no policy is set.
DEFAULT_RULE = {"metric": "accuracy", "min_improvement": 0.0, "max_recall_drop": 0.05}
_POLICY_COLUMNS = "policy, update_time, counted_from_id, last_trigger_time"
_POLICY_KEYS = {
    "trigger",
    "algorithm",
    "parameters",
    *DEFAULT_RULE,
    "min_shadow_agreement",
    "min_shadow_predictions",
}
# Checks whether a cron expression ticked after a time: Celery's crontab, which the domain
# does not import (algorithm/cron.py); it raises InvalidArgument for a bad expression.
CronDue = Callable[[str, datetime.datetime], bool]
CronCheck = Callable[[str], None]


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a number, got {value!r}.")
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be from {low:g} to {high:g}, got {value!r}.")
    return float(value)


def policy_validate(raw: Mapping[str, Any], check_cron: CronCheck) -> PromotionPolicy:
    """The policy with defaults filled in; InvalidArgument naming the first field at fault."""
    unknown = sorted(set(raw) - _POLICY_KEYS)
    if unknown:
        raise InvalidArgument(
            f"Unknown policy field {unknown[0]!r}; it has: {sorted(_POLICY_KEYS)}."
        )
    trigger = raw.get("trigger") or {}
    if not isinstance(trigger, Mapping) or set(trigger) - {"every_new_rows", "cron_expression"}:
        raise InvalidArgument(
            "trigger must be an object with every_new_rows (a whole number) and/or "
            "cron_expression (such as '0 3 * * *'), each may be null."
        )
    every = trigger.get("every_new_rows")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise InvalidArgument(
            f"trigger.every_new_rows must be a whole number of at least 1, got {every!r}."
        )
    cron = trigger.get("cron_expression") or None
    if cron is not None:
        check_cron(cron)
        cron = " ".join(str(cron).split())
    algorithm = raw.get("algorithm") or ml.DEFAULT_ALGORITHM
    if not isinstance(algorithm, str):
        raise InvalidArgument("algorithm must be a string naming one of ListAlgorithms.")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidArgument("parameters must be an object of name: value.")
    metric = raw.get("metric", DEFAULT_RULE["metric"])
    if metric not in METRICS:
        raise InvalidArgument(f"metric must be one of {', '.join(METRICS)}, got {metric!r}.")
    agreement = raw.get("min_shadow_agreement")
    needed = raw.get("min_shadow_predictions")
    if needed is None:
        needed = shadow_promotion.DEFAULT_MIN_PREDICTIONS
    if (
        isinstance(needed, bool)
        or not isinstance(needed, int)
        or not 1 <= needed <= limits.MAX_TRAFFIC_MIN_COUNT
    ):
        raise InvalidArgument(
            "min_shadow_predictions must be a whole number from 1 to "
            f"{limits.MAX_TRAFFIC_MIN_COUNT:,}, got {needed!r}."
        )
    return {
        "trigger": {"every_new_rows": every, "cron_expression": cron},
        "algorithm": algorithm,
        "parameters": ml.resolve_parameters(algorithm, parameters),
        "metric": metric,
        "min_improvement": _number(
            raw.get("min_improvement", DEFAULT_RULE["min_improvement"]), "min_improvement", 0, 1
        ),
        "max_recall_drop": _number(
            raw.get("max_recall_drop", DEFAULT_RULE["max_recall_drop"]), "max_recall_drop", 0, 1
        ),
        "min_shadow_agreement": None
        if agreement is None
        else _number(agreement, "min_shadow_agreement", 0, 1),
        "min_shadow_predictions": needed,
    }


def policy_set(raw: Mapping[str, Any], check_cron: CronCheck) -> PromotionPolicyRecord:
    """Set the policy (replacing any); it needs a current evaluation set. A new policy counts
    new rows from the data table's highest id now."""
    policy = policy_validate(raw, check_cron)
    evaluation_sets.set_required()
    with db.transaction() as cursor:
        cursor.execute(
            f"""
            INSERT INTO promotion_policy (policy, counted_from_id)
            SELECT %s, coalesce(max(id), 0) FROM {DATA_TABLE}
            ON CONFLICT (singleton) DO UPDATE SET policy = EXCLUDED.policy, update_time = now()
            RETURNING {_POLICY_COLUMNS}
            """,
            (Json(policy),),
        )
        return cast(PromotionPolicyRecord, dict(db.fetch_one(cursor)))


def policy_get() -> PromotionPolicyRecord:
    with db.transaction() as cursor:
        cursor.execute(f"SELECT {_POLICY_COLUMNS} FROM promotion_policy")
        row = cursor.fetchone()
    if row is None:
        raise NotFound("There is no promotion policy; set one (PUT /api/promotion/policy/).")
    return cast(PromotionPolicyRecord, dict(row))


def policy_delete() -> None:
    with db.transaction() as cursor:
        cursor.execute("DELETE FROM promotion_policy")
        if cursor.rowcount == 0:
            raise NotFound("There is no promotion policy.")


def challenger_create(
    *,
    algorithm: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    request_id: uuid.UUID | None = None,
) -> Job:
    """Queue a challenger's training job now (not yet sent: the caller enqueues it), with
    the given algorithm and parameters or else the policy's; FailedPrecondition while
    another challenger is in flight (trained, or the shadow awaiting its final decision)."""
    # On demand, every reason not to queue one is raised.
    return cast(Job, _challenger(algorithm, parameters, request_id, None))


def challenger_due(cron_due: CronDue) -> Job | None:
    """The trigger's check: queue a challenger (not yet sent) if the policy's every_new_rows
    rows were added since the last challenger's trigger point or its cron ticked since then,
    and none is in flight (trained, or the shadow awaiting its final decision); else None."""
    return _challenger(None, None, None, cron_due)


def _challenger(
    algorithm: str | None,
    parameters: Mapping[str, Any] | None,
    request_id: uuid.UUID | None,
    cron_due: CronDue | None,
) -> Job | None:
    evaluation_sets.set_required()
    with db.transaction() as cursor:
        # One at a time, policy or none, so two callers cannot both find none in flight.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('promotion_policy'))")
        cursor.execute(f"SELECT {_POLICY_COLUMNS} FROM promotion_policy")
        record = cast(PromotionPolicyRecord | None, cursor.fetchone())
        if record is None and (cron_due is not None or algorithm is None):
            if cron_due is not None:
                return None
            raise FailedPrecondition(
                "There is no promotion policy to train a challenger by; set one "
                "(PUT /api/promotion/policy/) or name the algorithm."
            )
        # A retried request (its request_id) gets the job it started, from job_create.
        in_flight = jobs.promotion_job_in_flight(cursor, request_id)
        if in_flight is not None:
            if cron_due is not None:
                return None
            raise FailedPrecondition(
                f"A challenger is already being trained (job {in_flight['id']}); wait for its "
                "decision (GET /api/promotion/decisions/)."
            )
        shadowing = promotion_decisions.shadowing_awaiting(cursor, request_id=request_id)
        if shadowing is not None:
            if cron_due is not None:
                return None
            raise FailedPrecondition(
                f"The challenger {shadowing['candidate_id']} is the shadow until its agreement "
                f"with the champion is judged (decision {shadowing['id']}); wait for its final "
                "decision (GET /api/promotion/decisions/), or end it by removing the shadow "
                "(DELETE /api/traffic/)."
            )
        cursor.execute(f"SELECT coalesce(max(id), 0) AS top FROM {DATA_TABLE}")
        top = db.fetch_one(cursor)["top"]
        if cron_due is not None and record is not None:
            trigger = record["policy"]["trigger"]
            every, cron = trigger["every_new_rows"], trigger["cron_expression"]
            rows_due = every is not None and top - record["counted_from_id"] >= every
            if not rows_due and not (cron and cron_due(cron, record["last_trigger_time"])):
                return None
        if algorithm is None and record is not None:
            algorithm, parameters = record["policy"]["algorithm"], record["policy"]["parameters"]
        name = algorithm or ml.DEFAULT_ALGORITHM
        job, created = jobs.job_create(
            kind="train",
            algorithm=name,
            parameters=ml.resolve_parameters(name, parameters or {}),
            request_id=request_id,
            promotion=True,
            cursor=cursor,
        )
        if created and record is not None:
            cursor.execute(
                "UPDATE promotion_policy SET counted_from_id = %s, last_trigger_time = now()",
                (top,),
            )
    return job


def _figures(model_id: str | None, metrics: Metrics) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "per_label": metrics["per_label"],
        "confusion_matrix": metrics.get("confusion_matrix"),
    }


def _checks(
    rule: Mapping[str, Any], champion: Metrics, challenger: Metrics
) -> list[dict[str, Any]]:
    metric = rule["metric"]
    # The metric is one of METRICS, each a float of Scores.
    new, old = cast(Mapping[str, float], challenger), cast(Mapping[str, float], champion)
    gain = new[metric] - old[metric]
    checks = [
        {
            "name": f"{metric} improvement",
            "value": gain,
            "bound": rule["min_improvement"],
            "passed": gain >= rule["min_improvement"],
        }
    ]
    for label, scores in sorted(champion["per_label"].items()):
        if not scores["support"]:
            continue
        theirs = challenger["per_label"].get(label)
        drop = scores["recall"] - (theirs["recall"] if theirs else 0.0)
        checks.append(
            {
                "name": f"recall drop of {label}",
                "value": drop,
                "bound": rule["max_recall_drop"],
                # A float's last bit must not fail a drop equal to its bound.
                "passed": drop <= rule["max_recall_drop"] + 1e-12,
            }
        )
    return checks


def decide(job: Job, model_id: str, store: ModelStore) -> PromotionDecision:
    """Measure the challenger and the champion on the current evaluation set's rows, apply
    the policy's rule, activate the challenger if it passed (or, under the shadow rule, make
    it the shadow), and record the decision. A job decided before (a redelivery) keeps the
    decision it had."""
    with db.transaction() as cursor:
        # The first: a shadowing decision's final one came later, from the shadow check.
        cursor.execute(
            "SELECT id FROM promotion_decisions WHERE job_id = %s AND kind = 'promotion' "
            "ORDER BY create_time, id LIMIT 1",
            (job["id"],),
        )
        earlier = cursor.fetchone()
    if earlier is not None:
        return promotion_decisions.decision_get(earlier["id"])
    try:
        rule: dict[str, Any] = dict(policy_get()["policy"])
    except NotFound:
        rule = dict(DEFAULT_RULE)
    champion_id = store.active_id()
    rows = evaluation_sets.read_current_rows()
    if rows is None or not rows.texts:
        return _record(
            job,
            "kept",
            champion_id,
            model_id,
            rule,
            {},
            "There is no evaluation set (or it has no rows left) to compare the versions on.",
        )
    challenger_model = store.load(model_id)
    challenger = evaluation.evaluate(
        challenger_model.classifier, challenger_model.vectorizer, rows.texts, rows.labels
    )
    evidence: dict[str, Any] = {
        "evaluation_set": {"id": rows.set_id, "rows": len(rows.texts)},
        "metric": rule["metric"],
        "challenger": _figures(model_id, challenger),
    }
    if champion_id is None:
        store.activate(model_id)
        return _record(job, "promoted", None, model_id, rule, evidence, "no champion")
    champion_model = store.load(champion_id)
    champion = evaluation.evaluate(
        champion_model.classifier, champion_model.vectorizer, rows.texts, rows.labels
    )
    evidence["champion"] = _figures(champion_id, champion)
    evidence["checks"] = checks = _checks(rule, champion, challenger)
    failed = [check["name"] for check in checks if not check["passed"]]
    if failed:
        return _record(
            job, "kept", champion_id, model_id, rule, evidence, f"failed: {', '.join(failed)}"
        )
    if rule.get("min_shadow_agreement") is not None:
        evidence["shadow"], reason = shadow_promotion.shadow_set(store, model_id, champion_id, rule)
        return _record(job, "shadowing", champion_id, model_id, rule, evidence, reason)
    store.activate(model_id)
    return _record(job, "promoted", champion_id, model_id, rule, evidence, "every check passed")


def _record(
    job: Job,
    outcome: promotion_decisions.Outcome,
    champion_id: str | None,
    model_id: str,
    rule: Mapping[str, Any],
    evidence: Mapping[str, Any],
    reason: str,
) -> PromotionDecision:
    decision = promotion_decisions.decision_record(
        kind="promotion",
        outcome=outcome,
        champion_id=champion_id,
        candidate_id=model_id,
        reason=reason,
        rule=rule,
        evidence=evidence,
        job_id=job["id"],
    )
    logger.info("Challenger %s %s against %s: %s", model_id, outcome, champion_id, reason)
    return decision
