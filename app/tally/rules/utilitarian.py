"""Utilitarian welfare maximisation for approval ballots: an exact 0/1 knapsack.

Among all sets of projects within the budget, fund one with the most approvals in total (the
sum over funded projects of their votes). Among equally good sets, the one whose best project
in the tie-break order comes first wins (then its second best, and so on; a set that is the
other's beginning comes first).

That set is built in the tie-break order: with ``I`` the projects taken so far and ``O`` those
left out, a project is taken if some best set holds ``I``, it, and nothing of ``O`` (any such
set comes before every best set without it, whose next project comes later), and the search
ends as soon as ``I`` alone is a best set (it comes before everything that extends it). Each
question is a branch and bound on exact integers and fractions (the bound is the fractional,
LP, relaxation) that stops at the first set reaching the best total, so equally good sets are
never enumerated (walking all of them took exponential time where many projects had no vote).
"""

from __future__ import annotations

from fractions import Fraction

from app.tally.model import Election
from app.tally.outcome import Number, Outcome, money
from app.tally.rules.common import project_scores
from app.tally.tiebreak import tie_key_function


def most_value(
    cost: list[Fraction], value: list[int], allowed: list[int], room: Fraction, target: int
) -> int:
    """The largest total ``value`` of a subset of ``allowed`` (indices, best value per cost
    first) costing at most ``room``; stops at the first subset reaching ``target`` (use
    ``-1`` for no target). Branch and bound, depth first, taking before leaving out."""
    m = len(allowed)
    best = 0
    stack: list[tuple[int, Fraction, int]] = [(0, room, 0)]
    while stack:
        k, left, current = stack.pop()
        best = max(best, current)
        if best >= target >= 0:
            return best
        if k == m:
            continue
        # the fractional relaxation of what is left: no subset of it does better
        bound, space = Fraction(current), left
        for j in allowed[k:]:
            if cost[j] <= space:
                space -= cost[j]
                bound += value[j]
            else:
                bound += value[j] * space / cost[j]
                break
        if bound <= best or (target >= 0 and bound < target):
            continue
        j = allowed[k]
        stack.append((k + 1, left, current))
        if cost[j] <= left:
            stack.append((k + 1, left - cost[j], current + value[j]))
    return best


def utilitarian(
    election: Election, *, rule: str, version: str, tie_break: str, seed: bytes
) -> Outcome:
    score, votes = project_scores(election)
    key = tie_key_function(election, tie_break, seed, votes)
    projects = election.projects
    rank = {pid: i for i, pid in enumerate(sorted(projects, key=key))}
    budget = election.budget
    free = [p for p in projects if projects[p].cost == 0]
    items = [p for p in projects if 0 < projects[p].cost <= budget]
    # the bound is tightest with the best votes per cost first
    items.sort(key=lambda p: (-Fraction(votes[p]) / projects[p].cost, rank[p]))
    cost = [projects[p].cost for p in items]
    value = [votes[p] for p in items]
    best_value = most_value(cost, value, list(range(len(items))), budget, -1)
    taken: list[int] = []
    decided: set[int] = set()
    room, have = budget, 0
    for i in sorted(range(len(items)), key=lambda i: rank[items[i]]):
        if have == best_value:
            break  # what is taken is a best set, and comes before all that extend it
        decided.add(i)
        if cost[i] <= room:
            rest = [j for j in range(len(items)) if j not in decided]  # (best per cost first)
            need = best_value - have - value[i]
            if most_value(cost, value, rest, room - cost[i], need) >= need:
                taken.append(i)
                room -= cost[i]
                have += value[i]
    best_set = taken
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
