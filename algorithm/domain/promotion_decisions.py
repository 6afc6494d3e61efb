"""Promotion decisions: which version answers, and why, in the ``promotion_decisions`` table.

The promotion policy's verdict on a challenger (promoted or kept; or shadowing: set as the
shadow until its agreement with the champion is judged, then promoted or kept by a second
decision on the same job) and a canary's automatic rollback are each recorded here with the
rule applied and the evidence it was applied to, so a reader can check the decision without
recomputing anything.
"""

import contextlib
import uuid
from collections.abc import Mapping
from typing import Any, Literal, cast

from psycopg2.extras import Json, RealDictCursor

from algorithm.domain import db
from algorithm.domain.errors import NotFound, parse_uuid
from algorithm.domain.records import PromotionDecision

Kind = Literal["promotion", "canary_rollback"]
Outcome = Literal["promoted", "kept", "rolled_back", "shadowing"]
OUTCOMES: tuple[Outcome, ...] = ("promoted", "kept", "rolled_back", "shadowing")

_COLUMNS = (
    "id, create_time, kind, outcome, champion_id, candidate_id, job_id, reason, rule, evidence"
)


def _uuid_or_none(value: str | uuid.UUID | None) -> uuid.UUID | None:
    return None if value in (None, "") else uuid.UUID(str(value))


def decision_record(
    *,
    kind: Kind,
    outcome: Outcome,
    champion_id: str | uuid.UUID | None,
    candidate_id: str | uuid.UUID | None,
    reason: str,
    rule: Mapping[str, Any],
    evidence: Mapping[str, Any],
    job_id: str | uuid.UUID | None = None,
    cursor: RealDictCursor | None = None,
) -> PromotionDecision:
    """Record one decision and return it as stored: in the caller's transaction when given
    its cursor, else in one of its own."""
    values = (
        uuid.uuid4(),
        kind,
        outcome,
        _uuid_or_none(champion_id),
        _uuid_or_none(candidate_id),
        _uuid_or_none(job_id),
        reason,
        Json(dict(rule)),
        Json(dict(evidence)),
    )
    with contextlib.ExitStack() as stack:
        if cursor is None:
            cursor = stack.enter_context(db.transaction())
        cursor.execute(
            "INSERT INTO promotion_decisions "
            "(id, kind, outcome, champion_id, candidate_id, job_id, reason, rule, evidence) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            values,
        )
        return cast(PromotionDecision, dict(cursor.fetchone() or {}))


def decision_get(decision_id: object) -> PromotionDecision:
    decision_uuid = parse_uuid(decision_id, "decision_id")
    with db.transaction() as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM promotion_decisions WHERE id = %s", (decision_uuid,)
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Promotion decision {decision_uuid} does not exist.")
    return cast(PromotionDecision, dict(row))


def decision_list(*, limit: int, offset: int = 0) -> tuple[list[PromotionDecision], int]:
    """The newest decisions first, a page of them, and how many there are in all."""
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS total FROM promotion_decisions")
        total = int((cursor.fetchone() or {"total": 0})["total"])
        cursor.execute(
            f"SELECT {_COLUMNS} FROM promotion_decisions "
            "ORDER BY create_time DESC, id DESC LIMIT %s OFFSET %s",
            (limit, offset),
        )
        return [cast(PromotionDecision, dict(row)) for row in cursor.fetchall()], total


# The newest shadowing decision with no final one, by whether it is locked (FOR UPDATE).
_AWAITING_QUERY = (
    f"SELECT {_COLUMNS} FROM promotion_decisions AS shadowing "
    "WHERE kind = 'promotion' AND outcome = 'shadowing' AND NOT EXISTS ("
    "  SELECT 1 FROM promotion_decisions AS final WHERE final.job_id = shadowing.job_id "
    "  AND final.kind = 'promotion' AND final.outcome <> 'shadowing'"
    ") AND NOT EXISTS ("
    "  SELECT 1 FROM jobs WHERE jobs.id = shadowing.job_id AND jobs.request_id = %s"
    ") ORDER BY create_time DESC, id DESC LIMIT 1"
)
_AWAITING = {False: _AWAITING_QUERY, True: _AWAITING_QUERY + " FOR UPDATE OF shadowing"}


def shadowing_awaiting(
    cursor: RealDictCursor, *, lock: bool = False, request_id: uuid.UUID | None = None
) -> PromotionDecision | None:
    """The newest `shadowing` decision whose job has no final decision yet, in the caller's
    transaction: locked until it ends when asked, and not one whose job request_id started."""
    cursor.execute(
        _AWAITING[lock],
        (request_id,),
    )
    row = cursor.fetchone()
    return cast(PromotionDecision, dict(row)) if row else None


def final_decided(cursor: RealDictCursor, job_id: uuid.UUID | None) -> bool:
    """Whether a job's challenger has a decision other than `shadowing`, as committed now."""
    cursor.execute(
        "SELECT 1 FROM promotion_decisions "
        "WHERE job_id = %s AND kind = 'promotion' AND outcome <> 'shadowing'",
        (job_id,),
    )
    return cursor.fetchone() is not None
