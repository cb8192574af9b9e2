"""Equal-shares runs for the add-one search: floating point as a filter, exact decisions.

A run of equal shares decides three kinds of things: which project has the lowest price in a
round (and ties), which projects its supporters can no longer afford, and, for the add-one
search, whether a certificate comparison holds (see ``mes._add_one_bracketed``). Each decision
compares exact rationals. Here every price is first computed in floating point together with
a proven bound on its error; a decision is taken from the floats only when the floats are
further apart than their error bounds, and otherwise from the exact rationals (gmpy2's or
``Fraction``), computed then and only for the projects concerned. The money of every class of
voters is kept exactly (and as the nearest float), the winner's price is always computed
exactly and every payment is exact, so the state of a run never drifts: only the search for
the cheapest project is filtered. The outcome is therefore the exact run's, decision for
decision (checked by a Hypothesis property on elections full of exact ties, and against the
exact runs on real files).

The error bound of a float price. Money ``v`` of a class is rounded once to a float ``f``
(relative error at most ``EPS = 2**-53``); the walk sums ``m`` products ``k * f`` (poorer
supporters who pay all they have), subtracts the sum from the cost and divides by the
remaining utility. Standard floating-point analysis bounds the error of that price by
``(m + 4) * EPS * ((cost + paid) / left + price)`` to first order; the bound used is eight
times larger (``(m + 8)`` and a factor 2 on the price term as well). The split between poor
and rich supporters is accepted only if both classes next to it are further from the price
than the bound, and an unaffordable project only if its shortfall exceeds the error of the
sum. Anything closer is decided exactly. The bound assumes no overflow and no subnormal
floats: elections with costs or points outside ``[1e-250, 1e250]`` get no float side at all
(``floats_of`` returns None), and a run in which some money falls below ``1e-250`` decides
everything exactly from there on.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from app.tally.rules.mes import Prepared, Q
from app.tally.tiebreak import TieKey

EPS = 2.0**-53
SAFETY = 8.0
DENSE = 8  # projects per ballot above which all classes are kept in one list
TINY, HUGE = 1e-250, 1e250  # floats' safe range here (no underflow to subnormals, no overflow)
INF = float("inf")
_UNSURE: Any = object()  # the floats cannot decide: compute exactly
_OUT: Any = object()  # the supporters cannot afford the project


class _Cls:
    """Voters with the same remaining money: exact ``v``, nearest float ``f``; ``projects``
    are the remaining projects that some of them support (a superset, cleaned lazily)."""

    __slots__ = ("v", "f", "mask", "projects")

    def __init__(self, v: Any, mask: int, projects: list[str]) -> None:
        self.v = v
        self.f = float(v)
        self.mask = mask
        self.projects = projects


_first = operator.itemgetter(0)
_NONE: list[str] = []  # (never appended to)
_float = operator.attrgetter("f")


def _exact_money(item: tuple[_Cls, int]) -> Any:
    return item[0].v


def _pairs(items: list[Any]) -> Any:
    return zip(items, items[1:], strict=False)


@dataclass
class Floats:
    """What the float walk needs per project, computed once per add-one search."""

    cost: dict[str, float]
    #: project -> [(exact utility, float utility, integer utility or None, voters)]
    groups: dict[str, list[tuple[Any, float, int | None, int]]]
    #: many projects per ballot: one list of all classes serves better than one per project
    dense: bool
    #: projects with several utility values: voter -> index of its utility value, and the
    #: indices by number of voters, most first
    owner: dict[str, dict[int, int]]
    order: dict[str, list[int]]


def floats_of(prep: Prepared) -> Floats | None:
    """The float side of the election, or None if a cost or utility is so large or small
    that floats would overflow or lose precision (then the search uses exact runs)."""
    values = [c for c in prep.cost.values() if c] + [u for g in prep.groups.values() for u, _ in g]
    if any(not TINY < abs(x) < HUGE for x in values):
        return None
    groups: dict[str, list[tuple[Any, float, int | None, int]]] = {}
    for pid, entries in prep.groups.items():
        groups[pid] = [
            (Q(u), float(u), u.numerator if u.denominator == 1 else None, mask)
            for u, mask in entries
        ]
    approvals = sum(prep.union[pid].bit_count() for pid in prep.candidates)
    owner: dict[str, dict[int, int]] = {}
    order: dict[str, list[int]] = {}
    for pid in prep.candidates:
        entries = prep.groups[pid]
        if len(entries) > 1:
            owner[pid] = {}
            for index, (_, mask) in enumerate(entries):
                bits = bin(mask)[:1:-1]  # character i is bit i
                i = bits.find("1")
                while i >= 0:
                    owner[pid][i] = index
                    i = bits.find("1", i + 1)
            sizes = [mask.bit_count() for _, mask in entries]
            order[pid] = sorted(range(len(entries)), key=lambda i: -sizes[i])
    return Floats(
        cost={pid: float(c) for pid, c in prep.cost.items()},
        groups=groups,
        dense=approvals > DENSE * prep.n,
        owner=owner,
        order=order,
    )


@dataclass
class Probe:
    """What the add-one search needs from a run: the selection, and per round the winner
    with its exact price; ``certified`` as in ``mes.run``."""

    b: Fraction
    selected: list[str]
    path: list[tuple[str, Any]]
    certified: bool
    exact_evaluations: int = 0
    float_evaluations: int = 0
    complete: bool = True


def run_filtered(
    prep: Prepared,
    fl: Floats,
    b: Fraction,
    tie_key: Callable[[str], TieKey],
    *,
    certify: list[tuple[str, Any]] | None = None,
    give_up: bool = False,
) -> Probe:
    """Equal shares at per-voter budget ``b``: the same selection as ``mes.run``.

    With ``give_up``, a run that fails to certify ``certify`` stops there and returns an
    incomplete probe (``complete`` false): the search only wanted the certificate."""
    qcost = prep.qcost
    qgroups = prep.qgroups
    union = prep.union
    fcost = fl.cost
    fgroups = fl.groups
    zero = Q(0)
    selected: list[str] = sorted(prep.free, key=tie_key)
    remaining = set(prep.candidates)
    everyone = _Cls(Q(b), prep.all_voters, list(prep.candidates))
    # Per project, the classes holding some of its supporters (a superset: a class that lost
    # them is dropped from the list when the list is next sorted). With dense ballots, every
    # project shares one list of all classes instead (bookkeeping per project would cost
    # more than walking past the classes without supporters).
    shared = fl.dense
    classes = [everyone]
    holders: dict[str, list[_Cls]] = {pid: classes if shared else [everyone] for pid in remaining}
    messy: set[str] = set()  # projects whose holder list needs sorting and cleaning
    payers: dict[str, list[_Cls]] = {}  # the classes holding supporters, at the last exact price
    unsorted = False  # the shared list needs sorting
    alive = prep.all_voters  # voters with money left
    lower: dict[str, float] = dict.fromkeys(remaining, -INF)  # float lower bound on the price
    price: dict[str, tuple[float, float, Any]] = {}  # low, high, exact (or None)
    dirty = set(remaining)
    path: list[tuple[str, Any]] = []
    certified = certify is not None
    counts = [0, 0]  # exact, float evaluations
    tiny = everyone.f < TINY  # some class's money is below floats' safe range

    def ordered(pid: str) -> list[_Cls]:
        """The classes holding supporters of ``pid``, by money (float order: rounding is
        monotone, so only classes with equal floats may be out of exact order)."""
        nonlocal unsorted
        if shared:
            if unsorted:
                unsorted = False
                classes[:] = sorted((cls for cls in classes if cls.mask), key=_float)
            return classes
        if pid in messy:
            messy.discard(pid)
            supporters = union[pid]
            holders[pid] = sorted(
                (cls for cls in holders[pid] if cls.mask & supporters), key=_float
            )
        return holders[pid]

    def gather(pid: str) -> list[tuple[_Cls, int, int]]:
        """(class, utility index, supporters) for every class holding supporters of a
        project with several utility values."""
        entries = qgroups[pid]
        found: list[tuple[_Cls, int, int]] = []
        supporters = union[pid]
        owner = fl.owner[pid]
        order = fl.order[pid]
        for cls in ordered(pid):
            inter = cls.mask & supporters
            if not inter:
                continue
            left = inter.bit_count()
            if left == 1:  # one voter: look its utility up
                found.append((cls, owner[inter.bit_length() - 1], 1))
                continue
            for index in order:  # the commonest utility values first, until all are found
                k = (inter & entries[index][1]).bit_count()
                if k:
                    found.append((cls, index, k))
                    left -= k
                    if not left:
                        break
        return found

    def exact(pid: str) -> Any:
        """The exact price of ``pid`` now, or ``_OUT``; notes the classes holding its
        supporters (``payers``: still right when it wins, as none of them paid since)."""
        counts[0] += 1
        c = qcost[pid]
        entries = qgroups[pid]
        if len(entries) == 1:
            u, mask = entries[0]
            seq = []
            for cls in ordered(pid):
                k = (cls.mask & mask).bit_count()
                if k:
                    seq.append((cls, k))
            if any(a.f == b.f and a.v != b.v for (a, _), (b, _) in _pairs(seq)):
                seq.sort(key=_exact_money)  # equal floats, different money: exact order
            items = [(cls.v, cls.v, k, u) for cls, k in seq]
            payers[pid] = [cls for cls, _ in seq]
        else:
            found = gather(pid)
            items = [(cls.v / entries[i][0], cls.v, k, entries[i][0]) for cls, i, k in found]
            items.sort(key=_first)
            payers[pid] = list({id(cls): cls for cls, _, _ in found}.values())
        left_u = sum((k * u for _, _, k, u in items), zero)
        paid = zero
        for _, v, k, u in items:
            factor = (c - paid) / left_u
            if factor * u <= v:
                return factor
            paid += k * v
            left_u -= k * u
        return _OUT

    def floating(pid: str) -> Any:
        """(price, error bound) from floats, ``_OUT`` if surely unaffordable, else _UNSURE.

        The walk goes from the poorest supporters (by money per utility) up to the first who
        can pay the price; the richer ones are only counted (``alive``)."""
        counts[1] += 1
        if tiny:
            return _UNSURE  # some money is below floats' safe range: decide exactly
        c = fcost[pid]
        entries = fgroups[pid]
        paid = 0.0
        m = 0
        prev = -1.0  # money / utility of the last poor supporter
        if len(entries) == 1:
            _, u, _, mask = entries[0]
            count = (alive & mask).bit_count()
            for cls in ordered(pid):
                k = (cls.mask & mask).bit_count()
                if not k:
                    continue
                left = count * u
                factor = (c - paid) / left
                share = factor * u
                f = cls.f
                if share <= f:
                    err = SAFETY * (m + 8) * EPS * ((c + paid) / left + 2 * factor)
                    if f - share <= 2 * (err * u + 4 * EPS * (share + f)):
                        return _UNSURE
                    if prev >= 0 and share - prev <= 2 * (err * u + 4 * EPS * (share + prev)):
                        return _UNSURE
                    return factor, err
                paid += k * f
                count -= k
                m += 1
                prev = f
        else:
            integral = [entry[2] for entry in entries]
            if None in integral:
                return _UNSURE  # fractional points: decided exactly
            items: list[tuple[float, float, int, int]] = []
            left_i = 0  # the utility left, an exact integer
            for cls, index, k in gather(pid):
                ui = integral[index]
                assert ui is not None
                items.append((cls.f / ui, cls.f, k, ui))
                left_i += k * ui
            items.sort(key=_first)
            for ratio, f, k, ui in items:
                left = float(left_i)
                factor = (c - paid) / left
                if factor * ui <= f:
                    err = SAFETY * (m + 8) * EPS * ((c + paid) / left + 2 * factor)
                    if ratio - factor <= 2 * (err + 4 * EPS * (factor + ratio)):
                        return _UNSURE
                    if prev >= 0 and factor - prev <= 2 * (err + 4 * EPS * (factor + prev)):
                        return _UNSURE
                    return factor, err
                paid += k * f
                left_i -= k * ui
                m += 1
                prev = ratio
        if c - paid > SAFETY * (m + 8) * EPS * (c + paid):
            return _OUT
        return _UNSURE

    def settle(pid: str) -> Any:
        """The exact price of ``pid`` (cached); ``_OUT`` if unaffordable."""
        low, high, q = price[pid]
        if q is None:
            q = exact(pid)
            if q is _OUT:  # pragma: no cover - the float bound said affordable
                raise AssertionError("filtered equal shares: float bound violated")
            f = float(q)
            price[pid] = (f * (1 - 4 * EPS), f * (1 + 4 * EPS), q)
            lower[pid] = f * (1 - 4 * EPS)
        return q

    while remaining:
        target: Any = None
        target_hi = target_lo = INF
        if certified and certify is not None and len(path) < len(certify):
            target = certify[len(path)][1]
            tf = float(target)
            target_hi, target_lo = tf * (1 + 4 * EPS), tf * (1 - 4 * EPS)
        best_hi = INF
        seen: list[str] = []
        for pid in sorted(remaining, key=lower.__getitem__):
            bound = lower[pid]
            if bound > best_hi and (target is None or bound > target_hi):
                break  # this one and all after it: sorted by their lower bounds
            if pid in dirty:
                dirty.discard(pid)
                got = floating(pid)
                if got is _UNSURE:
                    q = exact(pid)
                    if q is _OUT:
                        got = _OUT
                    else:
                        f = float(q)
                        price[pid] = (f * (1 - 4 * EPS), f * (1 + 4 * EPS), q)
                else:
                    if got is not _OUT:
                        rho, err = got
                        price[pid] = (rho - err, rho + err, None)
                if got is _OUT:
                    remaining.discard(pid)
                    price.pop(pid, None)
                    continue
                lower[pid] = price[pid][0]
            seen.append(pid)
            if price[pid][1] < best_hi:
                best_hi = price[pid][1]
        if not seen:
            break
        contenders = [pid for pid in seen if price[pid][0] <= best_hi]
        if len(contenders) == 1:
            winner = contenders[0]
            rho = settle(winner)
        else:
            exact_prices = {pid: settle(pid) for pid in contenders}
            rho = min(exact_prices.values())
            winner = min((p for p, q in exact_prices.items() if q == rho), key=tie_key)
        if certified and certify is not None:  # (a round the lower run did not have fails)
            certified = target is not None and winner == certify[len(path)][0]
            key = tie_key(winner)
            for pid in seen:
                if not certified:
                    break
                if pid == winner:
                    continue
                low, high, _ = price[pid]
                if low > target_hi:
                    continue
                if high < target_lo:
                    certified = False
                    break
                q = settle(pid)
                certified = q > target or (q == target and tie_key(pid) > key)
            if give_up and not certified:
                return Probe(b, selected, path, False, counts[0], counts[1], complete=False)
        # the winner's supporters pay, exactly (as in mes.run); a payer with nothing left
        # drops out. Only equal-money classes paying through different utilities are merged
        # (one utility: different classes keep different money).
        remaining.discard(winner)
        price.pop(winner, None)
        touched = union[winner]
        entries = qgroups[winner]
        multi = len(entries) > 1
        merged: dict[Any, _Cls] = {}
        dropped = 0
        made: list[_Cls] = []
        near: set[str] = set()
        holders.pop(winner)
        for cls in payers.pop(winner):
            inter = cls.mask & touched
            if not inter:
                continue
            cls.mask ^= inter
            if shared:
                reach = _NONE
            else:
                reach = [pid for pid in cls.projects if pid in remaining]
                cls.projects = reach
                near.update(reach)
            for u, mask in entries:
                part = inter & mask if multi else inter
                if not part:
                    continue
                nv = cls.v - rho * u
                if nv <= 0:
                    dropped |= part
                    continue
                if multi:
                    same = merged.get(nv)
                    if same is not None:
                        same.mask |= part
                        for pid in reach:
                            if part & union[pid] and pid not in same.projects:
                                same.projects.append(pid)
                                holders[pid].append(same)
                        continue
                reached = _NONE if shared else [pid for pid in reach if part & union[pid]]
                fresh = _Cls(nv, part, reached)
                if fresh.f < TINY:
                    tiny = True
                made.append(fresh)
                for pid in reached:
                    holders[pid].append(fresh)
                if multi:
                    merged[nv] = fresh
        if shared:
            classes.extend(made)
            unsorted = True
        alive &= ~dropped
        selected.append(winner)
        path.append((winner, rho))
        # the projects whose supporters paid: among those the payers' classes reach
        for pid in remaining if shared else near:
            if union[pid] & touched:
                dirty.add(pid)
                messy.add(pid)  # (new classes hold its supporters)
    return Probe(
        b=b,
        selected=selected,
        path=path,
        certified=certified and certify is not None and len(certify) == len(path),
        exact_evaluations=counts[0],
        float_evaluations=counts[1],
    )
