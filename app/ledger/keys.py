"""Log signing keys and the checkpoint signer (the server side of app.ledger.verify.note)."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.ledger.verify.note import (
    SIG_ED25519,
    Checkpoint,
    NoteError,
    VerifierKey,
    b64decode,
    b64encode,
    key_id,
    signature_line,
    valid_key_name,
)


class SplitViewError(RuntimeError):
    """Refused: the log already signed a different root for this tree size."""


class NoteSigner:
    """An Ed25519 note signer; its key file is ``PRIVATE+KEY+<name>+<id>+<base64(0x01||seed)>``."""

    def __init__(self, name: str, seed: bytes) -> None:
        if not valid_key_name(name):
            raise NoteError("a key name is non-empty, without spaces or '+'")
        if len(seed) != 32:
            raise NoteError("an Ed25519 seed has 32 bytes")
        self.name = name
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = VerifierKey(name, public)
        self.key_id = key_id(name, public)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, secrets.token_bytes(32))

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<key id>+<key>")
        _, _, name, hex_id, material = parts
        raw = b64decode(material, "signer key")
        if len(raw) != 33 or raw[0] != SIG_ED25519:
            raise NoteError("only Ed25519 signer keys (type 0x01) are supported")
        signer = cls(name, raw[1:])
        if f"{signer.key_id:08x}" != hex_id:
            raise NoteError("the key id does not match the key")
        return signer

    @classmethod
    def load(cls, path: str | Path) -> NoteSigner:
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    def encode(self) -> str:
        material = b64encode(bytes([SIG_ED25519]) + self._seed)
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{material}"

    def sign(self, text: str) -> str:
        """The signed note of ``text`` (which must end with a newline)."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text ends with one newline and has no blank line")
        signature = self._key.sign(text.encode("utf-8"))
        return text + "\n" + signature_line(self.name, self.key_id, signature)


class CheckpointSigner:
    """Signs the checkpoints of one log and never two different roots for one size."""

    def __init__(self, signer: NoteSigner, origin: str) -> None:
        self.signer = signer
        self.origin = origin
        self._signed: dict[int, bytes] = {}

    def sign(self, size: int, root: bytes) -> str:
        previous = self._signed.get(size)
        if previous is not None and previous != root:
            raise SplitViewError(f"already signed a different root for size {size}")
        self._signed[size] = root
        return self.signer.sign(Checkpoint(self.origin, size, root).text())
