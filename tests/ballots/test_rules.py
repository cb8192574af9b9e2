"""The approval ballot with a budget cap (pure checks)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.ballots.rules import check_approval_ballot, meter, parse_choices

COSTS = {1: 40_000_00, 2: 35_000_00, 3: 30_000_00, 4: 5_000_00}
BUDGET = 80_000_00


def test_a_ballot_that_fits_is_valid() -> None:
    assert check_approval_ballot(COSTS, BUDGET, [1, 2, 4]) == []
    m = meter(COSTS, BUDGET, [1, 2, 4])
    assert (m.spent, m.left, m.fits) == (80_000_00, 0, True)


def test_one_minor_unit_over_is_refused() -> None:
    costs = {**COSTS, 4: 5_000_01}
    assert check_approval_ballot(costs, BUDGET, [1, 2, 4]) == ["over_budget"]
    assert not meter(costs, BUDGET, [1, 2, 4]).fits


def test_empty_unknown_and_duplicate_are_refused() -> None:
    assert check_approval_ballot(COSTS, BUDGET, []) == ["empty"]
    assert "unknown_project" in check_approval_ballot(COSTS, BUDGET, [1, 99])
    assert "duplicate" in check_approval_ballot(COSTS, BUDGET, [4, 4])


def test_parse_choices_flags_garbage() -> None:
    assert parse_choices(["1", " 2 "]) == ([1, 2], False)
    assert parse_choices(["1", "x", "-3", "9" * 40]) == ([1], True)


@given(st.lists(st.sampled_from(sorted(COSTS)), unique=True))
def test_valid_exactly_when_total_fits(chosen: list[int]) -> None:
    total = sum(COSTS[p] for p in chosen)
    problems = check_approval_ballot(COSTS, BUDGET, chosen)
    assert (problems == []) == (bool(chosen) and total <= BUDGET)
    assert meter(COSTS, BUDGET, chosen).left == BUDGET - total
