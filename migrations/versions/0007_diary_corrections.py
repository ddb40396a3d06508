"""diary corrections: when a pain-diary entry was last changed, and when it was withdrawn

A patient may correct or withdraw an entry for a while after writing it. A withdrawn entry is
kept (``withdrawn_at`` set) for the audit trail rather than deleted. Both columns are UTC
stored without a time zone (the models' ``UTCDateTime``), hence plain ``sa.DateTime()``;
existing entries were never changed, so both start null.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-21 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('pain_diary_entries', sa.Column('updated_at', sa.DateTime(), nullable=True))
    op.add_column('pain_diary_entries', sa.Column('withdrawn_at', sa.DateTime(), nullable=True))


def downgrade():
    # Withdrawn entries would count again once the column is gone: the revision before this
    # one has no way to hide them, so they are deleted with it. This destroys them: the audit
    # rows of their withdrawal keep only their day and pain, not their note.
    op.execute('DELETE FROM pain_diary_entries WHERE withdrawn_at IS NOT NULL')
    op.drop_column('pain_diary_entries', 'withdrawn_at')
    op.drop_column('pain_diary_entries', 'updated_at')
