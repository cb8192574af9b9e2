"""Command-line entry points of this domain (registered by app/cli.py)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this domain's subcommands to the `plaza` parser (none yet)."""
