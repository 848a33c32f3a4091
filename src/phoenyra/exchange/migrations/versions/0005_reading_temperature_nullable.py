"""A reading's temperature may be null (devices that report none, e.g. the Tesla Powerwall).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a column in place, so the table is copied.
    with op.batch_alter_table("battery_readings") as batch:
        batch.alter_column("temperature_c", existing_type=sa.Float, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("battery_readings") as batch:
        batch.alter_column("temperature_c", existing_type=sa.Float, nullable=False)
