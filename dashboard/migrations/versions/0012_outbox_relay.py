"""reserved, left empty

Landed empty to reserve the number while the holds issue was built in parallel. Databases
have run it since, so it stays as it landed, doing nothing; the schema it was reserved for
came in later revisions (0014 to 0017), which every database then runs in order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

"""


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
