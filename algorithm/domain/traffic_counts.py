"""What traffic did, in the tables of sql/008_traffic.sql: each serving process adds its
answers and errors per version and minute, and its shadow comparisons per pair of labels
(algorithm/serving/traffic.py flushes them every second); the canary rollback check,
GetShadowAgreement and the promotion policy's shadow rule read them."""

import datetime
import uuid
from collections.abc import Iterable
from typing import TypedDict

from algorithm.domain import db

# (model_id, minute, answers, errors)
CountRow = tuple[str, datetime.datetime, int, int]
# (shadow_id, champion_id, champion_label, shadow_label, count)
AgreementRow = tuple[str, str, str, str, int]


class LabelAgreement(TypedDict):
    label: str
    # Texts the champion gave this label, and how many of them the shadow labelled the same.
    predictions: int
    agreed: int
    agreement: float | None


class Agreement(TypedDict):
    shadow_id: str
    predictions: int
    agreed: int
    # None before any comparison.
    agreement: float | None
    labels: list[LabelAgreement]
    # Every pair counted: what the champion said, what the shadow said, how often.
    pairs: list[dict[str, object]]


def counts_add(rows: Iterable[CountRow]) -> None:
    """Add to the counts (one statement per row, one transaction)."""
    with db.transaction() as cursor:
        for model_id, minute, answers, errors in rows:
            cursor.execute(
                "INSERT INTO traffic_counts (model_id, minute, answers, errors) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (model_id, minute) DO UPDATE SET "
                "answers = traffic_counts.answers + EXCLUDED.answers, "
                "errors = traffic_counts.errors + EXCLUDED.errors",
                (uuid.UUID(model_id), minute, answers, errors),
            )


def counts_since(model_id: str, since: datetime.datetime) -> tuple[int, int]:
    """A version's answers and errors in the minutes from the one `since` falls in."""
    minute = since.replace(second=0, microsecond=0)
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(answers), 0) AS answers, coalesce(sum(errors), 0) AS errors "
            "FROM traffic_counts WHERE model_id = %s AND minute >= %s",
            (uuid.UUID(model_id), minute),
        )
        row = db.fetch_one(cursor)
    return int(row["answers"]), int(row["errors"])


def agreement_add(rows: Iterable[AgreementRow]) -> None:
    with db.transaction() as cursor:
        for shadow_id, champion_id, champion_label, shadow_label, count in rows:
            cursor.execute(
                "INSERT INTO shadow_agreement "
                "(shadow_id, champion_id, champion_label, shadow_label, count) "
                "VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (shadow_id, champion_id, champion_label, shadow_label) "
                "DO UPDATE SET count = shadow_agreement.count + EXCLUDED.count",
                (uuid.UUID(shadow_id), uuid.UUID(champion_id), champion_label, shadow_label, count),
            )


def agreement(shadow_id: str, champion_id: str | None = None) -> Agreement:
    """How often a shadow agreed with the champions it ran beside (or with the one named),
    overall and per label of the champion's."""
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT champion_label, shadow_label, sum(count) AS count FROM shadow_agreement "
            "WHERE shadow_id = %(shadow)s "
            "AND (%(champion)s::uuid IS NULL OR champion_id = %(champion)s) "
            "GROUP BY champion_label, shadow_label ORDER BY champion_label, shadow_label",
            {
                "shadow": uuid.UUID(shadow_id),
                "champion": uuid.UUID(champion_id) if champion_id else None,
            },
        )
        rows = cursor.fetchall()
    per_label: dict[str, list[int]] = {}
    for row in rows:
        figures = per_label.setdefault(row["champion_label"], [0, 0])
        figures[0] += int(row["count"])
        figures[1] += int(row["count"]) if row["champion_label"] == row["shadow_label"] else 0
    total = sum(figures[0] for figures in per_label.values())
    agreed = sum(figures[1] for figures in per_label.values())
    return {
        "shadow_id": str(uuid.UUID(shadow_id)),
        "predictions": total,
        "agreed": agreed,
        "agreement": agreed / total if total else None,
        "labels": [
            {
                "label": label,
                "predictions": count,
                "agreed": same,
                "agreement": same / count if count else None,
            }
            for label, (count, same) in per_label.items()
        ],
        "pairs": [
            {
                "champion_label": row["champion_label"],
                "shadow_label": row["shadow_label"],
                "count": int(row["count"]),
            }
            for row in rows
        ],
    }
