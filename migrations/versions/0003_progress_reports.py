"""progress reports: signed progress reports and discharge summaries with their PDF

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 07:12:33.853837

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Timestamps are naive UTC (UTCDateTime in the model), as in 0001. The PDF is stored
    # byte for byte (BLOB / bytea): a report is never regenerated.
    op.create_table('progress_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('visits_in_period', sa.Integer(), nullable=False),
    sa.Column('visits_attended', sa.Integer(), nullable=False),
    sa.Column('visits_planned', sa.Integer(), nullable=False),
    sa.Column('signed_by_id', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('plan_text', sa.Text(), nullable=False),
    sa.Column('discharge_reason', sa.String(length=30), nullable=True),
    sa.Column('home_programme', sa.Text(), nullable=True),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.CheckConstraint("kind IN ('progress', 'discharge')", name=op.f('ck_progress_reports_kind')),
    sa.CheckConstraint('period_start <= period_end', name=op.f('ck_progress_reports_period')),
    sa.ForeignKeyConstraint(['corrects_id'], ['progress_reports.id'], name=op.f('fk_progress_reports_corrects_id_progress_reports')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_progress_reports_patient_id_patients')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans_of_care.id'], name=op.f('fk_progress_reports_plan_id_plans_of_care')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_progress_reports_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_reports'))
    )
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        # A patient's reports by date (the list), and each plan's latest period end (the
        # progress_report_due counter).
        batch_op.create_index('ix_progress_reports_patient_signed_at', ['patient_id', 'signed_at'], unique=False)
        batch_op.create_index('ix_progress_reports_plan_period_end', ['plan_id', 'period_end'], unique=False)


def downgrade():
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_progress_reports_plan_period_end')
        batch_op.drop_index('ix_progress_reports_patient_signed_at')

    op.drop_table('progress_reports')
