"""The compliance worklist: what needs doing across a caseload or the clinic, in a few queries.

Items come from one ``UNION ALL`` over the plan summaries, the stored measure flags and the
draft notes: unsigned notes older than 24 hours, progress reports due, plans ending soon or
expired while still active, active plans without a recent visit, and plateau and worsening flags
nobody has acknowledged for the situation they describe. The thresholds are the progress rule's
settings (``PROGRESS_SETTINGS``); the wording of each item is the progress engine's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Date,
    Integer,
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from notes_service.access import get_plan, patient_scope, require_clinical_write
from notes_service.audit.services import record, record_many
from notes_service.auth.models import User
from notes_service.catalog import MEASURES
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, Forbidden
from notes_service.extensions import db
from notes_service.outcomes.models import FlagAcknowledgement, PlanFlag, PlanOutcome
from notes_service.outcomes.summary import ensure_current, refresh_plan_summary
from notes_service.patients.models import Patient
from notes_service.plans.models import PlanOfCare
from notes_service.progress.rules import PlanSnapshot, format_day, plan_flags, resolve_settings
from notes_service.reports.models import ProgressReport
from notes_service.visits.models import VisitNote

#: Item types, most urgent first (the progress engine's severities: high, then medium).
ITEM_TYPES = ("worsening", "plan_expired", "progress_report_due", "plateau", "unsigned_note",
              "plan_ending", "no_recent_visit")

#: Flags a clinician acknowledges from the worklist.
ACKNOWLEDGEABLE = ("plateau", "worsening")


@dataclass(frozen=True)
class WorklistQuery:
    """Which part of the worklist to show."""

    practitioner_id: int | None = None
    type: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class _Viewer:
    """Stands in for the user in ``patient_scope`` when statements are built once for every
    practitioner: the id is a bound parameter."""

    role: str
    id: object
    patient_id: None = None


def _scope(actor: User, query: WorklistQuery) -> tuple[int | None, tuple[bool, bool], dict]:
    """Who the worklist is about: the owner (None: the whole clinic), the statements' shape
    (whether care-team scoped, whether one owner) and their scope parameters."""
    if actor.role == "patient":
        raise Forbidden("The worklist is for clinic staff.")
    if actor.role == "director":
        owner = query.practitioner_id
    else:
        if query.practitioner_id not in (None, actor.id):
            raise Forbidden("Practitioners see the worklist of their own caseload.")
        owner = actor.id
    caseload = actor.role != "director"
    params = {"viewer": actor.id} if caseload else {}
    if owner is not None:
        params["owner"] = owner
    return owner, (caseload, owner is not None), params


def _scope_conditions(caseload: bool, by_owner: bool) -> tuple[list, list]:
    """Conditions on plans (owner) and drafts (author) for a statement shape."""
    viewer = _Viewer("practitioner" if caseload else "director", bindparam("viewer"))
    plans = [patient_scope(viewer, PlanOutcome.patient_id)]
    notes = [patient_scope(viewer, VisitNote.patient_id)]
    if by_owner:
        plans.append(PlanOutcome.practitioner_id == bindparam("owner"))
        notes.append(VisitNote.author_id == bindparam("owner"))
    return plans, notes


def _row(kind, plan_id, patient_id, practitioner_id, day, *, note_id=None, since=None,
         flag_id=None, measure=None, side=None, fingerprint=None, amount=None):
    """The columns every part of the union has, typed NULL where a part has nothing.

    NULLs are cast (PostgreSQL types a union's columns from its parts); values are not
    (SQLite's CAST to DATE would turn a date into a number).
    """
    def column(value, type_):
        return cast(null(), type_) if value is None else value

    kind = literal(kind, String) if isinstance(kind, str) else kind
    return [kind.label("type"), plan_id.label("plan_id"), patient_id.label("patient_id"),
            practitioner_id.label("practitioner_id"), type_coerce(day, Date).label("day"),
            column(note_id, Integer).label("note_id"),
            column(since, VisitNote.created_at.type).label("since"),
            column(flag_id, Integer).label("flag_id"), column(measure, String).label("measure"),
            column(side, String).label("side"), column(fingerprint, String).label("fingerprint"),
            column(amount, Integer).label("amount")]


def worklist_union(plan_scope: list, note_scope: list, settings):
    """The ``UNION ALL`` of every open item in scope (one row per item).

    Dates are bound parameters (see :func:`_clock_params`); the rule's counts are literals.
    """
    po, vn = PlanOutcome, VisitNote
    active = [po.status == "active", *plan_scope]
    # The progress engine's count (progress.services.load_snapshots): visits after the period
    # of the latest progress report, read live so a new report clears the item at once.
    reported_until = (select(func.max(ProgressReport.period_end))
                      .where(ProgressReport.plan_id == po.plan_id)
                      .correlate_except(ProgressReport).scalar_subquery())
    since_report = (
        select(func.count(vn.id))
        .where(vn.plan_id == po.plan_id,
               or_(reported_until.is_(None), vn.visit_date > reported_until))
        .scalar_subquery())
    # Counted once per plan that has had enough visits at all, then compared.
    due = (select(*_row("progress_report_due", po.plan_id, po.patient_id, po.practitioner_id,
                        po.last_visit_date, amount=since_report))
           .where(*active, po.visits >= settings.report_every_visits).subquery("due"))
    last_seen = func.coalesce(po.last_visit_date, po.start_date)
    acknowledged = exists().where(FlagAcknowledgement.plan_id == PlanFlag.plan_id,
                                  FlagAcknowledgement.fingerprint == PlanFlag.fingerprint)
    today = bindparam("today", type_=Date)
    parts = [
        select(*_row("unsigned_note", vn.plan_id, vn.patient_id, vn.author_id, vn.visit_date,
                     note_id=vn.id, since=vn.created_at))
        .where(vn.status == "draft",
               vn.created_at < bindparam("unsigned_before", type_=vn.created_at.type),
               *note_scope),
        select(due).where(due.c.amount >= settings.report_every_visits),
        select(*_row("plan_expired", po.plan_id, po.patient_id, po.practitioner_id,
                     po.end_date))
        .where(*active, po.end_date < today),
        select(*_row("plan_ending", po.plan_id, po.patient_id, po.practitioner_id, po.end_date))
        .where(*active, po.end_date >= today,
               po.end_date <= bindparam("ending_by", type_=Date)),
        select(*_row("no_recent_visit", po.plan_id, po.patient_id, po.practitioner_id,
                     last_seen))
        .where(*active, last_seen < bindparam("idle_since", type_=Date)),
        select(*_row(PlanFlag.code, po.plan_id, po.patient_id, po.practitioner_id,
                     po.last_visit_date, flag_id=PlanFlag.id, measure=PlanFlag.measure,
                     side=PlanFlag.side, fingerprint=PlanFlag.fingerprint))
        .join(PlanFlag, PlanFlag.plan_id == po.plan_id)
        .where(*active, PlanFlag.code.in_(ACKNOWLEDGEABLE), ~acknowledged),
    ]
    return union_all(*parts).subquery("items")


def _clock_params(settings, today, now) -> dict:
    """The dates the rule compares with, as bound parameters of the worklist statements."""
    return {"today": today, "ending_by": today + timedelta(days=settings.ending_within_days),
            "idle_since": today - timedelta(days=settings.no_visit_days),
            "unsigned_before": now - timedelta(hours=settings.unsigned_after_hours)}


def worklist_statements(actor: User, query: WorklistQuery, *, today, now):
    """The worklist's two statements (counts by type and practitioner; one page of items),
    their parameters, and the owner (None: the whole clinic)."""
    settings = resolve_settings(current_app.config["PROGRESS_SETTINGS"])
    owner, shape, params = _scope(actor, query)
    statements = _statements(*shape, query.type is not None, settings)
    params.update(_clock_params(settings, today, now), limit=query.limit, offset=query.offset)
    if query.type is not None:
        params["type"] = query.type
    return statements, params, owner


@functools.lru_cache(maxsize=32)
def _statements(caseload: bool, by_owner: bool, by_type: bool, settings) -> tuple:
    # Built once per shape: building these expressions costs more than running them.
    items = worklist_union(*_scope_conditions(caseload, by_owner), settings)
    counts = (select(items.c.type, items.c.practitioner_id, func.count().label("items"))
              .group_by(items.c.type, items.c.practitioner_id))
    rank = case({kind: i for i, kind in enumerate(ITEM_TYPES)}, value=items.c.type)
    measure_rank = case({code: i for i, code in enumerate(MEASURES)}, value=items.c.measure)
    chosen = select(items, rank.label("rank"), measure_rank.label("measure_rank"))
    if by_type:
        chosen = chosen.where(items.c.type == bindparam("type"))
    order = ("rank", "day", "since", "plan_id", "measure_rank", "side")
    # Pick the page first, then name its patients: the joins touch one page, not every item.
    chosen = (chosen.order_by(*order).limit(bindparam("limit", type_=Integer))
              .offset(bindparam("offset", type_=Integer)).subquery("page"))
    page = (select(chosen, Patient.given_name, Patient.family_name,
                   User.name.label("practitioner_name"), PlanOutcome.start_date,
                   PlanOutcome.end_date, PlanOutcome.last_visit_date, PlanFlag.severity,
                   PlanFlag.message)
            .join(Patient, Patient.id == chosen.c.patient_id)
            .join(User, User.id == chosen.c.practitioner_id)
            .outerjoin(PlanOutcome, PlanOutcome.plan_id == chosen.c.plan_id)
            .outerjoin(PlanFlag, PlanFlag.id == chosen.c.flag_id)
            .order_by(*[chosen.c[c] for c in order]))
    return counts, page


def _wording(row, today, now, settings) -> tuple[str, str]:
    """Severity and message of an item, in the progress engine's own words."""
    if row.message is not None:
        return row.severity, row.message
    start = row.start_date or row.day
    snapshot = PlanSnapshot(
        plan_id=row.plan_id, status="active", start_date=start,
        end_date=max(row.end_date or start, start),
        visit_dates=(row.last_visit_date,) if row.last_visit_date else (),
        visits_since_report=row.amount or 0,
        draft_notes=[(row.note_id, row.since)] if row.note_id is not None else ())
    flags = plan_flags(snapshot, today, current_app.config["PROGRESS_THRESHOLDS"], settings,
                       now=now)
    flag = next(f for f in flags if f.code == row.type)
    return flag.severity, flag.message


def compute_worklist(actor: User, query: WorklistQuery) -> dict:
    """The open items in the actor's scope: counts, and one page of items (not audited)."""
    today, now = clinic_today(), utcnow()
    (counts_stmt, page_stmt), params, owner = worklist_statements(actor, query, today=today,
                                                                  now=now)
    ensure_current(*([] if owner is None else [PlanOfCare.practitioner_id == owner]))
    counts = db.session.execute(counts_stmt, params).all()
    rows = db.session.execute(page_stmt, params).all()
    settings = resolve_settings(current_app.config["PROGRESS_SETTINGS"])
    by_type = dict.fromkeys(ITEM_TYPES, 0)
    unsigned: dict[int, int] = {}
    for kind, practitioner_id, n in counts:
        by_type[kind] += n
        if kind == "unsigned_note":
            unsigned[practitioner_id] = n
    names = dict(db.session.execute(
        select(User.id, User.name).where(User.id.in_(unsigned))).all()) if unsigned else {}
    items = []
    for row in rows:
        severity, message = _wording(row, today, now, settings)
        items.append({
            "type": row.type, "severity": severity, "plan_id": row.plan_id,
            "patient": {"id": row.patient_id, "name": f"{row.given_name} {row.family_name}"},
            "practitioner": {"id": row.practitioner_id, "name": row.practitioner_name},
            "note_id": row.note_id, "measure": row.measure, "side": row.side, "date": row.day,
            "since": row.since, "fingerprint": row.fingerprint, "message": message,
        })
    return {
        "scope": "clinic" if owner is None else "practitioner", "practitioner_id": owner,
        "counts": {"total": sum(by_type.values()), "by_type": by_type,
                   "unsigned_by_practitioner": sorted(
                       ({"practitioner": {"id": pid, "name": names[pid]}, "count": n}
                        for pid, n in unsigned.items()),
                       key=lambda u: (-u["count"], u["practitioner"]["name"]))},
        "type": query.type, "limit": query.limit, "offset": query.offset, "items": items,
        "break_glass": _break_glass_items(actor),
    }


def _break_glass_items(actor: User) -> list[dict]:
    """Open break-glass grants, for a director: who opened which record off their care team,
    why, and until when (notes_service.security.break_glass)."""
    if actor.role != "director":
        return []
    from notes_service.security.break_glass import active_break_glass

    return [{"patient": {"id": g.patient_id,
                         "name": f"{g.patient.given_name} {g.patient.family_name}"},
             "practitioner": {"id": g.user_id, "name": g.user.name}, "reason": g.reason,
             "granted_at": g.granted_at, "expires_at": g.expires_at}
            for g in active_break_glass()]


def worklist_for(actor: User, query: WorklistQuery) -> dict:
    """The worklist of the actor (clinic for a director, own caseload for a practitioner),
    audited once per patient it names."""
    result = compute_worklist(actor, query)
    record_many(actor, "list", "worklist",
                sorted({item["patient"]["id"] for item in result["items"]}))
    return result


def acknowledge_flag(actor: User, plan_id: int, data: dict) -> FlagAcknowledgement:
    """Acknowledge an open plateau or worsening flag; it leaves the worklist until the
    situation it describes changes (a new value, a moved window)."""
    plan = get_plan(actor, plan_id)
    require_clinical_write(actor, plan.patient_id)
    refresh_plan_summary(plan.id)  # acknowledge the flag as it stands now
    flag = db.session.execute(
        select(PlanFlag).where(PlanFlag.plan_id == plan.id, PlanFlag.code == data["code"],
                               PlanFlag.measure == data["measure"],
                               PlanFlag.side.is_not_distinct_from(data.get("side")))
    ).scalars().first()
    if flag is None:
        raise Conflict(f"The plan has no open {data['code']} flag on this measure.")
    earlier = db.session.execute(
        select(FlagAcknowledgement.at, User.name)
        .join(User, User.id == FlagAcknowledgement.user_id)
        .where(FlagAcknowledgement.plan_id == plan.id,
               FlagAcknowledgement.fingerprint == flag.fingerprint)
        .order_by(FlagAcknowledgement.at.desc()).limit(1)).first()
    if earlier is not None:
        raise Conflict(f"{earlier.name} already acknowledged this flag on "
                       f"{format_day(earlier.at.date())}; it returns when a new value changes "
                       "the picture.")
    ack = FlagAcknowledgement(plan_id=plan.id, code=flag.code, measure=flag.measure,
                              side=flag.side, reason=data["reason"], note=data.get("note"),
                              fingerprint=flag.fingerprint, user_id=actor.id, at=utcnow())
    db.session.add(ack)
    db.session.flush()
    record(actor, "acknowledge", "flag", patient_id=plan.patient_id, object_id=ack.id,
           detail=f"{flag.code} {flag.measure} {flag.side or ''}: {data['reason']}")
    return ack
