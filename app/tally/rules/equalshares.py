"""Rule entry points for the equal-shares family (the algorithm lives in ``mes``)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from app.tally.model import Election, counted_ballots
from app.tally.outcome import Outcome, money, plural
from app.tally.rules import mes
from app.tally.rules.common import project_scores
from app.tally.tiebreak import TieKey, tie_key_function


def equalshares(
    election: Election, *, rule: str, version: str, tie_break: str, seed: bytes
) -> Outcome:
    prep = mes.prepare(election)
    key = tie_key_function(election, tie_break, seed)
    if prep.n == 0:
        result = mes.RunResult(election.budget, [], [], {}, {})
    else:
        from app.tally.rules import mes_np  # (numpy only when equal shares is counted)

        result = mes_np.run(prep, election.budget / prep.n, key, tie_break)
    return mes.outcome_of(
        prep,
        result,
        rule=rule,
        version=version,
        tie_break=tie_break,
        seed=seed,
        budget=election.budget,
    )


def add_one(election: Election, *, rule: str, version: str, tie_break: str, seed: bytes) -> Outcome:
    """``equalshares/add1`` and its ``-greedy`` and ``-comparison`` variants."""
    prep = mes.prepare(election)
    key = tie_key_function(election, tie_break, seed)
    if prep.n == 0:
        return equalshares(election, rule=rule, version=version, tie_break=tie_break, seed=seed)
    done = mes.add_one(prep, election.budget, key, tie_break)
    result = done.final
    extra: dict[str, object] = {
        "add1": {
            "per_voter_budget": result.b,
            "schedule_step": done.steps_in_schedule,
            "runs": done.runs,
            "stopped": done.stopped_by,
        }
    }
    note = f" (per-voter budget {money(result.b)} after add-one)"
    outcome = mes.outcome_of(
        prep,
        result,
        rule=rule,
        version=version,
        tie_break=tie_break,
        seed=seed,
        budget=election.budget,
        extra=extra,
        budget_note=note,
    )
    if rule == "equalshares/add1-greedy":
        return _complete_greedily(election, outcome, key)
    if rule == "equalshares/add1-comparison":
        return _comparison_step(election, outcome, key)
    return outcome


def _greedy_order(
    election: Election, key: Callable[[str], TieKey]
) -> tuple[list[str], dict[str, Fraction]]:
    score, _ = project_scores(election)
    order = sorted(election.projects, key=lambda p: (-score[p], key(p)))
    return order, score


def _complete_greedily(
    election: Election, outcome: Outcome, key: Callable[[str], TieKey]
) -> Outcome:
    order, score = _greedy_order(election, key)
    selected = list(outcome.selected)
    left = election.budget - outcome.cost
    explanations = dict(outcome.explanations)
    added = []
    for pid in order:
        if pid in selected:
            continue
        cost = election.projects[pid].cost
        if cost <= left:
            before = left
            left -= cost
            selected.append(pid)
            added.append(pid)
            explanations[pid] = (
                f"Funded by the greedy completion: {money(before)} was left after equal shares "
                f"and its {_n(score[pid])} votes/points ranked it next; it costs {money(cost)}."
            )
    details = dict(outcome.details)
    details["greedy_completion"] = added
    return Outcome(
        rule=outcome.rule,
        rule_version=outcome.rule_version,
        tie_break=outcome.tie_break,
        seed=outcome.seed,
        selected=tuple(selected),
        cost=election.budget - left,
        budget=election.budget,
        scores=outcome.scores,
        explanations=explanations,
        details=details,
    )


def _comparison_step(election: Election, outcome: Outcome, key: Callable[[str], TieKey]) -> Outcome:
    """equalshares.net's comparison: each voter compares how many of their approved projects
    each outcome funds; if more voters prefer the plain greedy outcome, it is taken."""
    order, score = _greedy_order(election, key)
    greedy: list[str] = []
    left = election.budget
    for pid in order:
        cost = election.projects[pid].cost
        if cost <= left:
            left -= cost
            greedy.append(pid)
    mes_set = set(outcome.selected)
    greedy_set = set(greedy)
    prefers_mes = prefers_greedy = 0
    for ballot, count in counted_ballots(election.ballots):
        a = sum(1 for p in ballot.projects if p in mes_set)
        g = sum(1 for p in ballot.projects if p in greedy_set)
        if a > g:
            prefers_mes += count
        elif g > a:
            prefers_greedy += count
    details = dict(outcome.details)
    details["comparison"] = {
        "prefers_equal_shares": prefers_mes,
        "prefers_greedy": prefers_greedy,
        "greedy": greedy,
        "order": order,
        "taken": "greedy" if prefers_greedy > prefers_mes else "equalshares",
    }
    verdict = (
        f"{prefers_mes:,} voters prefer the equal-shares outcome and {prefers_greedy:,} the "
        "greedy one"
    )
    if details["comparison"]["taken"] == "equalshares":
        explanations = {
            p: f"{text} Comparison step: {verdict}, so equal shares stands."
            for p, text in outcome.explanations.items()
        }
        return Outcome(
            rule=outcome.rule,
            rule_version=outcome.rule_version,
            tie_break=outcome.tie_break,
            seed=outcome.seed,
            selected=outcome.selected,
            cost=outcome.cost,
            budget=outcome.budget,
            scores=outcome.scores,
            explanations=explanations,
            details=details,
        )
    explanations = {}
    for rank, pid in enumerate(order, start=1):
        state = "funded" if pid in greedy_set else "not funded"
        explanations[pid] = (
            f"Comparison step: {verdict}, so the greedy outcome is taken. Rank {rank} with "
            f"{_n(score[pid])} {plural(score[pid], 'vote', 'votes')}: {state}."
        )
    return Outcome(
        rule=outcome.rule,
        rule_version=outcome.rule_version,
        tie_break=outcome.tie_break,
        seed=outcome.seed,
        selected=tuple(greedy),
        cost=election.budget - left,
        budget=election.budget,
        scores=dict(score),
        explanations=explanations,
        details=details,
    )


def _n(value: Fraction) -> str:
    return f"{value.numerator:,}" if value.denominator == 1 else f"{value}"
