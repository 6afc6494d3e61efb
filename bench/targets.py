"""Targets: each a figure against a bound made of other figures of the same run."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    figure: float
    bound: float
    # "<=": the figure must not exceed the bound; ">=": it must reach it.
    relation: str
    unit: str
    # How the bound is made, e.g. "1.25 x (in-process p50 + empty gRPC p50)".
    rule: str

    @property
    def ratio(self) -> float:
        """figure / bound: at most 1 is met for "<=", at least 1 for ">="."""
        if not self.bound:
            return 0.0 if not self.figure else float("inf")
        return self.figure / self.bound

    @property
    def met(self) -> bool:
        return self.figure <= self.bound if self.relation == "<=" else self.figure >= self.bound

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "figure": round(self.figure, 4),
            "bound": round(self.bound, 4),
            "relation": self.relation,
            "unit": self.unit,
            "rule": self.rule,
            "ratio": round(self.ratio, 3),
            "met": self.met,
        }


def at_most(name: str, figure: float, bound: float, unit: str, rule: str) -> Target:
    return Target(name, figure, bound, "<=", unit, rule)


def at_least(name: str, figure: float, bound: float, unit: str, rule: str) -> Target:
    return Target(name, figure, bound, ">=", unit, rule)
