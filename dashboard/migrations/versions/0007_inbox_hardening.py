"""inbox hardening: refusals counted per reason per minute; events flagged

Every refused webhook delivery wrote a row, kept 30 days: 50 unsigned posts were 50 rows,
so a flood could grow the database at will. Refusals are now counted per reason per minute
(one row a minute for each reason, whatever the flood). Existing rows are folded into their
minute's count.

stripe_events.flag marks an event whose content was refused outright (amounts no payment
can have): it is ignored and answered 2xx, and the event log shows it for a person.

disputes.status_at keeps when Stripe said the status shown, so that an older event never
overrides a newer one now that a closed dispute can move on to an appeal.

stripe_events.sync_count counts the sync's readings apart from webhook deliveries (a
reading counted as a delivery and moved "last received"). Events the sync found first had
counted that reading as their one delivery: it moves to sync_count. (Later readings of
events a webhook brought cannot be told apart from deliveries and stay counted.)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

"""
from datetime import UTC

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD = sa.table(
    'webhook_rejections',
    sa.column('reason', sa.String(32)),
    sa.column('remote_addr', sa.String(64)),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
NEW = sa.table(
    'webhook_rejection_counts',
    sa.column('reason', sa.String(32)),
    sa.column('minute', sa.DateTime(timezone=True)),
    sa.column('count', sa.Integer()),
    sa.column('remote_addr', sa.String(64)),
)


def _utc(moment):
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade():
    op.create_table('webhook_rejection_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_rejection_counts')),
    sa.UniqueConstraint('reason', 'minute', name='uq_webhook_rejection_counts_reason_minute')
    )
    with op.batch_alter_table('webhook_rejection_counts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_rejection_counts_minute', ['minute'], unique=False)

    connection = op.get_bind()
    counts = {}
    for reason, remote_addr, created_at in connection.execute(
        sa.select(OLD.c.reason, OLD.c.remote_addr, OLD.c.created_at).order_by(OLD.c.created_at)
    ):
        minute = _utc(created_at).replace(second=0, microsecond=0)
        count, _ = counts.get((reason, minute), (0, None))
        counts[(reason, minute)] = (count + 1, remote_addr)
    if counts:
        connection.execute(
            NEW.insert(),
            [
                {'reason': reason, 'minute': minute, 'count': count, 'remote_addr': remote_addr}
                for (reason, minute), (count, remote_addr) in counts.items()
            ],
        )

    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_rejections_created_at')
    op.drop_table('webhook_rejections')

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_stripe_events_flag_id', ['flag', 'id'], unique=False)

    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_count', sa.Integer(), server_default='0', nullable=False))
    op.execute(
        "UPDATE stripe_events SET sync_count = 1, delivery_count = delivery_count - 1 "
        "WHERE source = 'sync' AND delivery_count > 0"
    )


def downgrade():
    op.execute("UPDATE stripe_events SET delivery_count = delivery_count + sync_count")
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_column('sync_count')

    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_column('status_at')

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_flag_id')
        batch_op.drop_column('flag')

    op.create_table('webhook_rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_rejections'))
    )
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_rejections_created_at', ['created_at'], unique=False)
    connection = op.get_bind()
    rows = [
        {'reason': reason, 'remote_addr': remote_addr, 'created_at': minute}
        for reason, minute, count, remote_addr in connection.execute(
            sa.select(NEW.c.reason, NEW.c.minute, NEW.c['count'], NEW.c.remote_addr)
        )
        for _ in range(count)
    ]
    if rows:
        connection.execute(OLD.insert(), rows)
    with op.batch_alter_table('webhook_rejection_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_rejection_counts_minute')
    op.drop_table('webhook_rejection_counts')
