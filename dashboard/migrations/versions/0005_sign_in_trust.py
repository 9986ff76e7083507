"""sign-in trust: sessions kept on the server, throttle counters, one spelling per email

`sign_in_sessions` holds one row per signed-in browser (the SHA-256 of the token its
cookies carry); deleting the row signs out every copy of those cookies. Cookies written
before this revision carry a user id, which names no session: everyone signs in once
again after it.

`sign_in_throttles` counts failed sign-ins per email and per address, one row per key,
taken atomically before a password is checked (dashboard/services/sign_in.py).

Addresses are now stored NFKC-normalised and lower-cased (dashboard/domain/emails.py):
a full-width X (U+FF38) is x. Rows written before were only lower-cased, so a
full-width address could not be signed in to any more, nor found by a search. They are
rewritten here. A user whose normalised address another user already has (the look-alike
account this revision is about) keeps its row as it is: no sign-in can reach it any more,
and the admin page lists it to be deactivated; a warning names it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""
import logging
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')
MAX_EMAIL_LENGTH = 254


def _normalised(address):
    """dashboard.domain.emails.normalize_email as of this revision (frozen here, so that a
    later change of the app's rule does not change what this revision did)."""
    folded = unicodedata.normalize('NFKC', address).lower()
    return unicodedata.normalize('NFKC', folded).strip()


def _normalise_user_emails(bind):
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('email', sa.String))
    rows = bind.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        wanted = _normalised(email)
        if wanted == email:
            continue
        if wanted in taken or len(wanted) > MAX_EMAIL_LENGTH:
            log.warning(
                'user %s (%r) left as it is: %r is another account, or too long', user_id,
                email, wanted,
            )
            continue
        bind.execute(users.update().where(users.c.id == user_id).values(email=wanted))
        taken.discard(email)
        taken.add(wanted)


def _normalise_buyer_emails(bind):
    orders = sa.table('orders', sa.column('id', sa.Integer), sa.column('buyer_email', sa.String))
    query = sa.select(orders.c.id, orders.c.buyer_email)
    if bind.dialect.name == 'postgresql':
        # Only an address with a character outside printable ASCII can change: the rest
        # were lower-cased and stripped when written. (SQLite has no regular expressions:
        # there every row is read, once.)
        query = query.where(orders.c.buyer_email.op('!~')('^[ -~]*$'))
    changed = [
        {'row_id': order_id, 'email': wanted}
        for order_id, email in bind.execute(query)
        if (wanted := _normalised(email)) != email and len(wanted) <= MAX_EMAIL_LENGTH
    ]
    if changed:
        bind.execute(
            orders.update()
            .where(orders.c.id == sa.bindparam('row_id'))
            .values(buyer_email=sa.bindparam('email')),
            changed,
        )


def upgrade():
    op.create_table('sign_in_throttles',
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttles'))
    )
    op.create_table('sign_in_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sign_in_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sign_in_sessions_token_hash'))
    )
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_sessions_user_id_expires_at', ['user_id', 'expires_at'], unique=False)

    bind = op.get_bind()
    _normalise_user_emails(bind)
    _normalise_buyer_emails(bind)


def downgrade():
    # A normalised address is a valid address as the older code wrote them (lower-cased and
    # stripped): nothing to undo there.
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_sessions_user_id_expires_at')

    op.drop_table('sign_in_sessions')
    op.drop_table('sign_in_throttles')
