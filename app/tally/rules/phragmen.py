"""Sequential Phragmén for approval ballots (as pabutools' ``sequential_phragmen``).

Voters earn virtual money continuously from 0; a project is bought as soon as its supporters
together could pay for it, and the money of its supporters is spent ("load": everyone who
supports it ends with the same load). Counting stops at the first project that would be bought
but does not fit in the budget. Projects without supporters come last (infinite load), as in
pabutools. Loads are exact fractions; voters with equal loads are one bitset.
"""

from __future__ import annotations

from array import array
from fractions import Fraction
from typing import Any

from app.tally.model import Election, counted_ballots
from app.tally.outcome import Number, Outcome, money
from app.tally.rules.mes import _bitset
from app.tally.tiebreak import describe_tie, tie_key_function


def phragmen(
    election: Election, *, rule: str, version: str, tie_break: str, seed: bytes
) -> Outcome:
    projects = election.projects
    # voters numbered by distinct ballot (``counted_ballots``): the ``j``-th one's voters are
    # the next ``counts[j]`` (the order of voters never matters)
    counted = counted_ballots(election.ballots)
    n = len(election.ballots)
    by_index: list[array[int]] = [array("i") for _ in counted.ids]  # (a list: 5x bigger)
    items, start, voter = counted.items, 0, 0
    for end, count in zip(counted.ends, counted.counts, strict=True):
        voters = range(voter, voter + count)
        for k in items[start:end]:
            by_index[k].extend(voters)
        start, voter = end, voter + count
    indices: dict[str, array[int]] = {pid: array("i") for pid in projects}
    for pid, found in zip(counted.ids, by_index, strict=True):
        indices[pid] = found
    support = {pid: _bitset(ix, n) for pid, ix in indices.items()}
    score = {pid: len(ix) for pid, ix in indices.items()}
    key = tie_key_function(election, tie_break, seed, score)
    remaining = {pid for pid, p in projects.items() if p.cost <= election.budget}
    zero = Fraction(0)
    qcost = {pid: p.cost for pid, p in projects.items()}
    loads: list[tuple[Any, int]] = [(zero, (1 << n) - 1)]  # exact
    spent = Fraction(0)
    selected: list[str] = []
    explanations: dict[str, str] = {}
    scores: dict[str, Number] = dict.fromkeys(projects, 0)
    ties: list[str] = []
    stop_note = ""
    round_no = 0
    while remaining:
        best: Any = None
        tied: list[str] = []
        for pid in remaining:
            if score[pid] == 0:
                continue
            mask = support[pid]
            total = zero
            for load, cls in loads:
                k = (cls & mask).bit_count()
                if k:
                    total += load * k
            new_max = (total + qcost[pid]) / score[pid]
            if best is None or new_max < best:
                best, tied = new_max, [pid]
            elif new_max == best:
                tied.append(pid)
        if best is None:  # only unsupported projects left: pabutools buys them at infinite load
            tied = sorted(remaining)
        round_no += 1
        too_big = [p for p in tied if spent + projects[p].cost > election.budget]
        if too_big:
            stop_note = (
                f"counting stopped in round {round_no}: {', '.join(sorted(too_big))} would be "
                f"bought next but does not fit ({money(election.budget - spent)} left)"
            )
            break
        winner = min(tied, key=key)
        if len(tied) > 1:
            ties.append(describe_tie(tied, winner, tie_break))
        remaining.discard(winner)
        selected.append(winner)
        spent += projects[winner].cost
        if best is None:
            explanations[winner] = (
                f"Funded in round {round_no}: nobody supported it, but it still fit the budget "
                "once every supported project was decided (pabutools' convention)."
            )
            continue
        scores[winner] = best
        mask = support[winner]
        loads = [(load, cls & ~mask) for load, cls in loads if cls & ~mask] + [(best, mask)]
        explanations[winner] = (
            f"Funded in round {round_no}: its {score[winner]:,} supporters' load rose to "
            f"{_show(best)} each; {money(election.budget - spent)} left after it."
        )
    for pid in projects:
        if pid in explanations:
            continue
        if projects[pid].cost > election.budget:
            explanations[pid] = "Not funded: it costs more than the whole budget."
        else:
            explanations[pid] = f"Not funded: {stop_note or 'no project was left'}."
    return Outcome(
        rule=rule,
        rule_version=version,
        tie_break=tie_break,
        seed=seed,
        selected=tuple(selected),
        cost=spent,
        budget=election.budget,
        scores=scores,
        explanations=explanations,
        details={"ties": ties, "stop": stop_note},
    )


def _show(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    approx = round(value * 10000)
    return f"~{approx / 10000:.4f}".rstrip("0")  # display only
