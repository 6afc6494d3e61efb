"""What a token may do: its scopes, and the one rule that says which scope a request needs.

A view needs `read` for safe methods and `write` for the others, unless it declares
`required_scope`: one Scope for every method, or a mapping from method to Scope for the
methods that differ from the rule. docs/security.md lists the result for every endpoint and
tests/web/test_scopes.py holds it to that list.
"""

import enum
from collections.abc import Iterable

from rest_framework.permissions import SAFE_METHODS


class Scope(enum.StrEnum):
    """A scope's value is what tokens store and callers send; its label says what it allows.
    (A plain enum, not Django's TextChoices, so that type checkers see its members.)"""

    label: str

    def __new__(cls, value: str, label: str) -> "Scope":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    READ = "read", "read data, jobs, models, records, schedules and info"
    PREDICT = "predict", "ask for predictions"
    WRITE = "write", "change data, train, evaluate, activate; implies read"
    ADMIN = "admin", "tokens, logs, deleting models; implies every scope"


# Writing without seeing what was written (a job's progress, the row created) is of no use,
# so write implies read; admin implies everything.
_IMPLIED: dict[str, set[Scope]] = {
    Scope.READ: {Scope.READ},
    Scope.PREDICT: {Scope.PREDICT},
    Scope.WRITE: {Scope.WRITE, Scope.READ},
    Scope.ADMIN: set(Scope),
}
# For model fields, serializers and the command line: (value, label) of each, in order.
SCOPE_CHOICES = [(scope.value, scope.label) for scope in Scope]

# What a token gets when its creator names no scopes, and what every token held before scopes
# existed keeps: everything the API offered, but the admin operations that came with scopes.
DEFAULT_SCOPES = (Scope.READ, Scope.PREDICT, Scope.WRITE)


def canonical(scopes: Iterable[str]) -> list[str]:
    """The scopes once each, in the order Scope declares them."""
    given = set(scopes)
    return [scope.value for scope in Scope if scope in given]


def grants(scopes: Iterable[str], needed: Scope) -> bool:
    return any(needed in _IMPLIED[scope] for scope in scopes)


def required_scope(view: object, method: str) -> Scope:
    declared = getattr(view, "required_scope", None)
    if isinstance(declared, dict):
        declared = declared.get(method)
    if declared is not None:
        return declared
    return Scope.READ if method in SAFE_METHODS else Scope.WRITE
