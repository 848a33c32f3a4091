"""A battery's charge and discharge efficiency, for the risk check's energy room.

Traded MWh are energy at the grid connection: a MWh bought stores ``charge_efficiency`` MWh, a
MWh sold takes 1 / ``discharge_efficiency`` MWh from the battery. Until now the risk check
counted them one to one, so a battery could be sold below its minimum SoC by its losses.
Batteries stored before get 0.95 each, the system's default (the simulated battery and the
optimiser assume it too); set a battery's own figures with PUT /api/batteries/{id}.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batteries") as batch:
        for name in ("charge_efficiency", "discharge_efficiency"):
            batch.add_column(
                sa.Column(name, sa.Float, nullable=False, server_default=sa.text("0.95"))
            )


def downgrade() -> None:
    with op.batch_alter_table("batteries") as batch:
        batch.drop_column("discharge_efficiency")
        batch.drop_column("charge_efficiency")
