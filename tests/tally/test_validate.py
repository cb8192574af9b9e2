"""validate_ballot: each kind's limits."""

from __future__ import annotations

from fractions import Fraction

from app.tally import Ballot, BallotRules, Project, validate_ballot

P = {pid: Project(pid, Fraction(cost)) for pid, cost in [("a", 10), ("b", 20), ("c", 30)]}


def test_approval_knapsack_limits() -> None:
    rules = BallotRules("approval", min_length=1, max_length=2, max_sum_cost=Fraction(35))
    assert validate_ballot(rules, P, Ballot(("a", "b"))) == []
    assert validate_ballot(rules, P, Ballot(())) == [
        "choose at least 1 projects (this ballot has 0)"
    ]
    problems = validate_ballot(rules, P, Ballot(("a", "b", "c")))
    assert "choose at most 2 projects (this ballot has 3)" in problems
    assert "the chosen projects cost 60, more than 35" in problems
    assert validate_ballot(rules, P, Ballot(("a", "z"))) == ["unknown project 'z'"]
    assert validate_ballot(rules, P, Ballot(("a", "a"))) == ["a project appears more than once"]
    assert validate_ballot(rules, P, Ballot(("a",), (Fraction(1),))) == [
        "a approval ballot carries no points"
    ]


def test_choose_one() -> None:
    rules = BallotRules("choose-1")
    assert validate_ballot(rules, P, Ballot(("a",))) == []
    assert validate_ballot(rules, P, Ballot(("a", "b"))) == [
        "choose one project at most (this ballot has 2)"
    ]


def test_cumulative_points() -> None:
    rules = BallotRules("cumulative", max_points=Fraction(3), max_sum_points=Fraction(5))
    ok = Ballot(("a", "b"), (Fraction(3), Fraction(2)))
    assert validate_ballot(rules, P, ok) == []
    too_many = Ballot(("a", "b", "c"), (Fraction(3), Fraction(2), Fraction(1)))
    assert validate_ballot(rules, P, too_many) == ["6 points in total, more than 5"]
    assert validate_ballot(rules, P, Ballot(("a",), (Fraction(4),))) == [
        "points for 'a' above the maximum 3"
    ]
    assert validate_ballot(rules, P, Ballot(("a",), (Fraction(0),))) == [
        "points for 'a' must be positive"
    ]
    assert validate_ballot(rules, P, Ballot(("a",))) == [
        "a cumulative ballot needs points for each project"
    ]


def test_ordinal_and_scoring() -> None:
    assert validate_ballot(BallotRules("ordinal", max_length=2), P, Ballot(("c", "a"))) == []
    scoring = BallotRules("scoring", min_points=Fraction(-1), max_points=Fraction(1))
    assert validate_ballot(scoring, P, Ballot(("a", "b"), (Fraction(-1), Fraction(1)))) == []
    assert validate_ballot(scoring, P, Ballot(("a",), (Fraction(-2),))) == [
        "points for 'a' below the minimum -1"
    ]
