"""portal: one-time invitation links and the patient's pain diary

Invitations keep only the SHA-256 of their token. Timestamps are UTC stored without a time
zone (the models' ``UTCDateTime``), hence plain ``sa.DateTime()``.

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-21 07:50:31.945991

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'portal_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=10), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('account', 'reset')",
                           name=op.f('ck_portal_invitations_purpose')),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'],
                                name=op.f('fk_portal_invitations_invited_by_id_users')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE',
                                name=op.f('fk_portal_invitations_patient_id_patients')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_portal_invitations_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_portal_invitations_token_hash')),
    )
    op.create_index('ix_portal_invitations_patient_created', 'portal_invitations',
                    ['patient_id', 'created_at'], unique=False)

    op.create_table(
        'pain_diary_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('entry_date', sa.Date(), nullable=False),
        sa.Column('pain', sa.SmallInteger(), nullable=False),
        sa.Column('note', sa.String(length=1000), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('pain BETWEEN 0 AND 10', name=op.f('ck_pain_diary_entries_pain')),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'],
                                name=op.f('fk_pain_diary_entries_author_id_users')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE',
                                name=op.f('fk_pain_diary_entries_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pain_diary_entries')),
    )
    op.create_index('ix_pain_diary_entries_patient_day', 'pain_diary_entries',
                    ['patient_id', 'entry_date'], unique=False)


def downgrade():
    op.drop_index('ix_pain_diary_entries_patient_day', table_name='pain_diary_entries')
    op.drop_table('pain_diary_entries')
    op.drop_index('ix_portal_invitations_patient_created', table_name='portal_invitations')
    op.drop_table('portal_invitations')
