"""Equal shares on numpy arrays, exact by a sum over rounds (ADR 0003).

The same algorithm, decisions and outcome as ``mes.run`` (which stays the reference, in
``Fraction``s), with voters as arrays instead of classes of voters:

* a voter either pays its full share in a round (``rho * u``) or all it has left, and then
  has nothing for good. So the money of a voter that still has some is exactly
  ``b - sum(rho_r * u_r over the rounds r in which it paid its share)``. A row per round
  records who paid a share (as integer utility units), and the exact money of any set of
  voters is ``|set| * b - sum_r pay_r * (units of the set in row r)``: vectorised counts and
  one rational product per round, in ``Fraction``s;
* money is also kept as floats, with a bound ``err`` on their error (each round adds at most
  four roundings of numbers no larger than ``b``). A price is proposed by a float fixed
  point (supporters poorer than a lower bound of the price pay all they have; ``(cost -
  their money) / (utility of the others)`` is a higher lower bound; repeat until nobody
  changes side), the supporters within the error bound of it are walked exactly, in exact
  order, and the floats' sides of all the others are confirmed exactly (if not, every
  supporter is walked exactly): the price returned is the exact one, always;
* every price of an explained run is exact (as in ``mes.run``), so the evaluations, ties,
  the last price seen of each project and the shortfalls are those of ``mes.run``, decision
  for decision (a Hypothesis property checks it, also with the floats moved anywhere within
  half their error bound). The add-one search's probes (``explain`` false) only bracket
  prices in floats and compute the exact ones where a decision needs them.

The add-one search's probes may run on collapsed rows (``collapsed``: identical voters as
one row of that many times one voter's money and utilities, the same decisions) and take
lower bounds from a run at a higher budget (``run_np``'s ``above``).

Used when every utility is an integer number of units (costs for approval and choose-1
ballots, integer points otherwise) and the money fits floats' safe range; otherwise
``mes.run`` counts in ``Fraction``s alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from app.tally.rules.mes import Payment, Prepared, Round, RunResult, _beats_all, _payment_order
from app.tally.tiebreak import TieKey, describe_tie

EPS = 2.0**-53
SAFETY = 16.0
TINY, HUGE = 1e-200, 1e200
BRACKET = 1e-9  # a float price is bracketed within this relative distance, or taken exactly
ZERO = Fraction(0)
#: tests only: called as ``_jitter(money, alive, err)`` after every round, to move the floats
#: anywhere within their error bound (the decisions must not change); ``err`` is per row
#: (an array) where rows are collapsed voters
_jitter: Callable[[np.ndarray, np.ndarray, Any], None] | None = None


@dataclass
class Arrays:
    """The election as arrays: per project its supporters (voter indices, grouped by utility
    value), their utilities as floats and as integer units (a read-only view of one number where
    all its supporters give the same utility), and the value of a unit."""

    n: int
    sup: dict[str, np.ndarray]
    uf: dict[str, np.ndarray]
    ui: dict[str, np.ndarray]
    unit: dict[str, Fraction]
    #: project -> [(utility, start, end)]: slices of ``sup`` with that utility
    slices: dict[str, list[tuple[Fraction, int, int]]]
    cost_f: dict[str, float]
    row_type: Any
    #: project -> (utility as a float, in units) when all its supporters give the same (as
    #: with cost utilities): its supporters' utilities need no gathering
    flat: dict[str, tuple[float, int]]
    #: with identical voters collapsed (``collapsed``): how many voters each row stands for
    #: (its money and utilities are that many times one voter's), else None
    weight: np.ndarray | None = None
    #: project -> the least utility of one of its voters, as a float (for error bounds)
    umin: dict[str, float] | None = None


#: a project's supporters with money left, as ``run_np``'s ``supporters`` finds them
Found = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float, int]


def _fixed_point(
    ratio: np.ndarray,
    u: np.ndarray,
    m: np.ndarray,
    cost: float,
    total_u: float,
    start: float = 0.0,
) -> tuple[float, np.ndarray, float]:
    """A float price and the supporters poorer than it (money per utility ``ratio``, money
    ``m``, utility ``u``): with those poorer than a lower bound of the price paying all they
    have, ``(cost - their money) / (utility of the others)`` is a higher lower bound (every
    split of the supporters gives one, the true split the price); repeat until nobody changes
    side. The poor only ever grow (in exact arithmetic the price only rises as they do; the
    floats' rounding could otherwise make two sets take turns for ever), so this ends within
    as many rounds as there are supporters. Also returns the utility of the others (sums
    over a mask as dot products: several times faster than selecting first). ``start``: a
    lower bound of the price already known (``mes_span``), where the poor begin: fewer
    steps."""
    guess = cost / total_u  # (nobody poorer: everyone pays an equal share)
    poor = ratio < max(guess, start)
    count = int(np.count_nonzero(poor))
    rest_u = total_u
    while count:
        weights = poor.astype(np.float64)
        rest_u = total_u - float(u @ weights)
        if rest_u <= 0:
            break
        guess = (cost - float(m @ weights)) / rest_u
        again = poor | (ratio < guess)
        grown = int(np.count_nonzero(again))
        if grown == count:
            break
        poor, count = again, grown
    return guess, poor, rest_u


class Ledger:
    """The exact money of one run's voters: the budget is ``whole / scale``, and round ``r``
    took ``ints[r] / scale`` per unit of utility from the voters with ``rows[r, voter]``
    units (those who paid their share; the round's other supporters paid all they had and
    have nothing left). Sums of many terms cost one ``Fraction`` at the end, not one per
    term."""

    __slots__ = ("whole", "scale", "ints", "rows", "weight")

    def __init__(self, b: Fraction, rows: np.ndarray, weight: np.ndarray | None) -> None:
        self.whole = b.numerator
        self.scale = b.denominator
        self.ints: list[int] = []  # per round: what one unit of utility paid, over ``scale``
        self.rows = rows
        self.weight = weight

    def sum(self, voters: np.ndarray) -> Fraction:
        """The exact money of ``voters`` (all with money left) together."""
        weight = self.weight
        total = (len(voters) if weight is None else int(weight[voters].sum())) * self.whole
        r = len(self.ints)
        if r and len(voters):
            units = self.rows[:r, voters].sum(axis=1, dtype=np.int64).tolist()
            total -= sum(a * k for a, k in zip(self.ints, units, strict=True) if k)
        return Fraction(total, self.scale)

    def one(self, voter: int) -> Fraction:
        total = self.whole if self.weight is None else self.whole * int(self.weight[voter])
        r = len(self.ints)
        if r:
            units = self.rows[:r, voter].tolist()
            total -= sum(a * k for a, k in zip(self.ints, units, strict=True) if k)
        return Fraction(total, self.scale)

    def signed(self, signatures: np.ndarray) -> tuple[list[int], int]:
        """The exact money of voters who paid (by round, in units) as in each row of
        ``signatures``: numerators over one common denominator, and that denominator."""
        paid = signatures.astype(object) @ np.array(self.ints, dtype=object)
        return [self.whole - int(x) for x in paid.tolist()], self.scale

    def append(self, pay: Fraction) -> None:
        """The next round took ``pay`` per unit of utility."""
        q = pay.denominator
        if self.scale % q:
            factor = q // math.gcd(self.scale, q)
            self.scale *= factor
            self.whole *= factor
            self.ints[:] = [a * factor for a in self.ints]
        self.ints.append(pay.numerator * (self.scale // q))


#: who pays a project if it wins: (the poor, who pay all they have; the rich, who pay their
#: share; the rich's utility units)
Split = tuple[np.ndarray, np.ndarray, np.ndarray]


def exact_price(
    ledger: Ledger,
    c: Fraction,
    cf: float,
    one: Fraction,
    found: Found,
    err: float,
    heads: int,
    reuse: tuple[float, np.ndarray, float] | None = None,
) -> tuple[Fraction | None, Any]:
    """The exact price of a project of cost ``c`` (``cf`` as a float; a unit of utility is
    worth ``one``) whose supporters with money are ``found``, and who pays it; or None and
    the shortfall if they cannot afford it. ``err`` bounds the error of each voter's float
    money, ``heads`` is how many voters ``found`` stands for, ``reuse`` a bracket's float
    price, poor mask and utility of the others.

    Floats first (``_fixed_point``); then the supporters whose float ratio is within the
    error bound of that price are walked exactly, in exact order, between the surely poor
    and the surely rich, whose sides are confirmed exactly."""
    voters, u, units, m, ratio, total_u, u_min, total_units = found
    k = len(voters)
    # the common case first: everyone can pay an equal share of the cost per utility (a
    # probe's bracket has ruled it out in floats: the walk below finds it anyway)
    if reuse is None:
        low = float(ratio.min())
        everyone_pays = c / (total_units * one)
        if Fraction(low - 2 * (err / u_min + 4 * EPS * low)) >= everyone_pays:
            return everyone_pays, (voters[:0], voters, units)
    total_m = float(m.sum())
    slack = SAFETY * ((heads + 2) * err + (k + 4) * EPS * (cf + total_m))
    if total_m + slack < cf:  # unaffordable, as the exact sum confirms
        have = ledger.sum(voters)
        if have < c:
            return None, c - have
        return _walk(ledger, c, one, voters, units, None, None)
    guess, poor, rest_u = _fixed_point(ratio, u, m, cf, total_u) if reuse is None else reuse
    spread = slack / max(rest_u, u_min) + (SAFETY * 4 * EPS * guess)
    # |float ratio - exact ratio| <= err / u + 4 * EPS * ratio <= e_u + 4 * EPS * ratio:
    # voters within SAFETY times that (plus ``spread``) of the float price are unsure
    e_u = err / u_min
    sure_poor = ratio < (guess - SAFETY * e_u - spread) / (1 + 8 * SAFETY * EPS)
    sure_rich = ratio > (guess + SAFETY * e_u + spread) / (1 - 8 * SAFETY * EPS)
    poor_count = int(np.count_nonzero(sure_poor))
    rich_count = int(np.count_nonzero(sure_rich))
    rho, detail = _walk(ledger, c, one, voters, units, sure_poor, sure_rich)
    if rho is None:
        return None, detail
    # the floats' sides, confirmed exactly (else every supporter is taken exactly);
    # ``float(rho)`` is within a rounding of ``rho``: exact comparisons only where the
    # floats are that close
    rf = float(rho)
    if poor_count:
        top = float(ratio[sure_poor].max())
        edge = top + 2 * (e_u + 4 * EPS * top)
        if not (edge < rf * (1 - 4 * EPS) or (edge <= rf * (1 + 4 * EPS) and Fraction(edge) < rho)):
            return _walk(ledger, c, one, voters, units, None, None)
    if rich_count:
        bottom = float(ratio[sure_rich].min())
        edge = bottom - 2 * (e_u + 4 * EPS * bottom)
        if not (
            edge > rf * (1 + 4 * EPS) or (edge >= rf * (1 - 4 * EPS) and Fraction(edge) >= rho)
        ):
            return _walk(ledger, c, one, voters, units, None, None)
    return rho, detail


def _walk(
    ledger: Ledger,
    c: Fraction,
    one: Fraction,
    voters: np.ndarray,
    units: np.ndarray,
    poor: np.ndarray | None,
    rich: np.ndarray | None,
) -> tuple[Fraction | None, Any]:
    """The exact price of a project of cost ``c`` with the supporters ``voters`` in ``poor``
    (a mask over them) paying all they have, those in ``rich`` their share, and the others
    walked in exact order of money per utility between them, as ``mes.run`` walks (with
    ``poor`` and ``rich`` None, every supporter is walked); who pays it; or None and the
    shortfall if they cannot afford it."""
    walked_all = poor is None or rich is None
    if poor is None or rich is None:
        poor = rich = np.zeros(len(voters), dtype=bool)
    poor_voters = voters[poor]
    rich_voters = voters[rich]
    rich_units = units[rich]
    paid = ledger.sum(poor_voters)
    left_units = int(rich_units.sum())
    middle: list[tuple[Fraction, int, int]] = []
    taken = 0
    unsure = ~(poor | rich)
    if unsure.any():
        left_units += int(units[unsure].sum())
        middle = [
            (ledger.one(w), units_j, w)
            for w, units_j in zip(voters[unsure].tolist(), units[unsure].tolist(), strict=True)
        ]
        middle.sort(key=lambda item: item[0] / item[1])
        for v, units_j, _ in middle:
            if (c - paid) * units_j <= v * left_units:
                break  # its share (c - paid) / (left * one) * (units_j * one) is within v
            paid += v
            left_units -= units_j
            taken += 1
    if left_units == 0:
        if paid >= c and not walked_all:  # the floats' poor could in fact pay: take all exactly
            return _walk(ledger, c, one, voters, units, None, None)
        return None, c - paid
    if not middle:  # nobody was walked: the floats' sides are the split
        return (c - paid) / (left_units * one), (poor_voters, rich_voters, rich_units)
    taken_voters = np.array([w for _, _, w in middle[:taken]], dtype=np.intp)
    kept_voters = np.array([w for _, _, w in middle[taken:]], dtype=np.intp)
    kept_units = np.array([k for _, k, _ in middle[taken:]], dtype=units.dtype)
    split = (
        np.concatenate([poor_voters, taken_voters]),
        np.concatenate([kept_voters, rich_voters]),
        np.concatenate([kept_units, rich_units]),
    )
    return (c - paid) / (left_units * one), split


def arrays_of(prep: Prepared) -> Arrays | None:
    """The arrays of the election, or None if a utility is not a whole number of units or a
    cost, utility or budget is outside floats' safe range (then ``mes.run`` counts)."""
    sup: dict[str, np.ndarray] = {}
    uf: dict[str, np.ndarray] = {}
    ui: dict[str, np.ndarray] = {}
    unit: dict[str, Fraction] = {}
    slices: dict[str, list[tuple[Fraction, int, int]]] = {}
    biggest = 1
    if any(not TINY < c < HUGE for c in prep.cost.values() if c):
        return None
    for pid in prep.candidates:
        cost = prep.cost[pid]
        parts: list[np.ndarray] = []
        units: list[int] = []
        spans: list[tuple[Fraction, int, int]] = []
        start = 0
        one = cost if prep.cost_utilities else Fraction(1)
        for u, idx in zip(prep.utilities[pid], prep.members[pid], strict=True):
            if prep.cost_utilities:
                k = 1
            else:
                if u.denominator != 1 or not 0 < u < 2**31:
                    return None
                k = u.numerator
            parts.append(idx)
            units.append(k)
            spans.append((u, start, start + len(idx)))
            start += len(idx)
            biggest = max(biggest, k)
        if len(parts) == 1:  # (as with cost utilities: ``prepare``'s own array, no copy)
            sup[pid] = parts[0]
        else:
            sup[pid] = np.concatenate(parts) if parts else np.zeros(0, np.intp)
        if len(units) == 1:  # one utility (as with cost utilities): a view, no memory
            ui[pid] = np.broadcast_to(np.int64(units[0]), (start,))
            uf[pid] = np.broadcast_to(np.float64(units[0]) * float(one), (start,))
        else:
            counts = [end - begin for _, begin, end in spans]
            ui[pid] = np.repeat(np.array(units, dtype=np.int64), counts)
            uf[pid] = ui[pid].astype(np.float64) * float(one)
        unit[pid] = one
        slices[pid] = spans
    row_type = np.uint8 if biggest < 2**8 else np.uint16 if biggest < 2**16 else np.uint32
    return Arrays(
        n=prep.n,
        sup=sup,
        uf=uf,
        ui=ui,
        unit=unit,
        slices=slices,
        cost_f={pid: float(prep.cost[pid]) for pid in prep.candidates},
        row_type=row_type,
        flat={
            pid: (float(uf[pid][0]), int(ui[pid][0]))
            for pid in prep.candidates
            if len(slices[pid]) == 1 and len(sup[pid])
        },
    )


def _primes(count: int) -> np.ndarray:
    """The first ``count`` primes, as floats."""
    limit = max(16, int(count * (math.log(count + 2) + math.log(math.log(count + 2)) + 2)))
    sieve = np.ones(limit, dtype=bool)
    sieve[:2] = False
    for p in range(2, math.isqrt(limit) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)[:count].astype(np.float64)


#: collapse identical voters only where it leaves at most this share of the rows
COLLAPSE_SHARE = 0.7


def collapsed(prep: Prepared, arrays: Arrays, *, by_signature: bool = False) -> Arrays | None:
    """``arrays`` with voters who give every project the same utility as one row each, that
    row's money and utilities being that many times one voter's (in equal shares such voters
    pay alike in every round, so a row is one voter of the same money per utility: every
    decision is the same); None where that saves too little (see ``COLLAPSE_SHARE``). Only for
    runs without payments (the add-one search's probes): the explanation is per voter.

    The rows are the distinct ballots (``prepare`` numbers voters by them, and keeps each
    group's: nothing to compute) where they are few enough; else, or ``by_signature``, voters
    are compared by what they give every project (ballots equal but read as separate objects,
    as an election built by hand may have them)."""
    n = arrays.n
    if not n or not prep.candidates:
        return None
    if not by_signature and len(prep.ballot_counts) <= COLLAPSE_SHARE * n:
        weight = prep.ballot_counts.astype(np.int64)
        rows_of: Callable[[str], list[np.ndarray]] = prep.ballots_of.__getitem__
    else:
        found = _signature_rows(prep, arrays)
        if found is None:
            return None
        weight, rows_of = found
    sup: dict[str, np.ndarray] = {}
    uf: dict[str, np.ndarray] = {}
    ui: dict[str, np.ndarray] = {}
    slices: dict[str, list[tuple[Fraction, int, int]]] = {}
    umin: dict[str, float] = {}
    biggest = 1
    for pid in prep.candidates:
        parts, units, spans = [], [], []
        start = 0
        for (u, begin, _), rows in zip(arrays.slices[pid], rows_of(pid), strict=True):
            parts.append(rows)
            units.append(weight[rows] * int(arrays.ui[pid][begin]))
            spans.append((u, start, start + len(rows)))
            start += len(rows)
        # (as numpy's own index type: indexing with any other converts on every use)
        sup[pid] = (
            np.concatenate(parts).astype(np.intp, copy=False) if parts else np.zeros(0, np.intp)
        )
        ui[pid] = np.concatenate(units) if units else np.zeros(0, dtype=np.int64)
        uf[pid] = ui[pid].astype(np.float64) * float(arrays.unit[pid])
        slices[pid] = spans
        umin[pid] = float(arrays.uf[pid].min()) if len(arrays.uf[pid]) else 1.0
        if len(ui[pid]):
            biggest = max(biggest, int(ui[pid].max()))
    if biggest >= 2**53:  # pragma: no cover - units beyond floats' integers: not worth it
        return None
    row_type: Any = np.uint8 if biggest < 2**8 else np.uint16 if biggest < 2**16 else np.uint32
    if biggest >= 2**32:  # pragma: no cover - (a row of over four billion voter-units)
        row_type = np.uint64
    return Arrays(
        n=len(weight),
        sup=sup,
        uf=uf,
        ui=ui,
        unit=arrays.unit,
        slices=slices,
        cost_f=arrays.cost_f,
        row_type=row_type,
        flat={},
        weight=weight,
        umin=umin,
    )


def _signature_rows(
    prep: Prepared, arrays: Arrays
) -> tuple[np.ndarray, Callable[[str], list[np.ndarray]]] | None:
    """Voters who give every project the same utility, found by comparing what they give:
    how many each row stands for, and per project the rows of each of its groups; None where
    that saves too little."""
    n = arrays.n
    # first, cheaply, how many there might be: voters alike have equal sums of the square
    # roots of distinct primes, one per (project, utility) (voters not alike share a sum
    # only by a rounding fluke, which at worst sends the exact count below more work)
    draws = np.sqrt(_primes(sum(len(arrays.slices[p]) for p in prep.candidates)))
    sums = np.zeros(n)
    d = 0
    for pid in prep.candidates:
        for _, start, end in arrays.slices[pid]:
            sums[arrays.sup[pid][start:end]] += draws[d]
            d += 1
    order = np.argsort(sums, kind="stable")  # (not np.unique: its first call imports numpy
    # modules, 40 ms)
    ranked_sums = sums[order]
    if 1 + np.count_nonzero(ranked_sums[1:] != ranked_sums[:-1]) > COLLAPSE_SHARE * n:
        return None
    most = max(len(prep.utilities[pid]) for pid in prep.candidates)
    sig = np.zeros((n, len(prep.candidates)), dtype=np.uint8 if most < 2**8 else np.uint32)
    for j, pid in enumerate(prep.candidates):
        for g, (_, start, end) in enumerate(arrays.slices[pid], start=1):
            sig[arrays.sup[pid][start:end], j] = g
    # alike voters have equal sums: sorted by them, alike rows are neighbours (rows not alike
    # with equal sums, a fluke, can only split a set of alike rows in two, which is harmless)
    ranked = sig[order]
    del sig
    change = np.ones(n, dtype=bool)
    np.any(ranked[1:] != ranked[:-1], axis=1, out=change[1:])
    del ranked
    count = int(np.count_nonzero(change))
    if count > COLLAPSE_SHARE * n:
        return None
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(change) - 1
    weight = np.bincount(inverse, minlength=count).astype(np.int64)
    mark = np.zeros(count, dtype=bool)

    def rows_of(pid: str) -> list[np.ndarray]:
        out = []
        for _, begin, end in arrays.slices[pid]:
            mark[inverse[arrays.sup[pid][begin:end]]] = True
            rows = np.flatnonzero(mark)
            mark[rows] = False
            out.append(rows)
        return out

    return weight, rows_of


def run(prep: Prepared, b: Fraction, tie_key: Callable[[str], TieKey], tie_break: str) -> RunResult:
    """One run of equal shares with its payments: on arrays when they can hold the election
    (``arrays_of``), else ``mes.run`` in ``Fraction``s alone. The same result either way."""
    from app.tally.rules import mes

    arrays = arrays_of(prep)
    if arrays is None or not TINY < b < HUGE:
        return mes.run(prep, b, tie_key, tie_break)
    return run_np(prep, arrays, b, tie_key, tie_break)


def run_np(
    prep: Prepared,
    arrays: Arrays,
    b: Fraction,
    tie_key: Callable[[str], TieKey],
    tie_break: str,
    *,
    certify: list[tuple[str, Any]] | None = None,
    explain: bool = True,
    give_up: bool = False,
    above: RunResult | None = None,
    keep_bounds: bool = False,
    limit: Fraction | None = None,
) -> RunResult:
    """``mes.run`` on arrays: the same result (see the module's docstring). Without
    ``explain``, the rounds carry no payments (the add-one search does not read them); with
    ``give_up``, a run that fails to certify ``certify`` stops there (the search only wanted
    the certificate) and returns what it has, uncertified.

    ``above`` (without ``explain``) is a run at a higher budget made with ``keep_bounds``:
    while this run picks the same winners as it did, every price here is at least the price
    there (the monotonicity in ``mes._add_one_bracketed``), so its lower bounds are lower
    bounds here too, and a project out of money there is out of money here: projects they
    put beyond the round's best need no estimate.

    ``limit`` (with ``certify``): where the certificate first fails, whether every budget
    between the two runs surely spends at most ``limit`` (``within``), though they may not
    all make the same decisions. They all made this run's decisions so far (the rounds the
    certificate passed); from here on, a run at a budget in between can only buy projects
    still in the running whose supporters, in that later round, hold their cost, and those
    supporters have no more money then than they have here now (money only falls during a
    run, and is at most what it is at the higher budget after the same decisions). So what
    it spends is at most what this run has bought plus the cost of every project still in
    the running whose supporters here hold its cost (``could_spend``). Such a run goes on to
    its end (it is the outcome at its budget), with or without ``give_up``."""
    if not TINY < b < HUGE:
        raise ValueError("per-voter budget outside floats' safe range")
    if above is not None and not above.b > b:
        raise ValueError("bounds from a run at a budget that is not higher")
    n = arrays.n
    sup, uf, ui, unit, cost_f = arrays.sup, arrays.uf, arrays.ui, arrays.unit, arrays.cost_f
    flat = arrays.flat
    umin = arrays.umin
    cost = prep.cost
    union = prep.union
    bf = float(b)
    weight = arrays.weight
    if weight is not None and explain:
        raise ValueError("collapsed voters: runs without payments only")
    wf = weight.astype(np.float64) if weight is not None else None
    money = np.full(n, bf) if wf is None else bf * wf
    alive = np.ones(n, dtype=bool)
    rows = np.zeros((max(1, len(prep.candidates)), n), dtype=arrays.row_type)
    ledger = Ledger(b, rows, weight)
    err = 2 * EPS * bf  # bound on |float money - exact money| of every voter still alive
    selected: list[str] = list(sorted(prep.free, key=tie_key))
    rounds: list[Round] = []
    ties: list[str] = []
    remaining = set(prep.candidates)
    lower: dict[str, Fraction] = dict.fromkeys(remaining, ZERO)
    dirty = set(remaining)
    last_rho: dict[str, Fraction] = {}
    shortfall: dict[str, Fraction] = {}
    evaluations = 0
    cache: dict[str, Fraction] = {}
    path: list[tuple[str, Any]] = []
    certified = certify is not None
    shadow = above.bounds if above is not None and not explain else None
    kept: list[dict[str, float]] | None = [] if keep_bounds else None
    #: project -> (poor, rich, the rich's utility units) at its price: who pays if it wins
    split: dict[str, Split] = {}
    #: project -> (its ``supporters``, float price, poor mask) from a probe's bracket, kept
    #: until its supporters next pay (for ``evaluate``)
    bracketed: dict[str, tuple[Any, float, np.ndarray, float]] = {}

    exact_sum, exact_one, signed_money = ledger.sum, ledger.one, ledger.signed

    def heads(voters: np.ndarray, units: int) -> int:
        """How many voters ``voters`` (of ``units`` utility units in all) stand for: each
        float's error is at most that many times ``err`` (with cost utilities a voter is one
        unit)."""
        if weight is None:
            return len(voters)
        return units if prep.cost_utilities else int(weight[voters].sum())

    def evaluate(pid: str) -> Fraction | None:
        """The exact price of ``pid`` now, or None (and its shortfall) if its supporters
        cannot afford it. Records its poor and rich supporters (for paying)."""
        nonlocal evaluations
        evaluations += 1
        reuse = bracketed.pop(pid, None)
        found = supporters(pid) if reuse is None else reuse[0]
        if found is None:
            shortfall[pid] = cost[pid]
            return None
        rho, detail = exact_price(
            ledger,
            cost[pid],
            cost_f[pid],
            unit[pid],
            found,
            err,
            heads(found[0], found[7]),
            None if reuse is None else reuse[1:],
        )
        if rho is None:
            shortfall[pid] = detail
        else:
            split[pid] = detail
        return rho

    def supporters(pid: str) -> Found | None:
        """``pid``'s supporters with money left: (voters, utilities as floats, utilities in
        units, money, money per utility, total utility as a float, least utility, total
        units); None if there are none."""
        idx = sup[pid]
        live = alive[idx]
        voters = idx[live]
        k = len(voters)
        if not k:
            return None
        m = money[voters]
        same = flat.get(pid)
        if same is not None:  # every supporter gives the same: views, and totals by product
            u0, k0 = same
            return voters, uf[pid][:k], ui[pid][:k], m, m / u0, k * u0, u0, k * k0
        u = uf[pid][live]
        units = ui[pid][live]
        # (collapsed rows: money and utility are both many times one voter's, so a ratio's
        # error is bounded by err over one voter's utility)
        u_min = float(u.min()) if umin is None else umin[pid]
        return voters, u, units, m, m / u, float(u.sum()), u_min, int(units.sum())

    # Without ``explain`` (the add-one search's probes), prices are first bracketed in floats
    # and computed exactly only where a decision needs them: the winner (its payers), rivals
    # too close to tell apart, and the certificate's close calls.
    interval: dict[str, tuple[float, float, Fraction | None]] = {}
    pending: dict[str, int] = {}  # everyone pays: the exact price is cost / (units * unit)
    lows: dict[str, float] = dict.fromkeys(remaining, -math.inf)

    def estimate(pid: str) -> tuple[float, float, Fraction | None] | None:
        """(low, high, exact price or None): bounds of the exact price of ``pid`` now, or
        None if its supporters surely cannot afford it."""
        found = supporters(pid)
        if found is None:
            return None
        voters, u, units, m, ratio, total_u, u_min, total_units = found
        k = len(voters)
        cf = cost_f[pid]
        low = float(ratio.min())
        # everyone can pay an equal share per utility (its exact value is left for later)
        even = cf / total_u
        off = (k + 8) * EPS
        if low - 2 * (err / u_min + 4 * EPS * low) > even * (1 + off):
            split[pid] = (voters[:0], voters, units)
            pending[pid] = total_units
            return even * (1 - off), even * (1 + off), None
        total_m = float(m.sum())
        slack = SAFETY * ((heads(voters, total_units) + 2) * err + (k + 4) * EPS * (cf + total_m))
        if total_m + slack < cf:
            return None
        guess, poor, rest_u = _fixed_point(ratio, u, m, cf, total_u)
        # the exact price is where sum(min(money, price * utility)) reaches the cost: bracket
        # it, the floats' sums being within ``slack`` of the exact ones
        below, over = guess * (1 - BRACKET), guess * (1 + BRACKET)
        if (
            float(np.minimum(m, below * u).sum()) + slack < cf
            and float(np.minimum(m, over * u).sum()) - slack > cf
        ):
            bracketed[pid] = (found, guess, poor, rest_u)
            return below, over, None
        q = evaluate(pid)
        if q is None:
            return None
        f = float(q)
        return f * (1 - 4 * EPS), f * (1 + 4 * EPS), q

    def settle(pid: str) -> Fraction:
        """The exact price of ``pid`` (bracketed in this round), and its payers."""
        low, high, q = interval[pid]
        if q is None and pid in pending:
            q = cost[pid] / (pending[pid] * unit[pid])
            interval[pid] = (low, high, q)
        if q is None:
            q = evaluate(pid)
            if q is None:  # pragma: no cover - the bracket proved it affordable
                raise AssertionError("equal shares on arrays: a bracketed price vanished")
            interval[pid] = (low, high, q)
        return q

    def choose() -> tuple[str, Fraction, list[str], bool] | None:
        """The round's winner, its exact price, the projects tied with it, and whether the
        round passes ``certify``'s certificate; None if nothing is affordable."""
        target: Any = None
        target_lo = target_hi = math.inf
        if certified and certify is not None and len(rounds) < len(certify):
            target = certify[len(rounds)][1]
            tf = float(target)
            target_lo, target_hi = tf * (1 - 4 * EPS), tf * (1 + 4 * EPS)
        best_hi = math.inf
        seen: list[str] = []
        for pid in sorted(remaining, key=lows.__getitem__):
            low = lows[pid]
            if low > best_hi and (target is None or low > target_hi):
                break  # this one and every later one: sorted by their lower bounds
            if pid in dirty:
                dirty.discard(pid)
                pending.pop(pid, None)
                got = estimate(pid)
                if got is None:
                    drop(pid)
                    continue
                interval[pid] = got
                lows[pid] = got[0]
            seen.append(pid)
            best_hi = min(best_hi, interval[pid][1])
        if not seen:
            return None
        contenders = {pid: settle(pid) for pid in seen if interval[pid][0] <= best_hi}
        rho = min(contenders.values())
        tied = [pid for pid, q in contenders.items() if q == rho]
        winner = min(tied, key=tie_key)
        passes = (
            certified
            and certify is not None
            and target is not None
            and winner == certify[len(rounds)][0]
        )
        if passes:
            key = tie_key(winner)
            for pid in seen:
                if pid == winner:
                    continue
                low, high, _ = interval[pid]
                if low > target_hi:
                    continue
                if high < target_lo:
                    passes = False
                    break
                q = settle(pid)
                if not (q > target or (q == target and tie_key(pid) > key)):
                    passes = False
                    break
        return winner, rho, tied, passes

    def drop(pid: str) -> None:
        """``pid``'s supporters cannot afford it: out for good."""
        remaining.discard(pid)
        cache.pop(pid, None)
        interval.pop(pid, None)
        split.pop(pid, None)
        bracketed.pop(pid, None)

    def stale(winner: str) -> None:
        """The projects some of whose supporters just paid for ``winner``: their prices must
        be found again when they next matter."""
        touched = union[winner]
        for pid in remaining:
            if pid not in dirty and union[pid] & touched:
                dirty.add(pid)
                split.pop(pid, None)
                bracketed.pop(pid, None)

    def pay_round(
        winner: str,
        rho: Fraction,
        poor_set: np.ndarray,
        rich_set: np.ndarray,
        rich_units: np.ndarray,
    ) -> list[Payment]:
        """The winner's supporters pay (the poor all they have, the rich their share); its
        payments as mes.run reports them (none without ``explain``)."""
        nonlocal err
        payments: list[Payment] = []
        if explain:
            payments = _pay(
                arrays,
                winner,
                rho,
                poor_set,
                rich_set,
                exact_sum,
                signed_money,
                rows,
                len(ledger.ints),
            )
            payments.sort(key=_payment_order)
        else:
            rows[len(ledger.ints), rich_set] = rich_units.astype(rows.dtype)
        pay = rho * unit[winner]
        ledger.append(pay)
        # rich payers: float money minus the float payment; a payer left with exactly
        # nothing drops out (checked exactly where the floats cannot tell)
        rf = float(pay)
        err += 4 * EPS * bf
        alive[poor_set] = False
        money[poor_set] = 0.0
        if len(rich_set):
            left = money[rich_set] - rf * rich_units.astype(np.float64)
            money[rich_set] = left
            floor = SAFETY * err if wf is None else SAFETY * err * wf[rich_set]
            near = rich_set[left <= floor]
            for voter in near:
                if exact_one(int(voter)) == 0:
                    alive[voter] = False
                    money[voter] = 0.0
        if _jitter is not None:
            _jitter(money, alive, err if wf is None else err * wf)
        remaining.discard(winner)
        selected.append(winner)
        return payments

    lower_f: dict[str, float] = dict.fromkeys(remaining, 0.0)  # float(lower): rounding is
    # monotone, so comparing floats first and exact values only on equal floats keeps the
    # exact order of mes.run

    def beyond(pid: str, bound: Fraction, bound_f: float) -> bool:
        """lower[pid] > bound, exactly."""
        lf = lower_f[pid]
        return lf > bound_f or (lf == bound_f and lower[pid] > bound)

    within = False

    def could_spend() -> Fraction | None:
        """What the runs at every budget between ``certify``'s and this one can spend, all
        of which made this run's decisions so far (see the docstring); None where that
        could be every project (add-one stops at a budget that funds them all)."""
        maybe = []
        for pid in remaining:
            found = supporters(pid)
            if found is None:
                continue
            voters, _, _, m, _, _, _, total_units = found
            total_m = float(m.sum())
            cf = cost_f[pid]
            k = len(voters)
            slack = SAFETY * (
                (heads(voters, total_units) + 2) * err + (k + 4) * EPS * (cf + total_m)
            )
            if total_m + slack >= cf:
                maybe.append(pid)
        if len(selected) + len(maybe) == len(prep.candidates) + len(prep.free):
            return None
        return sum((cost[pid] for pid in selected + maybe), ZERO)

    while remaining and not explain:
        r = len(rounds)
        if shadow is not None and above is not None:
            if r and (r > len(above.path) or path[r - 1][0] != above.path[r - 1][0]):
                shadow = None  # the runs part ways: no bounds from here on
            elif r < len(shadow):
                bounds = shadow[r]
                for pid in list(remaining):
                    bound = bounds.get(pid)
                    if bound is None:
                        drop(pid)  # out of money with more of it: out here too
                    elif bound > lows[pid]:
                        lows[pid] = bound
        chosen = choose()
        if kept is not None:
            kept.append({pid: lows[pid] for pid in remaining})
        if chosen is None:
            break
        winner, rho, level, passes = chosen
        if certified:
            certified = passes
            if not certified and limit is not None:
                at_most = could_spend()
                within = at_most is not None and at_most <= limit
            if give_up and not certified and not within:
                break
        interval.pop(winner)
        pay_round(winner, rho, *split.pop(winner))
        rounds.append(Round(winner, rho, [], level))
        path.append((winner, rho))
        stale(winner)

    while remaining and explain:
        order = sorted(remaining, key=lambda p: (lower_f[p], lower[p], tie_key(p)))
        best: Fraction | None = None
        best_f = 0.0
        tied: list[str] = []
        evaluated: dict[str, Any] = {}
        target: Any = None
        target_f = 0.0
        if certified and certify is not None and len(rounds) < len(certify):
            target = certify[len(rounds)][1]
            target_f = float(target)
        for pid in order:
            if (
                best is not None
                and beyond(pid, best, best_f)
                and (target is None or beyond(pid, target, target_f))
            ):
                continue
            if pid in dirty:
                result = evaluate(pid)
                dirty.discard(pid)
                if result is None:
                    drop(pid)
                    continue
                cache[pid] = result
                lower[pid] = result
                lower_f[pid] = float(result)
            rho_p = cache[pid]
            evaluated[pid] = rho_p
            last_rho[pid] = rho_p
            if best is None or rho_p < best:
                best = rho_p
                best_f = float(rho_p)
                tied = [pid]
            elif rho_p == best:
                tied.append(pid)
        if best is None:
            break
        winner = min(tied, key=tie_key)
        if len(tied) > 1:
            ties.append(describe_tie(tied, winner, tie_break))
        if certified and certify is not None:
            certified = target is not None and _beats_all(
                winner, certify[len(rounds)][0], target, evaluated, tie_key
            )
            if give_up and not certified:
                break
        rho = cache.pop(winner)
        payments = pay_round(winner, rho, *split.pop(winner))
        rounds.append(Round(winner, rho, payments, tied))
        path.append((winner, rho))
        stale(winner)
    # the nested functions above refer to one another (a reference cycle that only the
    # garbage collector breaks): let go of the big arrays now, not at its next pass
    split.clear()
    rows = np.zeros((0, 0), dtype=arrays.row_type)
    money = np.zeros(0)
    alive = np.zeros(0, dtype=bool)
    return RunResult(
        b=b,
        selected=selected,
        rounds=rounds,
        rho=dict(last_rho),
        shortfall={pid: shortfall.get(pid, ZERO) for pid in prep.candidates if pid not in selected},
        evaluations=evaluations,
        ties=ties,
        path=path,
        certified=certified and certify is not None and len(certify) == len(rounds),
        within=within,
        bounds=kept,
    )


def _distinct_columns(table: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The distinct columns of ``table`` (as rows) and how many times each occurs: what
    ``np.unique(table.T, axis=0, return_counts=True)`` gives, ten times faster (sorted by
    ``lexsort`` instead of as records)."""
    k = table.shape[1]
    order = np.lexsort(table[::-1])
    ranked = table[:, order]
    change = np.ones(k, dtype=bool)
    np.any(ranked[:, 1:] != ranked[:, :-1], axis=0, out=change[1:])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, k))
    return ranked[:, starts].T, counts.tolist()


def _pay(
    arrays: Arrays,
    winner: str,
    rho: Fraction,
    poor: np.ndarray,
    rich: np.ndarray,
    exact_sum: Callable[[np.ndarray], Fraction],
    signed_money: Callable[[np.ndarray], tuple[list[int], int]],
    rows: np.ndarray,
    r: int,
) -> list[Payment]:
    """Record the rich payers' units in row ``r`` and return the round's payments as
    ``mes.run`` reports them: the share per utility, and those who paid all they had by
    utility and amount (voters who paid in the same rounds have the same money), summarised
    per utility beyond eight kinds."""
    payments: list[Payment] = []
    sup = arrays.sup[winner]
    units_all = arrays.ui[winner]
    is_rich = np.zeros(arrays.n, dtype=bool)
    is_rich[rich] = True
    is_poor = np.zeros(arrays.n, dtype=bool)
    is_poor[poor] = True
    broke_by_u: list[tuple[Fraction, np.ndarray]] = []
    for u, start, end in arrays.slices[winner]:
        voters = sup[start:end]
        pays = is_rich[voters]
        payers = voters[pays]
        if len(payers):
            rows[r, payers] = units_all[start:end][pays].astype(rows.dtype)
            payments.append(Payment(u, len(payers), rho * u, False))
        broke = voters[is_poor[voters]]
        if len(broke):
            broke_by_u.append((u, broke))
    kinds: list[tuple[Fraction, Fraction, int]] = []
    for u, broke in broke_by_u:
        if r:
            keys, counts = _distinct_columns(rows[:r, broke])
            numerators, scale = signed_money(keys)
            by_amount: dict[int, int] = {}  # numerator over ``scale`` -> voters
            for amount, k in zip(numerators, counts, strict=True):
                by_amount[amount] = by_amount.get(amount, 0) + k
            if len(kinds) + len(payments) + len(by_amount) > 8:
                kinds.extend((u, ZERO, 0) for _ in by_amount)  # too many kinds: averages
                break
            kinds.extend((u, Fraction(a, scale), k) for a, k in sorted(by_amount.items()))
        else:
            kinds.append((u, exact_sum(broke[:1]), len(broke)))
        if len(kinds) + len(payments) > 8:
            break
    if len(kinds) + len(payments) > 8:
        for u, broke in broke_by_u:
            total = exact_sum(broke)
            payments.append(Payment(u, len(broke), total / len(broke), True, average=True))
    else:
        payments.extend(Payment(u, k, amount, True) for u, amount, k in kinds)
    return payments
