"""payment attempts labelled as Home counts them: currency and decline reason, indexed

Home's authorization rate and top decline reasons link to the attempts behind them. An
attempt's currency (its own, else its order's) and decline reason were read from its JSON
details; they are now columns, filled here for the attempts already kept, and the list is
a range of the (currency, first_seen_at, id) index.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

"""
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

BATCH = 10_000


def _labels(status, details, order_currency):
    """The rule of services/overview/rollups.py at this revision."""
    if isinstance(details, str):
        details = json.loads(details)
    details = details or {}
    code = details.get("currency")
    if not (isinstance(code, str) and len(code) == 3):
        code = order_currency or "XXX"
    reason = None
    if status == "failed":
        reason = str(details.get("decline_code") or details.get("failure_code") or "unknown")[:64]
    return str(code).upper(), reason


def upgrade():
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT a.id, a.status, a.details, o.currency FROM payment_attempts a "
                "LEFT JOIN orders o ON o.id = a.order_id WHERE a.id > :after "
                "ORDER BY a.id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text(
                "UPDATE payment_attempts SET currency = :currency, decline_reason = :reason "
                "WHERE id = :id"
            ),
            [
                {"id": row_id, **dict(zip(("currency", "reason"), labels, strict=True))}
                for row_id, labels in (
                    (row_id, _labels(status, details, currency))
                    for row_id, status, details, currency in rows
                )
            ],
        )
        after = rows[-1][0]
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.create_index(
            'ix_payment_attempts_currency_first_seen_at_id',
            ['currency', 'first_seen_at', 'id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_attempts_currency_first_seen_at_id')
        batch_op.drop_column('decline_reason')
        batch_op.drop_column('currency')
