"""The cycle's counting rule and tie-break seed are what publishing uses (SQLite and PostgreSQL).

An election where equal shares and greedy disagree: 7 residents approve Square (50) and Fountain
(45), 3 approve Garden (30), budget 100.  Greedy funds Fountain and Square; equal shares funds
Fountain and Garden (the 7 have 70 between them, 25 left after Fountain).
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session

from app.ballots import service as ballots_service
from app.cycles import service as cycles_service
from app.cycles.models import Cycle, Phase
from app.eligibility import service as eligibility_service
from app.ledger.verify.recount import seed_commitment
from app.proposals.models import ProposalStatus
from app.results import service
from app.results.explain import explain, explanation_facts
from app.tally import Ballot, BallotRules, Election, Project, tally
from tests.factories import districts_of, make_cycle, make_proposal

KEY = b"test-access-code-key-0123456789"


def _equalshares_cycle(session: Session, rule: str = "equalshares") -> tuple[Cycle, dict[str, int]]:
    cycle = make_cycle(session, phase=Phase.voting, districts=(("North", 100_00),), tally_rule=rule)
    north = districts_of(session, cycle)[0]
    ids = {}
    for title, cost in (("Square", 50_00), ("Fountain", 45_00), ("Garden", 30_00)):
        proposal = make_proposal(
            session,
            cycle=cycle,
            district=north,
            status=ProposalStatus.accepted,
            final_cost_minor=cost,
            title=title,
        )
        ids[title] = proposal.id or 0
    _batch, codes = eligibility_service.issue_access_codes(
        session, district_id=north.id or 0, count=10, key=KEY
    )
    for n, code in enumerate(codes):
        chosen = [ids["Square"], ids["Fountain"]] if n < 7 else [ids["Garden"]]
        ballots_service.cast_ballot(session, code_text=code, chosen=chosen, key=KEY)
    cycle.phase = Phase.tallying.value
    session.add(cycle)
    session.flush()
    return cycle, ids


def _reference(cycle: Cycle, ids: dict[str, int], rule: str) -> Any:
    """The same ballots counted straight by app.tally (built here, not by the service)."""
    projects = {
        str(ids[t]): Project(id=str(ids[t]), cost=Fraction(c), name=t)
        for t, c in (("Square", 50), ("Fountain", 45), ("Garden", 30))
    }
    pair = Ballot(projects=tuple(sorted((str(ids["Square"]), str(ids["Fountain"])))))
    single = Ballot(projects=(str(ids["Garden"]),))
    election = Election(
        budget=Fraction(100),
        projects=projects,
        rules=BallotRules(kind="approval", max_sum_cost=Fraction(100)),
        ballots=(pair,) * 7 + (single,) * 3,
    )
    return tally(
        election, rule, tie_break=cycle.tie_break, seed=bytes.fromhex(cycle.tie_break_seed or "")
    )


def test_equalshares_cycle_publishes_what_the_engine_gives(db_session: Session) -> None:
    cycle, ids = _equalshares_cycle(db_session)
    outcome = service.publish_results(db_session, cycle=cycle)[0]
    expected = _reference(cycle, ids, "equalshares")
    assert expected.selected == (str(ids["Fountain"]), str(ids["Garden"]))
    assert _reference(cycle, ids, "greedy").selected != expected.selected
    stored = json.loads(outcome.result.outcome_json)
    assert stored["selected"] == list(expected.selected)
    assert {k: v for k, v in stored.items() if k != "explain"} == json.loads(
        json.dumps(expected.to_json(), sort_keys=True)
    )
    assert (outcome.result.rule, outcome.result.rule_version) == ("equalshares", "1")
    assert outcome.result.tie_break == "default"
    assert stored["seed"] == cycle.tie_break_seed
    funded = {p.title for p in outcome.projects if p.funded}
    assert funded == {"Fountain", "Garden"}
    assert outcome.result.budget_used == 75_00
    explain = stored["explain"]
    assert explain[str(ids["Fountain"])]["kind"] == "mes-funded"
    # The 7 had 10 each, paid 45/7 each: 7 * (10 - 45/7) = 25 left, 25 short of Square's 50.
    assert explain[str(ids["Square"])] == {"kind": "mes-short", "have": "2500", "short": "2500"}


def test_greedy_cycle_still_counts_greedy(db_session: Session) -> None:
    cycle, ids = _equalshares_cycle(db_session, rule="greedy")
    outcome = service.publish_results(db_session, cycle=cycle)[0]
    assert {p.title for p in outcome.projects if p.funded} == {"Square", "Fountain"}
    assert json.loads(outcome.result.outcome_json)["selected"] == list(
        _reference(cycle, ids, "greedy").selected
    )


def test_publishing_needs_a_seed_drawn_when_voting_opened(db_session: Session) -> None:
    # A cycle that reached tallying without voting being opened (no seed was ever drawn).
    cycle = make_cycle(db_session, phase=Phase.tallying, tie_break_seed=None)
    with pytest.raises(service.TieBreakSeedMissingError):
        service.publish_results(db_session, cycle=cycle)


def test_opening_voting_draws_a_secret_seed(db_session: Session) -> None:
    seeds = set()
    for _ in range(2):
        cycle = make_cycle(db_session, phase=Phase.review)
        assert cycle.tie_break_seed is None
        assert cycles_service.tie_break_commitment(cycle) is None
        cycles_service.move_to_phase(
            db_session,
            cycle=cycle,
            to=Phase.voting,
            actor_id=None,
            accepted_projects=1,
            pending_proposals=0,
        )
        assert cycle.tie_break_seed is not None and len(cycle.tie_break_seed) == 64
        assert cycle.tie_break_seed != f"plaza-cycle-{cycle.id}".encode().hex()
        assert cycles_service.tie_break_commitment(cycle) == seed_commitment(
            bytes.fromhex(cycle.tie_break_seed)
        )
        seeds.add(cycle.tie_break_seed)
    assert len(seeds) == 2


def test_only_rules_that_fit_the_ballot_are_offered(db_session: Session) -> None:
    rules = cycles_service.tally_rules_for("approval")
    assert "greedy-threshold" not in rules  # needs a score threshold a cycle does not have
    assert {"greedy", "equalshares", "equalshares/add1", "phragmen", "utilitarian"} <= set(rules)
    cycle = make_cycle(db_session, phase=Phase.draft)
    with pytest.raises(cycles_service.DomainError) as refused:
        cycles_service.set_voting_rules(
            db_session,
            cycle=cycle,
            ballot_kind="approval",
            min_choices=0,
            max_choices=None,
            tally_rule="greedy-threshold",
            tie_break="default",
        )
    assert refused.value.field == "tally_rule"


def _why(page: BeautifulSoup) -> dict[str, str]:
    return {
        tr.find("th").get_text(strip=True): tr.select_one("td.why").get_text(" ", strip=True)
        for tr in page.select("section.district-result tbody tr")
    }


def test_results_page_shows_rule_and_explanations(
    client: Any, db_session: Session, login_as: Any
) -> None:
    cycle, _ids = _equalshares_cycle(db_session)
    db_session.commit()
    login_as("organizer")
    db_session.commit()
    assert client.post(f"/cycles/{cycle.id}/results").status_code in (200, 303)
    url = f"/cycles/{cycle.id}/results"
    page = BeautifulSoup(client.get(url, headers={"Accept-Language": "en"}).text, "html.parser")
    text = page.select_one("section.district-result").get_text(" ", strip=True)
    assert "Method of Equal Shares (version 1)" in text
    why = _why(page)
    assert why["Fountain"].startswith("Funded in round 1")
    assert "7 supporters paid" in why["Fountain"]
    assert why["Garden"].startswith("Funded in round 2")
    assert why["Square"] == (
        "Not funded: its supporters had €25.00 left, €25.00 short of its cost €50.00."
    )
    seed = page.select_one("#tie-break-seed").get_text(" ", strip=True)
    assert cycle.tie_break_seed in seed
    commitment = cycles_service.tie_break_commitment(cycle)
    assert commitment is not None and commitment in seed
    detail = BeautifulSoup(client.get(f"/cycles/{cycle.id}").text, "html.parser")
    shown = [c.get_text(strip=True) for c in detail.select("code.digest")]
    assert commitment in shown
    assert cycle.tie_break_seed not in detail.get_text()  # the seed itself stays private
    zh = BeautifulSoup(client.get(url, headers={"Accept-Language": "zh-CN"}).text, "html.parser")
    zh_why = _why(zh)
    assert zh_why["Square"] != why["Square"] and "€25.00" in zh_why["Square"]
    assert "Method of Equal Shares" not in zh.select_one("section.district-result").get_text()


def test_greedy_explanations_give_rank_and_money_left(db_session: Session) -> None:
    cycle, ids = _equalshares_cycle(db_session, rule="greedy")
    outcome = service.publish_results(db_session, cycle=cycle)[0]
    facts = json.loads(outcome.result.outcome_json)["explain"]
    costs = {p.proposal_id: p.cost for p in outcome.projects}
    texts = {
        title: explain(facts[str(pid)], costs[pid], cycle.currency) for title, pid in ids.items()
    }
    # Order: Fountain and Square (7 votes; Fountain cheaper), then Garden (3 votes).
    assert texts["Fountain"] == (
        "Rank 1 of 3 with 7 votes; €100.00 of the budget was left when its turn came; "
        "it costs €45.00: funded."
    )
    assert texts["Square"] is not None and texts["Square"].startswith("Rank 2 of 3")
    assert texts["Garden"] == (
        "Rank 3 of 3 with 3 votes; €5.00 of the budget was left when its turn came; "
        "it costs €30.00, which does not fit: not funded."
    )


def test_phragmen_and_utilitarian_explanations() -> None:
    projects = {
        "a": Project("a", Fraction(60), "A"),
        "b": Project("b", Fraction(50), "B"),
        "c": Project("c", Fraction(30), "C"),
        "d": Project("d", Fraction(130), "D"),
    }
    election = Election(
        budget=Fraction(100),
        projects=projects,
        rules=BallotRules(kind="approval", max_sum_cost=Fraction(100)),
        ballots=(Ballot(projects=("a", "c")),) * 3 + (Ballot(projects=("b", "d")),) * 2,
    )

    def texts(rule: str) -> dict[str, str | None]:
        outcome = tally(election, rule)
        facts = explanation_facts(election, outcome, 100)
        return {p: explain(facts[p], int(projects[p].cost * 100), "EUR") for p in projects}

    phragmen = texts("phragmen")
    assert phragmen["c"] == "Funded in round 1; €70.00 of the budget was left after it."
    assert phragmen["b"] == "Funded in round 2; €20.00 of the budget was left after it."
    assert phragmen["a"] == (
        "Not funded: counting stopped in round 3 with €20.00 left, when the next project to "
        "buy did not fit."
    )
    assert phragmen["d"] == "Not funded: it costs more than the whole budget."
    utilitarian = texts("utilitarian")
    assert utilitarian["a"] == (
        "Funded: part of the set of projects within the budget with the most approvals in "
        "total (6 approvals for €90.00); it has 3 votes."
    )
    assert utilitarian["b"] is not None and utilitarian["b"].startswith(
        "Not funded: no set of projects within the budget that includes it has more than 6"
    )


def test_settings_offer_the_rules_with_labels_and_refuse_others(
    client: Any, db_session: Session, login_as: Any, htmx: dict[str, str]
) -> None:
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.draft)
    db_session.commit()
    page = BeautifulSoup(client.get(f"/cycles/{cycle.id}/settings").text, "html.parser")
    options = page.select("#rules_form select[name=tally_rule] option")
    assert [o["value"] for o in options] == cycles_service.tally_rules_for("approval")
    labels = {o["value"]: o.get_text(strip=True) for o in options}
    assert labels["equalshares"] == "Method of Equal Shares"
    help_text = page.select_one("#rule-help").get_text(" ", strip=True)
    assert "equal share of the budget" in help_text
    zh = BeautifulSoup(
        client.get(f"/cycles/{cycle.id}/settings", headers={"Accept-Language": "zh-CN"}).text,
        "html.parser",
    )
    zh_labels = {
        o["value"]: o.get_text(strip=True)
        for o in zh.select("#rules_form select[name=tally_rule] option")
    }
    assert zh_labels["equalshares"] != labels["equalshares"]
    refused = client.post(
        f"/cycles/{cycle.id}/rules",
        data={
            "ballot_kind": "approval",
            "min_choices": "0",
            "max_choices": "",
            "tally_rule": "greedy-threshold",
            "tie_break": "default",
        },
        headers=htmx,
    )
    assert refused.status_code == 422
    form = BeautifulSoup(refused.text, "html.parser").find(id="rules_form")
    assert "cannot count this kind of ballot" in form.get_text()
    db_session.refresh(cycle)
    assert cycle.tally_rule == "greedy"


def test_comparison_step_is_explained_in_the_readers_language() -> None:
    """equalshares/add1-comparison: every project's sentence ends with the step's verdict."""
    from app.core.i18n import set_locale

    projects = {
        "square": Project("square", Fraction(50), "Square"),
        "fountain": Project("fountain", Fraction(45), "Fountain"),
        "garden": Project("garden", Fraction(30), "Garden"),
    }

    def texts(ballots: tuple[Ballot, ...], locale: str = "en") -> dict[str, str | None]:
        election = Election(
            budget=Fraction(100),
            projects=projects,
            rules=BallotRules(kind="approval", max_sum_cost=Fraction(100)),
            ballots=ballots,
        )
        outcome = tally(election, "equalshares/add1-comparison")
        facts = explanation_facts(election, outcome, 100)
        set_locale(locale)
        try:
            return {p: explain(facts[p], int(projects[p].cost * 100), "EUR") for p in projects}
        finally:
            set_locale("en")

    pair = Ballot(projects=("fountain", "square"))
    garden = Ballot(projects=("garden",))
    # 7 voters fund 2 of theirs under greedy (Fountain, Square), 1 under equal shares
    # (Fountain, Garden); the 3 Garden voters the other way round: greedy is taken.
    taken = texts((pair,) * 7 + (garden,) * 3)
    verdict = (
        "Comparison step: 3 voters prefer the equal-shares outcome and 7 the greedy one, so "
        "the greedy outcome is taken."
    )
    assert taken["square"] == (
        "Rank 2 of 3 with 7 votes; €55.00 of the budget was left when its turn came; it costs "
        f"€50.00: funded. {verdict}"
    )
    assert taken["garden"] is not None and taken["garden"].startswith("Rank 3 of 3")
    assert taken["garden"].endswith(verdict)
    # With 4 Garden voters and 3 pairs, equal shares (Fountain... or Garden first) stands.
    stands = texts((pair,) * 3 + (garden,) * 4)
    for text in stands.values():
        assert text is not None and text.endswith("so equal shares stands."), text
    assert stands["garden"] is not None and stands["garden"].startswith("Funded in round")
    zh = texts((pair,) * 7 + (garden,) * 3, locale="zh_Hans")
    assert (
        zh["square"] is not None and "比较步骤" in zh["square"] and "Comparison" not in zh["square"]
    )
