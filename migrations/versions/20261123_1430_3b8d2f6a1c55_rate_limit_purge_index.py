"""rate-limit buckets: index on window_start, so expired buckets are purged cheaply

Revision ID: 3b8d2f6a1c55
Revises: 7c3e9a1b2d40
Create Date: 2026-11-23 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b8d2f6a1c55"
down_revision: str | Sequence[str] | None = "7c3e9a1b2d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_rate_limit_bucket_window_start", "rate_limit_bucket", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_bucket_window_start", table_name="rate_limit_bucket")
