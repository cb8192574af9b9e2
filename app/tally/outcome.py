"""The outcome of a tally: what was funded, in which order, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Number = Fraction | int


def json_number(value: Number) -> int | str:
    """An exact number for JSON: an int when whole, else the string ``"a/b"``."""
    if isinstance(value, int):
        return value
    if value.denominator == 1:
        return int(value.numerator)
    return f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class Outcome:
    """What a rule decided.

    ``selected`` is in selection order; ``scores`` is the rule's score per project (votes or
    points for greedy, effective support for equal shares...); ``explanations`` is one
    readable sentence (or a few) per project; ``details`` holds rule-specific exact data
    (rounds, payments, the add-one budget, tie-break events).
    """

    rule: str
    rule_version: str
    tie_break: str
    selected: tuple[str, ...]
    cost: Fraction
    budget: Fraction
    scores: dict[str, Number]
    explanations: dict[str, str]
    seed: bytes = b""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (exact numbers as ints or ``"a/b"`` strings)."""
        return {
            "rule": self.rule,
            "rule_version": self.rule_version,
            "tie_break": self.tie_break,
            "seed": self.seed.hex(),
            "selected": list(self.selected),
            "cost": json_number(self.cost),
            "budget": json_number(self.budget),
            "scores": {pid: json_number(v) for pid, v in self.scores.items()},
            "explanations": dict(self.explanations),
            "details": _json_safe(self.details),
        }


def _json_safe(value: Any) -> Any:
    if isinstance(value, Fraction | int) and not isinstance(value, bool):
        return json_number(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def money(value: Number) -> str:
    """A readable exact amount: ``12,345`` or ``12,345.67`` (or ``a/b`` if not a decimal)."""
    value = Fraction(value)
    whole = value.numerator // value.denominator
    rest = value - whole
    if rest == 0:
        return f"{whole:,}"
    cents = rest * 100
    if cents.denominator == 1:
        return f"{whole:,}.{int(cents):02d}"
    approx = round(value * 100)  # display only, never used to decide anything
    return f"~{approx // 100:,}.{approx % 100:02d} ({value.numerator}/{value.denominator})"


def plural(count: Number, one: str, many: str) -> str:
    """``one`` for a count of exactly one, else ``many`` ("1 vote", "0 votes", "2.5 points")."""
    return one if count == 1 else many
