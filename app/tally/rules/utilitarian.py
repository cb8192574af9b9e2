"""Utilitarian welfare maximisation for approval ballots: an exact 0/1 knapsack.

Among all sets of projects within the budget, fund one with the most approvals in total (the
sum over funded projects of their votes). Among equally good sets, the one whose best project
in the tie-break order comes first wins (then its second best, and so on). Branch and bound on
exact integers and fractions: the bound is the fractional (LP) relaxation.
"""

from __future__ import annotations

from fractions import Fraction

from app.tally.model import Election
from app.tally.outcome import Number, Outcome, money
from app.tally.rules.common import project_scores
from app.tally.tiebreak import tie_key_function


def utilitarian(
    election: Election, *, rule: str, version: str, tie_break: str, seed: bytes
) -> Outcome:
    score, votes = project_scores(election)
    key = tie_key_function(election, tie_break, seed, votes)
    projects = election.projects
    rank = {pid: i for i, pid in enumerate(sorted(projects, key=key))}
    budget = election.budget
    free = [p for p in projects if projects[p].cost == 0]
    items = [p for p in projects if projects[p].cost > 0 and projects[p].cost <= budget]
    items = [p for p in items if votes[p] > 0] + [p for p in items if votes[p] == 0]
    # branch in order of votes per cost (best first) so the bound prunes early
    items.sort(key=lambda p: (-Fraction(votes[p]) / projects[p].cost, rank[p]))
    cost = [projects[p].cost for p in items]
    value = [votes[p] for p in items]
    n = len(items)
    best_value = -1
    best_set: list[int] = []
    best_key: tuple[int, ...] = ()
    chosen: list[int] = []

    def bound(i: int, room: Fraction) -> Fraction:
        total = Fraction(0)
        for j in range(i, n):
            if cost[j] <= room:
                room -= cost[j]
                total += value[j]
            else:
                return total + value[j] * room / cost[j]
        return total

    def visit(i: int, room: Fraction, current: int) -> None:
        nonlocal best_value, best_set, best_key
        if i == n:
            tie = tuple(sorted(rank[items[j]] for j in chosen))
            if current > best_value or (current == best_value and tie < best_key):
                best_value, best_set, best_key = current, list(chosen), tie
            return
        if current + bound(i, room) < best_value:
            return
        if cost[i] <= room:
            chosen.append(i)
            visit(i + 1, room - cost[i], current + value[i])
            chosen.pop()
        visit(i + 1, room, current)

    visit(0, budget, 0)
    picked = sorted((items[j] for j in best_set), key=lambda p: rank[p])
    selected = tuple(sorted(free, key=lambda p: rank[p])) + tuple(picked)
    spent = sum((projects[p].cost for p in selected), Fraction(0))
    chosen_set = set(selected)
    explanations = {}
    for pid in projects:
        if pid in chosen_set:
            explanations[pid] = (
                f"Funded: part of the set of projects with the most approvals in total "
                f"({best_value:,} approvals for {money(spent)}); it has {votes[pid]:,} votes."
            )
        elif projects[pid].cost > budget:
            explanations[pid] = "Not funded: it costs more than the whole budget."
        else:
            explanations[pid] = (
                f"Not funded: no set of projects within the budget that includes it has more "
                f"than {best_value:,} approvals in total; it has {votes[pid]:,} votes."
            )
    scores: dict[str, Number] = dict(score)
    return Outcome(
        rule=rule,
        rule_version=version,
        tie_break=tie_break,
        seed=seed,
        selected=selected,
        cost=spent,
        budget=budget,
        scores=scores,
        explanations=explanations,
        details={"total_approvals": best_value},
    )
