"""Client order ids: a refused order does not use up its id.

An order refused by a risk rule is stored (status REJECTED, for the audit trail) with the
client_order_id it was sent with. The unique index covered it, so a retry with the same id, once
the battery allowed it, was answered with the refusal forever. The index now covers the orders
that took their id: every status but REJECTED.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "uq_orders_account_client_id"
COLUMNS = ["account_id", "client_order_id"]
TAKEN = "client_order_id IS NOT NULL AND status <> 'REJECTED'"
HAS_ID = "client_order_id IS NOT NULL"


def _create(where: str) -> None:
    op.create_index(
        NAME,
        "orders",
        COLUMNS,
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index(NAME, table_name="orders")
    _create(TAKEN)


def downgrade() -> None:
    # Fails if a refused order and a later one share an id, as that index would forbid.
    op.drop_index(NAME, table_name="orders")
    _create(HAS_ID)
