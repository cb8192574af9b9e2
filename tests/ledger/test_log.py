"""The log written through the Ledger API: two districts, an amendment, a correction,
receipts, secrecy while voting, and the writer's own refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.ledger.keys import NoteSigner
from app.ledger.log import Ledger, LedgerError, new_ballot_id, new_salt
from app.ledger.verify.recount import count, result_body, seed_commitment
from app.ledger.verify.schema import PRIVACY, origin_for, parse_ballot, parse_config
from app.ledger.verify.verifier import load_export, verify_export
from app.tally import RULES

SEED = b"tie-break seed"


def _config(ledger: Ledger) -> dict[str, Any]:
    return {
        "title": "Riverside 2026",
        "log": {"origin": ledger.origin, "key": ledger.verifier_key, "checkpoint_every": 3},
        "districts": [
            {"id": "north", "name": "North", "budget": 100_000},
            {"id": "south", "name": "South", "budget": 60_000},
        ],
        "projects": [
            {"id": "n-park", "name": "Park", "cost": 50_000, "district": "north"},
            {"id": "n-lib", "name": "Library", "cost": 70_000, "district": "north"},
            {"id": "n-bike", "name": "Bike lanes", "cost": 30_000, "district": "north"},
            {"id": "s-pool", "name": "Pool", "cost": 60_000, "district": "south"},
            {"id": "s-trees", "name": "Trees", "cost": "20001/2", "district": "south"},
        ],
        "ballot": {
            "kind": "approval",
            "min_length": 1,
            "max_length": 2,
            "min_sum_cost": None,
            "max_sum_cost": None,
            "min_points": None,
            "max_points": None,
            "min_sum_points": None,
            "max_sum_points": None,
            "rank_points": None,
        },
        "tally": {
            "rule": "greedy",
            "rule_version": RULES["greedy"],
            "tie_break": "default",
            "seed_commitment": seed_commitment(SEED),
            "score_threshold": None,
        },
        "privacy": dict(PRIVACY),
    }


def _ballot(district: str, *projects: str) -> dict[str, Any]:
    return {
        "ballot_id": new_ballot_id(),
        "district": district,
        "channel": "online",
        "choices": {"projects": list(projects), "points": None},
        "salt": new_salt(),
    }


def _finish(
    ledger: Ledger,
    config: dict[str, Any],
    ballots: list[tuple[int, dict[str, Any]]],
    invalid: set[str],
) -> None:
    ledger.append("voting_closed", {})
    typed = parse_config(config, ledger.cycle, RULES)
    events = [parse_ballot(seq, b) for seq, b in ballots if b["ballot_id"] not in invalid]
    ledger.append("result", result_body(typed, count(typed, events, SEED), SEED))


def test_two_districts_amendment_correction_and_receipts(tmp_path: Path) -> None:
    ledger = Ledger(
        "riverside-2026", NoteSigner.generate("plaza.test/riverside"), checkpoint_every=3
    )
    config = _config(ledger)
    ledger.append("configured", config)
    new_projects = [
        *config["projects"],
        {"id": "s-bench", "name": "Benches", "cost": 5_000, "district": "south"},
    ]
    ledger.append("amended", {"reason": "costing done", "changes": {"projects": new_projects}})
    config["projects"] = new_projects
    ledger.append("voting_opened", {})
    ballots: list[tuple[int, dict[str, Any]]] = []
    receipts: dict[str, str] = {}
    choices = [
        ("north", "n-park"),
        ("north", "n-park", "n-bike"),
        ("north", "n-lib"),
        ("south", "s-pool"),
        ("south", "s-trees", "s-bench"),
        ("south", "s-trees"),
        ("north", "n-lib", "n-bike"),
    ]
    for district, *projects in choices:
        body = _ballot(district, *projects)
        seq = ledger.append("ballot", body)
        ballots.append((seq, body))
        # While voting is open the body is secret; its leaf hash is public.
        assert ledger.public_entry(seq) is None
        assert len(ledger.tree.leaf_hash(seq)) == 32
        receipts[body["ballot_id"]] = ledger.receipt(seq, body["ballot_id"])
    with pytest.raises(LedgerError, match="only after voting_closed"):
        ledger.write_export(tmp_path / "too-early")
    spoiled = ballots[2][1]["ballot_id"]
    ledger.append("ballot_invalidated", {"ballot_id": spoiled, "reason": "duplicate paper ballot"})
    _finish(ledger, config, ballots, {spoiled})
    assert ledger.public_entry(ballots[0][0]) == ledger.events[ballots[0][0]]
    ledger.write_export(tmp_path / "export")
    files = []
    for i, text in enumerate(receipts.values()):
        path = tmp_path / f"r{i}.tlog-proof"
        path.write_text(text)
        files.append(path)
    report = verify_export(load_export(tmp_path / "export", files))
    assert report.ok, [r.line() for r in report.results]
    result = [r for r in report.results if r.name == "recount"][0]
    assert "on 6 ballots" in result.detail


def test_writer_refuses_what_the_verifier_would_reject() -> None:
    ledger = Ledger("c1", NoteSigner.generate("plaza.test/c1"), checkpoint_every=3)
    with pytest.raises(LedgerError):
        ledger.append("voting_opened", {})  # before configuration
    config = _config(ledger)
    for wrong in ({"checkpoint_every": 4}, {"origin": "plaza.ledger/c2"}, {"key": "x+1+AA=="}):
        with pytest.raises(LedgerError, match="log section"):
            ledger.append("configured", {**config, "log": {**config["log"], **wrong}})
    ledger.append("configured", config)
    with pytest.raises(LedgerError):
        ledger.append("ballot", _ballot("north", "n-park"))  # before opening
    ledger.append("voting_opened", {})
    with pytest.raises(LedgerError):
        ledger.append("amended", {"reason": "late", "changes": {"title": "x"}})
    body = _ballot("north", "n-park")
    ledger.append("ballot", body)
    with pytest.raises(LedgerError):
        ledger.append("ballot", body)  # the same ballot id twice
    with pytest.raises(LedgerError):
        ledger.append("ballot_invalidated", {"ballot_id": "0" * 32, "reason": "unknown"})
    with pytest.raises(LedgerError):
        ledger.append("result", {})  # before closing
    with pytest.raises(LedgerError):
        ledger.append("no_such_type", {})
    assert ledger.size == 3
    with pytest.raises(ValueError):
        Ledger("bad cycle id", NoteSigner.generate("plaza.test/x"))
    assert origin_for("c1") == ledger.origin
