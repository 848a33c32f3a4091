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
    # SQLite commits DDL at once: if the process dies between the two statements, the next
    # start runs this again and must not trip over the missing index.
    op.drop_index(NAME, table_name="orders", if_exists=True)
    _create(TAKEN)


def downgrade() -> None:
    # The older index forbids a refused order and a later one sharing a client id. Checked
    # before any DDL: on SQLite a failed CREATE after the DROP would leave no index at all.
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT COUNT(*) FROM (SELECT account_id, client_order_id FROM orders "
                "WHERE client_order_id IS NOT NULL GROUP BY account_id, client_order_id "
                "HAVING COUNT(*) > 1) AS shared"
            )
        )
        .scalar()
    )
    if shared:
        raise RuntimeError(
            f"cannot downgrade below 0007: {shared} client order ids are shared by a refused "
            "order and a later one, which the older index forbids; clear client_order_id on "
            "those REJECTED orders first"
        )
    op.drop_index(NAME, table_name="orders", if_exists=True)
    _create(HAS_ID)
