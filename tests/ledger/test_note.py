"""Signed notes, checkpoints and tlog-proofs against the C2SP worked examples and the
golang.org/x/mod/sumdb/note known answer (quoted as data, with their sources)."""

from __future__ import annotations

import pytest

from app.ledger.keys import CheckpointSigner, NoteSigner, SplitViewError
from app.ledger.verify.merkle import MerkleTree
from app.ledger.verify.note import (
    Checkpoint,
    NoteError,
    TlogProof,
    VerifierKey,
    b64decode,
    find_split_views,
    open_checkpoint,
    open_note,
    parse_note,
)

# C2SP/C2SP signed-note.md (commit d4c16da), section "Verifier keys", example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mF"
    "XmRKuwHjG1Yu72IneyaQM=\n"
)
# C2SP/C2SP signed-note.md (current), the introductory example (no key published).
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n"
    "\ned \u00e8 subito sera.\n"
    "\n\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJK"
    "ONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)
# golang.org/x/mod/sumdb/note, package documentation (BSD-3-Clause), the reference known answer.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# C2SP/C2SP tlog-checkpoint.md, the example checkpoint.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
# C2SP/C2SP tlog-proof.md, the example proof (its signatures are elided with [...] there,
# so only the proof part and the checkpoint text are parsed).
SPEC_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
)


def test_spec_verifier_key_and_note() -> None:
    key = VerifierKey.parse(SPEC_VKEY)
    assert key.name == "example.com/foo"
    assert key.key_id == 0x530D903A
    assert key.encode() == SPEC_VKEY
    assert open_note(SPEC_NOTE, [key]).text == "This is an example message.\n"
    with pytest.raises(NoteError):
        open_note(SPEC_NOTE.replace("example message", "example massage"), [key])


def test_go_known_answer_sign_and_verify() -> None:
    signer = NoteSigner.parse(GO_SKEY)
    assert signer.encode() == GO_SKEY
    assert signer.verifier.encode() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic
    assert open_note(GO_NOTE, [VerifierKey.parse(GO_VKEY)]).text == GO_TEXT


def test_unknown_keys_are_ignored_but_one_known_key_is_needed() -> None:
    go_key = VerifierKey.parse(GO_VKEY)
    spec_key = VerifierKey.parse(SPEC_VKEY)
    both = GO_NOTE + SPEC_NOTE.split("\n\n")[1]  # a second signature, by a key we do not trust
    assert open_note(both, [go_key]).text == GO_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        open_note(both, [go_key, spec_key])  # known key, signature over other text
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(GO_NOTE, [spec_key])
    # Same name, other key id: ignored, not verified.
    other = NoteSigner.generate("PeterNeumann").verifier
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(GO_NOTE, [other])


def test_quasimodo_example_parses() -> None:
    note = parse_note(QUASIMODO_NOTE)
    assert note.text.endswith("ed \u00e8 subito sera.\n")
    assert "\n\n" in note.text  # the text may hold blank lines; the last one separates
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert len(note.signatures[0].signature) == 64


@pytest.mark.parametrize(
    "bad",
    [
        GO_NOTE[:-1],  # no final newline
        GO_NOTE.replace("\n\n", "\n"),  # no blank line
        GO_NOTE.replace("\u2014", "-"),  # not an em dash
        GO_NOTE.replace("PeterNeumann x08", "Peter+Neumann x08"),
        GO_NOTE.replace("x08go", "x08g"),  # broken base64
        GO_NOTE.replace("problem,", "problem,\x07"),  # control character
        GO_TEXT + "\n",  # no signature at all
    ],
)
def test_malformed_notes(bad: str) -> None:
    with pytest.raises(NoteError):
        open_note(bad, [VerifierKey.parse(GO_VKEY)])


def test_spec_checkpoint_parses() -> None:
    note = parse_note(SPEC_CHECKPOINT)
    cp = Checkpoint.parse(note.text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.text() == note.text
    assert note.signatures[0].name == cp.origin


@pytest.mark.parametrize(
    "text",
    [
        "o\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nAAAA\n",
        "o\n1\n",
        "\n1\nx\n",
    ],
)
def test_bad_checkpoint_text(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_spec_tlog_proof_parses_and_round_trips() -> None:
    proof = TlogProof.parse(SPEC_PROOF_HEAD)
    assert proof.index == 73894
    assert len(proof.proof) == 5
    assert proof.extra is not None
    cp = Checkpoint.parse(proof.checkpoint)
    assert (cp.origin, cp.size) == ("example.com/fancylog", 109482)
    assert proof.index < cp.size
    assert proof.encode() == SPEC_PROOF_HEAD


def test_signed_checkpoint_and_receipt_round_trip() -> None:
    tree = MerkleTree()
    for i in range(11):
        tree.append(b"entry %d" % i)
    signer = CheckpointSigner(NoteSigner.generate("plaza.test/log"), "plaza.test/cycle-1")
    signed = signer.sign(tree.size, tree.root())
    cp = open_checkpoint(signed, signer.signer.verifier, origin="plaza.test/cycle-1")
    assert (cp.size, cp.root) == (11, tree.root())
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(signed, signer.signer.verifier, origin="plaza.test/cycle-2")
    receipt = TlogProof(3, tuple(tree.inclusion_proof(3)), signed, b"ballot-id")
    again = TlogProof.parse(receipt.encode())
    assert again == receipt


def test_signer_refuses_two_roots_for_one_size_and_verifier_reports_them() -> None:
    signer = CheckpointSigner(NoteSigner.generate("plaza.test/log"), "plaza.test/c")
    root_a, root_b = bytes(32), bytes([1]) * 32
    first = signer.sign(5, root_a)
    assert signer.sign(5, root_a) == first  # the same checkpoint again is fine
    with pytest.raises(SplitViewError):
        signer.sign(5, root_b)
    # A second signer with the same key (a compromised or buggy log) can sign both ...
    rogue = CheckpointSigner(signer.signer, "plaza.test/c")
    forged = rogue.sign(5, root_b)
    cps = [Checkpoint.parse(parse_note(n).text) for n in (first, forged)]
    # ... and the pair is evidence of misbehaviour.
    assert find_split_views(cps) == [(5, root_a, root_b)]
    assert find_split_views(cps[:1]) == []


def test_signer_key_file_round_trip() -> None:
    signer = NoteSigner.generate("plaza.test/k")
    assert NoteSigner.parse(signer.encode()).verifier == signer.verifier
    with pytest.raises(NoteError):
        NoteSigner.parse(signer.encode().replace("+", "-", 1))


def test_base64_must_be_canonical() -> None:
    # "x08go/...JnAM=" ends in M: changing it to N keeps the decoded bytes (unused bits).
    assert b64decode("QQ==") == b"A"
    for bad in ("QR==", "QQ", "Q Q==", "QQ==\n"):
        with pytest.raises(NoteError):
            b64decode(bad)
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("JnAM=", "JnAN="), [VerifierKey.parse(GO_VKEY)])
