"""Alembic builds the schema: upgrade head, downgrade base, upgrade again; no model drift.

Runs on a database of its own (a fresh SQLite file; a separate schema in PostgreSQL), so the
session-wide test database is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from app.core import migrations
from app.core.db import engine_for
from tests.conftest import database_unavailable, postgres_url

SCHEMA = "plaza_migration_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield engine_for(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
        return
    url = postgres_url()
    try:
        admin = engine_for(url)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    except Exception as exc:
        database_unavailable(f"{type(exc).__name__}: {exc}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_and_no_drift(empty_engine: Engine) -> None:
    from sqlmodel import SQLModel

    import app.models  # noqa: F401

    migrations.upgrade(empty_engine)
    expected = set(SQLModel.metadata.tables)
    assert _tables(empty_engine) == expected
    migrations.check(empty_engine)  # raises if autogenerate finds a difference
    migrations.downgrade(empty_engine, "base")
    assert _tables(empty_engine) == set()
    migrations.upgrade(empty_engine)
    assert _tables(empty_engine) == expected
    migrations.check(empty_engine)


def test_migration_files_are_date_prefixed() -> None:
    versions = Path(migrations.ROOT / "migrations" / "versions")
    files = sorted(p.name for p in versions.glob("*.py"))
    assert files
    for name in files:
        assert name[:8].isdigit() and name[8] == "_", name


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert len(script.get_heads()) == 1, "merge the Alembic heads: alembic merge heads"
