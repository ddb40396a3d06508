"""outcomes: per-plan outcome summaries, stored measure flags, flag acknowledgements

The summary tables start empty: the first outcomes or worklist read builds the missing rows
(``outcomes.summary.ensure_current``), or run ``flask --app notes_service outcomes-refresh``
once after upgrading a large clinic. Indexes added to existing tables: the drafts by age
(partial, for the worklist's unsigned notes) and plans by (id, version) (the staleness check
reads it alone).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 07:33:21.380437

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('flag_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('measure', sa.String(length=30), nullable=True),
    sa.Column('side', sa.String(length=10), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('fingerprint', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("reason IN ('re_assessed', 'maintenance_plan', 'referred', 'discharged')", name=op.f('ck_flag_acknowledgements_reason')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans_of_care.id'], name=op.f('fk_flag_acknowledgements_plan_id_plans_of_care')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_flag_acknowledgements_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_acknowledgements'))
    )
    with op.batch_alter_table('flag_acknowledgements', schema=None) as batch_op:
        batch_op.create_index('ix_flag_acknowledgements_plan_fingerprint', ['plan_id', 'fingerprint'], unique=False)

    op.create_table('plan_outcomes',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('practitioner_id', sa.Integer(), nullable=False),
    sa.Column('diagnosis_code', sa.String(length=10), nullable=False),
    sa.Column('diagnosis_group', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('episode_end', sa.Date(), nullable=True),
    sa.Column('discharge_date', sa.Date(), nullable=True),
    sa.Column('discharge_reason', sa.String(length=30), nullable=True),
    sa.Column('planned_visits', sa.Integer(), nullable=False),
    sa.Column('visits', sa.Integer(), nullable=False),
    sa.Column('first_visit_date', sa.Date(), nullable=True),
    sa.Column('last_visit_date', sa.Date(), nullable=True),
    sa.Column('goals', sa.Integer(), nullable=False),
    sa.Column('goals_met', sa.Integer(), nullable=False),
    sa.Column('assessable', sa.Boolean(), nullable=False),
    sa.Column('plateau', sa.Boolean(), nullable=False),
    sa.Column('worsening', sa.Boolean(), nullable=False),
    sa.Column('retention', sa.Float(), nullable=True),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('rules_key', sa.String(length=16), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_plan_outcomes_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans_of_care.id'], name=op.f('fk_plan_outcomes_plan_id_plans_of_care'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['users.id'], name=op.f('fk_plan_outcomes_practitioner_id_users')),
    sa.PrimaryKeyConstraint('plan_id', name=op.f('pk_plan_outcomes'))
    )
    with op.batch_alter_table('plan_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_plan_outcomes_figures', ['practitioner_id', 'start_date', 'episode_end', 'status', 'diagnosis_group', 'discharge_date', 'discharge_reason', 'visits', 'planned_visits', 'goals', 'goals_met', 'assessable', 'plateau', 'worsening', 'retention', 'plan_id'], unique=False)
        batch_op.create_index('ix_plan_outcomes_status_practitioner', ['status', 'practitioner_id'], unique=False)

    op.create_table('plan_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('measure', sa.String(length=30), nullable=True),
    sa.Column('side', sa.String(length=10), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plan_outcomes.plan_id'], name=op.f('fk_plan_flags_plan_id_plan_outcomes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_flags'))
    )
    with op.batch_alter_table('plan_flags', schema=None) as batch_op:
        batch_op.create_index('ix_plan_flags_code_plan', ['code', 'plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_flags_plan_id'), ['plan_id'], unique=False)

    op.create_table('plan_measure_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=30), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('baseline_date', sa.Date(), nullable=False),
    sa.Column('latest', sa.Float(), nullable=False),
    sa.Column('latest_date', sa.Date(), nullable=False),
    sa.Column('change', sa.Float(), nullable=True),
    sa.Column('progress_status', sa.String(length=20), nullable=False),
    sa.Column('goal_target', sa.Float(), nullable=True),
    sa.Column('goal_met', sa.Boolean(), nullable=True),
    sa.Column('retention', sa.Float(), nullable=True),
    sa.Column('practitioner_id', sa.Integer(), nullable=False),
    sa.Column('diagnosis_group', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('episode_end', sa.Date(), nullable=True),
    sa.Column('discharge_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['plan_outcomes.plan_id'], name=op.f('fk_plan_measure_outcomes_plan_id_plan_outcomes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['users.id'], name=op.f('fk_plan_measure_outcomes_practitioner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_measure_outcomes'))
    )
    with op.batch_alter_table('plan_measure_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_plan_measure_outcomes_figures', ['practitioner_id', 'measure', 'change', 'start_date', 'episode_end', 'status', 'diagnosis_group', 'baseline', 'latest', 'goal_target', 'goal_met', 'discharge_date', 'plan_id'], unique=False)
        batch_op.create_index('ix_plan_measure_outcomes_plan_id', ['plan_id', 'measure'], unique=False)

    op.create_table('plan_outcome_interventions',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('intervention', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plan_outcomes.plan_id'], name=op.f('fk_plan_outcome_interventions_plan_id_plan_outcomes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'intervention', name=op.f('pk_plan_outcome_interventions'))
    )
    with op.batch_alter_table('plans_of_care', schema=None) as batch_op:
        batch_op.create_index('ix_plans_of_care_id_version', ['id', 'version'], unique=False)

    with op.batch_alter_table('visit_notes', schema=None) as batch_op:
        batch_op.create_index('ix_visit_notes_draft_created', ['created_at'], unique=False, sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))



def downgrade():
    with op.batch_alter_table('visit_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_notes_draft_created', sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))

    with op.batch_alter_table('plans_of_care', schema=None) as batch_op:
        batch_op.drop_index('ix_plans_of_care_id_version')

    op.drop_table('plan_outcome_interventions')
    with op.batch_alter_table('plan_measure_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_measure_outcomes_plan_id')
        batch_op.drop_index('ix_plan_measure_outcomes_figures')

    op.drop_table('plan_measure_outcomes')
    with op.batch_alter_table('plan_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_flags_plan_id'))
        batch_op.drop_index('ix_plan_flags_code_plan')

    op.drop_table('plan_flags')
    with op.batch_alter_table('plan_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_outcomes_status_practitioner')
        batch_op.drop_index('ix_plan_outcomes_figures')

    op.drop_table('plan_outcomes')
    with op.batch_alter_table('flag_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_acknowledgements_plan_fingerprint')

    op.drop_table('flag_acknowledgements')
