"""pabutools as the reference implementation (test and benchmark dependency only).

Each function returns pabutools' selection (project ids in selection order) for one rule, with
pabutools' default tie-breaking (lexicographic), which Plaza reproduces with
``tie_break="pabutools"``:

* greedy: ``greedy_utilitarian_welfare`` with ``Cost_Sat`` for approval and choose-1 ballots
  (satisfaction per cost = votes); for cumulative ballots the same with an additive
  satisfaction of points x cost (score per cost = points), its exact analogue;
* equalshares: ``method_of_equal_shares`` with ``Cost_Sat`` (approval, choose-1) or
  ``Additive_Cardinal_Sat`` (cumulative, scoring);
* equalshares/add1: that same call run at each per-voter budget of equalshares.net's schedule
  (``budget/n``, then ``floor(budget/n) + 1, + 2, ...``), keeping the last outcome within the
  budget (``pabutools``' own ``voter_budget_increment=1`` stops at the first exhaustive
  outcome instead, a different completion);
* phragmen: ``sequential_phragmen``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pabutools
from pabutools.election import (
    Additive_Cardinal_Sat,
    AdditiveSatisfaction,
    Cost_Sat,
    parse_pabulib,
)
from pabutools.fractions import str_as_frac
from pabutools.rules import (
    greedy_utilitarian_welfare,
    method_of_equal_shares,
    sequential_phragmen,
)

VERSION = getattr(pabutools, "__version__", "1.2.3")
RULES = ("greedy", "equalshares", "equalshares/add1", "phragmen")
KINDS = {
    "greedy": {"approval", "choose-1", "cumulative"},
    "equalshares": {"approval", "choose-1", "cumulative", "scoring"},
    "equalshares/add1": {"approval", "choose-1", "cumulative", "scoring"},
    "phragmen": {"approval", "choose-1"},
}


def _points_times_cost(instance: Any, profile: Any, ballot: Any, project: Any, pre: Any) -> Any:
    return ballot.get(project, 0) * project.cost


class PointsCostSat(AdditiveSatisfaction):  # type: ignore[misc]
    """Additive satisfaction points x cost: greedy by satisfaction per cost = by points."""

    def __init__(self, instance: Any, profile: Any, ballot: Any) -> None:
        AdditiveSatisfaction.__init__(self, instance, profile, ballot, _points_times_cost)


def load(path: str) -> tuple[Any, Any, str]:
    instance, profile = parse_pabulib(path)
    return instance, profile, instance.meta["vote_type"]


def _sat(kind: str) -> Any:
    return Cost_Sat if kind in ("approval", "choose-1") else Additive_Cardinal_Sat


def mes_at(instance: Any, profile: Any, kind: str, per_voter: Fraction) -> list[str]:
    """pabutools' MES with every voter starting from ``per_voter``."""
    saved = instance.budget_limit
    n = profile.num_ballots()
    instance.budget_limit = str_as_frac(str(per_voter * n))
    try:
        multi = profile.as_multiprofile()
        result = method_of_equal_shares(instance, multi, sat_class=_sat(kind))
    finally:
        instance.budget_limit = saved
    return [p.name for p in result]


def add1_schedule(instance: Any, profile: Any, kind: str) -> tuple[list[str], Fraction, int]:
    """equalshares.net's add-one, each step a pabutools MES run; (selection, budget, steps)."""
    budget = Fraction(str(instance.budget_limit))
    cost = {p.name: Fraction(str(p.cost)) for p in instance}
    n = profile.num_ballots()
    b0 = budget / n
    current = mes_at(instance, profile, kind, b0)
    if sum(cost.values()) <= budget:
        return current, b0, 0
    supported = (
        {p.name for p in instance if profile.approval_score(p) > 0}
        if kind in ("approval", "choose-1")
        else {p.name for p in instance if any(b.get(p, 0) > 0 for b in profile)}
    )
    base = b0.numerator // b0.denominator
    best, best_b, k = current, b0, 0
    while set(best) != supported:
        k += 1
        step = mes_at(instance, profile, kind, Fraction(base + k))
        if sum(cost[p] for p in step) > budget:
            break
        best, best_b = step, Fraction(base + k)
    return best, best_b, k


def add1_endpoint(path: str, per_voter: Fraction) -> tuple[list[str], bool]:
    """pabutools' MES at ``per_voter`` and whether one unit more goes over the budget: the
    check used where running every step of the schedule with pabutools would take hours."""
    instance, profile, kind = load(path)
    budget = Fraction(str(instance.budget_limit))
    cost = {p.name: Fraction(str(p.cost)) for p in instance}
    at = mes_at(instance, profile, kind, per_voter)
    after = mes_at(instance, profile, kind, per_voter + 1)
    return at, sum(cost[p] for p in after) > budget


def reference(path: str, rule: str) -> list[str]:
    instance, profile, kind = load(path)
    if rule == "greedy":
        sat = Cost_Sat if kind in ("approval", "choose-1") else PointsCostSat
        return [p.name for p in greedy_utilitarian_welfare(instance, profile, sat_class=sat)]
    if rule == "equalshares":
        budget = Fraction(str(instance.budget_limit))
        return mes_at(instance, profile, kind, budget / profile.num_ballots())
    if rule == "equalshares/add1":
        return add1_schedule(instance, profile, kind)[0]
    if rule == "phragmen":
        return [p.name for p in sequential_phragmen(instance, profile)]
    raise ValueError(rule)
