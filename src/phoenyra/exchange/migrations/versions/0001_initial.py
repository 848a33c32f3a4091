"""Initial schema: accounts, API keys, orders, trades, batteries.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

# On SQLite only INTEGER PRIMARY KEY is the rowid itself; BIGINT would add a second index.
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
OPEN = "status IN ('ACCEPTED', 'PARTIALLY_FILLED')"

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("battery_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
    )
    op.create_index("ix_api_keys_account_id", "api_keys", ["account_id"])
    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("market", sa.String(16), nullable=False),
        sa.Column("delivery_start", sa.BigInteger, nullable=True),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("filled", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("time_in_force", sa.String(3), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=True),
        sa.Column("reject_code", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "client_order_id", name="uq_orders_account_client_id"),
    )
    op.create_index(
        "ix_orders_open",
        "orders",
        ["status"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_index("ix_orders_account_id", "orders", ["account_id", "id"])
    op.create_table(
        "trades",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("market", sa.String(16), nullable=False),
        sa.Column("delivery_start", sa.BigInteger, nullable=True),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("buy_order_id", sa.BigInteger, nullable=False),
        sa.Column("sell_order_id", sa.BigInteger, nullable=False),
        sa.Column("buy_account_id", sa.Integer, nullable=False),
        sa.Column("sell_account_id", sa.Integer, nullable=False),
        sa.Column("aggressor_side", sa.String(4), nullable=False),
        sa.Column("executed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_trades_market_id", "trades", ["market", "id"])
    op.create_index("ix_trades_buy_order_id", "trades", ["buy_order_id"])
    op.create_index("ix_trades_sell_order_id", "trades", ["sell_order_id"])
    op.create_table(
        "batteries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("capacity_mwh", sa.Float, nullable=False),
        sa.Column("power_mw", sa.Float, nullable=False),
        sa.Column("soc_min_percent", sa.Float, nullable=False),
        sa.Column("soc_max_percent", sa.Float, nullable=False),
        sa.Column("soc_percent", sa.Float, nullable=True),
        sa.Column("power_mw_now", sa.Float, nullable=True),
        sa.Column("temperature_c", sa.Float, nullable=True),
        sa.Column("status_at", sa.Float, nullable=True),
        sa.Column("source", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    for table in ("batteries", "trades", "orders", "api_keys", "accounts"):
        op.drop_table(table)
