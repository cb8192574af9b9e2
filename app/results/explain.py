"""Per-project explanations a resident can read, in the reader's language.

``app.tally`` explains every outcome in English sentences.  At publish time
:func:`explanation_facts` turns the outcome (and the ballots, for what equal-shares supporters
had left) into language-free facts, stored with the result; :func:`explain` turns those facts
into a translated sentence when a page is shown.  Money in facts is exact, in minor units, as
``"a/b"`` strings when not whole (a supporter's share can be a fraction of a cent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from app.core.i18n import _, format_number, ngettext
from app.core.money import format_money
from app.tally import Election, Outcome

GREEDY_RULES = frozenset({"greedy", "greedy-no-skip", "greedy-threshold"})
MES_RULES = frozenset({"equalshares", "equalshares/add1", "equalshares/add1-greedy"})


def _exact(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def explanation_facts(
    election: Election, outcome: Outcome, scale: int
) -> dict[str, dict[str, Any]]:
    """Language-free facts per project id (empty for rules explained only by the engine)."""
    cost = {pid: p.cost for pid, p in election.projects.items()}
    votes = dict.fromkeys(election.projects, 0)
    for ballot in election.ballots:
        for pid in ballot.projects:
            votes[pid] += 1
    selected = set(outcome.selected)

    def minor(value: Fraction) -> str:
        return _exact(Fraction(value) * scale)

    facts: dict[str, dict[str, Any]] = {}
    if outcome.rule in GREEDY_RULES:
        order = [str(p) for p in outcome.details.get("order", [])]
        return _greedy_facts(election, order, selected, votes, minor, outcome.rule)
    if outcome.rule == "equalshares/add1-comparison":
        # The comparison step's verdict goes with every project's facts; the outcome it kept
        # (equal shares, or plain greedy) explains the project itself.
        comparison = outcome.details["comparison"]
        taken = str(comparison["taken"])  # the engine's verdict: "greedy" or "equalshares"
        if taken == "greedy":
            order = [str(p) for p in comparison["order"]]
            facts = _greedy_facts(election, order, selected, votes, minor, "greedy")
        else:
            facts = _mes_facts(election, outcome, votes, minor)
        verdict = {
            "equal_shares": int(comparison["prefers_equal_shares"]),
            "greedy": int(comparison["prefers_greedy"]),
            "taken": taken,
        }
        for fact in facts.values():
            fact["comparison"] = verdict
        return facts
    if outcome.rule == "utilitarian":
        total = sum(votes[p] for p in selected)
        spent = sum((cost[p] for p in selected), Fraction(0))
        for pid in election.projects:
            if pid in selected:
                facts[pid] = {"kind": "util-funded", "total": total, "spent": minor(spent)}
            elif cost[pid] > election.budget:
                facts[pid] = {"kind": "too-expensive"}
            else:
                facts[pid] = {"kind": "util-unfunded", "total": total}
            facts[pid]["votes"] = votes[pid]
        return facts
    if outcome.rule == "phragmen":
        left = Fraction(election.budget)
        for number, pid in enumerate(outcome.selected, start=1):
            left -= cost[pid]
            facts[pid] = {"kind": "phragmen-funded", "round": number, "left": minor(left)}
        for pid in election.projects:
            if pid not in facts:
                facts[pid] = (
                    {"kind": "too-expensive"}
                    if cost[pid] > election.budget
                    else {
                        "kind": "phragmen-stopped",
                        "round": len(outcome.selected) + 1,
                        "left": minor(left),
                    }
                )
        return facts
    if outcome.rule not in MES_RULES:
        return facts
    return _mes_facts(election, outcome, votes, minor)


def _greedy_facts(
    election: Election,
    order: list[str],
    selected: set[str],
    votes: Mapping[str, int],
    minor: Callable[[Fraction], str],
    rule: str,
) -> dict[str, dict[str, Any]]:
    facts: dict[str, dict[str, Any]] = {}
    left = Fraction(election.budget)
    stopped = False
    for rank, pid in enumerate(order, start=1):
        base = {"rank": rank, "of": len(order), "votes": votes.get(pid, 0), "left": minor(left)}
        if stopped:
            facts[pid] = {"kind": "greedy-not-considered", **base}
        elif pid in selected:
            facts[pid] = {"kind": "greedy-funded", **base}
            left -= election.projects[pid].cost
        else:
            facts[pid] = {"kind": "greedy-no-fit", **base}
            stopped = rule == "greedy-no-skip"
    return facts


def _mes_facts(
    election: Election,
    outcome: Outcome,
    votes: Mapping[str, int],
    minor: Callable[[Fraction], str],
) -> dict[str, dict[str, Any]]:
    cost = {pid: p.cost for pid, p in election.projects.items()}
    facts: dict[str, dict[str, Any]] = {}
    share = Fraction(outcome.details["per_voter_budget"])
    # Voters with the same ballot pay the same in every round: one budget per distinct ballot.
    groups = Counter(frozenset(b.projects) for b in election.ballots)
    money = dict.fromkeys(groups, share)
    spent = Fraction(0)
    for number, rnd in enumerate(outcome.details.get("rounds", []), start=1):
        pid = str(rnd["project"])
        price = Fraction(rnd["rho"]) * cost[pid]
        for group in groups:
            if pid in group:
                money[group] -= min(money[group], price)
        spent += cost[pid]
        facts[pid] = {
            "kind": "mes-funded",
            "round": number,
            "support": _exact(1 / Fraction(rnd["rho"])) if Fraction(rnd["rho"]) else "0",
            "payments": [
                {
                    "voters": int(pay["voters"]),
                    "each": minor(Fraction(pay["paid_each"])),
                    "all": bool(pay["all_they_had"]),
                }
                for pay in rnd["payments"]
            ],
        }
    for pid in outcome.details.get("greedy_completion", []):
        pid = str(pid)
        facts[pid] = {
            "kind": "completion-funded",
            "left": minor(Fraction(election.budget) - spent),
            "votes": votes.get(pid, 0),
        }
        spent += cost[pid]
    for pid in election.projects:
        if pid in facts:
            continue
        have = sum((money[b] * n for b, n in groups.items() if pid in b), Fraction(0))
        facts[pid] = {
            "kind": "mes-short",
            "have": minor(have),
            "short": minor(max(cost[pid] - have, Fraction(0))),
        }
    return facts


def _money(value: str, currency: str) -> str:
    exact = Fraction(value)
    if exact.denominator == 1:
        return format_money(exact.numerator, currency)
    rounded = int(
        (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
    )
    return _("about %(amount)s") % {"amount": format_money(rounded, currency)}


def _number(value: str) -> str:
    exact = Fraction(value)
    if exact.denominator == 1:
        return format_number(exact.numerator)
    return format_number(round(float(exact), 2))  # display only


def explain(facts: Mapping[str, Any] | None, cost_minor: int, currency: str) -> str | None:
    """The translated sentence for one project's facts (None: show the engine's text)."""
    if not facts:
        return None
    text = _explain_project(facts, cost_minor, currency)
    verdict = facts.get("comparison")
    if text is None or not verdict:
        return text
    counts = {
        "mes": format_number(verdict["equal_shares"]),
        "greedy": format_number(verdict["greedy"]),
    }
    if verdict["taken"] == "greedy":
        step = _(
            "Comparison step: %(mes)s voters prefer the equal-shares outcome and %(greedy)s "
            "the greedy one, so the greedy outcome is taken."
        )
    else:
        step = _(
            "Comparison step: %(mes)s voters prefer the equal-shares outcome and %(greedy)s "
            "the greedy one, so equal shares stands."
        )
    return f"{text} {step % counts}"


def _explain_project(facts: Mapping[str, Any], cost_minor: int, currency: str) -> str | None:
    kind = facts["kind"]
    cost = format_money(cost_minor, currency)
    if kind.startswith("greedy-"):
        head = ngettext(
            "Rank %(rank)s of %(of)s with %(num)s vote",
            "Rank %(rank)s of %(of)s with %(num)s votes",
            int(facts["votes"]),
        ) % {
            "rank": format_number(facts["rank"]),
            "of": format_number(facts["of"]),
            "num": format_number(facts["votes"]),
        }
        left = _money(facts["left"], currency)
        if kind == "greedy-funded":
            tail = _(
                "%(left)s of the budget was left when its turn came; it costs %(cost)s: funded."
            )
        elif kind == "greedy-no-fit":
            tail = _(
                "%(left)s of the budget was left when its turn came; it costs %(cost)s, "
                "which does not fit: not funded."
            )
        else:
            tail = _("counting had stopped at a project that did not fit: not considered.")
        return f"{head}; " + tail % {"left": left, "cost": cost}
    if kind == "mes-funded":
        paid = []
        for pay in facts["payments"]:
            each = _money(pay["each"], currency)
            if pay["all"]:
                text = ngettext(
                    "%(num)s supporter paid all they had left (%(each)s)",
                    "%(num)s supporters paid all they had left (%(each)s each)",
                    int(pay["voters"]),
                )
            else:
                text = ngettext(
                    "%(num)s supporter paid %(each)s",
                    "%(num)s supporters paid %(each)s each",
                    int(pay["voters"]),
                )
            paid.append(text % {"num": format_number(pay["voters"]), "each": each})
        return _(
            "Funded in round %(round)s (effective support: %(support)s votes); it costs "
            "%(cost)s: %(paid)s."
        ) % {
            "round": format_number(facts["round"]),
            "support": _number(facts["support"]),
            "cost": cost,
            "paid": _("; ").join(paid),
        }
    if kind == "completion-funded":
        return _(
            "Funded after equal shares, with the money left (%(left)s), as the project with "
            "the most votes that still fit; it costs %(cost)s."
        ) % {"left": _money(facts["left"], currency), "cost": cost}
    if kind == "util-funded":
        return _(
            "Funded: part of the set of projects within the budget with the most approvals in "
            "total (%(total)s approvals for %(spent)s); it has %(votes)s votes."
        ) % {
            "total": format_number(facts["total"]),
            "spent": _money(facts["spent"], currency),
            "votes": format_number(facts["votes"]),
        }
    if kind == "util-unfunded":
        return _(
            "Not funded: no set of projects within the budget that includes it has more than "
            "%(total)s approvals in total; it has %(votes)s votes."
        ) % {"total": format_number(facts["total"]), "votes": format_number(facts["votes"])}
    if kind == "too-expensive":
        return _("Not funded: it costs more than the whole budget.")
    if kind == "phragmen-funded":
        return _("Funded in round %(round)s; %(left)s of the budget was left after it.") % {
            "round": format_number(facts["round"]),
            "left": _money(facts["left"], currency),
        }
    if kind == "phragmen-stopped":
        return _(
            "Not funded: counting stopped in round %(round)s with %(left)s left, when the next "
            "project to buy did not fit."
        ) % {"round": format_number(facts["round"]), "left": _money(facts["left"], currency)}
    if kind == "mes-short":
        return _(
            "Not funded: its supporters had %(have)s left, %(short)s short of its cost %(cost)s."
        ) % {
            "have": _money(facts["have"], currency),
            "short": _money(facts["short"], currency),
            "cost": cost,
        }
    return None
