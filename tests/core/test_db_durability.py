"""An acknowledged write survives a power cut on SQLite: WAL with synchronous=FULL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.core.db import engine_for


def test_sqlite_commits_are_durable(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'durable.sqlite3'}")
    try:
        with engine.connect() as connection:
            mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            level = connection.execute(text("PRAGMA synchronous")).scalar_one()
        assert mode == "wal"
        assert level == 2  # FULL (NORMAL = 1 may drop the last commits on a power cut)
    finally:
        engine.dispose()
