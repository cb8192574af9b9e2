"""The `plaza` command.

Domains that offer commands expose ``register(subparsers)`` in their own ``cli`` module
(``app/tally/cli.py``: ``tally``; ``app/ledger/cli.py``: ``verify``, ``ledger``); this file
assembles them and holds the web commands (``serve``, ``migrate``, ``demo``).  Heavy imports
(the web stack) happen inside the command that needs them, so `plaza tally` and
`plaza verify` start fast and load no server code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.ledger import cli as ledger_cli
from app.tally import cli as tally_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plaza", description="Plaza participatory budgeting platform."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    tally_cli.register(sub)
    ledger_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("plaza: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
