"""Hypothesis properties of the rules on generated elections, and agreement with pabutools on
them (pabutools' default tie-breaking, reproduced by ``tie_break="pabutools"``)."""

from __future__ import annotations

import contextlib
import math
import random
import signal
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pabutools.analysis.justifiedrepresentation import is_EJR_one_approval
from pabutools.election import (
    Additive_Cardinal_Sat,
    ApprovalBallot,
    ApprovalProfile,
    Cost_Sat,
    CumulativeBallot,
    CumulativeProfile,
    Instance,
)
from pabutools.election import Project as PabuProject
from pabutools.rules import method_of_equal_shares, sequential_phragmen

from app.tally import (
    RULES,
    Ballot,
    BallotRules,
    Ballots,
    Election,
    Outcome,
    Project,
    TallyError,
    tally,
)
from app.tally.rules import mes, mes_np, mes_span, utilitarian
from app.tally.rules.mes import RunResult
from app.tally.tiebreak import tie_key_function

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def elections(draw: st.DrawFn, kind: str = "approval", max_projects: int = 6) -> Election:
    m = draw(st.integers(1, max_projects))
    ids = [f"p{i}" for i in range(m)]
    costs = [draw(st.integers(1, 20)) for _ in ids]
    n = draw(st.integers(1, 12))
    ballots = []
    for _ in range(n):
        chosen = draw(st.lists(st.sampled_from(ids), unique=True, max_size=m))
        if kind == "cumulative":
            points = tuple(Fraction(draw(st.integers(1, 4))) for _ in chosen)
            ballots.append(Ballot(tuple(chosen), points))
        else:
            ballots.append(Ballot(tuple(chosen)))
    budget = Fraction(draw(st.integers(1, sum(costs))), draw(st.sampled_from([1, 1, 2, 3])))
    return Election(
        budget=budget,
        projects={pid: Project(pid, Fraction(c)) for pid, c in zip(ids, costs, strict=True)},
        rules=BallotRules(kind),  # type: ignore[arg-type]
        ballots=tuple(ballots),
        score_threshold=Fraction(draw(st.integers(0, 3))),
    )


APPROVAL_RULES = list(RULES)


@FAST
@given(elections(), st.sampled_from(APPROVAL_RULES), st.sampled_from(["default", "pabutools"]))
def test_funded_total_never_exceeds_budget(e: Election, rule: str, tie: str) -> None:
    outcome = tally(e, rule, tie_break=tie, seed=b"s")
    assert outcome.cost == sum(e.projects[p].cost for p in outcome.selected)
    assert outcome.cost <= e.budget
    assert len(set(outcome.selected)) == len(outcome.selected)
    assert set(outcome.explanations) == set(e.projects)


@FAST
@given(elections(), st.sampled_from(APPROVAL_RULES), st.randoms(use_true_random=False))
def test_order_of_ballots_and_projects_does_not_matter(
    e: Election, rule: str, rnd: random.Random
) -> None:
    ballots = list(e.ballots)
    rnd.shuffle(ballots)
    items = list(e.projects.items())
    rnd.shuffle(items)
    shuffled = replace(e, ballots=tuple(ballots), projects=dict(items))
    for tie in ("default", "pabutools"):
        assert (
            tally(shuffled, rule, tie_break=tie).selected == tally(e, rule, tie_break=tie).selected
        )


@FAST
@given(st.one_of(elections(), elections("cumulative")))
def test_add_one_never_uses_less_than_equal_shares(e: Election) -> None:
    """Add-one uses at least as much of the budget as plain equal shares, except where the
    rule itself does not: equal shares is not monotone in the budget, so a higher per-voter
    budget of the schedule can fund a cheaper set, and add-one keeps the last outcome within
    the budget (the pinned example below). There Plaza's outcome must be the rule's, found by
    stepping every budget of the schedule in Fractions, and some budget of the schedule must
    indeed fund less than equal shares does."""
    plain = tally(e, "equalshares")
    add1 = tally(e, "equalshares/add1")
    if add1.cost < plain.cost:
        event("the rule itself uses less here (equal shares not monotone in the budget)")
        prep = mes.prepare(e)
        key = tie_key_function(e, "default", b"")
        stepped = mes.add_one(prep, e.budget, key, "default", fast=False).final
        assert stepped.selected == list(add1.selected)
        assert mes.total_cost(prep, stepped.selected) < plain.cost
        assert stepped.b > e.budget / prep.n
    assert tally(e, "equalshares/add1-greedy").cost >= add1.cost


def test_add_one_can_use_less_than_equal_shares_where_equal_shares_is_not_monotone() -> None:
    """Pinned: the property that add-one never uses less of the budget than plain equal
    shares does not hold for equalshares.net's add-one, which the issue specifies (keep the
    last outcome of the schedule within the budget). Three voters, points ballots, budget
    22.5: at 7.5 a voter equal shares funds p1 (15); at 8 to 11 the voter giving p0 two
    points and p1 one makes p0 cheaper per point, and only p0 is funded (8); at 12 both
    (23, over). Add-one keeps 11: p0, cost 8. pabutools' equal shares at those budgets
    agrees, so this is the rule, not Plaza."""
    e = Election(
        budget=Fraction(45, 2),
        projects={
            pid: Project(pid, Fraction(c))
            for pid, c in {"p0": 8, "p1": 15, "p2": 1, "p3": 1, "p4": 1, "p5": 19}.items()
        },
        rules=BallotRules("cumulative"),
        ballots=(
            Ballot((), ()),
            Ballot(("p1",), (Fraction(1),)),
            Ballot(("p0", "p1"), (Fraction(2), Fraction(1))),
        ),
    )
    assert tally(e, "equalshares").selected == ("p1",)
    add1 = tally(e, "equalshares/add1")
    assert add1.selected == ("p0",) and add1.cost == 8
    for per_voter, funded in (
        (Fraction(15, 2), {"p1"}),
        (8, {"p0"}),
        (11, {"p0"}),
        (12, {"p0", "p1"}),
    ):
        instance, profile = _pabu(replace(e, budget=per_voter * 3))
        got = method_of_equal_shares(instance, profile, sat_class=Additive_Cardinal_Sat)
        assert {p.name for p in got} == funded


def _without(outcome: Any) -> tuple[Any, ...]:
    """An outcome's content, bar how many runs add-one's search made (float sums, whose
    error bounds may decide a probe's fate, depend on the order of the voters)."""
    details = {key: value for key, value in outcome.details.items() if key != "add1"}
    return outcome.selected, outcome.cost, outcome.scores, outcome.explanations, details


@FAST
@given(
    st.one_of(elections(), elections("cumulative"), elections("choose-1")),
    st.sampled_from(APPROVAL_RULES),
    st.integers(1, 30),
    st.randoms(use_true_random=False),
)
def test_counting_identical_ballots_changes_nothing(
    e: Election, rule: str, copies: int, rnd: random.Random
) -> None:
    """Rules walk distinct ballots (``Ballots.counted``; voters numbered by ballot) where a
    reader shared identical ones: the outcome, explanations and payments are those of the
    same voters each with a ballot of their own, in any order."""
    shared: dict[Ballot, Ballot] = {}
    voters = [shared.setdefault(b, b) for b in e.ballots * copies]
    rnd.shuffle(voters)
    counted = replace(e, ballots=Ballots(voters))
    own = replace(e, ballots=tuple(Ballot(b.projects, b.points) for b in reversed(voters)))
    assert sum(counted.ballots.counted.counts) == len(voters)
    assert len(counted.ballots.counted) == len(shared)
    for tie in ("default", "pabutools"):
        try:
            expected = _without(tally(own, rule, tie_break=tie))
        except TallyError:  # (a rule that does not fit the ballot kind)
            with pytest.raises(TallyError):
                tally(counted, rule, tie_break=tie)
            continue
        assert _without(tally(counted, rule, tie_break=tie)) == expected


@st.composite
def long_schedules(draw: st.DrawFn) -> Election:
    """Money scaled up, so that add-one's schedule has hundreds of one-unit steps and its
    search (long jumps, failed probes, bisection) is exercised."""
    e = draw(st.one_of(elections(), elections("cumulative")))
    scale = draw(st.sampled_from([10, 100, 1000]))
    projects = {pid: Project(pid, p.cost * scale) for pid, p in e.projects.items()}
    return replace(e, projects=projects, budget=e.budget * scale)


@FAST
@given(st.one_of(elections(), elections("cumulative"), long_schedules()))
def test_skip_ahead_add_one_equals_step_by_step(e: Election) -> None:
    """The search equals running every budget of the schedule, whether its runs are made on
    arrays (``QUICK`` 0: no first run on bitsets counts as quick) or on bitsets (the arrays
    hidden)."""
    prep = mes.prepare(e)
    key = tie_key_function(e, "pabutools", b"")
    slow = mes.add_one(prep, e.budget, key, "pabutools", fast=False)
    saved_quick, saved_arrays = mes.QUICK, mes_np.arrays_of
    try:
        mes.QUICK = 0.0
        on_arrays = mes.add_one(prep, e.budget, key, "pabutools", fast=True)
        mes_np.arrays_of = lambda prep: None  # type: ignore[assignment]
        on_bitsets = mes.add_one(prep, e.budget, key, "pabutools", fast=True)
    finally:
        mes.QUICK, mes_np.arrays_of = saved_quick, saved_arrays
    assert on_arrays.final == slow.final
    assert on_bitsets.final.selected == slow.final.selected


def _pabu(e: Election) -> tuple[Instance, object]:
    instance = Instance(budget_limit=e.budget)
    projects = {pid: PabuProject(pid, p.cost) for pid, p in e.projects.items()}
    for p in projects.values():
        instance.add(p)
    if e.rules.kind == "cumulative":
        cum = []
        for b in e.ballots:
            ballot = CumulativeBallot()
            for pid, pts in zip(b.projects, b.points or (), strict=True):
                ballot[projects[pid]] = pts
            cum.append(ballot)
        return instance, CumulativeProfile(cum)
    return instance, ApprovalProfile(
        [ApprovalBallot(projects[p] for p in b.projects) for b in e.ballots]
    )


@FAST
@given(st.one_of(elections(), elections("cumulative")))
def test_equal_shares_equals_pabutools(e: Election) -> None:
    instance, profile = _pabu(e)
    sat = Additive_Cardinal_Sat if e.rules.kind == "cumulative" else Cost_Sat
    expected = [p.name for p in method_of_equal_shares(instance, profile, sat_class=sat)]
    assert list(tally(e, "equalshares", tie_break="pabutools").selected) == expected


@FAST
@given(elections())
def test_phragmen_equals_pabutools(e: Election) -> None:
    instance, profile = _pabu(e)
    expected = sorted(p.name for p in sequential_phragmen(instance, profile))
    assert sorted(tally(e, "phragmen", tie_break="pabutools").selected) == expected


@settings(max_examples=40, deadline=None)
@given(elections(max_projects=4))
def test_equal_shares_is_ejr_up_to_one(e: Election) -> None:
    e = replace(e, ballots=e.ballots[:5])
    instance, profile = _pabu(e)
    for rule in ("equalshares", "equalshares/add1"):
        chosen = tally(e, rule).selected
        allocation = [p for p in instance if p.name in chosen]
        assert is_EJR_one_approval(instance, profile, Cost_Sat, allocation)


@st.composite
def near_tie_elections(draw: st.DrawFn) -> Election:
    """Elections whose prices differ by far less than a float can tell apart (costs near
    10**18 with tiny offsets, cents, many equal ballots): the filtered run must fall back to
    exact arithmetic on exactly these."""
    e = draw(st.one_of(elections(), elections("cumulative")))
    scale = draw(st.sampled_from([1, 10**6, 10**15, 10**18]))
    cents = draw(st.sampled_from([1, 100]))
    projects = {
        pid: Project(pid, Fraction(p.cost * scale + draw(st.integers(0, 3)), cents))
        for pid, p in e.projects.items()
    }
    copies = draw(st.integers(1, 3))
    total = sum((p.cost for p in projects.values()), Fraction(0))
    budget = total * Fraction(draw(st.integers(1, 9)), 10)
    return replace(e, projects=projects, ballots=e.ballots * copies, budget=budget)


@FAST
@given(
    st.one_of(elections(), elections("cumulative"), elections("choose-1"), near_tie_elections()),
    st.integers(0, 30),
    st.integers(1, 9),
    st.booleans(),
)
def test_numpy_run_equals_exact_run(e: Election, extra: int, gap: int, give_up: bool) -> None:
    """The run on arrays is the reference run in Fractions, field for field: selection, every
    round's price, payments and ties, the last price seen of every project, the shortfalls,
    the number of evaluations, and the add-one certificate at a higher budget."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    if arrays is None:  # (points that are not whole numbers: the reference counts alone)
        assert any(u.denominator != 1 for us in prep.utilities.values() for u in us)
        return
    key = tie_key_function(e, "pabutools", b"")
    b0 = e.budget / prep.n
    low = b0 + extra * b0 / 7
    high = low + gap * b0 / 5
    exact = mes.run(prep, low, key, "pabutools")
    fast = mes_np.run_np(prep, arrays, low, key, "pabutools")
    assert fast == exact
    exact2 = mes.run(prep, high, key, "pabutools", certify=exact.path)
    fast2 = mes_np.run_np(
        prep, arrays, high, key, "pabutools", certify=fast.path, explain=False, give_up=give_up
    )
    assert fast2.certified == exact2.certified
    if exact2.certified or not give_up:
        assert (fast2.selected, fast2.path) == (exact2.selected, exact2.path)


@st.composite
def knife_edge_elections(draw: st.DrawFn, crowded: bool = False) -> Election:
    """Elections where what supporters have left and the share a price asks of them differ by
    less than the floats' error: per-voter budgets near 10**16 and costs of a project's
    supporters times a simple part of the budget (all, half, a third, ...) give or take a few
    units. A voter then sits on the knife edge between paying its share and paying all it
    has, and only exact arithmetic can tell which; floats moved within their error bound
    (``_jitter``) put it on either side. ``crowded``: every ballot cast by tens to hundreds
    of voters (collapsed rows weigh that much: their floats' error is that many times one
    voter's)."""
    e = draw(st.one_of(elections(), elections("cumulative")))
    if crowded:
        e = replace(e, ballots=e.ballots * draw(st.sampled_from([20, 60, 200])))
    b = draw(st.sampled_from([10**15, 3 * 10**15, 10**16, 7 * 10**16]))
    parts = [Fraction(1), Fraction(1, 2), Fraction(1, 3), Fraction(2, 3), Fraction(3, 2)]
    projects = {}
    for pid in e.projects:
        backers = sum(pid in ballot.projects for ballot in e.ballots) or 1
        cost = backers * b * draw(st.sampled_from(parts)) + draw(st.integers(-3, 3))
        projects[pid] = Project(pid, max(Fraction(1), cost))
    return replace(e, projects=projects, budget=Fraction(len(e.ballots) * b))


def _jitter_for_a_run(n: int, rng: Any) -> Any:
    """A ``mes_np._jitter`` that moves every float of money at random within half its error
    bound of where the run put it (after every round)."""
    moved = [0.0] * n

    def jitter(money: Any, alive: Any, err: Any) -> None:
        for i in range(len(money)):
            if alive[i]:
                bound = float(err[i]) if np.ndim(err) else err  # (per row: collapsed voters)
                shift = rng.uniform(-bound / 2, bound / 2)
                money[i] += shift - moved[i]
                moved[i] = shift

    return jitter


@FAST
@given(knife_edge_elections(), st.randoms())
def test_numpy_run_is_exact_on_the_knife_edge(e: Election, rng: Any) -> None:
    """Supporters whose money and share differ by less than the floats can tell: the run on
    arrays (explained, and as an add-one probe) still equals the reference in Fractions,
    whatever the floats' error within its bound."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    if arrays is None:
        return
    key = tie_key_function(e, "pabutools", b"")
    b = e.budget / prep.n
    exact = mes.run(prep, b, key, "pabutools")
    try:
        mes_np._jitter = _jitter_for_a_run(prep.n, rng)
        fast = mes_np.run_np(prep, arrays, b, key, "pabutools")
        mes_np._jitter = _jitter_for_a_run(prep.n, rng)
        probe = mes_np.run_np(prep, arrays, b, key, "pabutools", explain=False)
    finally:
        mes_np._jitter = None
    assert fast == exact
    assert (probe.selected, probe.path) == (exact.selected, exact.path)


def test_float_fixed_point_ends_when_rounding_makes_voters_take_turns() -> None:
    """Found by the knife-edge property (shrunk, then the arrays recorded): four supporters
    with money per utility within a rounding of 1/4 each. Letting the poorer side shrink
    again made two sides alternate for ever (a run that never ended); the poor only grow."""
    ratio = np.array([0.25000000000000006, 0.25000000000000006, 0.24999999999999994, 0.25])
    u = np.full(4, 5999999999999998.0)
    m = np.array([1499999999999999.8, 1499999999999999.8, 1499999999999999.2, 1499999999999999.5])

    def stuck(signum: int, frame: Any) -> None:
        raise AssertionError("_fixed_point did not end within 5 seconds")

    before = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(5)
    try:
        guess, poor, _ = mes_np._fixed_point(ratio, u, m, 5999999999999998.0, float(u.sum()))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert guess == pytest.approx(0.25)
    assert not (ratio < guess)[~poor].any()  # a fixed point: nobody poorer is left out


@FAST
@given(st.one_of(near_tie_elections(), elections("cumulative")), st.integers(0, 30), st.randoms())
def test_numpy_run_is_exact_whatever_the_float_error(e: Election, extra: int, rng: Any) -> None:
    """The floats may be off by anything within their error bound (here: moved at random
    within half of it after every round) and the run still equals the reference: every
    decision the floats cannot make for sure is made exactly."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    if arrays is None:
        return
    key = tie_key_function(e, "pabutools", b"")
    b = e.budget / prep.n * (1 + Fraction(extra, 7))
    exact = mes.run(prep, b, key, "pabutools")
    higher = b + b / 5
    exact2 = mes.run(prep, higher, key, "pabutools", certify=exact.path)
    try:
        mes_np._jitter = _jitter_for_a_run(prep.n, rng)
        fast = mes_np.run_np(prep, arrays, b, key, "pabutools")
        mes_np._jitter = _jitter_for_a_run(prep.n, rng)
        probe = mes_np.run_np(
            prep, arrays, higher, key, "pabutools", certify=exact.path, explain=False
        )
    finally:
        mes_np._jitter = None
    assert fast == exact
    assert (probe.selected, probe.path, probe.certified) == (
        exact2.selected,
        exact2.path,
        exact2.certified,
    )


def _collapsed(
    prep: mes.Prepared, arrays: mes_np.Arrays, by_signature: bool = False
) -> mes_np.Arrays:
    """``arrays`` with identical voters collapsed, whatever it saves: a row per distinct
    ballot, or ``by_signature``, per set of voters who give every project the same."""
    saved = mes_np.COLLAPSE_SHARE
    try:
        mes_np.COLLAPSE_SHARE = 1.0
        rows = mes_np.collapsed(prep, arrays, by_signature=by_signature)
    finally:
        mes_np.COLLAPSE_SHARE = saved
    assert rows is not None and rows.weight is not None
    assert int(rows.weight.sum()) == prep.n
    return rows


@FAST
@given(
    st.one_of(
        elections(),
        elections("cumulative"),
        near_tie_elections(),
        knife_edge_elections(),
        knife_edge_elections(crowded=True),
    ),
    st.one_of(st.just(0), st.integers(0, 30)),  # 0: the knife edge's own budget
    st.randoms(),
    st.booleans(),
)
def test_collapsed_voters_decide_as_the_voters_do(
    e: Election, extra: int, rng: Any, by_signature: bool
) -> None:
    """Identical voters collapsed into one row (money and utilities that many times one
    voter's): an add-one probe on the rows makes the decisions of the reference in Fractions,
    its certificate included, whatever the floats' error within its bound (per row); a run
    with payments refuses rows."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    if arrays is None or not prep.candidates:
        return
    rows = _collapsed(prep, arrays, by_signature)
    key = tie_key_function(e, "pabutools", b"")
    b = e.budget / prep.n * (1 + Fraction(extra, 7))
    higher = b + b / 5
    exact = mes.run(prep, b, key, "pabutools")
    exact2 = mes.run(prep, higher, key, "pabutools", certify=exact.path)
    try:
        mes_np._jitter = _jitter_for_a_run(rows.n, rng)
        probe = mes_np.run_np(prep, rows, b, key, "pabutools", explain=False)
        mes_np._jitter = _jitter_for_a_run(rows.n, rng)
        probe2 = mes_np.run_np(
            prep, rows, higher, key, "pabutools", certify=exact.path, explain=False
        )
    finally:
        mes_np._jitter = None
    assert (probe.selected, probe.path) == (exact.selected, exact.path)
    assert (probe2.selected, probe2.path, probe2.certified) == (
        exact2.selected,
        exact2.path,
        exact2.certified,
    )
    with pytest.raises(ValueError):
        mes_np.run_np(prep, rows, b, key, "pabutools")


@FAST
@given(
    st.one_of(elections(), elections("cumulative"), near_tie_elections(), long_schedules()),
    st.integers(0, 30),
    st.lists(st.integers(1, 9), min_size=1, max_size=4),
    st.booleans(),
)
def test_bounds_from_higher_budgets_change_no_decision(
    e: Election, extra: int, gaps: list[int], collapse: bool
) -> None:
    """Runs from the top down, each given the bounds of the run above it (``above``, as the
    add-one search's blocks do): every run makes the decisions of the reference in
    Fractions at its budget; bounds from a budget that is not higher are refused."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    if arrays is None:
        return
    if collapse and prep.candidates:
        arrays = _collapsed(prep, arrays)
    key = tie_key_function(e, "pabutools", b"")
    b0 = e.budget / prep.n
    b = b0 + extra * b0 / 7 + sum(gaps) * b0 / 5
    above = None
    for gap in [0, *gaps]:
        b -= gap * b0 / 5
        run = mes_np.run_np(
            prep, arrays, b, key, "pabutools", explain=False, above=above, keep_bounds=True
        )
        exact = mes.run(prep, b, key, "pabutools")
        assert (run.selected, run.path) == (exact.selected, exact.path)
        assert run.bounds is not None and len(run.path) <= len(run.bounds) <= len(run.path) + 1
        above = run
    assert above is not None
    with pytest.raises(ValueError):
        mes_np.run_np(prep, arrays, b, key, "pabutools", explain=False, above=above)


@FAST
@given(st.one_of(elections(), elections("cumulative")), st.integers(1, 12))
def test_certified_budgets_make_the_same_outcome_in_between(e: Election, gap: int) -> None:
    """The add-one certificate: if the run at b2 certifies the run at b1, every budget in
    between selects the same projects in the same order."""
    prep = mes.prepare(e)
    key = tie_key_function(e, "pabutools", b"")
    b1 = Fraction(math.floor(e.budget / prep.n))
    low = mes.run(prep, b1, key, "pabutools")
    high = mes.run(prep, b1 + gap, key, "pabutools", certify=low.path)
    if high.certified:
        for step in range(1, 4 * gap):
            middle = mes.run(prep, b1 + Fraction(step, 4), key, "pabutools")
            assert middle.selected == low.selected


@st.composite
def dear_projects(draw: st.DrawFn) -> Election:
    """Elections with some projects too dear for their supporters at most budgets, and
    many projects and voters: where the path certificate fails and the budget certificate
    can hold (it needs a project out of reach)."""
    kind = draw(st.sampled_from(["approval", "cumulative"]))
    m = draw(st.integers(3, 10))
    ids = [f"p{i}" for i in range(m)]
    ballots = []
    for _ in range(draw(st.integers(4, 30))):
        chosen = draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=m))
        points = None
        if kind == "cumulative":
            points = tuple(Fraction(draw(st.integers(1, 4))) for _ in chosen)
        ballots.append(Ballot(tuple(chosen), points))
    costs = {pid: Fraction(draw(st.integers(1, 40))) for pid in ids}
    e = Election(
        budget=Fraction(draw(st.integers(1, int(sum(costs.values()))))),
        projects={pid: Project(pid, c) for pid, c in costs.items()},
        rules=BallotRules(kind),  # type: ignore[arg-type]
        ballots=tuple(ballots),
    )
    pids = list(e.projects)
    dear = draw(st.lists(st.sampled_from(pids), unique=True, min_size=1, max_size=3))
    factor = draw(st.integers(5, 50))
    projects = {
        pid: Project(pid, p.cost * factor) if pid in dear else p for pid, p in e.projects.items()
    }
    return replace(e, projects=projects)


@FAST
@given(
    st.one_of(dear_projects(), long_schedules()),
    st.integers(1, 40),
    st.integers(0, 12),
    st.fractions(0, 1),
    st.booleans(),
)
def test_budgets_within_the_limit_spend_at_most_it_in_between(
    e: Election, gap: int, cut: int, share: Fraction, give_up: bool
) -> None:
    """The add-one budget certificate: where the run at b2 says every budget between b1 and
    b2 spends at most a limit (``within``), each of them does (budgets an eighth of the gap
    apart, and a quarter of that, run in Fractions) and none funds every supported project;
    the run at b2 is still its whole outcome, as without a certificate. On bitsets (exact)
    and on arrays (floats, never within where the exact count is not). The path to certify
    is the run at b1's cut short (``cut`` rounds), so that the certificate fails at any
    round: what it certifies is still the rounds that passed."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    assume(arrays is not None and prep.candidates)
    assert arrays is not None
    key = tie_key_function(e, "pabutools", b"")
    b1 = e.budget / prep.n
    b2 = b1 * (1 + Fraction(gap, 8))
    low = mes_np.run_np(prep, arrays, b1, key, "pabutools", explain=False)
    spent = mes.total_cost(prep, low.selected)
    limit = spent + share * (sum(prep.cost.values(), Fraction(0)) - spent)
    on_arrays = mes_np.run_np(
        prep,
        arrays,
        b2,
        key,
        "pabutools",
        explain=False,
        certify=low.path[:cut],
        give_up=give_up,
        limit=limit,
    )
    on_bitsets = mes.run(prep, b2, key, "pabutools", certify=low.path[:cut], limit=limit)
    # (the arrays' floats count a project in reach where they cannot tell: never more often
    # within than the exact count)
    assert on_bitsets.within or not on_arrays.within
    if not on_bitsets.within:
        return
    assert not on_bitsets.certified
    assert on_arrays.within or give_up or on_arrays.path == on_bitsets.path
    everything = len(prep.candidates) + len(prep.free)
    for step in range(0, 4 * gap + 1):
        middle = mes.run(prep, b1 + (b2 - b1) * Fraction(step, 4 * gap), key, "pabutools")
        assert mes.total_cost(prep, middle.selected) <= limit
        assert len(middle.selected) < everything


def _span_arrays(e: Election, rows: bool) -> tuple[mes.Prepared, mes_np.Arrays]:
    """``e`` prepared, and its arrays (identical voters collapsed where ``rows``); an
    election the arrays cannot hold, or with no candidate, is not drawn."""
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    assume(arrays is not None and prep.candidates)
    assert arrays is not None
    return prep, _collapsed(prep, arrays) if rows else arrays


@contextlib.contextmanager
def _span_hooks(observe: Any, chunk: int) -> Iterator[None]:
    """``mes_span.within`` calling ``observe`` for every branch of every round, with
    merged bounds confirmed over chunks of ``chunk`` supporters; both as before after."""
    kept = mes_span.CHUNK
    mes_span._observe, mes_span.CHUNK = observe, chunk
    try:
        yield
    finally:
        mes_span._observe, mes_span.CHUNK = None, kept


def span_elections() -> st.SearchStrategy[Election]:
    """What the span proofs are tried on: dear projects, long schedules, near ties and
    cumulative ballots."""
    return st.one_of(
        dear_projects(), long_schedules(), near_tie_elections(), elections("cumulative")
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    span_elections(),
    st.integers(0, 40),
    st.integers(0, 16),
    st.fractions(0, 1),
    st.booleans(),
    st.sampled_from(["default", "pabutools"]),
)
def test_a_span_proved_within_the_limit_is_within_it_at_every_budget(
    e: Election, start: int, length: int, share: Fraction, rows: bool, tie: str
) -> None:
    """``mes_span.within``: where it proves a span of per-voter budgets within a limit, the
    exact run (in Fractions, on bitsets) at each of 33 budgets spread over the span spends at
    most the limit and funds less than every candidate. The limit is drawn from the most
    the span's two ends spend up to everything, so that the proof is often a close call; on
    the voters or on collapsed rows; with either tie-break (the proof holds for any)."""
    prep, arrays = _span_arrays(e, rows)
    key = tie_key_function(e, tie, b"\x01")
    b0 = e.budget / prep.n
    low = b0 * (1 + Fraction(start, 8))
    high = low * (1 + Fraction(length, 16))
    everything = len(prep.candidates) + len(prep.free)
    ends = [mes.run(prep, b, key, tie) for b in (low, high)]
    most = max(mes.total_cost(prep, r.selected) for r in ends)
    limit = most + share * (sum(prep.cost.values(), Fraction(0)) - most)
    proved = mes_span.within(prep, arrays, low, high, limit)
    event("proved" if proved else "not proved")
    if not proved:
        return
    for step in range(33):
        run = mes.run(prep, low + (high - low) * Fraction(step, 32), key, tie)
        assert mes.total_cost(prep, run.selected) <= limit
        assert len(run.selected) < everything


def _money_after_each_round(prep: mes.Prepared, run: RunResult) -> list[list[Fraction]]:
    """Every voter's exact money before the first round and after each round of ``run``
    (each supporter of the winner pays its share ``rho * utility``, or all it has)."""
    money = [run.b] * prep.n
    after = [list(money)]
    for r in run.rounds:
        for u, voters in zip(prep.utilities[r.project], prep.members[r.project], strict=True):
            for v in voters.tolist():
                money[v] -= min(money[v], r.rho * u)
        after.append(list(money))
    return after


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    span_elections(),
    st.integers(0, 40),
    st.integers(0, 16),
    st.integers(0, 16),
    st.booleans(),
    st.sampled_from(["default", "pabutools"]),
    st.sampled_from([mes_span.CHUNK, 1, 7]),
)
def test_every_run_in_a_span_stays_inside_its_brackets(
    e: Election, start: int, length: int, at: int, rows: bool, tie: str, chunk: int
) -> None:
    """What ``mes_span.within`` rests on, round by round: for a budget anywhere in the span,
    the exact run's funded projects after each round are a branch of the proof, every
    voter's (or row's) exact money lies between that branch's ``lo`` and ``hi``, and where
    the run stops, that branch may stop. Checked for every round the proof reaches (with no
    limit to stop it), with merged branches' bounds confirmed over the candidates in one
    chunk or in several (``mes_span.CHUNK``: a project each, or about 7 supporters)."""
    prep, arrays = _span_arrays(e, rows)
    row_of = np.arange(prep.n)
    weight = [1] * prep.n
    if rows:
        assert arrays.weight is not None
        row_of = np.repeat(np.arange(arrays.n), prep.ballot_counts)
        weight = arrays.weight.tolist()
    key = tie_key_function(e, tie, b"\x02")
    low = e.budget / prep.n * (1 + Fraction(start, 8))
    high = low * (1 + Fraction(length, 8))
    b = low + (high - low) * Fraction(at, 16)
    run = mes.run(prep, b, key, tie)
    money = _money_after_each_round(prep, run)
    funded = [frozenset(r.project for r in run.rounds[:k]) for k in range(len(run.rounds) + 1)]
    seen: dict[frozenset[str], list[tuple[np.ndarray, np.ndarray, bool]]] = {}
    bounds_checked = 0

    def observe(
        branch: frozenset[str], lo: np.ndarray, hi: np.ndarray, ends: bool, bound: dict[str, float]
    ) -> None:
        nonlocal bounds_checked
        seen.setdefault(branch, []).append((lo.copy(), hi.copy(), ends))
        # every bound is at most the price with ``hi``'s money, and a project left out of
        # reach (not funded) cannot be afforded with it
        money = [Fraction(float(x)) for x in hi]
        for pid in prep.candidates:
            if pid in branch:
                continue
            price = _price_with(money, arrays, pid, prep.cost[pid])
            if pid in bound:
                assert price is None or Fraction(bound[pid]) <= price
                bounds_checked += 1
            else:
                assert price is None

    everything = sum(prep.cost.values(), Fraction(0))
    with _span_hooks(observe, chunk):
        mes_span.within(prep, arrays, low, high, everything, nodes=400, width=64)
    checked = 0
    for k, branch in enumerate(funded):
        if branch not in seen:
            # the proof gave up before this round, or funded everything: nothing beyond
            assert not any(len(f) > k for f in seen)
            break
        (lo, hi, ends), *_ = seen[branch]
        for v in range(prep.n):
            row = int(row_of[v])
            exact = money[k][v] * weight[row]
            assert Fraction(float(lo[row])) <= exact <= Fraction(float(hi[row]))
        if k == len(run.rounds):
            assert ends  # the run stops here: so may the branch
        checked += 1
    event(f"rounds checked: {min(checked, 3)}+")
    event(f"bounds checked: {min(bounds_checked, 10)}+")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    span_elections(),
    st.integers(0, 40),
    st.integers(0, 16),
    st.booleans(),
)
def test_a_span_proof_does_not_depend_on_how_its_sums_are_chunked(
    e: Election, start: int, length: int, rows: bool
) -> None:
    """``mes_span.within`` confirms merged branches' bounds over chunks of candidates
    (``CHUNK``, for memory): every branch, bracket, bound and verdict is the same whether
    the candidates are summed all in one chunk, one per chunk, or about 7 supporters per
    chunk (each candidate's sum is over the same supporters in the same order)."""
    prep, arrays = _span_arrays(e, rows)
    low = e.budget / prep.n * (1 + Fraction(start, 8))
    high = low * (1 + Fraction(length, 8))
    everything = sum(prep.cost.values(), Fraction(0))

    def proof(chunk: int) -> tuple[bool, list[tuple[object, ...]]]:
        seen: list[tuple[object, ...]] = []

        def observe(
            branch: frozenset[str], lo: np.ndarray, hi: np.ndarray, ends: bool, bound: dict
        ) -> None:
            seen.append((branch, lo.tobytes(), hi.tobytes(), ends, sorted(bound.items())))

        with _span_hooks(observe, chunk):
            verdict = mes_span.within(prep, arrays, low, high, everything, nodes=400, width=64)
        return verdict, seen

    whole = proof(1 << 30)
    event(f"branches observed: {min(len(whole[1]), 20) // 5 * 5}+")
    assert proof(1) == whole
    assert proof(7) == whole


def _price_with(
    money: list[Fraction], arrays: mes_np.Arrays, pid: str, cost: Fraction
) -> Fraction | None:
    """The exact price of ``pid`` with its supporters' (rows') money ``money``: the least
    ``rho`` with ``sum min(money, rho * utility) >= cost``; None if they cannot afford it."""
    rows = arrays.sup[pid].tolist()
    utility = [int(k) * arrays.unit[pid] for k in arrays.ui[pid].tolist()]
    have = [money[r] for r in rows]
    if sum(have, Fraction(0)) < cost:
        return None
    paid, rest = Fraction(0), sum(utility, Fraction(0))
    for m, u in sorted(zip(have, utility, strict=True), key=lambda mu: mu[0] / mu[1]):
        rho = (cost - paid) / rest
        if m >= rho * u:
            return rho
        paid, rest = paid + m, rest - u
    raise AssertionError("unreachable: they hold the cost")  # pragma: no cover


def test_a_span_is_proved_where_outcomes_differ_yet_all_stay_within() -> None:
    """A proof needs no two budgets alike: from a voter's budget of 4 to 7 the outcome is c
    (cost 10), then a (40) from 6 on, and at 8 both (50). ``within`` proves 4 to 7 within
    40, but not within 39 (6 costs 40), and not 4 to 8 within 40."""
    e = Election(
        budget=Fraction(105),
        projects={
            "a": Project("a", Fraction(40)),
            "b": Project("b", Fraction(55)),
            "c": Project("c", Fraction(10)),
        },
        rules=BallotRules("approval"),
        ballots=(Ballot(("a", "c")),) + (Ballot(("a", "b", "c")),) * 4 + (Ballot(("a",)),) * 2,
    )
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    assert arrays is not None
    key = tie_key_function(e, "pabutools", b"")
    funded = [mes.run(prep, Fraction(b), key, "pabutools").selected for b in range(4, 9)]
    assert funded == [["c"], ["c"], ["a"], ["a"], ["a", "c"]]
    assert mes_span.within(prep, arrays, 4, 7, Fraction(40))
    assert not mes_span.within(prep, arrays, 4, 7, Fraction(39))
    assert not mes_span.within(prep, arrays, 4, 8, Fraction(40))
    with pytest.raises(ValueError):
        mes_span.within(prep, arrays, 7, 4, Fraction(40))


@settings(max_examples=20, deadline=None)
@given(elections(), st.booleans())
def test_add_one_beyond_floats_range_is_still_exact(e: Election, huge: bool) -> None:
    """Money a float cannot hold (overflow, or precision lost below 1e-250): the search runs
    exact probes instead of filtered ones. Tiny money: the same outcome as stepping every
    budget; huge money (10**400, where stepping one unit at a time never ends): the outcome
    is the exact run at its budget, and one unit more goes over the budget."""
    scale = Fraction(10**400) if huge else Fraction(1, 10**300)
    projects = {pid: Project(pid, p.cost * scale) for pid, p in e.projects.items()}
    e = replace(e, projects=projects, budget=e.budget * scale)
    prep = mes.prepare(e)
    assert mes_np.arrays_of(prep) is None
    key = tie_key_function(e, "pabutools", b"")
    fast = mes.add_one(prep, e.budget, key, "pabutools", fast=True)
    if not huge:
        slow = mes.add_one(prep, e.budget, key, "pabutools", fast=False)
        assert fast.final.selected == slow.final.selected
        return
    b = fast.final.b
    assert mes.run(prep, b, key, "pabutools").selected == fast.final.selected
    if fast.stopped_by.endswith("goes over"):
        after = mes.run(prep, b + 1 if b.denominator == 1 else math.floor(b) + 1, key, "pabutools")
        assert mes.total_cost(prep, after.selected) > e.budget


@FAST
@given(
    st.one_of(elections(), elections("cumulative"), elections("ordinal"), elections("choose-1")),
    st.lists(st.fractions(min_value=0, max_value=5, max_denominator=7), min_size=1, max_size=6),
    st.booleans(),
)
def test_project_scores_are_the_exact_sums_of_ballot_points(
    e: Election, scale: list[Fraction], fractional: bool
) -> None:
    """The integer fast paths of ``project_scores`` equal summing every ballot's points."""
    from dataclasses import replace

    from app.tally.model import ballot_points
    from app.tally.rules.common import project_scores

    if fractional:  # fractional points and rank scales take the general path
        if e.rules.kind == "ordinal":
            e = replace(e, rules=replace(e.rules, rank_points=tuple(scale)))
        elif e.rules.kind == "cumulative":
            ballots = tuple(
                Ballot(b.projects, tuple(p / 3 for p in b.points or ())) for b in e.ballots
            )
            e = replace(e, ballots=ballots)
    naive = dict.fromkeys(e.projects, Fraction(0))
    supporters = dict.fromkeys(e.projects, 0)
    for ballot in e.ballots:
        for pid, points in zip(ballot.projects, ballot_points(e.rules, ballot), strict=True):
            naive[pid] += points
            supporters[pid] += 1
    assert project_scores(e) == (naive, supporters)


def test_bounds_are_dropped_where_the_runs_part_ways() -> None:
    """At 10 a voter, A (three supporters, cost 28) wins first and leaves its supporters too
    little for C or D, which are out of money there; at 9 A is out of reach, C and D win. A
    run at 9 given the bounds of the run at 10 may use them only while both picked the same
    winners: after the first round D is out of money at 10, not at 9."""
    projects = {
        "A": Project("A", Fraction(28)),
        "B": Project("B", Fraction(5)),
        "C": Project("C", Fraction(2)),
        "D": Project("D", Fraction(3)),
    }
    ballots = (
        Ballot(("A", "C", "D")),
        Ballot(("A", "C", "D")),
        Ballot(("A",)),
        Ballot(("B",)),
    )
    e = Election(
        budget=Fraction(40), projects=projects, rules=BallotRules("approval"), ballots=ballots
    )
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    assert arrays is not None
    key = tie_key_function(e, "pabutools", b"")
    high = mes_np.run_np(
        prep, arrays, Fraction(10), key, "pabutools", explain=False, keep_bounds=True
    )
    assert [w for w, _ in high.path] == ["A", "B"]
    low = mes_np.run_np(prep, arrays, Fraction(9), key, "pabutools", explain=False, above=high)
    exact = mes.run(prep, Fraction(9), key, "pabutools")
    assert sorted(exact.selected) == ["B", "C", "D"]
    assert (low.selected, low.path) == (exact.selected, exact.path)


@FAST
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 4), st.randoms())
def test_distinct_columns_are_numpys_unique(rows: int, cols: int, top: int, rng: Any) -> None:
    """The payment histories' grouping (``_distinct_columns``) is ``np.unique`` over the
    columns, counts included."""
    table = np.array(
        [[rng.randint(0, top) for _ in range(cols)] for _ in range(rows)], dtype=np.uint16
    )
    keys, counts = mes_np._distinct_columns(table)
    expected, expected_counts = np.unique(table.T, axis=0, return_counts=True)
    assert np.array_equal(keys, expected)
    assert counts == expected_counts.tolist()


def test_primes() -> None:
    assert mes_np._primes(10).tolist() == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert len(mes_np._primes(5000)) == 5000 and mes_np._primes(5000)[-1] == 48611


@FAST
@given(st.integers(1, 3000), st.randoms())
def test_bitsets_from_compact_arrays_are_the_same(n: int, rng: Any) -> None:
    """``prepare``'s voters in an ``array('i')`` make the bitset that a list of them makes
    (numpy packs the bits of the long ones)."""
    from array import array

    voters = sorted(rng.sample(range(n), rng.randint(0, n)))
    expected = sum(1 << v for v in voters)
    assert mes._bitset(array("i", voters), n) == expected
    assert mes._bitset(voters, n) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    elections(max_projects=9),
    st.sampled_from(["default", "pabutools"]),
    st.integers(0, 4),
    st.booleans(),
)
def test_utilitarian_is_the_best_set_by_brute_force(
    e: Election, tie: str, unvoted: int, free: bool
) -> None:
    """``utilitarian`` funds, of every set within the budget, one with the most approvals,
    and of those the one whose projects, in the tie-break's order, come first (a set that
    begins another comes first): checked against all the sets, with projects nobody voted
    for and a free project added (equally good sets abound then)."""
    from itertools import combinations

    projects = dict(e.projects)
    for i in range(unvoted):
        projects[f"z{i}"] = Project(f"z{i}", Fraction(1 + i % 3))
    if free:
        projects["f"] = Project("f", Fraction(0))
    e = replace(e, projects=projects)
    votes = {pid: sum(pid in b.projects for b in e.ballots) for pid in projects}
    key = tie_key_function(e, tie, b"")
    rank = {pid: i for i, pid in enumerate(sorted(projects, key=key))}
    items = [p for p in projects if 0 < projects[p].cost <= e.budget]
    best: tuple[int, tuple[int, ...]] | None = None
    for size in range(len(items) + 1):
        for subset in combinations(items, size):
            if sum(projects[p].cost for p in subset) > e.budget:
                continue
            candidate = (-sum(votes[p] for p in subset), tuple(sorted(rank[p] for p in subset)))
            if best is None or candidate < best:
                best = candidate
    assert best is not None
    outcome = tally(e, "utilitarian", tie_break=tie)
    zero = tuple(sorted((p for p in projects if projects[p].cost == 0), key=rank.__getitem__))
    chosen = tuple(sorted((p for p in items if rank[p] in best[1]), key=rank.__getitem__))
    assert outcome.selected == zero + chosen
    assert outcome.details["total_approvals"] == -best[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(1, 40), st.sampled_from([1, 2, 3, 10]), st.integers(0, 6)),
        max_size=11,
    ),
    st.integers(0, 120),
    st.sampled_from([1, 2, 4]),
    st.lists(st.booleans(), max_size=11),
)
def test_utilitarian_by_values_and_by_branch_and_bound_agree_with_every_set(
    items: list[tuple[int, int, int]], room: int, room_denominator: int, exact: list[bool]
) -> None:
    """The two ways ``utilitarian`` answers the knapsack (branch and bound, and dynamic
    programming over values past the branch and bound's share of work) find the best total
    of all the sets and
    take the same items: in the tie-break order (here the list's), each taken where some
    best set holds it with those taken before and none left out. Costs are fractions,
    some votes 0, many sets equally good; half the budgets are what some set costs exactly
    (a set that just fits must be taken)."""
    from itertools import combinations

    cost = [Fraction(c, d) for c, d, _ in items]
    value = [v for _, _, v in items]
    budget = Fraction(room, room_denominator)
    if room % 2 and any(exact):
        budget = sum((c for c, pick in zip(cost, exact, strict=False) if pick), Fraction(0))
    fits = [i for i in range(len(items)) if cost[i] <= budget]  # (as utilitarian's items)
    cost, value = [cost[i] for i in fits], [value[i] for i in fits]
    n = len(cost)
    best: tuple[int, tuple[int, ...]] | None = None
    for size in range(n + 1):
        for subset in combinations(range(n), size):
            if sum(cost[i] for i in subset) <= budget:
                candidate = (-sum(value[i] for i in subset), subset)
                best = candidate if best is None or candidate < best else best
    assert best is not None  # (the best total, then the first set in the list's order)
    answer = utilitarian.by_values(cost, value, budget)
    assert answer is not None
    total, taken = answer
    assert (total, tuple(taken)) == (-best[0], best[1])
    by_ratio = sorted(range(n), key=lambda i: (-Fraction(value[i]) / cost[i], i))
    where = {i: k for k, i in enumerate(by_ratio)}
    bb_total, bb_taken = utilitarian.by_branch_and_bound(
        [cost[i] for i in by_ratio],
        [value[i] for i in by_ratio],
        [where[i] for i in range(n)],
        budget,
    )
    assert (bb_total, sorted(by_ratio[k] for k in bb_taken)) == (total, taken)


def utilitarian_within_20_s(e: Election) -> Outcome:
    """``utilitarian``'s outcome, or a failure if it has not ended after 20 s (a guard
    against runs that never end, not a speed target: these take well under a second)."""

    def stuck(*_: object) -> None:
        raise TimeoutError("utilitarian ran for over 20 s")

    before = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    try:
        return tally(e, "utilitarian", tie_break="default")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def test_utilitarian_is_quick_where_votes_follow_costs() -> None:
    """Eighty projects whose votes are their costs over ten (a subset sum: the branch and
    bound's relaxation prunes little, and it ran for minutes) are counted by values, to the
    best total an independent count over values finds."""
    rng = random.Random(2)
    costs = [rng.randint(100, 1000) for _ in range(80)]
    budget = sum(costs) // 2 + 37
    projects = {f"p{i}": Project(f"p{i}", Fraction(c)) for i, c in enumerate(costs)}
    ballots = tuple(Ballot((f"p{i}",)) for i, c in enumerate(costs) for _ in range(c // 10))
    e = Election(Fraction(budget), projects, BallotRules("approval"), ballots)
    least: dict[int, int] = {0: 0}  # total votes -> least cost
    for c in costs:
        for v, spent in list(least.items()):
            if spent + c <= budget and least.get(v + c // 10, budget + 1) > spent + c:
                least[v + c // 10] = spent + c
    outcome = utilitarian_within_20_s(e)
    assert outcome.details["total_approvals"] == max(least)
    assert outcome.cost <= budget


def test_utilitarian_is_quick_where_many_projects_have_no_vote() -> None:
    """Sixty projects nobody voted for and a budget that fits many of them: equally good sets
    are never enumerated (walking them all never ended)."""
    projects = {f"z{i:02}": Project(f"z{i:02}", Fraction(1 + i % 7)) for i in range(60)}
    projects |= {f"p{i}": Project(f"p{i}", Fraction(10 + i)) for i in range(8)}
    ballots = tuple(Ballot((f"p{i % 8}", f"p{(i * 3) % 8}")) for i in range(10))
    e = Election(Fraction(150), projects, BallotRules("approval"), ballots)
    outcome = utilitarian_within_20_s(e)  # (it enumerated equally good sets, for ever)
    assert outcome.cost <= 150 and outcome.details["total_approvals"] == 20


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 4)), max_size=40),
    st.integers(1, 9),
    st.randoms(),
)
def test_ranges_are_the_same_however_they_are_chunked(
    ranges: list[tuple[int, int]], chunk: int, rng: Any
) -> None:
    """``prepare``'s ranges of voters (built ``chunk`` ranges at a time, to keep temporaries
    small) are the ranges one after another, for any choice and order of them."""
    starts = np.array([a for a, _ in ranges], dtype=np.intp)
    lengths = np.array([k for _, k in ranges], dtype=np.int32)
    which = np.array(rng.choices(range(len(ranges)), k=rng.randint(0, 30)) if ranges else [])
    which = which.astype(np.int32)
    expected = [v for i in which.tolist() for v in range(ranges[i][0], sum(ranges[i]))]
    got = mes._ranges(starts, lengths, which, chunk)
    assert got.dtype == np.intp and got.tolist() == expected


@FAST
@given(
    st.one_of(elections(), elections("cumulative"), elections("ordinal"), elections("choose-1")),
    st.randoms(),
)
def test_packed_ballots_give_back_the_ballots(e: Election, rng: Any) -> None:
    """Counting packs the distinct ballots into flat arrays (``model.Counted``): they come
    back equal, in order, with points or none as they were, and with their votes."""
    from collections import Counter

    from app.tally.model import count_ballots

    shared = {b: b for b in e.ballots}
    voters = [shared[b] for b in rng.choices(e.ballots, k=3 * len(e.ballots))] + [
        Ballot(b.projects)
        for b in e.ballots[:3]  # (mixed with ballots without points)
    ]
    counted = count_ballots(voters)
    assert list(counted.distinct) == list({id(b): b for b in voters}.values())
    assert sum(counted.counts) == len(voters)
    merged: Counter[Ballot] = Counter()
    for ballot, n in counted:
        merged[ballot] += n
    assert merged == Counter(voters)
    votes = Counter(pid for b in voters for pid in b.projects)
    assert dict(zip(counted.ids, counted.votes(), strict=True)) == votes


def test_rows_are_distinct_ballots_or_signatures() -> None:
    """Collapsed rows: one per distinct ballot object (what the readers share), or, by
    signature, one per set of voters who give every project the same (here also the equal
    ballot read as a separate object, and the one listing the same projects in another
    order). Both stand for every voter and every unit of utility; where there are too many
    distinct ballots, the signatures are used."""
    shared = Ballot(("A", "C"))
    projects = {p: Project(p, Fraction(10)) for p in "ABC"}
    separate = (Ballot(("A", "C")), Ballot(("A", "C")), Ballot(("C", "A")), Ballot(("B",)))
    voters = (shared, shared, shared, *separate)
    e = Election(
        budget=Fraction(30), projects=projects, rules=BallotRules("approval"), ballots=voters
    )
    prep = mes.prepare(e)
    arrays = mes_np.arrays_of(prep)
    assert arrays is not None
    by_ballot = _collapsed(prep, arrays)
    by_signature = _collapsed(prep, arrays, by_signature=True)
    assert sorted(by_ballot.weight.tolist()) == [1, 1, 1, 1, 3]
    assert sorted(by_signature.weight.tolist()) == [1, 6]
    for pid in "ABC":
        assert by_ballot.ui[pid].sum() == by_signature.ui[pid].sum() == arrays.ui[pid].sum()
    rows = mes_np.collapsed(prep, arrays)  # 5 distinct ballots of 7 voters: too many,
    assert rows is not None and rows.n == 2  # so by signature, which leaves 2
