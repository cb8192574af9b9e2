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

A branch and bound is still exponential in the worst case: where votes are nearly proportional
to costs, the relaxation prunes little (80 projects whose votes are their costs over 10 ran for
minutes). It is quick and lean on every real election here (at most 9,198 nodes, Toulouse
2022), so it runs first, with a share of work (``BB_WORK`` nodes); past it, the same questions
are answered by dynamic programming over values (``by_values``), in time and memory
proportional to the number of projects times the best total, whatever the costs (0.3 s on
those 80 projects). Where that would be too big as well, the branch and bound runs to its end.
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt, lcm
from typing import Any

from app.tally.model import Election
from app.tally.outcome import Number, Outcome, money, plural
from app.tally.rules.common import project_scores
from app.tally.tiebreak import tie_key_function


def relaxed(cost: list[Fraction], value: list[int], order: list[int], room: Fraction) -> Fraction:
    """The fractional (LP) relaxation's best total: items of ``order`` (best value per cost
    first) taken whole while they fit, then a part of the next. No subset does better."""
    total, space = Fraction(0), room
    for j in order:
        if cost[j] <= space:
            space -= cost[j]
            total += value[j]
        else:
            return total + value[j] * space / cost[j]
    return total


class TooHard(Exception):
    """The branch and bound went past its share of work (``most_value``'s ``work``)."""


def most_value(
    cost: list[Fraction],
    value: list[int],
    allowed: list[int],
    room: Fraction,
    target: int,
    work: list[int] | None = None,
) -> int:
    """The largest total ``value`` of a subset of ``allowed`` (indices, best value per cost
    first) costing at most ``room``; stops at the first subset reaching ``target`` (use
    ``-1`` for no target). Branch and bound, depth first, taking before leaving out. With
    ``work``, each node visited takes one from ``work[0]``, and ``TooHard`` is raised when
    none is left."""
    m = len(allowed)
    best = 0
    stack: list[tuple[int, Fraction, int]] = [(0, room, 0)]
    while stack:
        if work is not None:
            work[0] -= 1
            if work[0] < 0:
                raise TooHard
        k, left, current = stack.pop()
        best = max(best, current)
        if best >= target >= 0:
            return best
        if k == m:
            continue
        bound = current + relaxed(cost, value, allowed[k:], left)
        if bound <= best or (target >= 0 and bound < target):
            continue
        j = allowed[k]
        stack.append((k + 1, left, current))
        if cost[j] <= left:
            stack.append((k + 1, left - cost[j], current + value[j]))
    return best


def by_branch_and_bound(
    cost: list[Fraction],
    value: list[int],
    in_order: list[int],
    room: Fraction,
    work: list[int] | None = None,
) -> tuple[int, list[int]]:
    """The best total and the items taken (indices, best value per cost first; ``in_order``
    is the tie-break's order), by ``most_value`` for every question (sharing ``work``)."""
    best_value = most_value(cost, value, list(range(len(cost))), room, -1, work)
    taken: list[int] = []
    decided: set[int] = set()
    have = 0
    for i in in_order:
        if have == best_value:
            break  # what is taken is a best set, and comes before all that extend it
        decided.add(i)
        if cost[i] <= room:
            rest = [j for j in range(len(cost)) if j not in decided]  # (best per cost first)
            need = best_value - have - value[i]
            if most_value(cost, value, rest, room - cost[i], need, work) >= need:
                taken.append(i)
                room -= cost[i]
                have += value[i]
    return best_value, taken


#: the branch and bound's nodes before ``utilitarian`` turns to ``by_values``
BB_WORK = 20_000
#: ``by_values`` runs where its arrays (about ``2 sqrt(n)`` of ``best total + 1`` integers)
#: and its work (``2 n`` passes over one) stay below these
DP_CELLS = 1 << 22
DP_WORK = 1 << 27


def by_values(
    cost: list[Fraction], value: list[int], room: Fraction
) -> tuple[int, list[int]] | None:
    """The knapsack by dynamic programming over values, or ``None`` where that is too big
    (``DP_CELLS``, ``DP_WORK``): with the items in the tie-break order, the best total and
    the items taken, each taken if some best set holds it with those taken before and none
    of those left out (the order of ``utilitarian``). ``low[k][v]``, the least cost of a
    subset of the items from ``k`` on worth exactly ``v``, answers every such question. The
    rows are kept every ``sqrt(n)`` items, the others recomputed a block at a time as the
    walk reaches them. Costs are scaled to integers; a cost above ``room`` is "out"."""
    import numpy as np

    n = len(cost)
    scale = lcm(room.denominator, *(c.denominator for c in cost))
    costs = [int(c * scale) for c in cost]
    limit = int(room * scale)
    out = limit + 1
    if out + max(costs, default=0) >= 1 << 62:
        return None
    by_ratio = sorted(range(n), key=lambda j: -Fraction(value[j]) / cost[j])
    width = int(relaxed(cost, value, by_ratio, room)) + 1  # (the best total is at most that)
    step = max(1, isqrt(n))
    if (n // step + step + 2) * width > DP_CELLS or 2 * n * width > DP_WORK:
        return None

    def before(row: Any, k: int) -> Any:
        """``low[k]`` from ``low[k + 1]``."""
        here = row.copy()
        v = value[k]
        if v < width:  # (always: the item alone fits the room, so the relaxation is >= v)
            np.minimum(here[v:], np.minimum(row[: width - v] + costs[k], out), out=here[v:])
        return here

    row = np.full(width, out, dtype=np.int64)
    row[0] = 0
    kept = {n: row}
    for k in range(n - 1, -1, -1):
        row = before(row, k)
        if k % step == 0:
            kept[k] = row
    best = int(np.flatnonzero(kept[0] <= limit)[-1])
    block: dict[int, Any] = {}
    taken: list[int] = []
    have, left = 0, limit
    for k in range(n):
        if have == best:
            break  # what is taken is a best set, and comes before all that extend it
        need = best - have - value[k]
        if costs[k] > left or need < 0:
            continue
        if k + 1 not in kept and k + 1 not in block:
            end = min(((k + 1) // step + 1) * step, n)
            row, block = kept[end], {}
            for j in range(end - 1, k, -1):
                row = before(row, j)
                block[j] = row
        after = kept[k + 1] if k + 1 in kept else block[k + 1]
        if int(after[need]) <= left - costs[k]:
            taken.append(k)
            have += value[k]
            left -= costs[k]
    return best, taken


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
    in_order = sorted(range(len(items)), key=lambda i: rank[items[i]])
    try:  # (quick and lean on real elections)
        best_value, taken = by_branch_and_bound(cost, value, in_order, budget, [BB_WORK])
    except TooHard:
        answer = by_values([cost[i] for i in in_order], [value[i] for i in in_order], budget)
        if answer is not None:
            best_value, taken = answer[0], [in_order[k] for k in answer[1]]
        else:  # (exact, however long it takes)
            best_value, taken = by_branch_and_bound(cost, value, in_order, budget)
    picked = sorted((items[j] for j in taken), key=lambda p: rank[p])
    selected = tuple(sorted(free, key=lambda p: rank[p])) + tuple(picked)
    spent = sum((projects[p].cost for p in selected), Fraction(0))
    chosen_set = set(selected)
    explanations = {}
    for pid in projects:
        has = f"it has {votes[pid]:,} {plural(votes[pid], 'vote', 'votes')}"
        if pid in chosen_set:
            explanations[pid] = (
                f"Funded: part of the set of projects with the most approvals in total "
                f"({best_value:,} approvals for {money(spent)}); {has}."
            )
        elif projects[pid].cost > budget:
            explanations[pid] = "Not funded: it costs more than the whole budget."
        else:
            explanations[pid] = (
                f"Not funded: no set of projects within the budget that includes it has more "
                f"than {best_value:,} approvals in total; {has}."
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
