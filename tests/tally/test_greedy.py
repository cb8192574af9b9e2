"""Greedy rules on small hand-checked elections."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.tally import Ballot, BallotRules, Election, Project, TallyError, tally


def election(
    costs: dict[str, int], ballots: list[str], budget: int, kind: str = "approval"
) -> Election:
    return Election(
        budget=Fraction(budget),
        projects={pid: Project(pid, Fraction(c)) for pid, c in costs.items()},
        rules=BallotRules(kind),  # type: ignore[arg-type]
        ballots=tuple(Ballot(tuple(b.split(",")) if b else ()) for b in ballots),
    )


E = election({"a": 60, "b": 50, "c": 30, "d": 10}, ["a,b", "a,c", "a,b,d", "b", "c"], 100)


def test_greedy_skips_what_does_not_fit() -> None:
    outcome = tally(E, "greedy")
    # votes: a 3, b 3, c 2, d 1; tie a/b broken by lower cost (b), then a no longer fits
    assert outcome.selected == ("b", "c", "d")
    assert outcome.cost == 90
    assert "tie between a, b; b chosen" in outcome.details["ties"][0]
    assert "does not fit: not funded" in outcome.explanations["a"]
    assert outcome.explanations["c"].startswith("Rank 3 of 4 with 2 votes; 50 of the budget")
    assert outcome.explanations["d"].startswith("Rank 4 of 4 with 1 vote; ")


def test_explanations_count_one_vote_as_one() -> None:
    """ "1 vote", "1 point", never "1 votes", in every rule that counts them."""
    for rule in ("greedy", "utilitarian", "equalshares/add1-comparison"):
        for text in tally(E, rule).explanations.values():
            assert "1 votes" not in text and "1 points" not in text, (rule, text)
    assert "with 1 vote;" in tally(E, "greedy").explanations["d"]
    assert "it has 1 vote." in tally(E, "utilitarian").explanations["d"]


def test_pabutools_tie_break_is_lexicographic() -> None:
    assert tally(E, "greedy", tie_break="pabutools").selected == ("a", "c", "d")


def test_no_skip_stops() -> None:
    outcome = tally(E, "greedy-no-skip", tie_break="pabutools")
    assert outcome.selected == ("a",)
    assert "counting stopped at b" in outcome.explanations["d"]


def test_threshold() -> None:
    e = Election(E.budget, E.projects, E.rules, E.ballots, score_threshold=Fraction(3))
    assert tally(e, "greedy-threshold").selected == ("b",)
    assert "below the threshold of 3 votes" in tally(e, "greedy-threshold").explanations["c"]
    with pytest.raises(TallyError, match="min_project_score_threshold"):
        tally(E, "greedy-threshold")


def test_unknown_rule_and_tie_break() -> None:
    with pytest.raises(TallyError, match="unsupported rule 'greedy-custom'"):
        tally(E, "greedy-custom")
    with pytest.raises(TallyError, match="unknown tie-break"):
        tally(E, "greedy", tie_break="coin")


def test_to_json_is_exact() -> None:
    e = Election(Fraction(201, 2), E.projects, E.rules, E.ballots)
    data = tally(e, "greedy", seed=b"\x01").to_json()
    assert data["budget"] == "201/2"
    assert data["cost"] == 90
    assert data["seed"] == "01"
    assert data["selected"] == ["b", "c", "d"]
    assert data["scores"]["a"] == 3
