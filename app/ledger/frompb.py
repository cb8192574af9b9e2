"""Turn a past election in pabulib ``.pb`` format into a complete signed ledger export."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.ledger.keys import NoteSigner
from app.ledger.log import DEFAULT_CHECKPOINT_EVERY, Ledger, LedgerError, new_ballot_id, new_salt
from app.ledger.verify.recount import count, result_body, seed_commitment
from app.ledger.verify.schema import (
    PRIVACY,
    BallotEvent,
    number_to_json,
    origin_for,
    parse_config,
    rules_to_json,
)
from app.tally import RULES, Election, PbFormatError, TallyError, read_election


class FromPbError(ValueError):
    """The file cannot be turned into an export (unreadable, or a rule Plaza lacks)."""


@dataclass
class Conversion:
    ledger: Ledger
    election: Election
    rule: str
    published: dict[str, str]  # project id -> raw `selected` value of the file
    result: dict[str, Any]
    receipts: dict[str, str] = field(default_factory=dict)  # ballot id -> tlog-proof


def cycle_id_for(path: Path) -> str:
    cycle = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:200] or "cycle"
    return cycle


def convert(
    path: str | Path,
    *,
    signer: NoteSigner | None = None,
    cycle: str | None = None,
    seed: bytes | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    receipts: bool = False,
    pad_to: int = 0,
) -> Conversion:
    """Build the ledger of the election in ``path``: configuration, voting opened, every
    ballot in file order (cycled to ``pad_to`` ballots if asked), voting closed, and the result
    counted with the file's rule by the same code the verifier recounts with."""
    path = Path(path)
    try:
        election, published = read_election(path)
    except (OSError, PbFormatError) as exc:
        raise FromPbError(str(exc)) from exc
    meta = election.meta
    rule = meta.get("rule", "").strip()
    if rule not in RULES:
        raise FromPbError(f"{path.name}: rule {rule!r} is not one Plaza implements")
    cycle = cycle or cycle_id_for(path)
    signer = signer or NoteSigner.generate(origin_for(cycle))
    seed = secrets.token_bytes(16) if seed is None else seed
    ledger = Ledger(cycle, signer, checkpoint_every=checkpoint_every)
    district = (meta.get("district") or meta.get("unit") or "main").strip() or "main"
    config_body: dict[str, Any] = {
        "title": meta.get("description", path.stem),
        "log": {
            "origin": ledger.origin,
            "key": ledger.verifier_key,
            "checkpoint_every": checkpoint_every,
        },
        "districts": [
            {"id": district, "name": district, "budget": number_to_json(election.budget)}
        ],
        "projects": [
            {"id": p.id, "name": p.name, "cost": number_to_json(p.cost), "district": district}
            for p in election.projects.values()
        ],
        "ballot": rules_to_json(election.rules),
        "tally": {
            "rule": rule,
            "rule_version": RULES[rule],
            "tie_break": "default",
            "seed_commitment": seed_commitment(seed),
            "score_threshold": None
            if election.score_threshold is None
            else number_to_json(election.score_threshold),
        },
        "privacy": dict(PRIVACY),
    }
    try:
        config = parse_config(config_body, cycle, RULES)
    except ValueError as exc:
        raise FromPbError(f"{path.name}: {exc}") from exc
    ledger.append("configured", config_body)
    ledger.append("voting_opened", {})
    ballots = election.ballots
    total = max(pad_to, len(ballots)) if ballots else 0
    events: list[BallotEvent] = []
    for i in range(total):
        b = ballots[i % len(ballots)]
        raw_points = None if b.points is None else [number_to_json(p) for p in b.points]
        ballot_id = new_ballot_id()
        seq = ledger.append(
            "ballot",
            {
                "ballot_id": ballot_id,
                "district": district,
                "channel": "import",
                "choices": {"projects": list(b.projects), "points": raw_points},
                "salt": new_salt(),
            },
        )
        events.append(
            BallotEvent(
                seq,
                ballot_id,
                district,
                "import",
                b.projects,
                b.points,
                None if raw_points is None else tuple(raw_points),
                b,
            )
        )
    ledger.append("voting_closed", {})
    try:
        outcomes = count(config, events, seed)
    except TallyError as exc:
        raise FromPbError(f"{path.name}: {exc}") from exc
    result = result_body(config, outcomes, seed)
    ledger.append("result", result)
    conversion = Conversion(ledger, election, rule, published, result)
    if receipts:
        for ev in events:
            conversion.receipts[ev.ballot_id] = ledger.receipt(ev.seq, ev.ballot_id)
    return conversion


def write_receipts(conversion: Conversion, directory: str | Path) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for ballot_id, text in conversion.receipts.items():
        (target / f"{ballot_id}.tlog-proof").write_text(text, encoding="utf-8")


__all__ = ["Conversion", "FromPbError", "LedgerError", "convert", "write_receipts"]
