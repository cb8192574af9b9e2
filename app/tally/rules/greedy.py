"""Greedy rules as pabulib's format page defines them.

``greedy``: projects by most votes (approval, choose-1) or points (cumulative, scoring,
ordinal) first; a project that no longer fits is skipped. ``greedy-no-skip`` stops at the
first project that does not fit. ``greedy-threshold`` is ``greedy`` over the projects whose
score reaches META ``min_project_score_threshold``.
"""

from __future__ import annotations

from fractions import Fraction

from app.tally.model import Election, TallyError
from app.tally.outcome import Number, Outcome, money, plural
from app.tally.rules.common import project_scores
from app.tally.tiebreak import describe_tie, tie_key_function


def greedy(
    election: Election,
    *,
    rule: str,
    version: str,
    tie_break: str,
    seed: bytes,
    skip: bool = True,
    threshold: Fraction | None = None,
) -> Outcome:
    score, votes = project_scores(election)
    key = tie_key_function(election, tie_break, seed, votes)
    order = sorted(election.projects, key=lambda pid: (-score[pid], key(pid)))
    nouns = (
        ("vote", "votes")
        if election.rules.kind in ("approval", "choose-1")
        else ("point", "points")
    )

    def counted(x: Fraction) -> str:
        return f"{score_text(x)} {plural(x, *nouns)}"

    if rule == "greedy-threshold" and threshold is None:
        raise TallyError("greedy-threshold needs META min_project_score_threshold")
    left = election.budget
    selected: list[str] = []
    explanations: dict[str, str] = {}
    ties: list[str] = []
    stopped_at: str | None = None
    total = len(order)
    for rank, pid in enumerate(order, start=1):
        cost = election.projects[pid].cost
        head = f"Rank {rank} of {total} with {counted(score[pid])}"
        same = [q for q in order if score[q] == score[pid]]
        if len(same) > 1 and same[0] == pid:
            ties.append(describe_tie(same, pid, tie_break))
        if threshold is not None and score[pid] < threshold:
            explanations[pid] = (
                f"{head}; below the threshold of {counted(threshold)}: not eligible."
            )
            continue
        if stopped_at is not None:
            explanations[pid] = (
                f"{head}; not considered: counting stopped at {stopped_at}, "
                "the first project that did not fit."
            )
            continue
        when = f"{money(left)} of the budget was left when its turn came"
        if cost <= left:
            left -= cost
            selected.append(pid)
            explanations[pid] = f"{head}; {when}; it costs {money(cost)}: funded."
        else:
            explanations[pid] = (
                f"{head}; {when}; it costs {money(cost)}, which does not fit: not funded."
            )
            if not skip:
                stopped_at = pid
    scores: dict[str, Number] = dict(score)
    return Outcome(
        rule=rule,
        rule_version=version,
        tie_break=tie_break,
        seed=seed,
        selected=tuple(selected),
        cost=election.budget - left,
        budget=election.budget,
        scores=scores,
        explanations=explanations,
        details={"order": order, "ties": ties, "left": left},
    )


def score_text(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{value.numerator}/{value.denominator}"
