"""``python -m app.ledger.verify DIR [--receipt FILE ...]``: the verifier without the rest of
Plaza (this package needs only the standard library, ``cryptography`` and ``app.tally``)."""

from __future__ import annotations

import argparse
import sys

from app.ledger.verify.verifier import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.ledger.verify", description="Verify a Plaza ledger export offline."
    )
    parser.add_argument("export", metavar="DIR")
    parser.add_argument("--receipt", metavar="FILE", action="append", default=[])
    args = parser.parse_args(argv)
    return run(args.export, args.receipt)


if __name__ == "__main__":
    sys.exit(main())
