"""cycle tie-break seed: drawn when voting opens, frozen with the voting rules

Revision ID: 7c3e9a1b2d40
Revises: 5d1f0c2a9e47
Create Date: 2026-11-23 13:00:00

The seed of the lot that breaks exact ties is drawn with ``secrets`` when voting opens and
stored; its commitment is public from then on and the seed is revealed with the results.
The freeze triggers are rebuilt so the seed cannot change once drawn.  Cycles that opened
voting before this revision get a seed drawn now (their old seed was derivable from the id).
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c3e9a1b2d40"
down_revision: str | Sequence[str] | None = "5d1f0c2a9e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COLUMNS = ("ballot_kind", "min_choices", "max_choices", "tally_rule", "tie_break")
NEW_COLUMNS = (*OLD_COLUMNS, "tie_break_seed")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _create_trigger(columns: Sequence[str]) -> None:
    if _sqlite():
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        op.execute(
            f"""
            CREATE TRIGGER trg_cycle_rules_frozen
            BEFORE UPDATE ON cycle FOR EACH ROW
            WHEN OLD.rules_frozen_at IS NOT NULL
             AND ({changed} OR NEW.rules_frozen_at IS NOT OLD.rules_frozen_at)
            BEGIN SELECT RAISE(ABORT, 'voting rules are frozen once voting opens'); END
            """
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION plaza_cycle_rules_frozen() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.rules_frozen_at IS NOT NULL
             AND ({changed} OR NEW.rules_frozen_at IS DISTINCT FROM OLD.rules_frozen_at) THEN
            RAISE EXCEPTION 'voting rules are frozen once voting opens'
              USING ERRCODE = 'check_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_cycle_rules_frozen BEFORE UPDATE ON cycle "
        "FOR EACH ROW EXECUTE FUNCTION plaza_cycle_rules_frozen()"
    )


def _drop_trigger() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_cycle_rules_frozen" + ("" if _sqlite() else " ON cycle"))


def upgrade() -> None:
    _drop_trigger()
    # Plain ALTER TABLE (SQLite has ADD/DROP COLUMN): a batch copy of ``cycle`` would break the
    # district trigger that reads it.
    op.add_column("cycle", sa.Column("tie_break_seed", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id FROM cycle WHERE rules_frozen_at IS NOT NULL")).all()
    for (cycle_id,) in rows:
        bind.execute(
            sa.text("UPDATE cycle SET tie_break_seed = :seed WHERE id = :id"),
            {"seed": secrets.token_hex(32), "id": cycle_id},
        )
    _create_trigger(NEW_COLUMNS)


def downgrade() -> None:
    _drop_trigger()
    op.execute("ALTER TABLE cycle DROP COLUMN tie_break_seed")
    _create_trigger(OLD_COLUMNS)
