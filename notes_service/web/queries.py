"""Page-level reads the core services do not cover (caseload, note lists, latest values).

Each is scoped by the acting user's access like the services, and audits what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload, selectinload

from notes_service.access import patient_scope, visible_notes
from notes_service.audit.services import record, record_many
from notes_service.auth.models import User
from notes_service.clock import clinic_today
from notes_service.extensions import db
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import PlanOfCare
from notes_service.visits.models import VisitNote

OPEN_STATUSES = ("active", "on_hold")


@dataclass
class PlanStats:
    """Visits documented under a plan."""

    visits: int = 0
    drafts: int = 0
    last_visit: date | None = None


def plan_stats(plan_ids: list[int], actor: User | None = None) -> dict[int, PlanStats]:
    """Visit count, draft count and last visit date per plan, in one query."""
    if not plan_ids:
        return {}
    stmt = (select(VisitNote.plan_id, func.count(VisitNote.id),
                   func.sum(case((VisitNote.status == "draft", 1), else_=0)),
                   func.max(VisitNote.visit_date))
            .where(VisitNote.plan_id.in_(plan_ids)).group_by(VisitNote.plan_id))
    if actor is not None:
        stmt = stmt.where(visible_notes(actor))
    return {plan_id: PlanStats(count, int(drafts or 0), last)
            for plan_id, count, drafts, last in db.session.execute(stmt)}


def next_expected_visit(plan: PlanOfCare, last_visit: date | None) -> date | None:
    """When the next visit is due at the plan's frequency (None when the plan will have ended)."""
    if plan.status != "active":
        return None
    if last_visit is None:
        return plan.start_date
    due = last_visit + timedelta(days=max(1, round(7 / plan.visits_per_week)))
    return due if due <= plan.end_date else None


def plan_week(plan: PlanOfCare, today: date | None = None) -> int:
    """The plan's current week, between 1 and its length."""
    today = today or clinic_today()
    return min(max(plan.week_of(today), 1), plan.weeks)


@dataclass
class CaseloadRow:
    """One open plan of care on a practitioner's caseload."""

    patient: Patient
    plan: PlanOfCare
    stats: PlanStats
    next_visit: date | None
    week: int

    @property
    def overdue(self) -> bool:
        """Whether the next visit was due before today."""
        return self.next_visit is not None and self.next_visit < clinic_today()

    @property
    def ended(self) -> bool:
        """Whether the plan's last day has passed."""
        return self.plan.end_date < clinic_today()


@dataclass
class Caseload:
    """A clinician's patients: open plans, patients without one, and their own drafts."""

    rows: list[CaseloadRow] = field(default_factory=list)
    without_plan: list[Patient] = field(default_factory=list)
    drafts: list[tuple[VisitNote, Patient]] = field(default_factory=list)

    @property
    def patient_count(self) -> int:
        return len({r.patient.id for r in self.rows}) + len(self.without_plan)


def caseload(actor: User) -> Caseload:
    """The patients on ``actor``'s care teams with their open plans, audited per patient."""
    today = clinic_today()
    patients = list(db.session.execute(
        select(Patient).join(care_team, care_team.c.patient_id == Patient.id)
        .where(care_team.c.user_id == actor.id)
        .order_by(Patient.family_name, Patient.given_name, Patient.id)).scalars())
    by_id = {p.id: p for p in patients}
    plans = list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.patient_id.in_(list(by_id)),
                                 PlanOfCare.status.in_(OPEN_STATUSES))
        .options(joinedload(PlanOfCare.practitioner), selectinload(PlanOfCare.goals))
        .order_by(PlanOfCare.start_date.desc())).scalars()) if by_id else []
    stats = plan_stats([p.id for p in plans])
    result = Caseload()
    with_plan = set()
    for plan in plans:
        s = stats.get(plan.id, PlanStats())
        result.rows.append(CaseloadRow(by_id[plan.patient_id], plan, s,
                                       next_expected_visit(plan, s.last_visit),
                                       plan_week(plan, today)))
        with_plan.add(plan.patient_id)
    result.rows.sort(key=lambda r: (r.next_visit or date.max, r.patient.family_name))
    result.without_plan = [p for p in patients if p.id not in with_plan]
    result.drafts = [(note, patient) for note, patient in db.session.execute(
        select(VisitNote, Patient).join(Patient, Patient.id == VisitNote.patient_id)
        .where(VisitNote.author_id == actor.id, VisitNote.status == "draft",
               visible_notes(actor))
        .order_by(VisitNote.visit_date, VisitNote.id).limit(50))]
    record_many(actor, "list", "patient", list(by_id))
    record_many(actor, "list", "visit", sorted({p.id for _, p in result.drafts}))
    return result


@dataclass
class ClinicRow:
    """A patient of the clinic list with their current plan."""

    patient: Patient
    plan: PlanOfCare | None
    stats: PlanStats
    week: int | None


def clinic_rows(actor: User, patients: list[Patient]) -> list[ClinicRow]:
    """Attach each listed patient's newest open plan and its visit figures."""
    ids = [p.id for p in patients]
    plans = list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.patient_id.in_(ids),
                                 PlanOfCare.status.in_(OPEN_STATUSES),
                                 patient_scope(actor, PlanOfCare.patient_id))
        .options(joinedload(PlanOfCare.practitioner))
        .order_by(PlanOfCare.start_date)).scalars()) if ids else []
    newest = {plan.patient_id: plan for plan in plans}
    stats = plan_stats([p.id for p in newest.values()], actor)
    return [ClinicRow(p, newest.get(p.id), stats.get(newest[p.id].id, PlanStats())
                      if p.id in newest else PlanStats(),
                      plan_week(newest[p.id]) if p.id in newest else None)
            for p in patients]


def patient_notes(actor: User, patient_id: int, *, signed_only: bool = False) -> list[VisitNote]:
    """A patient's notes the actor may see, newest first, with authors and measurements."""
    stmt = (select(VisitNote).where(VisitNote.patient_id == patient_id, visible_notes(actor))
            .options(joinedload(VisitNote.author), selectinload(VisitNote.measurements),
                     selectinload(VisitNote.addenda))
            .order_by(VisitNote.visit_date.desc(), VisitNote.id.desc()))
    if signed_only:
        stmt = stmt.where(VisitNote.status == "signed")
    notes = list(db.session.execute(stmt).scalars())
    record(actor, "list", "visit", patient_id=patient_id,
           detail=f"{len(notes)} notes of patient {patient_id}")
    return notes


def latest_values(notes: list[VisitNote]) -> dict[tuple[int, str, str | None], tuple[float, date]]:
    """The latest pre-treatment value per (plan, measure, side) among ``notes``."""
    latest: dict[tuple[int, str, str | None], tuple[float, date]] = {}
    for note in sorted(notes, key=lambda n: (n.visit_date, n.id)):
        for m in note.measurements:
            if m.phase == "pre":
                latest[(note.plan_id, m.measure, m.side)] = (m.value, note.visit_date)
    return latest


def first_values(notes: list[VisitNote]) -> dict[tuple[int, str, str | None], tuple[float, date]]:
    """The first pre-treatment value per (plan, measure, side) among ``notes`` (the baseline)."""
    first: dict[tuple[int, str, str | None], tuple[float, date]] = {}
    for note in sorted(notes, key=lambda n: (n.visit_date, n.id)):
        for m in note.measurements:
            if m.phase == "pre":
                first.setdefault((note.plan_id, m.measure, m.side), (m.value, note.visit_date))
    return first

