"""Tally: the pure counting engine (standard library, and numpy for equal shares).

Ballots in, outcome and explanation out: no web, no database. See docs/tally.md.
"""

from app.tally.engine import RULES, tally
from app.tally.model import (
    BALLOT_KINDS,
    Ballot,
    BallotKind,
    BallotRules,
    Ballots,
    Election,
    PbFormatError,
    Project,
    TallyError,
    ballot_points,
)
from app.tally.outcome import Outcome
from app.tally.pb import PbFile, parse_pb, read_election, read_pb, write_pb
from app.tally.tiebreak import TIE_BREAKS
from app.tally.validate import validate_ballot

__all__ = [
    "BALLOT_KINDS",
    "RULES",
    "TIE_BREAKS",
    "Ballot",
    "BallotKind",
    "BallotRules",
    "Ballots",
    "Election",
    "Outcome",
    "PbFile",
    "PbFormatError",
    "Project",
    "TallyError",
    "ballot_points",
    "parse_pb",
    "read_election",
    "read_pb",
    "tally",
    "validate_ballot",
    "write_pb",
]
