"""C2SP signed notes (Ed25519), tlog-checkpoints and tlog-proofs: parsing and verification.

Formats: c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-proof.  Only the
Ed25519 signature type (0x01) is supported; signatures by other keys are ignored, as the
signed-note specification requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.ledger.verify.merkle import HASH_SIZE

EM_DASH = "\u2014"
SIG_ED25519 = 0x01
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A note, key, checkpoint or proof is malformed or its signature does not verify."""


def b64decode(text: str, what: str = "base64") -> bytes:
    """Strict standard base64 (RFC 4648 section 4): padding required, no stray characters,
    and the unused bits of the last character zero (section 3.5), so that one value has
    exactly one encoding and a signed file cannot be altered without changing its bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not in canonical base64")
    return raw


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes, sig_type: int = SIG_ED25519) -> int:
    """SHA-256(key name || 0x0A || signature type || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 note verifier key, written ``<name>+<hex key id>+<base64(0x01 || key)>``."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64encode(bytes([SIG_ED25519]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip("\n").split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<key id>+<key>")
        name, hex_id, material = parts
        if not valid_key_name(name):
            raise NoteError("invalid key name")
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("the key id is 8 lower-case hex digits")
        raw = b64decode(material, "verifier key")
        if len(raw) != 33 or raw[0] != SIG_ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        key = cls(name, raw[1:])
        if key.key_id != int(hex_id, 16):
            raise NoteError("the key id does not match the key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]


def parse_note(data: bytes | str) -> Note:
    """Split a signed note into its text and signature lines (no verification)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note must be valid UTF-8") from exc
    if _CONTROL.search(data):
        raise NoteError("a note must not contain control characters other than newline")
    if not data.endswith("\n"):
        raise NoteError("a note ends with a newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("a note needs a blank line before its signatures")
    text, sig_block = data[: split + 1], data[split + 2 :]
    signatures: list[Signature] = []
    for line in sig_block[:-1].split("\n"):
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError("a signature line starts with an em dash and a space")
        name, sep, sig64 = line[len(prefix) :].partition(" ")
        if not sep or not valid_key_name(name) or " " in sig64:
            raise NoteError("a signature line is '— <key name> <base64 signature>'")
        raw = b64decode(sig64, "signature")
        if len(raw) < 5:
            raise NoteError("a signature is a 4-byte key id and the signature bytes")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    if not signatures:
        raise NoteError("a note has at least one signature")
    return Note(text, tuple(signatures))


def open_note(data: bytes | str, keys: Iterable[VerifierKey]) -> Note:
    """Parse and verify: every signature by a known key must verify, and at least one must
    exist.  Signatures by unknown keys are ignored."""
    note = parse_note(data)
    known = {(k.name, k.key_id): k for k in keys}
    verified = 0
    message = note.text.encode("utf-8")
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(message, sig.signature):
            raise NoteError(f"the signature by {sig.name} does not verify")
        verified += 1
    if not verified:
        raise NoteError("no signature by a known key")
    return note


def signature_line(name: str, kid: int, signature: bytes) -> str:
    return f"{EM_DASH} {name} {b64encode(kid.to_bytes(4, 'big') + signature)}\n"


@dataclass(frozen=True)
class Checkpoint:
    """The note text of a c2sp.org/tlog-checkpoint."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = field(default=())

    def text(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("a checkpoint is at least three non-empty lines")
        origin, size_text, root64, *ext = lines
        if not _DECIMAL.fullmatch(size_text):
            raise NoteError("the tree size is a decimal without leading zeroes")
        root = b64decode(root64, "root hash")
        if len(root) != HASH_SIZE:
            raise NoteError("the root hash has 32 bytes")
        return cls(origin, int(size_text), root, tuple(ext))


def open_checkpoint(data: bytes | str, key: VerifierKey, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with ``key``; if ``origin`` is given it must match."""
    note = open_note(data, [key])
    checkpoint = Checkpoint.parse(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


@dataclass(frozen=True)
class TlogProof:
    """A c2sp.org/tlog-proof: index, inclusion proof, optional extra data, signed checkpoint."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(b64encode(h) for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, data: bytes | str) -> TlogProof:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NoteError("a proof must be valid UTF-8") from exc
        head, sep, checkpoint = data.partition("\n\n")
        if not sep:
            raise NoteError("a proof needs a blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != TLOG_PROOF_HEADER:
            raise NoteError(f"a proof starts with {TLOG_PROOF_HEADER}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            extra = b64decode(lines[pos][6:], "extra data")
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise NoteError("a proof names its index")
        index_text = lines[pos][6:]
        if not _DECIMAL.fullmatch(index_text):
            raise NoteError("the index is a decimal without leading zeroes")
        hashes = []
        for line in lines[pos + 1 :]:
            h = b64decode(line, "proof hash")
            if len(h) != HASH_SIZE:
                raise NoteError("a proof hash has 32 bytes")
            hashes.append(h)
        return cls(int(index_text), tuple(hashes), checkpoint, extra)


def find_split_views(checkpoints: Iterable[Checkpoint]) -> list[tuple[int, bytes, bytes]]:
    """Pairs of checkpoints of one origin with the same size but different roots: proof that
    the log signed two different trees (misbehaviour)."""
    seen: dict[tuple[str, int], bytes] = {}
    conflicts: list[tuple[int, bytes, bytes]] = []
    for cp in checkpoints:
        root = seen.setdefault((cp.origin, cp.size), cp.root)
        if root != cp.root:
            conflicts.append((cp.size, root, cp.root))
    return conflicts
