"""A promotion decision (GET /api/promotion/decisions/) as the Versions page shows it: the
champion's and the challenger's figures side by side, label by label, each check with its
value, bound and outcome, and the rest of its rule and evidence as named values."""

from collections.abc import Iterator
from typing import Any

from web.console.overview import when

# The parts of the evidence shown as tables; the rest is listed by name.
_SIDES = ("champion", "challenger")
_TABLED = {*_SIDES, "checks"}


def decision_shown(decision: dict[str, Any]) -> dict[str, Any]:
    evidence = decision["evidence"] or {}
    sides = [evidence[role] | {"role": role} for role in _SIDES if evidence.get(role)]
    labels = sorted({label for side in sides for label in side.get("per_label") or {}})
    return {
        **decision,
        "created": when(decision["create_time"]),
        "labels": labels,
        "sides": [
            {
                **side,
                "per_label_rows": [
                    {"label": label, **((side.get("per_label") or {}).get(label) or {})}
                    for label in labels
                ],
            }
            for side in sides
        ],
        "checks": evidence.get("checks") or [],
        "facts": [
            *_named(evidence, exclude=_TABLED),
            *(("rule." + name, value) for name, value in _named(decision["rule"] or {})),
        ],
    }


def _named(values: dict[str, Any], prefix: str = "", exclude=frozenset()) -> Iterator[tuple]:
    """Each plain value of a nested object, named by its path (`evaluation_set.rows`)."""
    for key, value in values.items():
        if key in exclude:
            continue
        if isinstance(value, dict):
            yield from _named(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            yield f"{prefix}{key}", ", ".join(str(item) for item in value) or "none"
        else:
            yield f"{prefix}{key}", "none" if value is None else value
