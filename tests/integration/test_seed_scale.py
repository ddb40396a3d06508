"""``flask seed-scale``: a synthetic clinic in bulk, with its outcome summaries built."""

import sqlalchemy as sa

from notes_service.extensions import db


def test_seed_scale_builds_a_realistic_clinic_with_summaries(app, runner):
    from notes_service.outcomes.models import MeasureOutcome, PlanIntervention, PlanOutcome
    from notes_service.outcomes.summary import stale_plan_ids
    from notes_service.patients.models import Patient
    from notes_service.plans.models import PlanOfCare
    from notes_service.visits.models import Measurement, VisitNote

    result = runner.invoke(args=["seed-scale", "--patients", "60"])
    assert result.exit_code == 0, result.output
    assert "Scale clinic: 60 patients" in result.output
    with app.app_context():
        def count(column, *where):
            return db.session.execute(sa.select(sa.func.count(column)).where(*where)).scalar()

        plans = count(PlanOfCare.id)
        notes = count(VisitNote.id)
        assert count(Patient.id) == 60 and 60 <= plans <= 100
        assert 8 * 60 <= notes <= 25 * 60
        assert 8 * notes <= count(Measurement.id) <= 11 * notes
        # Both ends of care, drafts and signed notes, ART and not.
        statuses = dict(db.session.execute(
            sa.select(PlanOfCare.status, sa.func.count()).group_by(PlanOfCare.status)).all())
        assert statuses.get("discharged") and statuses.get("active")
        assert count(VisitNote.id, VisitNote.status == "draft")
        art = count(PlanIntervention.plan_id, PlanIntervention.intervention == "art")
        assert 0 < art < plans
        # Every plan has a current summary, with pre/post series behind it.
        assert count(PlanOutcome.plan_id) == plans and stale_plan_ids() == []
        assert count(Measurement.id, Measurement.phase == "post")
        assert count(MeasureOutcome.id, MeasureOutcome.measure == "pain",
                     MeasureOutcome.change.is_not(None)) > plans / 2
        assert count(PlanOutcome.plan_id, PlanOutcome.plateau)
        assert count(PlanOutcome.plan_id, PlanOutcome.worsening)
    again = runner.invoke(args=["seed-scale", "--patients", "5"])
    assert again.exit_code != 0 and "already has patients" in again.output
