"""load_snapshots counts the visits since each plan's latest report, in one extra query for
every plan together."""

from datetime import date, timedelta

import sqlalchemy as sa

from notes_service.auth.models import User
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.patients import services as patients
from notes_service.plans import services as plans
from notes_service.plans.models import PlanOfCare
from notes_service.progress.services import load_snapshots
from notes_service.reports.models import ProgressReport
from notes_service.visits import services as visits

TODAY = date.today()


def add_plan(actor, name: str, visit_days: list[int]) -> int:
    patient = patients.create_patient(actor, {"given_name": "A", "family_name": name,
                                              "birth_date": date(1970, 1, 1)})
    plan = plans.create_plan(actor, patient.id, {
        "start_date": TODAY - timedelta(days=40), "weeks": 8, "visits_per_week": 2,
        "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2.0}]})
    for days_ago in visit_days:
        visits.record_visit_note(actor, plan.id, {
            "visit_date": TODAY - timedelta(days=days_ago), "subjective": "s",
            "measurements": [{"measure": "pain", "side": None, "phase": "pre", "value": 5.0}]})
    return plan.id


def add_report(actor, plan_id: int, period_end_days_ago: int) -> None:
    plan = db.session.get(PlanOfCare, plan_id)
    db.session.add(ProgressReport(
        kind="progress", plan_id=plan_id, patient_id=plan.patient_id,
        period_start=plan.start_date, period_end=TODAY - timedelta(days=period_end_days_ago),
        visits_in_period=0, visits_attended=0, visits_planned=16, signed_by_id=actor.id,
        signed_at=utcnow(), assessment="a", plan_text="p", pdf=b"%PDF-", pdf_size=5,
        sha256="0" * 64))
    db.session.flush()


def snapshots(plan_ids):
    loaded = db.session.execute(
        sa.select(PlanOfCare).where(PlanOfCare.id.in_(plan_ids))
        .options(sa.orm.selectinload(PlanOfCare.goals))).scalars().all()
    return load_snapshots(loaded)


def test_visits_since_the_latest_report_period(app, practitioner):
    with app.app_context():
        actor = db.session.get(User, practitioner.id)
        never = add_plan(actor, "Never", [30, 25, 20])
        once = add_plan(actor, "Once", [30, 25, 20, 15, 10])
        twice = add_plan(actor, "Twice", [30, 25, 20, 15, 10, 5])
        add_report(actor, once, 20)     # visits 15 and 10 days ago are after it
        add_report(actor, twice, 25)
        add_report(actor, twice, 10)    # the latest period end counts: only 5 days ago
        result = snapshots([never, once, twice])
        assert result[never].visits_since_report == 3
        assert result[once].visits_since_report == 2
        assert result[twice].visits_since_report == 1
        # A visit on the last day of the period belongs to that report.
        add_report(actor, never, 20)
        assert snapshots([never])[never].visits_since_report == 0


def test_one_query_for_the_reports_of_every_plan(app, practitioner, count_queries):
    with app.app_context():
        actor = db.session.get(User, practitioner.id)
        ids = [add_plan(actor, f"P{i}", [20, 10]) for i in range(6)]
        for plan_id in ids[::2]:
            add_report(actor, plan_id, 15)
        loaded = db.session.execute(
            sa.select(PlanOfCare).where(PlanOfCare.id.in_(ids))
            .options(sa.orm.selectinload(PlanOfCare.goals))).scalars().all()
        with count_queries() as counter:
            result = load_snapshots(loaded)
        assert counter.count == 3
        assert sum("progress_reports" in s for s in counter.statements) == 1
        assert [result[i].visits_since_report for i in ids] == [1, 2, 1, 2, 1, 2]
