"""Progress from the database: plan snapshots built in a constant number of queries, for one
plan or a whole caseload, handed to the pure rules in :mod:`notes_service.progress.rules`.

Computed progress is memoised per plan (:data:`PROGRESS_MEMO`), keyed by everything it is
computed from: the plan's own fields and goals, an aggregate of its notes (count, latest change,
sum of row versions), its latest report period, the clinic's date and rule settings, and what
the viewer may see. A memoised result is used until the first moment one of its drafts becomes
overdue (the one input that moves with the clock alone).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, namedtuple
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from notes_service.access import (
    PlanVersion,
    get_plan,
    latest_report_end,
    notes_validator,
    patient_scope,
)
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.errors import Conflict
from notes_service.extensions import db
from notes_service.memo import Memo
from notes_service.plans.models import PlanOfCare
from notes_service.progress.rules import GoalSpec, PlanProgress, PlanSnapshot, Point, plan_progress
from notes_service.reports.models import ProgressReport
from notes_service.visits.models import Measurement, VisitNote

#: Bump when chart drawing changes, so cached charts and ETags change with it.
CHART_REVISION = "4"


def signed_only_for(actor: User | None) -> bool:
    """Patients see progress from signed notes only; clinicians from every note."""
    return actor is not None and actor.role == "patient"


def load_snapshots(plans: Iterable[PlanOfCare], *, signed_only: bool = False
                   ) -> dict[int, PlanSnapshot]:
    """Build a snapshot of each plan (goals must be loaded) in three queries, whatever the count.

    ``visits_since_report`` counts the visits after the period of the plan's latest progress
    report or discharge summary (all visits when there is none yet).
    """
    plans = list(plans)
    ids = [p.id for p in plans]
    if not ids:
        return {}
    # Table columns make Core statements (still autoflushed, in the session's transaction):
    # their rows come straight from the cursor, without the ORM's per-row processing of some
    # 5,000 measurement rows for a caseload of 60 plans.
    notes_table, values_table = VisitNote.__table__, Measurement.__table__
    note_filter = [notes_table.c.plan_id.in_(ids)]
    if signed_only:
        note_filter.append(notes_table.c.status == "signed")
    notes = db.session.execute(
        select(notes_table.c.id, notes_table.c.plan_id, notes_table.c.visit_date,
               notes_table.c.status, notes_table.c.created_at)
        .where(*note_filter).order_by(notes_table.c.visit_date, notes_table.c.id)).all()
    values = db.session.execute(
        select(values_table.c.visit_id, values_table.c.measure, values_table.c.side,
               values_table.c.phase, values_table.c.value)
        .join(notes_table, notes_table.c.id == values_table.c.visit_id)
        .where(*note_filter)).all()
    reported_until = dict(db.session.execute(
        select(ProgressReport.plan_id, func.max(ProgressReport.period_end))
        .where(ProgressReport.plan_id.in_(ids)).group_by(ProgressReport.plan_id)).all())
    # Per visit, (measure, side) -> [pre, post]; a value recorded twice: the last one counts.
    by_visit: dict[int, dict[tuple, list]] = defaultdict(dict)
    for visit_id, measure, side, phase, value in values:
        recorded = by_visit[visit_id]
        pair = recorded.get((measure, side))
        if pair is None:
            pair = recorded[(measure, side)] = [None, None]
        pair[phase == "post"] = value
    notes_by_plan: dict[int, list] = defaultdict(list)
    for row in notes:
        notes_by_plan[row.plan_id].append(row)
    snapshots = {}
    for plan in plans:
        series: dict[tuple, list[Point]] = {key: [] for key in plan.tracked_keys}
        plan_notes = notes_by_plan[plan.id]
        for note_id, _plan_id, day, _status, _created in plan_notes:
            for key, (pre, post) in by_visit.get(note_id, {}).items():
                points = series.get(key)
                if points is None:
                    points = series[key] = []
                points.append(Point(day, pre, post))
        dates = [n.visit_date for n in plan_notes]
        until = reported_until.get(plan.id)
        snapshots[plan.id] = PlanSnapshot(
            plan_id=plan.id, status=plan.status, start_date=plan.start_date,
            end_date=plan.end_date, maintenance=plan.maintenance_since is not None,
            goals={(g.measure, g.side): GoalSpec(g.target, g.target_date) for g in plan.goals},
            series=series, visit_dates=dates,
            visits_since_report=sum(1 for d in dates if until is None or d > until),
            draft_notes=[(n.id, n.created_at) for n in plan_notes if n.status == "draft"],
            last_visit_date=dates[-1] if dates else None,
        )
    return snapshots


def empty_progress(measure: str, side: str | None):
    """Progress of a measure with no values yet (a chart still shows the plan and the goal)."""
    from notes_service.progress.rules import measure_progress

    return measure_progress(measure, side, [],
                            thresholds=current_app.config["PROGRESS_THRESHOLDS"])


def compute(snapshot: PlanSnapshot) -> PlanProgress:
    """Apply the clinic's thresholds and settings to one snapshot."""
    config = current_app.config
    return plan_progress(snapshot, clinic_today(), config["PROGRESS_THRESHOLDS"],
                         config["PROGRESS_SETTINGS"], now=utcnow())


#: Computed progress per plan, keyed by :func:`_memo_keys` (a few KB each).
PROGRESS_MEMO = Memo(4096)


def settings_key() -> str:
    """Digest of the clinic's progress settings (a change of them recomputes every plan)."""
    config = current_app.config
    return hashlib.sha256(json.dumps(
        [config["PROGRESS_THRESHOLDS"], config["PROGRESS_SETTINGS"]], sort_keys=True,
        default=str).encode()).hexdigest()[:16]


def _plan_key(plan: PlanOfCare) -> tuple:
    """The plan's own inputs to its progress (its goals must be loaded)."""
    return (plan.id, plan.version, plan.status, plan.start_date, plan.end_date,
            plan.maintenance_since, tuple(plan.tracked_keys),
            tuple(sorted((g.measure, g.side or "", g.target, g.target_date)
                         for g in plan.goals)))


def memo_common(signed_only: bool) -> tuple:
    """The part of a progress memo key that is not the plan's: what the viewer may see (signed
    notes only, or every note), the clinic's date and its rule settings."""
    return (signed_only, clinic_today(), settings_key())


def _memo_keys(plans: list[PlanOfCare], signed_only: bool) -> dict[int, tuple]:
    """Memo key of each plan: its own inputs and, in one query, aggregates of its notes and
    reports."""
    rows = db.session.execute(
        select(PlanOfCare.id, *notes_validator(signed_only), latest_report_end())
        .where(PlanOfCare.id.in_([p.id for p in plans])))
    by_plan = {row[0]: tuple(row[1:]) for row in rows}
    common = memo_common(signed_only)
    return {p.id: (_plan_key(p), by_plan.get(p.id), common) for p in plans}


#: What a chart is drawn from, by the validator its ETag is made of (see :func:`chart_source`).
ChartSource = namedtuple("ChartSource", "plan_start plan_end progress")

#: Computed progress (with the plan's dates) by the plan's one-statement validator: its id and
#: version (which moves with its status, dates and goals), the validator of the notes the
#: viewer may see, whether that is signed notes only, the clinic's date and settings. That is
#: everything a chart is drawn from, so a chart's cache miss needs no ORM read
#: (:func:`chart_source`). Filled when progress is computed and when a chart is rendered; each
#: entry expires with its progress (a draft turning overdue).
CHART_SOURCES = Memo(4096)


def _source_key(plan_id: int, version: int, notes, common: tuple) -> tuple:
    """A :data:`CHART_SOURCES` key: the plan, its notes' validator (count, latest change, sum
    of row versions) and :func:`memo_common`."""
    return (plan_id, version, tuple(notes), *common)


def remember_source(memo_key: tuple, source: ChartSource, expires: datetime | None) -> None:
    """Keep a plan's progress, computed under ``memo_key`` (see :func:`_memo_keys`), for
    :func:`chart_source`."""
    (plan_id, version, *_plan), validators, common = memo_key
    if validators is not None:
        CHART_SOURCES.put(_source_key(plan_id, version, validators[:3], common), source,
                          expires)


def chart_source(plan: PlanVersion, signed_only: bool) -> ChartSource | None:
    """The progress a chart of ``plan`` is drawn from when it is kept, else None: by the plan's
    validator alone (no statement)."""
    return CHART_SOURCES.get(_source_key(plan.id, plan.version, plan.notes,
                                         memo_common(signed_only)), utcnow())


def chart_source_for(actor: User, plan: PlanVersion) -> ChartSource:
    """What a chart of ``plan`` is drawn from: kept by its validator, or the plan's progress
    (read, computed or memoised, and audited) then kept for the plan's next chart."""
    found = chart_source(plan, signed_only_for(actor))
    if found is not None:
        return found
    loaded, progress, memo_key = plan_progress_entry(actor, plan.id)
    source = ChartSource(loaded.start_date, loaded.end_date, progress)
    remember_source(memo_key, source, PROGRESS_MEMO.expiry(memo_key))
    return source


def _expiry(snapshot: PlanSnapshot, now: datetime) -> datetime | None:
    """When the progress of ``snapshot`` next changes with the clock: a draft turns overdue."""
    hours = current_app.config["PROGRESS_SETTINGS"].get("unsigned_after_hours", 24)
    deadlines = []
    for _note_id, created in snapshot.draft_notes:
        if created.tzinfo is None:
            created = created.replace(tzinfo=now.tzinfo)
        deadline = created + timedelta(hours=hours)
        if deadline > now:
            deadlines.append(deadline)
    return min(deadlines, default=None)


def memoised_progress(plans: Iterable[PlanOfCare], *, signed_only: bool
                      ) -> tuple[dict[int, PlanProgress], dict[int, tuple]]:
    """Progress of ``plans`` (goals loaded) and their memo keys: computed only for the plans
    whose inputs changed since they were last computed (two aggregate queries otherwise)."""
    plans = list(plans)
    if not plans:
        return {}, {}
    keys = _memo_keys(plans, signed_only)
    now = utcnow()
    result: dict[int, PlanProgress] = {}
    missing = []
    for plan in plans:
        found = PROGRESS_MEMO.get(keys[plan.id], now)
        if found is None:
            missing.append(plan)
        else:
            result[plan.id] = found
    if missing:
        for plan_id, snapshot in load_snapshots(missing, signed_only=signed_only).items():
            progress = compute(snapshot)
            expires = _expiry(snapshot, now)
            PROGRESS_MEMO.put(keys[plan_id], progress, expires)
            remember_source(keys[plan_id], ChartSource(snapshot.start_date, snapshot.end_date,
                                                       progress), expires)
            result[plan_id] = progress
    return result, keys


def plan_progress_entry(actor: User, plan_id: int) -> tuple[PlanOfCare, PlanProgress, tuple]:
    """A plan's progress as the actor may see it, audited, with its memo key."""
    plan = get_plan(actor, plan_id, joinedload(PlanOfCare.goals))
    progress, keys = memoised_progress([plan], signed_only=signed_only_for(actor))
    record(actor, "read", "progress", patient_id=plan.patient_id, object_id=plan.id)
    return plan, progress[plan.id], keys[plan.id]


def plan_progress_for(actor: User, plan_id: int) -> tuple[PlanOfCare, PlanProgress]:
    """A plan's progress, as the actor may see it, audited."""
    plan, progress, _key = plan_progress_entry(actor, plan_id)
    return plan, progress


def caseload_progress(actor: User, plans: Iterable[PlanOfCare]) -> dict[int, PlanProgress]:
    """Progress of many plans (already scoped and loaded with goals), without a query per plan."""
    return memoised_progress(plans, signed_only=signed_only_for(actor))[0]


def active_plans_for(actor: User) -> list[PlanOfCare]:
    """The active plans of the patients the actor may see (care team for practitioners)."""
    return list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.status == "active",
                                 patient_scope(actor, PlanOfCare.patient_id, many=True))
        .options(selectinload(PlanOfCare.goals))).scalars())


def chart_etag(plan: PlanVersion, *parts) -> str:
    """Strong ETag of a chart: what it is drawn from (the plan's version, which moves with its
    dates and goals; the validator of the notes the viewer may see; the clinic's date and
    settings) plus what was asked for. No series is read to answer a 304."""
    raw = ":".join(map(str, [CHART_REVISION, plan.id, plan.version, *plan.notes, clinic_today(),
                             settings_key(), *parts]))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def start_maintenance(actor: User, plan_id: int, reason: str) -> PlanOfCare:
    """Move a plan to maintenance (goal: maintaining function); its plateau flag stops."""
    from notes_service.access import require_clinical_write
    from notes_service.plans.services import PLAN_LOADS

    plan = get_plan(actor, plan_id, *PLAN_LOADS)
    require_clinical_write(actor, plan.patient_id)
    if plan.status != "active":
        raise Conflict("Only an active plan can become a maintenance plan.")
    if plan.maintenance_since is not None:
        raise Conflict(f"The plan is a maintenance plan since {plan.maintenance_since}.")
    plan.maintenance_since = clinic_today()
    db.session.flush()
    record(actor, "update", "plan", patient_id=plan.patient_id, object_id=plan.id,
           detail=f"maintenance plan: {reason}")
    return plan
