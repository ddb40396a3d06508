"""Page-level reads the core services do not cover (caseload, note lists, the patient page).

Each is scoped by the acting user's access like the services, and audits what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Date, Integer, String, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from notes_service.access import (
    latest_report_end,
    notes_validator,
    patient_scope,
    visible_notes,
)
from notes_service.audit.services import record, record_many
from notes_service.auth.models import User
from notes_service.clock import clinic_today
from notes_service.errors import NotFound
from notes_service.extensions import db
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import Goal, PlanOfCare
from notes_service.portal.models import DiaryEntry
from notes_service.prepared import Prepared
from notes_service.reports.models import ProgressReport
from notes_service.visits.models import Addendum, Measurement, VisitNote

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


#: A (plan id, measure, side) key of the goals tables, and its (value, visit date).
ValueKey = tuple[int, str, "str | None"]


class NoteRow(NamedTuple):
    """A visit of the patient page's history: what its row shows, and nothing more.

    A named tuple: made, hashed and compared (in the key of the page's cached HTML) by C code,
    for every note of the history on every view."""

    id: int
    plan_id: int
    visit_date: date
    status: str
    author: str
    addenda: int
    #: Pain now (no side) before and after treatment, when recorded.
    pain_pre: float | None = None
    pain_post: float | None = None

    @property
    def is_signed(self) -> bool:
        """Whether the note is signed."""
        return self.status == "signed"


@dataclass
class VisitHistory:
    """A patient's visit history with the baseline and latest values of the goals tables."""

    notes: list[NoteRow]
    #: The first and the latest pre-treatment value per (plan, measure, side) of the measures
    #: with a goal in the plan, with its day.
    baseline: dict[ValueKey, tuple[float, date]]
    latest: dict[ValueKey, tuple[float, date]]


#: The columns of a patient the patient page shows.
PATIENT_COLUMNS = ("id", "given_name", "family_name", "birth_date", "sex", "mrn", "phone",
                   "email")


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient as the patient page shows them (the record's own wording of names and age)."""

    id: int
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    mrn: str | None
    phone: str | None
    email: str | None

    full_name = Patient.full_name
    age_on = Patient.age_on


#: The columns of a plan of care the patient page reads: every one (a plan's row is part of the
#: key of the page's cached HTML, as a record's loaded columns would be).
PLAN_COLUMNS = ("id", "patient_id", "practitioner_id", "diagnosis_code", "diagnosis_text",
                "body_region", "side", "start_date", "weeks", "visits_per_week",
                "planned_interventions", "tracked_measures", "status", "discharge_date",
                "discharge_reason", "discharge_note", "maintenance_since", "created_at",
                "updated_at", "version")
#: The columns of a goal (every one, as for a plan).
GOAL_COLUMNS = ("id", "plan_id", "measure", "side", "target", "target_date", "term",
                "description")


@dataclass(frozen=True, slots=True)
class GoalRow:
    """A goal of a plan as the patient page shows it (the record's own wording of its
    catalog entry)."""

    id: int
    plan_id: int
    measure: str
    side: str | None
    target: float
    target_date: date | None
    term: str
    description: str | None

    catalog = Goal.catalog


@dataclass(frozen=True, slots=True)
class PlanRow:
    """A plan of care with its goals, as the patient page and its progress read it: the
    record's columns and its own properties (end date, planned visits, tracked measures, the
    week of a day), without the ORM's loading of an object per plan and goal."""

    id: int
    patient_id: int
    practitioner_id: int
    diagnosis_code: str
    diagnosis_text: str
    body_region: str | None
    side: str | None
    start_date: date
    weeks: int
    visits_per_week: int
    planned_interventions: list
    tracked_measures: list
    status: str
    discharge_date: date | None
    discharge_reason: str | None
    discharge_note: str | None
    maintenance_since: date | None
    created_at: datetime
    updated_at: datetime
    version: int
    #: Ordered by id, as the record's relationship is.
    goals: tuple[GoalRow, ...] = ()

    end_date = PlanOfCare.end_date
    planned_visits = PlanOfCare.planned_visits
    tracked_keys = PlanOfCare.tracked_keys
    week_of = PlanOfCare.week_of


@dataclass(frozen=True, slots=True)
class Signer:
    """The clinician who signed a report, as the report list shows them."""

    name: str
    credentials: str | None

    display_name = User.display_name


#: The columns of a report the report list shows (the PDF's bytes stay in the database).
REPORT_COLUMNS = ("id", "kind", "plan_id", "corrects_id", "period_start", "period_end",
                  "visits_in_period", "visits_attended", "visits_planned", "signed_at",
                  "pdf_size")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A signed report as the report list (``reports/_list.html``) shows it."""

    id: int
    kind: str
    plan_id: int
    corrects_id: int | None
    period_start: date
    period_end: date
    visits_in_period: int
    visits_attended: int
    visits_planned: int
    signed_at: datetime
    pdf_size: int
    signed_by: Signer

    title = ProgressReport.title
    filename = ProgressReport.filename


@dataclass(frozen=True)
class Viewer:
    """What the access scope of a statement depends on: the three attributes of the user that
    :func:`~notes_service.access.patient_scope` and :func:`~notes_service.access.visible_notes`
    read."""

    id: int
    role: str
    patient_id: int | None

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.role, user.patient_id)


@lru_cache(maxsize=128)
def patient_page_statements(viewer: Viewer) -> dict[str, Prepared]:
    """The patient page's statements for ``viewer``, built and compiled once per process and
    viewer, and run as :class:`~notes_service.prepared.Prepared` statements (SQLAlchemy's
    execution of a statement costs more than SQLite's).

    Building a scoped statement costs more than running it; the patient is a bound parameter
    (``patient_id``), so one set serves every patient a viewer opens. The goals are joined to
    their plans (a few rows each) rather than loaded by a second statement. The visit history's
    statement depends on the goals too: :func:`history_statement`.
    """
    patient_id = bindparam("patient_id", type_=Integer)
    team = care_team.alias("team")  # the scope's own probe of care_team must not correlate
    #: The pain of a diary entry of the last 7 days (else null).
    week = case((DiaryEntry.entry_date > bindparam("week_start", type_=Date), DiaryEntry.pain))
    statements = {
        # The patient's columns on each row of their care team (one row, members null, when
        # the team is empty): joined on the patient's id, so SQLite reads the team by its key.
        "patient": select(*(getattr(Patient, name) for name in PATIENT_COLUMNS),
                          User.id, User.name, User.credentials, User.role)
        .outerjoin(team, team.c.patient_id == Patient.id)
        .outerjoin(User, User.id == team.c.user_id)
        .where(Patient.id == patient_id, patient_scope(viewer, Patient.id))
        .order_by(User.name, User.id),
        # Each plan (a row a goal, or one without goals) with its owner's name and the
        # validator of its progress memo (the aggregates of its notes and reports that
        # :func:`~notes_service.progress.services.memoised_progress` would read in a statement
        # of its own).
        "plans": select(*(getattr(PlanOfCare, name) for name in PLAN_COLUMNS), User.name,
                        *notes_validator(viewer.role == "patient"), latest_report_end(),
                        *(getattr(Goal, name) for name in GOAL_COLUMNS))
        .join(User, User.id == PlanOfCare.practitioner_id)
        .outerjoin(Goal, Goal.plan_id == PlanOfCare.id)
        .where(PlanOfCare.patient_id == patient_id,
               patient_scope(viewer, PlanOfCare.patient_id))
        .order_by((PlanOfCare.status != "active"), PlanOfCare.start_date.desc(), Goal.id),
        # The newest entries the patient has not withdrawn, each with the counts of all of them
        # (a window over every row, taken before the limit): no second statement, and no
        # entry loaded beyond those shown.
        "diary": select(
            DiaryEntry.id, DiaryEntry.entry_date, DiaryEntry.pain, DiaryEntry.note,
            DiaryEntry.updated_at, func.count().over(), func.count(week).over(),
            func.sum(week).over())
        .where(DiaryEntry.patient_id == patient_id, DiaryEntry.withdrawn_at.is_(None),
               patient_scope(viewer, DiaryEntry.patient_id))
        .order_by(DiaryEntry.entry_date.desc(), DiaryEntry.id.desc())
        .limit(bindparam("shown", type_=Integer)),
        "reports": select(*(getattr(ProgressReport, name) for name in REPORT_COLUMNS),
                          User.name, User.credentials)
        .join(User, User.id == ProgressReport.signed_by_id)
        .where(ProgressReport.patient_id == patient_id,
               patient_scope(viewer, ProgressReport.patient_id))
        .order_by(ProgressReport.signed_at.desc(), ProgressReport.id.desc()),
    }
    return {name: Prepared(lambda statement=statement: statement)
            for name, statement in statements.items()}


#: Pain now: no side.
_PAIN_NOW = and_(Measurement.measure == "pain", Measurement.side.is_(None))


@lru_cache(maxsize=512)
def history_statement(viewer: Viewer, goals: int) -> Prepared:
    """The visit history's statement for ``viewer``: one row a visible note, newest first.

    Each row: the note's id, plan, day and status, its author's name, its number of addenda,
    pain now before and after treatment, then the pre-treatment value of each of ``goals``
    measures with a goal (bound parameters ``goal_measure_<i>`` and ``goal_side_<i>``; pain
    now is always read). The values are the note's measurements aggregated per note (a
    measure, side and phase is recorded once a note: the visit schema refuses a repeat), so a
    visit costs one row whatever it recorded, and the scope is checked once per note.
    Built and compiled once per viewer and number of goal measures, like
    :func:`patient_page_statements`.
    """
    wanted = [and_(Measurement.measure == bindparam(f"goal_measure_{index}", type_=String),
                   Measurement.side.is_not_distinct_from(
                       bindparam(f"goal_side_{index}", type_=String)))
              for index in range(goals)]
    pre = Measurement.phase == "pre"

    def value(*when):
        return func.max(case((and_(*when), Measurement.value)))

    addenda = (select(func.count(Addendum.id)).where(Addendum.visit_id == VisitNote.id)
               .correlate(VisitNote).scalar_subquery())
    shown = or_(_PAIN_NOW, and_(pre, or_(*wanted))) if wanted else _PAIN_NOW
    statement = (select(VisitNote.id, VisitNote.plan_id, VisitNote.visit_date,
                        VisitNote.status, User.name, addenda, value(_PAIN_NOW, pre),
                        value(_PAIN_NOW, Measurement.phase == "post"),
                        *(value(pre, condition) for condition in wanted))
                 .join(User, User.id == VisitNote.author_id)
                 .outerjoin(Measurement, and_(Measurement.visit_id == VisitNote.id, shown))
                 .where(VisitNote.patient_id == bindparam("patient_id", type_=Integer),
                        visible_notes(viewer))
                 # The note's key and its author's: every other column depends on them.
                 .group_by(VisitNote.id, User.id)
                 .order_by(VisitNote.visit_date.desc(), VisitNote.id.desc()))
    return Prepared(lambda: statement)


def _rows(statement: Prepared, params: dict) -> list[tuple]:
    """The rows of a statement of columns, run on the session's connection (in its transaction)
    without the ORM's layer: nothing is loaded as an object."""
    return statement.rows(db.session.connection(), params)


def visit_history(actor: User, patient_id: int, plans: list[PlanRow]) -> VisitHistory:
    """A patient's notes the actor may see, newest first, as rows of the patient page.

    One query whatever the number of visits (:func:`history_statement`), reading only what the
    page shows (the notes' texts stay in the database): each note with its author, number of
    addenda, pain before and after treatment, and the pre-treatment values of the measures
    with a goal in any of ``plans`` (the patient's plans, goals loaded), of which a note's
    values count for the goals' baseline and latest only where the note's own plan has that
    goal (pain now always counts: the history shows it). Audited like :func:`patient_notes`.
    """
    goals = {(plan.id, goal.measure, goal.side) for plan in plans for goal in plan.goals}
    wanted = sorted({(measure, side) for _, measure, side in goals} - {("pain", None)},
                    key=lambda pair: (pair[0], pair[1] or ""))
    params: dict = {"patient_id": patient_id}
    for index, (measure, side) in enumerate(wanted):
        params[f"goal_measure_{index}"] = measure
        params[f"goal_side_{index}"] = side
    found = _rows(history_statement(Viewer.of(actor), len(wanted)), params)
    width = len(NoteRow._fields)
    notes = [NoteRow._make(row[:width]) for row in found]
    baseline: dict[ValueKey, tuple[float, date]] = {}
    latest: dict[ValueKey, tuple[float, date]] = {}
    for note, row in zip(reversed(notes), reversed(found)):  # oldest first
        if note.pain_pre is not None:
            key = (note.plan_id, "pain", None)
            latest[key] = (note.pain_pre, note.visit_date)
            baseline.setdefault(key, (note.pain_pre, note.visit_date))
        for (measure, side), value in zip(wanted, row[width:], strict=True):
            if value is not None and (note.plan_id, measure, side) in goals:
                key = (note.plan_id, measure, side)
                latest[key] = (value, note.visit_date)
                baseline.setdefault(key, (value, note.visit_date))
    record(actor, "list", "visit", patient_id=patient_id,
           detail=f"{len(notes)} notes of patient {patient_id}")
    return VisitHistory(notes, baseline, latest)


@dataclass(frozen=True, slots=True)
class DiaryRow:
    """A pain-diary entry as the patient page shows it."""

    id: int
    entry_date: date
    pain: int
    note: str
    #: When the patient last corrected the entry (None: as first written).
    updated_at: datetime | None


@dataclass(frozen=True)
class DiaryPanel:
    """The patient-reported pain of the patient page: the newest entries and the last week.

    Counted by the database rather than by loading every entry the patient ever made. The
    week is the 7 days up to today (an entry dated after ``today - 7 days``).
    """

    entries: tuple[DiaryRow, ...]
    week_average: float | None
    week_count: int
    total: int


def diary_panel(actor: User, patient_id: int, *, today: date, shown: int = 8) -> DiaryPanel:
    """A patient's newest ``shown`` diary entries and the average of the last 7 days, audited
    like :func:`notes_service.portal.services.list_diary`."""
    rows = _rows(patient_page_statements(Viewer.of(actor))["diary"], {
        "patient_id": patient_id, "shown": shown,
        "week_start": today - timedelta(days=7)})
    width = len(fields(DiaryRow))  # the entry's columns, then the window's three figures
    total, week_count, week_sum = rows[0][width:] if rows else (0, 0, None)
    record(actor, "list", "diary", patient_id=patient_id,
           detail=f"{total} entries of patient {patient_id}")
    average = round(week_sum / week_count, 1) if week_count else None
    return DiaryPanel(tuple(DiaryRow(*row[:width]) for row in rows), average, week_count, total)


@dataclass(frozen=True, slots=True)
class CareTeamMember:
    """A clinician of a patient's care team, as the patient page shows them."""

    id: int
    name: str
    credentials: str | None
    role: str


@dataclass
class PatientPage:
    """What the patient page reads."""

    patient: PatientRow
    care_team: tuple[CareTeamMember, ...]
    plans: list[PlanRow]
    history: VisitHistory
    reports: tuple[ReportRow, ...]
    diary: DiaryPanel
    #: Plan id → the name of the plan's owner.
    owners: dict[int, str] = field(default_factory=dict)
    #: Plan id → the validator of the plan's progress memo (read with the plans): see
    #: :func:`notes_service.progress.views.memo_keys`.
    progress_validators: dict[int, tuple] = field(default_factory=dict)


def plan_rows(rows) -> tuple[list[PlanRow], dict[int, str], dict[int, tuple]]:
    """The plans of the rows of the page's plans statement, in their order, with their owners'
    names and the validators of their progress memo (plan id → each)."""
    width, goal_width = len(PLAN_COLUMNS), len(GOAL_COLUMNS)
    found: dict[int, tuple] = {}
    goals: dict[int, list[GoalRow]] = {}
    owners: dict[int, str] = {}
    validators: dict[int, tuple] = {}
    for row in rows:
        plan_id = row[0]
        if plan_id not in found:
            found[plan_id] = row[:width]
            owners[plan_id] = row[width]
            validators[plan_id] = tuple(row[width + 1:-goal_width])
            goals[plan_id] = []
        if row[-goal_width] is not None:
            goals[plan_id].append(GoalRow(*row[-goal_width:]))
    plans = [PlanRow(*columns, goals=tuple(goals[plan_id]))
             for plan_id, columns in found.items()]
    return plans, owners, validators


def patient_page(actor: User, patient_id: int, *, today: date) -> PatientPage:
    """A patient with the care team, plans (goals, owner), visit history, reports and diary.

    Scoped and audited as :func:`~notes_service.patients.services.read_patient`,
    :func:`~notes_service.plans.services.list_plans`, :func:`visit_history`,
    :func:`~notes_service.reports.services.list_reports` and :func:`diary_panel` are, in five
    statements built once per viewer (each carries the access scope; a patient out of scope
    is a 404), reading rows rather than records (the patient with their care team, the plans
    with their goals as :class:`PlanRow`, the reports as they are listed). The plans come with
    the validators of their progress memo, so that memoised progress costs no statement of its
    own. ``today`` is the clinic's day the page shows (the diary's last 7 days).
    """
    statements = patient_page_statements(Viewer.of(actor))
    params = {"patient_id": patient_id}
    rows = _rows(statements["patient"], params)
    if not rows:
        raise NotFound("patient", patient_id, patient_id=patient_id)
    width = len(PATIENT_COLUMNS)
    patient = PatientRow(*rows[0][:width])
    team = tuple(CareTeamMember(*row[width:]) for row in rows if row[width] is not None)
    record(actor, "read", "patient", patient_id=patient.id, object_id=patient.id)
    plans, owners, validators = plan_rows(_rows(statements["plans"], params))
    record(actor, "list", "plan", patient_id=patient.id)
    history = visit_history(actor, patient.id, plans)
    reports = tuple(ReportRow(*row[:-2], Signer(*row[-2:]))
                    for row in _rows(statements["reports"], params))
    record(actor, "list", "report", patient_id=patient.id, detail=f"{len(reports)} reports")
    diary = diary_panel(actor, patient.id, today=today)
    return PatientPage(patient, team, plans, history, reports, diary, owners, validators)
