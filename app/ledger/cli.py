"""Command-line entry points of this domain (registered by app/cli.py):
``plaza verify DIR [--receipt FILE ...]`` and ``plaza ledger from-pb|keygen``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Usage errors print one line (no usage block) and exit 2, like every other CLI error."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = _one_line_errors(
        sub.add_parser(
            "verify", help="verify a ledger export offline (one PASS/FAIL line per check)"
        )
    )
    verify.add_argument("export", metavar="DIR", help="export directory")
    verify.add_argument(
        "--receipt", metavar="FILE", action="append", default=[], help="a receipt to check"
    )
    verify.set_defaults(func=run_verify)

    ledger = _one_line_errors(sub.add_parser("ledger", help="ledger tools"))
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND")
    lsub.required = True
    from_pb = _one_line_errors(
        lsub.add_parser("from-pb", help="turn a pabulib .pb election into a signed export")
    )
    from_pb.add_argument("pb", metavar="FILE.pb")
    from_pb.add_argument("export", metavar="DIR", help="export directory (new or empty)")
    from_pb.add_argument("--key", metavar="KEYFILE", help="signer key (PRIVATE+KEY+...)")
    from_pb.add_argument("--cycle", metavar="ID", help="cycle id (default: from the file name)")
    from_pb.add_argument("--receipts", metavar="DIR", help="also write one receipt per ballot")
    from_pb.set_defaults(func=run_from_pb)
    keygen = _one_line_errors(lsub.add_parser("keygen", help="write a new Ed25519 signer key file"))
    keygen.add_argument("name", metavar="NAME", help="key name, e.g. plaza.example.org/ledger")
    keygen.add_argument("keyfile", metavar="KEYFILE")
    keygen.set_defaults(func=run_keygen)


def _fail(command: str, message: str) -> int:
    print(f"plaza {command}: error: {message}", file=sys.stderr)
    return 2


def run_verify(args: argparse.Namespace) -> int:
    from app.ledger.verify.verifier import run

    return run(args.export, args.receipt)


def run_from_pb(args: argparse.Namespace) -> int:
    from app.ledger.frompb import FromPbError, convert, write_receipts
    from app.ledger.keys import NoteSigner
    from app.ledger.log import LedgerError
    from app.ledger.verify.note import NoteError

    try:
        signer = NoteSigner.load(args.key) if args.key else None
        target = Path(args.export)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise LedgerError(f"{target} exists and is not an empty directory")
        conversion = convert(args.pb, signer=signer, cycle=args.cycle, receipts=bool(args.receipts))
        conversion.ledger.write_export(target)
        if args.receipts:
            write_receipts(conversion, args.receipts)
    except (FromPbError, LedgerError, NoteError, OSError) as exc:
        return _fail("ledger from-pb", str(exc))
    ledger = conversion.ledger
    print(
        f"wrote {target}: {ledger.size} events, {len(ledger.checkpoints)} checkpoints, "
        f"cycle {ledger.cycle}, rule {conversion.rule}"
    )
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    from app.ledger.keys import NoteSigner
    from app.ledger.verify.note import NoteError

    path = Path(args.keyfile)
    try:
        signer = NoteSigner.generate(args.name)
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(signer.encode() + "\n")
        path.chmod(0o600)
    except (NoteError, OSError) as exc:
        return _fail("ledger keygen", str(exc))
    print(signer.verifier.encode())
    return 0
