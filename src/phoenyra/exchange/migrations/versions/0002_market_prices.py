"""Market prices and the feed's last delivery per market.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_prices",
        sa.Column("market", sa.String(16), primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("resolution", sa.Integer, primary_key=True),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "market_feeds",
        sa.Column("market", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("simulated", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("market_feeds")
    op.drop_table("market_prices")
