"""Battery readings history (for charts).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "battery_readings",
        sa.Column("battery_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.Float, primary_key=True),
        sa.Column("soc_percent", sa.Float, nullable=False),
        sa.Column("power_mw", sa.Float, nullable=False),
        sa.Column("temperature_c", sa.Float, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("battery_readings")
