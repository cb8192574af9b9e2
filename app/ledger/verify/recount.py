"""Rebuild each district's election from the log and count it with app.tally."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from app.ledger.verify.schema import BallotEvent, Config, number_to_json
from app.tally import Election, Outcome, tally


def seed_commitment(seed: bytes) -> str:
    """The commitment published in ``configured`` to the tie-break seed revealed in ``result``."""
    return hashlib.sha256(b"plaza-tie-break-seed\x00" + seed).hexdigest()


def elections(config: Config, ballots: Iterable[BallotEvent]) -> dict[str, Election]:
    """One Election per district, with its counted ballots in log order."""
    by_district: dict[str, list[Any]] = {did: [] for did in config.districts}
    for b in ballots:
        by_district[b.district].append(b.ballot)
    return {
        did: Election(
            budget=district.budget,
            projects=dict(config.projects[did]),
            rules=config.rules,
            ballots=tuple(by_district[did]),
            score_threshold=config.score_threshold,
        )
        for did, district in config.districts.items()
    }


def count(config: Config, ballots: Iterable[BallotEvent], seed: bytes) -> dict[str, Outcome]:
    return {
        did: tally(election, config.rule, tie_break=config.tie_break, seed=seed)
        for did, election in elections(config, ballots).items()
    }


def result_body(config: Config, outcomes: dict[str, Outcome], seed: bytes) -> dict[str, Any]:
    """The body of the ``result`` event for these outcomes (one per district, config order)."""
    first = next(iter(outcomes.values()))
    return {
        "rule": first.rule,
        "rule_version": first.rule_version,
        "tie_break": first.tie_break,
        "seed": seed.hex(),
        "districts": [
            {
                "district": did,
                "selected": list(outcomes[did].selected),
                "totals": {pid: number_to_json(v) for pid, v in outcomes[did].scores.items()},
                "money_used": number_to_json(outcomes[did].cost),
            }
            for did in config.districts
        ],
    }
