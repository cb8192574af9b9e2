"""Ballot validity: what a ballot of each kind may contain under a cycle's ballot rules."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from app.tally.model import POINTS_KINDS, Ballot, BallotRules, Project


def validate_ballot(
    rules: BallotRules, projects: Mapping[str, Project], ballot: Ballot
) -> list[str]:
    """Every reason ``ballot`` is invalid under ``rules`` (an empty list when it is valid)."""
    problems: list[str] = []
    ids = ballot.projects
    unknown = [pid for pid in ids if pid not in projects]
    problems.extend(f"unknown project {pid!r}" for pid in unknown)
    if len(set(ids)) != len(ids):
        problems.append("a project appears more than once")
    n = len(ids)
    if rules.kind == "choose-1" and n > 1:
        problems.append(f"choose one project at most (this ballot has {n})")
    if rules.min_length is not None and n < rules.min_length:
        problems.append(f"choose at least {rules.min_length} projects (this ballot has {n})")
    if rules.max_length is not None and n > rules.max_length:
        problems.append(f"choose at most {rules.max_length} projects (this ballot has {n})")
    if rules.kind in ("approval", "choose-1") and not unknown:
        total = sum((projects[pid].cost for pid in ids), Fraction(0))
        if rules.min_sum_cost is not None and total < rules.min_sum_cost:
            problems.append(f"the chosen projects cost {total}, less than {rules.min_sum_cost}")
        if rules.max_sum_cost is not None and total > rules.max_sum_cost:
            problems.append(f"the chosen projects cost {total}, more than {rules.max_sum_cost}")
    needs_points = rules.kind in POINTS_KINDS
    if needs_points and ballot.points is None:
        problems.append(f"a {rules.kind} ballot needs points for each project")
    if ballot.points is not None:
        points = ballot.points
        if len(points) != n:
            problems.append(f"{n} projects but {len(points)} points")
        if rules.kind == "ordinal":
            pass  # explicit rank points are informative only
        elif not needs_points:
            problems.append(f"a {rules.kind} ballot carries no points")
        else:
            for pid, value in zip(ids, points, strict=False):
                if rules.kind == "cumulative" and value <= 0:
                    problems.append(f"points for {pid!r} must be positive")
                if rules.min_points is not None and value < rules.min_points:
                    problems.append(f"points for {pid!r} below the minimum {rules.min_points}")
                if rules.max_points is not None and value > rules.max_points:
                    problems.append(f"points for {pid!r} above the maximum {rules.max_points}")
            total_points = sum(points, Fraction(0))
            if rules.min_sum_points is not None and total_points < rules.min_sum_points:
                problems.append(
                    f"{total_points} points in total, fewer than {rules.min_sum_points}"
                )
            if rules.max_sum_points is not None and total_points > rules.max_sum_points:
                problems.append(f"{total_points} points in total, more than {rules.max_sum_points}")
    return problems
