"""freeze voting rules and district budgets in the database once voting opens

Revision ID: 5d1f0c2a9e47
Revises: 21447d35115d
Create Date: 2026-11-23 12:10:00

The service refuses these changes with a message; the triggers make sure no other code path
(a script, a bug, a manual UPDATE) can change what voters were shown after voting opened.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d1f0c2a9e47"
down_revision: str | Sequence[str] | None = "21447d35115d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULE_COLUMNS = ("ballot_kind", "min_choices", "max_choices", "tally_rule", "tie_break")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in RULE_COLUMNS)
        op.execute(
            f"""
            CREATE TRIGGER trg_cycle_rules_frozen
            BEFORE UPDATE ON cycle FOR EACH ROW
            WHEN OLD.rules_frozen_at IS NOT NULL
             AND ({changed} OR NEW.rules_frozen_at IS NOT OLD.rules_frozen_at)
            BEGIN SELECT RAISE(ABORT, 'voting rules are frozen once voting opens'); END
            """
        )
        op.execute(
            """
            CREATE TRIGGER trg_district_budget_frozen
            BEFORE UPDATE ON district FOR EACH ROW
            WHEN (NEW.budget_minor IS NOT OLD.budget_minor OR NEW.cycle_id IS NOT OLD.cycle_id)
             AND (SELECT rules_frozen_at FROM cycle WHERE id = OLD.cycle_id) IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'district budgets are frozen once voting opens'); END
            """
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in RULE_COLUMNS)
    op.execute(
        f"""
        CREATE FUNCTION plaza_cycle_rules_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
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
    op.execute(
        """
        CREATE FUNCTION plaza_district_budget_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF (NEW.budget_minor IS DISTINCT FROM OLD.budget_minor
              OR NEW.cycle_id IS DISTINCT FROM OLD.cycle_id)
             AND (SELECT rules_frozen_at FROM cycle WHERE id = OLD.cycle_id) IS NOT NULL THEN
            RAISE EXCEPTION 'district budgets are frozen once voting opens'
              USING ERRCODE = 'check_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_district_budget_frozen BEFORE UPDATE ON district "
        "FOR EACH ROW EXECUTE FUNCTION plaza_district_budget_frozen()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_district_budget_frozen" + _on("district"))
    op.execute("DROP TRIGGER IF EXISTS trg_cycle_rules_frozen" + _on("cycle"))
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS plaza_district_budget_frozen()")
        op.execute("DROP FUNCTION IF EXISTS plaza_cycle_rules_frozen()")


def _on(table: str) -> str:
    return "" if op.get_bind().dialect.name == "sqlite" else f" ON {table}"
