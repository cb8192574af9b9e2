"""The `plaza` command.

Domains that offer commands expose ``register(subparsers)`` in their own ``cli`` module
(``app/tally/cli.py``: ``tally``; ``app/ledger/cli.py``: ``verify``, ``ledger``); this file
assembles them and holds the web commands (``serve``, ``migrate``, ``demo``).  Heavy imports
(the web stack) happen inside the command that needs them, so `plaza tally` and
`plaza verify` start fast and load no server code.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from typing import Any

from app.ledger import cli as ledger_cli
from app.tally import cli as tally_cli


class CommandError(Exception):
    """A web command failed in a way a person can fix; printed as one line."""


def _default_port() -> int:
    raw = os.environ.get("PORT", "8000")
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
        raise CommandError(f"PORT must be a port number, not {raw!r}")
    return int(raw)


def _settings() -> Any:
    from pydantic import ValidationError

    from app.core.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(f"invalid settings: {first.get('msg', exc)}") from None


def _migrate(settings: Any) -> None:
    from app.core import migrations
    from app.core.db import engine_for

    migrations.upgrade(engine_for(settings.database_url))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    port = args.port if args.port is not None else _default_port()
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    print(f"plaza: serving on http://{args.host}:{port} ({args.workers} worker(s))", flush=True)
    uvicorn.run(
        "app.main:server_app",
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _settings()
    return _serve(args)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    _migrate(settings)
    print(f"plaza: database at {settings.database_url.split('@')[-1]} is at the latest schema")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.environment == "production":
        raise CommandError("the demo (with its known passwords) is refused in production")
    _migrate(settings)
    from app.core.db import engine_for, write_transaction
    from app.demo import load_demo

    with write_transaction(engine_for(settings.database_url)) as session:
        summary = load_demo(session, settings)
    print("plaza: demo city " + ("loaded" if summary.created else "already loaded"))
    print(f"  database: {settings.database_url}")
    print(f"  cycle open for voting: /cycles/{summary.voting_cycle_id}")
    print(f"  cycle taking proposals: /cycles/{summary.intake_cycle_id}")
    print("  accounts (role, e-mail, password):")
    for role, email, password in summary.accounts:
        print(f"    {role:<10} {email:<34} {password}")
    for line in summary.lines:
        print("  " + line)
    sys.stdout.flush()
    if args.serve:
        return _serve(args)
    return 0


def cmd_create_account(args: argparse.Namespace) -> int:
    settings = _settings()
    password = os.environ.get("PLAZA_NEW_PASSWORD") or getpass.getpass("Password: ")
    from app.accounts import service as accounts_service
    from app.core.db import engine_for, write_transaction
    from app.core.errors import DomainError
    from app.core.security import Role

    try:
        with write_transaction(engine_for(settings.database_url)) as session:
            user = accounts_service.create_account(
                session,
                email=args.email,
                password=password,
                display_name=args.name,
                role=Role(args.role),
                settings=settings,
            )
            print(f"plaza: created {user.role} account {user.email}")
    except DomainError as exc:
        raise CommandError(exc.message) from None
    return 0


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")


def _one_line_errors(command: Any) -> Any:
    """Database and file-system failures of a web command become one line, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            code: int = command(args)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise CommandError(
                f"database error: {reason} (is PLAZA_DATABASE_URL right, and migrated?)"
            ) from None
        except OSError as exc:
            raise CommandError(f"{exc.strerror or exc}: {exc.filename or ''}".strip()) from None
        return code

    return run


def register_web(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the web app with uvicorn")
    _add_serve_options(serve)
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="bring the database to the latest schema")
    migrate.set_defaults(func=_one_line_errors(cmd_migrate))
    demo = sub.add_parser("demo", help="migrate, load the demo city, print its accounts")
    demo.add_argument("--serve", action="store_true", help="then serve it")
    _add_serve_options(demo)
    demo.set_defaults(func=_one_line_errors(cmd_demo))
    account = sub.add_parser(
        "create-account",
        help="create an organizer or auditor account (password: $PLAZA_NEW_PASSWORD or prompt)",
    )
    account.add_argument("--role", choices=["organizer", "auditor", "resident"], required=True)
    account.add_argument("--email", required=True)
    account.add_argument("--name", default="")
    account.set_defaults(func=_one_line_errors(cmd_create_account))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plaza", description="Plaza participatory budgeting platform."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register_web(sub)
    tally_cli.register(sub)
    ledger_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CommandError as exc:
        print(f"plaza: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("plaza: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
