"""The append-only log of one cycle: canonical events, the Merkle tree, signed checkpoints,
receipts and the export directory."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from app.ledger.keys import CheckpointSigner, NoteSigner
from app.ledger.verify.jcs import canonicalize
from app.ledger.verify.merkle import MerkleTree
from app.ledger.verify.note import TlogProof
from app.ledger.verify.schema import check_cycle_id, origin_for

DEFAULT_CHECKPOINT_EVERY = 1000


class LedgerError(ValueError):
    """A ledger operation that would break the log's rules."""


def new_ballot_id() -> str:
    return secrets.token_hex(16)


def new_salt() -> str:
    return secrets.token_hex(16)


class Ledger:
    """Append events, sign checkpoints, issue receipts, write the export.

    Checkpoint policy (docs/ledger.md): a checkpoint after every event other than ``ballot``
    and ``ballot_invalidated``, at every size that is a multiple of ``checkpoint_every``, and at
    the final size.
    """

    def __init__(
        self,
        cycle: str,
        signer: NoteSigner,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self.cycle = check_cycle_id(cycle)
        self.origin = origin_for(cycle)
        self.signer = CheckpointSigner(signer, self.origin)
        self.checkpoint_every = checkpoint_every
        self.events: list[bytes] = []
        self.tree = MerkleTree()
        self.checkpoints: dict[int, str] = {}
        self.phase = "start"  # start -> configured -> open -> closed -> resulted
        self._ballot_ids: set[str] = set()
        self._invalidated: set[str] = set()

    @property
    def size(self) -> int:
        return self.tree.size

    @property
    def verifier_key(self) -> str:
        return self.signer.signer.verifier.encode()

    def _check_phase(self, event_type: str, body: dict[str, Any]) -> str:
        """The phase after appending this event; LedgerError if the log's rules forbid it."""
        allowed = {
            "configured": ("start", "configured"),
            "amended": ("configured", "configured"),
            "voting_opened": ("configured", "open"),
            "ballot": ("open", "open"),
            "ballot_invalidated": ("open|closed", ""),
            "voting_closed": ("open", "closed"),
            "result": ("closed", "resulted"),
        }
        if event_type not in allowed:
            raise LedgerError(f"unknown event type {event_type!r}")
        before, after = allowed[event_type]
        if event_type == "configured":
            log = body.get("log")
            expected = {
                "origin": self.origin,
                "key": self.verifier_key,
                "checkpoint_every": self.checkpoint_every,
            }
            if log != expected:
                raise LedgerError(f"the configured log section must be {expected}")
        if self.phase not in before.split("|"):
            raise LedgerError(f"no {event_type} event while the log is {self.phase}")
        if event_type == "ballot" and body.get("ballot_id") in self._ballot_ids:
            raise LedgerError("ballot id already in the log")
        if event_type == "ballot_invalidated":
            target = body.get("ballot_id")
            if target not in self._ballot_ids or target in self._invalidated:
                raise LedgerError("a correction names an earlier ballot, once")
        return after or self.phase

    def append(self, event_type: str, body: dict[str, Any]) -> int:
        """Append one event (checked against the phase rules) and sign the checkpoints the
        policy asks for."""
        next_phase = self._check_phase(event_type, body)
        seq = self.size
        line = canonicalize({"cycle": self.cycle, "seq": seq, "type": event_type, "body": body})
        self.events.append(line)
        self.tree.append(line)
        self.phase = next_phase
        if event_type == "ballot":
            self._ballot_ids.add(body["ballot_id"])
        elif event_type == "ballot_invalidated":
            self._invalidated.add(body["ballot_id"])
        if event_type not in ("ballot", "ballot_invalidated") or (
            self.size % self.checkpoint_every == 0
        ):
            self.checkpoint()
        return seq

    def public_entry(self, index: int) -> bytes | None:
        """What may be published of entry ``index`` now: the event, or None while it is a
        ballot and voting has not closed (then only its leaf hash, ``tree.leaf_hash(index)``,
        is public). See docs/decisions/0001-ballot-secrecy-and-receipts.md."""
        line = self.events[index]
        if self.phase in ("closed", "resulted") or not line.endswith(b'"type":"ballot"}'):
            return line
        return None

    def checkpoint(self) -> str:
        """Sign (or return the already signed) checkpoint of the current size."""
        size = self.size
        if size not in self.checkpoints:
            self.checkpoints[size] = self.signer.sign(size, self.tree.root())
        return self.checkpoints[size]

    def receipt(self, index: int, ballot_id: str) -> str:
        """A tlog-proof that entry ``index`` (ballot ``ballot_id``) is in the log, against
        the first checkpoint that covers it (signing one at the current size if needed)."""
        if not 0 <= index < self.size:
            raise LedgerError(f"no entry {index}")
        covering = [s for s in self.checkpoints if s > index]
        size = min(covering) if covering else self.size
        note = self.checkpoints.get(size) or self.checkpoint()
        proof = self.tree.inclusion_proof(index, size)
        return TlogProof(index, tuple(proof), note, ballot_id.encode("utf-8")).encode()

    def write_export(self, directory: str | Path) -> Path:
        """Write events.jsonl, checkpoints/<size> and key.pub into ``directory`` (created
        empty or replaced atomically, so a half-written export never appears)."""
        if self.phase not in ("closed", "resulted"):
            raise LedgerError("ballot bodies are published only after voting_closed")
        self.checkpoint()
        target = Path(directory)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise LedgerError(f"{target} exists and is not an empty directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        with open(tmp / "events.jsonl", "wb") as fh:
            for line in self.events:
                fh.write(line)
                fh.write(b"\n")
        (tmp / "checkpoints").mkdir()
        for size, note in self.checkpoints.items():
            (tmp / "checkpoints" / str(size)).write_text(note, encoding="utf-8")
        (tmp / "key.pub").write_text(self.verifier_key + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
        return target
