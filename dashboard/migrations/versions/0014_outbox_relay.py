"""the outbox relay: outgoing emails, delivery attempts, domain events published over AMQP

`outbox_messages` holds emails written in the transaction that decided to send them;
`flask outbox relay` claims and delivers them over SMTP. `outbox_deliveries` records each
attempt, of an email or of publishing a domain event. `outbox_events` gains what the relay
needs to publish each event to a broker once (when OUTBOX_AMQP_URL is set): when it was
published, its attempts, its claim and its last error. Events written before this
revision are unpublished: a relay with a broker configured publishes them, oldest first.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_outbox_messages_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_messages_dedupe_key'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_outbox_messages_waiting', ['next_attempt_at', 'id'], unique=False, sqlite_where=sa.text('sent_at IS NULL AND failed_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL AND failed_at IS NULL'))

    op.create_table('outbox_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('relay', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.CheckConstraint('(message_id IS NULL) <> (event_id IS NULL)', name=op.f('ck_outbox_deliveries_one_subject')),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_outbox_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_outbox_deliveries_message_id_outbox_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_deliveries'))
    )
    with op.batch_alter_table('outbox_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_deliveries_event_id', ['event_id'], unique=False)
        batch_op.create_index('ix_outbox_deliveries_message_id', ['message_id'], unique=False)

    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_outbox_events_published_at_id', ['published_at', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_events_published_at_id')
        batch_op.drop_column('last_error')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('attempts')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('published_at')

    with op.batch_alter_table('outbox_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_deliveries_message_id')
        batch_op.drop_index('ix_outbox_deliveries_event_id')

    op.drop_table('outbox_deliveries')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_waiting', sqlite_where=sa.text('sent_at IS NULL AND failed_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL AND failed_at IS NULL'))
        batch_op.drop_index('ix_outbox_messages_order_id')

    op.drop_table('outbox_messages')
