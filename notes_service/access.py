"""Access rules: which patients a user may see, and who may write clinical data.

Every query that reads patient data goes through these scopes; ids that come from a URL or a
body are looked up *within* the scope, so a denied object and a missing one both answer 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import bindparam, exists, false, func, select, true

from notes_service.errors import Forbidden, NotFound
from notes_service.extensions import db
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import PlanOfCare, tracked_keys
from notes_service.prepared import Prepared
from notes_service.reports.models import ProgressReport
from notes_service.security.models import grant_condition, granted_patients
from notes_service.visits.models import Addendum, VisitNote


def scope_kind(user) -> str:
    """Which of the scopes of :func:`patient_scope` applies to ``user``."""
    if user is None or (user.role == "patient" and not user.patient_id):
        return "nobody"
    return user.role if user.role in ("director", "patient") else "care_team"


def scope_condition(kind: str, user_id, own_patient_id, patient_id_column, *,
                    many: bool = False):
    """SQL condition of the scope ``kind`` (:func:`scope_kind`): ``patient_id_column`` names a
    patient the user may see. ``user_id`` and ``own_patient_id`` may be bound parameters
    (``bindparam("scope_user")``, ``bindparam("scope_patient")``, filled by
    :func:`scope_params`), so that a statement is built once per kind of viewer."""
    if kind == "nobody":
        return false()
    if kind == "director":
        return true()
    if kind == "patient":
        return patient_id_column == own_patient_id
    # A break-glass grant opens a record for reading only: writes check on_care_team.
    if many:  # the user's patients first, rather than a probe per row of a whole-clinic scan
        return patient_id_column.in_(select(care_team.c.patient_id).where(
            care_team.c.user_id == user_id)) | patient_id_column.in_(
            granted_patients(user_id))
    return _on_team(patient_id_column, user_id) | grant_condition(user_id, patient_id_column)


def _on_team(patient_id, user_id):
    """SQL condition: ``user_id`` is on the care team of ``patient_id``."""
    return exists().where(care_team.c.patient_id == patient_id, care_team.c.user_id == user_id)


def patient_scope(user, patient_id_column, *, many: bool = False):
    """SQL condition: ``patient_id_column`` names a patient ``user`` may see.

    ``many``: the same condition in the form for queries over many rows (the care team's
    patients listed once, not probed per row): 0.3 ms instead of 8.5 ms over 13,000 plans.
    """
    return scope_condition(scope_kind(user), getattr(user, "id", None),
                           getattr(user, "patient_id", None), patient_id_column, many=many)


def scope_params(user) -> dict:
    """Values of the ``scope_user`` and ``scope_patient`` parameters of a statement built with
    :func:`scope_condition`."""
    return {"scope_user": getattr(user, "id", None),
            "scope_patient": getattr(user, "patient_id", None)}


@dataclass(frozen=True)
class PlanVersion:
    """A plan the actor may see, with a validator of its notes (see :func:`plan_version`)."""

    id: int
    patient_id: int
    version: int
    side: str | None
    tracked_measures: list
    #: (count, latest change, sum of row versions) of the notes the actor may see.
    notes: tuple
    #: (count, latest id) of their addenda.
    addenda: tuple
    #: The end of the period of the plan's latest report (``reports=True`` only).
    reported_until: object = None

    @property
    def tracked_keys(self) -> list[tuple[str, str | None]]:
        return tracked_keys(self.tracked_measures)


def _correlated(column, *where):
    return select(column).where(*where).correlate(PlanOfCare).scalar_subquery()


def notes_validator(signed_only: bool) -> list:
    """Columns, correlated to :class:`PlanOfCare`, that change with every write of the plan's
    notes: their count, latest change and sum of row versions (signed notes only if asked)."""
    notes = [VisitNote.plan_id == PlanOfCare.id]
    if signed_only:
        notes.append(VisitNote.status == "signed")
    return [_correlated(column, *notes) for column in (
        func.count(VisitNote.id), func.max(VisitNote.updated_at), func.sum(VisitNote.version))]


def latest_report_end():
    """The end of the period of the plan's latest report, correlated to :class:`PlanOfCare`."""
    return _correlated(func.max(ProgressReport.period_end),
                       ProgressReport.plan_id == PlanOfCare.id)


@cache
def _plan_version_statement(kind: str, signed_only: bool, reports: bool = False) -> Prepared:
    """The statement of :func:`plan_version` for one scope, built and compiled once, run on the
    driver's cursor (:mod:`notes_service.prepared`)."""
    return Prepared(lambda: _plan_version_select(kind, signed_only, reports))


def _plan_version_select(kind: str, signed_only: bool, reports: bool):
    note_ids = select(VisitNote.id).where(VisitNote.plan_id == PlanOfCare.id).correlate(
        PlanOfCare)
    if signed_only:
        note_ids = note_ids.where(VisitNote.status == "signed")
    on_addenda = Addendum.visit_id.in_(note_ids)
    columns = [
        PlanOfCare.id, PlanOfCare.patient_id, PlanOfCare.version, PlanOfCare.side,
        PlanOfCare.tracked_measures, *notes_validator(signed_only),
        _correlated(func.count(Addendum.id), on_addenda),
        _correlated(func.max(Addendum.id), on_addenda),
    ]
    if reports:
        columns.append(latest_report_end())
    return select(*columns).where(PlanOfCare.id == bindparam("plan_id"),
            scope_condition(kind, bindparam("scope_user"), bindparam("scope_patient"),
                            PlanOfCare.patient_id))


def plan_version_on(connection, user, plan_id: int, *,
                    reports: bool = False) -> PlanVersion | None:
    """:func:`plan_version` on ``connection``, in its transaction: None when ``user`` may not
    see the plan or it does not exist. ``user`` needs only ``id``, ``role`` and
    ``patient_id`` (a :class:`notes_service.api.Identity` will do)."""
    kind = scope_kind(user)
    row = _plan_version_statement(kind, kind == "patient", reports).first(
        connection, {"plan_id": plan_id, **scope_params(user)})
    if row is None:
        return None
    return PlanVersion(*row[:5], tuple(row[5:8]), tuple(row[8:10]), *row[10:])


def plan_version(user, plan_id: int, *, reports: bool = False) -> PlanVersion:
    """A plan ``user`` may see with a validator of the notes they may see, in one prepared
    statement (no ORM objects): what a 304 or a cached answer needs. :class:`NotFound` (audited
    as denied) otherwise, as :func:`get_plan`."""
    session = db.session()
    session.flush()  # as an ORM execute would (a no-op unless something is pending)
    # On the session's connection, in its transaction: a fifth of the cost of the ORM's
    # execution for a row of plain columns.
    found = plan_version_on(session.connection(), user, plan_id, reports=reports)
    if found is None:
        get_plan(user, plan_id)  # raises NotFound with the owner, as every denied read does
        raise NotFound("plan", plan_id)
    return found


def on_care_team(user, patient_id: int) -> bool:
    """Whether ``user`` is on the care team of the patient."""
    return db.session.execute(_ON_CARE_TEAM, {"patient_id": patient_id,
                                              "user_id": user.id}).scalar()


#: Built once (a statement costs more to build than to run, see :func:`_scoped`).
_ON_CARE_TEAM = select(_on_team(bindparam("patient_id"), bindparam("user_id")))


@dataclass(frozen=True)
class WritablePlan:
    """A plan of care the actor may document under, as plain values (see
    :func:`get_writable_plan`): what recording a note needs of it."""

    id: int
    patient_id: int
    status: str
    start_date: date
    weeks: int

    end_date = property(PlanOfCare.end_date.fget)  # the plan's own rule, not a copy


@cache
def _writable_plan_statement(kind: str) -> Prepared:
    """The plan of :func:`get_writable_plan` within the scope ``kind``, with whether the viewer
    is on its patient's care team: built and compiled once, run on the driver's cursor."""
    return Prepared(lambda: select(
        PlanOfCare.id, PlanOfCare.patient_id, PlanOfCare.status, PlanOfCare.start_date,
        PlanOfCare.weeks, _on_team(PlanOfCare.patient_id, bindparam("scope_user")),
    ).where(PlanOfCare.id == bindparam("plan_id"),
            scope_condition(kind, bindparam("scope_user"), bindparam("scope_patient"),
                            PlanOfCare.patient_id)))


def get_writable_plan(user, plan_id: int) -> WritablePlan:
    """A plan ``user`` may see and document under, in one prepared statement (no ORM object):
    :class:`NotFound` (audited as denied) as :func:`get_plan`, then :class:`Forbidden` as
    :func:`require_clinical_write`, whose care-team check is a column of the same statement."""
    session = db.session()
    session.flush()  # as an ORM execute would (a no-op unless something is pending)
    row = _writable_plan_statement(scope_kind(user)).first(
        session.connection(), {"plan_id": plan_id, **scope_params(user)})
    if row is None:
        raise _plan_not_found(plan_id)
    plan = WritablePlan(*row[:5])
    require_clinical_write(user, plan.patient_id, on_team=bool(row[5]))
    return plan


@cache
def _scoped(entity, kind: str):
    """``SELECT entity WHERE id = :object_id`` within the scope ``kind``, built once per kind
    of viewer: the scope's condition (care team, break-glass grant) costs more to build than
    the statement costs to run. Patients see signed notes only."""
    column = entity.id if entity is Patient else entity.patient_id
    condition = scope_condition(kind, bindparam("scope_user"), bindparam("scope_patient"),
                                column)
    if entity is VisitNote and kind == "patient":
        condition = condition & (VisitNote.status == "signed")
    return select(entity).where(entity.id == bindparam("object_id"), condition)


def _get_scoped(entity, user, object_id: int, options) -> object | None:
    statement = _scoped(entity, scope_kind(user))
    if options:
        statement = statement.options(*options)
    return db.session.execute(statement, {"object_id": object_id, **scope_params(user)}
                              ).unique().scalar_one_or_none()


def require_clinical_write(user, patient_id: int, *, on_team: bool | None = None) -> None:
    """Refuse clinical writes by users who are not clinicians on the patient's care team.

    Called after the object was read within the user's scope, so the user already may see it:
    the refusal is a 403, not a 404. ``on_team``: whether the user is on the care team, when
    the statement that read the object said so already (else :func:`on_care_team` asks).
    """
    if not user.is_clinician:
        raise Forbidden("Only practitioners on the patient's care team may document care.",
                        kind="clinical", patient_id=patient_id)
    if not (on_care_team(user, patient_id) if on_team is None else on_team):
        raise Forbidden("You are not on this patient's care team.", kind="clinical",
                        patient_id=patient_id)


def get_patient(user, patient_id: int, *options) -> Patient:
    """Load a patient ``user`` may see, or raise :class:`NotFound`."""
    patient = _get_scoped(Patient, user, patient_id, options)
    if patient is None:
        raise NotFound("patient", patient_id, patient_id=patient_id)
    return patient


def get_plan(user, plan_id: int, *options) -> PlanOfCare:
    """Load a plan of care ``user`` may see, or raise :class:`NotFound`."""
    plan = _get_scoped(PlanOfCare, user, plan_id, options)
    if plan is None:
        raise _plan_not_found(plan_id)
    return plan


def _plan_not_found(plan_id: int) -> NotFound:
    """The :class:`NotFound` of a plan the user may not see, naming its patient (if any) for
    the audit row."""
    owner = db.session.execute(
        select(PlanOfCare.patient_id).where(PlanOfCare.id == plan_id)).scalar()
    return NotFound("plan", plan_id, patient_id=owner)


def visible_notes(user):
    """SQL condition on :class:`VisitNote` for the notes ``user`` may see.

    Patients see only signed notes of their own record; drafts are work in progress.
    """
    condition = patient_scope(user, VisitNote.patient_id)
    if user is not None and user.role == "patient":
        condition = condition & (VisitNote.status == "signed")
    return condition


def get_visit(user, visit_id: int, *options) -> VisitNote:
    """Load a visit note ``user`` may see, or raise :class:`NotFound`."""
    note = _get_scoped(VisitNote, user, visit_id, options)
    if note is None:
        owner = db.session.execute(
            select(VisitNote.patient_id).where(VisitNote.id == visit_id)).scalar()
        raise NotFound("visit", visit_id, patient_id=owner)
    return note
