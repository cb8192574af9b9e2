"""Helpers shared by the rules: collapsed ballots and project scores."""

from __future__ import annotations

from fractions import Fraction

from app.tally.model import Ballot, Election, ballot_points


def collapsed(election: Election) -> list[tuple[Ballot, int]]:
    """Distinct ballots with their multiplicity (identical ballots counted once)."""
    first: dict[tuple[tuple[str, ...], tuple[Fraction, ...] | None], Ballot] = {}
    mult: dict[tuple[tuple[str, ...], tuple[Fraction, ...] | None], int] = {}
    for ballot in election.ballots:
        key = (ballot.projects, ballot.points)
        if key in mult:
            mult[key] += 1
        else:
            first[key] = ballot
            mult[key] = 1
    return [(first[key], n) for key, n in mult.items()]


def project_scores(election: Election) -> tuple[dict[str, Fraction], dict[str, int]]:
    """Total points (votes for approval kinds) and number of supporters per project."""
    score = dict.fromkeys(election.projects, Fraction(0))
    votes = dict.fromkeys(election.projects, 0)
    for ballot, n in collapsed(election):
        for pid, value in zip(ballot.projects, ballot_points(election.rules, ballot), strict=True):
            score[pid] += value * n
            votes[pid] += n
    return score, votes
