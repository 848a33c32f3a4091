"""Client order ids: a partial unique index over the orders that have one.

Most orders carry no client_order_id, yet the unique constraint indexed every order (NULL
included), one more B-tree page write per account per group commit. The partial unique index
keeps the same guarantee (one order per account and client id) for the orders that have an id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

HAS_ID = "client_order_id IS NOT NULL"
NAME = "uq_orders_account_client_id"


def upgrade() -> None:
    # Batch mode: SQLite can drop a table's UNIQUE constraint only by copying the table.
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(NAME, type_="unique")
    op.create_index(
        NAME,
        "orders",
        ["account_id", "client_order_id"],
        unique=True,
        sqlite_where=sa.text(HAS_ID),
        postgresql_where=sa.text(HAS_ID),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.create_unique_constraint(NAME, ["account_id", "client_order_id"])
