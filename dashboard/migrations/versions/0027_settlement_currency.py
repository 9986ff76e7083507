"""the ledger's settlement currency, indexed: the list behind Home's fees and net

Home counts a capture's or refund's fee and net in the currency Stripe settled it in,
read from the balance transaction kept as JSON on the ledger row. That currency is now a
column, filled here for the rows already kept, and the list behind the fees and net is a
range of the (settlement_currency, occurred_at, id) index.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

"""
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

BATCH = 10_000


def _settled_in(balance, currency):
    """The rule of domain/overview.py (settled_in) at this revision."""
    if isinstance(balance, str):
        balance = json.loads(balance)
    if balance is None:
        return None
    code = balance.get("currency") or currency
    return str(code).upper()[:3] if code else None


def upgrade():
    with op.batch_alter_table('money_movements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_currency', sa.String(length=3), nullable=True))
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, balance, currency FROM money_movements "
                "WHERE id > :after AND balance IS NOT NULL ORDER BY id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            break
        settled = [
            {"id": row_id, "code": _settled_in(balance, currency)}
            for row_id, balance, currency in rows
        ]
        known = [row for row in settled if row["code"] is not None]
        if known:
            bind.execute(
                sa.text("UPDATE money_movements SET settlement_currency = :code WHERE id = :id"),
                known,
            )
        after = rows[-1][0]
    with op.batch_alter_table('money_movements', schema=None) as batch_op:
        batch_op.create_index(
            'ix_money_movements_settlement_currency_occurred_at_id',
            ['settlement_currency', 'occurred_at', 'id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('money_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_money_movements_settlement_currency_occurred_at_id')
        batch_op.drop_column('settlement_currency')
