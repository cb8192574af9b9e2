"""The approval ballot with a budget cap, checked without any I/O (pure, easy to test).

A voter approves projects whose total cost fits the district budget. Money is in integer
minor units. ``check_approval_ballot`` returns problem codes (empty when the ballot is valid);
the service turns them into translated messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Meter:
    """What the live meter shows: chosen total, what is left, and whether it fits."""

    budget: int
    spent: int

    @property
    def left(self) -> int:
        return self.budget - self.spent

    @property
    def fits(self) -> bool:
        return self.spent <= self.budget

    @property
    def percent(self) -> int:
        return 0 if self.budget <= 0 else min(100, self.spent * 100 // self.budget)


def parse_choices(raw: Iterable[str]) -> tuple[list[int], bool]:
    """Project ids from form values; the flag says whether some value was not an id."""
    ids: list[int] = []
    bad = False
    for value in raw:
        value = value.strip()
        if value.isascii() and value.isdigit() and len(value) <= 18:  # (not "²": int() refuses it)
            ids.append(int(value))
        else:
            bad = True
    return ids, bad


def meter(costs: Mapping[int, int], budget: int, chosen: Iterable[int]) -> Meter:
    """Meter over the known, distinct chosen projects (unknown ids are ignored here)."""
    return Meter(budget=budget, spent=sum(costs[p] for p in set(chosen) if p in costs))


def check_approval_ballot(costs: Mapping[int, int], budget: int, chosen: list[int]) -> list[str]:
    """Problems of an approval ballot: ``empty``, ``unknown_project``, ``duplicate``,
    ``over_budget``. Valid when the list is empty."""
    problems: list[str] = []
    if not chosen:
        problems.append("empty")
    if any(p not in costs for p in chosen):
        problems.append("unknown_project")
    if len(set(chosen)) != len(chosen):
        problems.append("duplicate")
    if sum(costs[p] for p in set(chosen) if p in costs) > budget:
        problems.append("over_budget")
    return problems
