"""Hypothesis stateful test: appends, checkpoints and proofs in any order keep every pair of
checkpoints consistent and every leaf provably included."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.ledger.keys import CheckpointSigner, NoteSigner, SplitViewError
from app.ledger.log import Ledger
from app.ledger.verify.merkle import (
    CompactRange,
    MerkleTree,
    hash_leaf,
    verify_consistency,
    verify_inclusion,
)
from app.ledger.verify.note import Checkpoint, TlogProof, find_split_views, open_checkpoint
from app.ledger.verify.verifier import ExportData, verify_export

SIGNER = NoteSigner.generate("plaza.test/stateful")
ORIGIN = "plaza.ledger/stateful"


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree = MerkleTree()
        self.entries: list[bytes] = []
        self.stream = CompactRange()
        self.signer = CheckpointSigner(SIGNER, ORIGIN)
        self.checkpoints: list[Checkpoint] = []

    @rule(entry=st.binary(max_size=40))
    def append(self, entry: bytes) -> None:
        assert self.tree.append(entry) == len(self.entries)
        self.entries.append(entry)
        self.stream.append(hash_leaf(entry))

    @rule(count=st.integers(1, 40))
    def append_many(self, count: int) -> None:
        for i in range(count):
            self.append(b"bulk %d" % (len(self.entries) + i))

    @rule()
    def checkpoint(self) -> None:
        note = self.signer.sign(self.tree.size, self.tree.root())
        self.checkpoints.append(open_checkpoint(note, SIGNER.verifier, ORIGIN))

    @precondition(lambda self: self.checkpoints)
    @rule(data=st.data())
    def resign_old_size_with_other_root_is_refused(self, data: st.DataObject) -> None:
        cp = data.draw(st.sampled_from(self.checkpoints))
        try:
            self.signer.sign(cp.size, bytes(32) if cp.root != bytes(32) else bytes([1]) * 32)
        except SplitViewError:
            return
        raise AssertionError("signed a second root for one size")

    @precondition(lambda self: self.checkpoints)
    @rule(data=st.data())
    def inclusion(self, data: st.DataObject) -> None:
        cp = data.draw(st.sampled_from(self.checkpoints))
        if cp.size == 0:
            return
        index = data.draw(st.integers(0, cp.size - 1))
        proof = self.tree.inclusion_proof(index, cp.size)
        verify_inclusion(index, cp.size, hash_leaf(self.entries[index]), proof, cp.root)

    @precondition(lambda self: len(self.checkpoints) >= 2)
    @rule(data=st.data())
    def consistency(self, data: st.DataObject) -> None:
        a = data.draw(st.sampled_from(self.checkpoints))
        b = data.draw(st.sampled_from(self.checkpoints))
        a, b = sorted((a, b), key=lambda cp: cp.size)
        if a.size == 0:
            return
        proof = self.tree.consistency_proof(a.size, b.size)
        verify_consistency(a.size, b.size, proof, a.root, b.root)

    @invariant()
    def roots_agree(self) -> None:
        assert self.stream.root() == self.tree.root()
        assert self.tree.size == len(self.entries)

    @invariant()
    def no_split_view(self) -> None:
        assert find_split_views(self.checkpoints) == []
        for cp in self.checkpoints:
            assert self.tree.root(cp.size) == cp.root


LogMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestLog = LogMachine.TestCase


class LedgerMachine(RuleBasedStateMachine):
    """The same laws through the Ledger API: ballots, checkpoints and receipts in any order;
    every receipt stays valid against every later checkpoint, and the closed log verifies
    with all receipts."""

    def __init__(self) -> None:
        super().__init__()
        from tests.ledger.test_log import _config

        self.ledger = Ledger("stateful", SIGNER, checkpoint_every=3)
        self.config = _config(self.ledger)
        self.ledger.append("configured", self.config)
        self.ledger.append("voting_opened", {})
        self.ballots: list[tuple[int, dict[str, Any]]] = []
        self.receipts: dict[str, str] = {}

    @rule(
        choice=st.sampled_from(
            [
                ("north", "n-park"),
                ("north", "n-lib", "n-bike"),
                ("south", "s-pool"),
                ("south", "s-trees"),
            ]
        )
    )
    def cast(self, choice: tuple[str, ...]) -> None:
        from tests.ledger.test_log import _ballot

        body = _ballot(choice[0], *choice[1:])
        self.ballots.append((self.ledger.append("ballot", body), body))

    @rule()
    def checkpoint(self) -> None:
        self.ledger.checkpoint()

    @precondition(lambda self: self.ballots)
    @rule(data=st.data())
    def receipt(self, data: st.DataObject) -> None:
        seq, body = data.draw(st.sampled_from(self.ballots))
        self.receipts[body["ballot_id"]] = self.ledger.receipt(seq, body["ballot_id"])

    @invariant()
    def receipts_hold(self) -> None:
        tree = self.ledger.tree
        latest = max(self.ledger.checkpoints)
        latest_root = tree.root(latest)
        for text in self.receipts.values():
            proof = TlogProof.parse(text)
            cp = open_checkpoint(proof.checkpoint, SIGNER.verifier, self.ledger.origin)
            leaf = tree.leaf_hash(proof.index)
            verify_inclusion(proof.index, cp.size, leaf, list(proof.proof), cp.root)
            if cp.size < latest:
                verify_consistency(
                    cp.size,
                    latest,
                    tree.consistency_proof(cp.size, latest),
                    cp.root,
                    latest_root,
                )

    def teardown(self) -> None:
        from tests.ledger.test_log import _finish

        _finish(self.ledger, self.config, self.ballots, set())
        data = ExportData(
            b"".join(line + b"\n" for line in self.ledger.events),
            {str(s): n.encode() for s, n in self.ledger.checkpoints.items()},
            (self.ledger.verifier_key + "\n").encode(),
            {bid: text.encode() for bid, text in self.receipts.items()},
        )
        self.ledger.checkpoint()
        data.checkpoints = {str(s): n.encode() for s, n in self.ledger.checkpoints.items()}
        report = verify_export(data)
        assert report.ok, [r.line() for r in report.results if not r.ok]


LedgerMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestLedger = LedgerMachine.TestCase
