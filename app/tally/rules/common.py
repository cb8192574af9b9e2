"""Helpers shared by the rules: project scores."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from app.tally.model import Election, ballot_points, counted_ballots


def project_scores(election: Election) -> tuple[dict[str, Fraction], dict[str, int]]:
    """Total points (votes for approval kinds) and number of supporters per project.

    Exact, and fast on a city's worth of ballots: points are summed as integers per
    denominator (whole points, the common case, never build a Fraction per ballot), and the
    sums become one Fraction per project at the end.
    """
    sums: dict[str, dict[int, int]] = {pid: {} for pid in election.projects}
    votes = dict.fromkeys(election.projects, 0)
    rules = election.rules
    for ballot, n in counted_ballots(election.ballots):
        whole: Sequence[int] | None = None
        if rules.kind in ("approval", "choose-1"):
            whole = (1,) * len(ballot.projects)
        elif rules.kind == "ordinal" and ballot.points is None and rules.rank_points is None:
            whole = range(len(ballot.projects), 0, -1)  # as ballot_points: k, k-1, ..., 1
        if whole is not None:
            for pid, points in zip(ballot.projects, whole, strict=True):
                by_denominator = sums[pid]
                by_denominator[1] = by_denominator.get(1, 0) + points * n
                votes[pid] += n
            continue
        for pid, value in zip(ballot.projects, ballot_points(rules, ballot), strict=True):
            by_denominator = sums[pid]
            den = value.denominator
            by_denominator[den] = by_denominator.get(den, 0) + value.numerator * n
            votes[pid] += n
    score = {
        pid: sum((Fraction(num, den) for den, num in parts.items()), Fraction(0))
        for pid, parts in sums.items()
    }
    return score, votes
