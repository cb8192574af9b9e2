"""Helpers shared by the rules: project scores."""

from __future__ import annotations

from fractions import Fraction

from app.tally.model import Election, ballot_points, counted_ballots


def project_scores(election: Election) -> tuple[dict[str, Fraction], dict[str, int]]:
    """Total points (votes for approval kinds) and number of supporters per project.

    Exact, and fast on a city's worth of ballots: approval and ranked ballots are summed on
    the packed distinct ballots (``model.Counted``) as integers; other points as integers
    per denominator (whole points, the common case, never build a Fraction per ballot), and
    the sums become one Fraction per project at the end.
    """
    rules = election.rules
    counted = counted_ballots(election.ballots)
    votes = dict.fromkeys(election.projects, 0)
    if rules.kind in ("approval", "choose-1"):  # a point a vote
        for pid, count in zip(counted.ids, counted.votes(), strict=True):
            votes[pid] += count
        return {pid: Fraction(count) for pid, count in votes.items()}, votes
    if rules.kind == "ordinal" and counted.points is None and rules.rank_points is None:
        # as ballot_points: a ballot ranking k projects gives them k, k-1, ..., 1
        whole, by_index = [0] * len(counted.ids), [0] * len(counted.ids)
        items, start = counted.items, 0
        for end, n in zip(counted.ends, counted.counts, strict=True):
            points = end - start
            for k in items[start:end]:
                whole[k] += points * n
                by_index[k] += n
                points -= 1
            start = end
        score = dict.fromkeys(election.projects, Fraction(0))
        for pid, total, count in zip(counted.ids, whole, by_index, strict=True):
            score[pid] += total
            votes[pid] += count
        return score, votes
    sums: dict[str, dict[int, int]] = {pid: {} for pid in election.projects}
    for ballot, n in counted:
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
