"""Per-plan outcome summaries: built by the progress engine, stored, kept current.

A change to a plan rebuilds its summary at once (:func:`refresh_plan_summary`, called by the
plan services). A change to one of its notes only marks the summary stale
(:func:`mark_plan_stale`): rebuilding reads every note of the plan, which would make each save
cost more than the save itself, and grow with the plan. Every reader of the summaries
(the outcome figures, charts and files, the worklist, acknowledging a flag) first calls
:func:`ensure_current`, which rebuilds what is missing or stale (a marked row, an older plan
version or rule set, data loaded by the demo) in the same transaction as the read, so no one
ever reads a stale row. Both rebuild with :func:`refresh_summaries`, which reads many plans in a
constant number of queries through :func:`notes_service.progress.services.load_snapshots`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from statistics import median

from flask import current_app
from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import selectinload

from notes_service.catalog import MEASURES
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.outcomes.models import (
    MeasureOutcome,
    PlanFlag,
    PlanIntervention,
    PlanOutcome,
)
from notes_service.plans.models import PlanOfCare
from notes_service.prepared import Prepared
from notes_service.progress.rules import MEASURE_FLAGS, MeasureProgress, PlanProgress
from notes_service.progress.services import compute, load_snapshots
from notes_service.visits.models import VisitNote

#: Bump when what a summary row holds, or how it is derived, changes: every row is rebuilt.
SUMMARY_REVISION = "1"

#: Plans rebuilt per batch (two series queries each).
BATCH = 500


def rules_key() -> str:
    """Digest of everything besides the data that a summary row depends on."""
    config = current_app.config
    raw = json.dumps([SUMMARY_REVISION, config["PROGRESS_THRESHOLDS"],
                      config["PROGRESS_SETTINGS"], list(MEASURES)], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


#: ``rules_key`` of a row marked stale: never a digest, so :func:`stale_plan_ids` selects it.
STALE = ""


def refresh_plan_summary(plan_id: int) -> None:
    """Rebuild the outcome summary of one plan now (after the plan itself changed)."""
    refresh_summaries([plan_id])


#: Built once (statements cost more to build than to run): lock a plan as a rebuild does, and
#: mark its summary row stale. The mark runs at every save of a note, on the driver's cursor
#: (:mod:`notes_service.prepared`: a quarter of the cost of the session's execution).
_LOCK_PLAN = (select(PlanOfCare.id).where(PlanOfCare.id == bindparam("stale_plan_id"))
              .with_for_update(key_share=True))
_MARK_STALE = Prepared(lambda: update(PlanOutcome.__table__)
                       .where(PlanOutcome.__table__.c.plan_id == bindparam("stale_plan_id"))
                       .values(rules_key=STALE))


def mark_plan_stale(plan_id: int) -> None:
    """Mark the summary of a plan stale after one of its notes changed, in the same
    transaction; the next read of the summaries rebuilds it (:func:`ensure_current`).

    A plan without a summary row needs no mark: a missing row is rebuilt too.
    """
    session = db.session
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        # A rebuild holds this lock (FOR NO KEY UPDATE) from reading the plan's notes until it
        # commits. Taking it here orders the two: either the rebuild waits and then reads this
        # note, or this mark waits and then lands on the row the rebuild wrote. Without it a
        # rebuild that read the notes before this one could replace the row after this mark
        # and leave a stale summary marked current. (The audit chain's advisory lock orders
        # them too, today; this does not depend on it. On SQLite both hold the database's one
        # write lock, BEGIN IMMEDIATE, from before they read until they commit.)
        # Through the session: its hook takes the audit chain's lock before a first row lock.
        session.execute(_LOCK_PLAN, {"stale_plan_id": plan_id})
    # On SQLite the connection's own listener takes the write lock first, as for any write.
    _MARK_STALE.write(connection, [{"stale_plan_id": plan_id}])


def stale_plan_ids(*conditions) -> list[int]:
    """Plans whose summary is missing, marked stale, or built from an older plan version or
    rule set."""
    return list(db.session.execute(
        select(PlanOfCare.id)
        .outerjoin(PlanOutcome, PlanOutcome.plan_id == PlanOfCare.id)
        .where(or_(PlanOutcome.plan_id.is_(None), PlanOutcome.plan_version != PlanOfCare.version,
                   PlanOutcome.rules_key != rules_key()), *conditions)).scalars())


def ensure_current(*conditions) -> int:
    """Rebuild the summaries that are missing or stale (of the plans matching ``conditions``)."""
    ids = stale_plan_ids(*conditions)
    if ids:
        refresh_summaries(ids)
    return len(ids)


def refresh_summaries(plan_ids: Iterable[int], *, batch: int = BATCH) -> None:
    """Rebuild the summaries of many plans, ``batch`` plans at a time, in bulk statements."""
    ids = sorted(set(plan_ids))
    for start in range(0, len(ids), batch):
        _refresh_batch(ids[start:start + batch])


def _refresh_batch(ids: Sequence[int]) -> None:
    # Lock the plans first so two writers never rebuild the same summary at once, and a note
    # written meanwhile is either read here or marks the row rebuilt here stale (see
    # mark_plan_stale); NO KEY UPDATE does not conflict with the key-share locks that
    # inserting a note takes. On SQLite, FOR UPDATE takes the write lock before the notes are
    # read (a reading request's earlier snapshot ends there; audit.chain._lock_before_writes).
    plans = list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.id.in_(ids)).order_by(PlanOfCare.id)
        .options(selectinload(PlanOfCare.goals)).with_for_update(key_share=True)).scalars())
    snapshots = load_snapshots(plans)
    used: dict[int, set[str]] = defaultdict(set)
    for plan_id, interventions in db.session.execute(
            select(VisitNote.plan_id, VisitNote.interventions).where(VisitNote.plan_id.in_(ids))):
        used[plan_id].update(interventions or ())
    key, now = rules_key(), utcnow()
    plan_rows, measure_rows, flag_rows, intervention_rows = [], [], [], []
    for plan in plans:
        progress = compute(snapshots[plan.id])
        snapshot = snapshots[plan.id]
        row = plan_row(plan, snapshot.visit_dates, progress, key=key, now=now)
        plan_rows.append(row)
        measure_rows += measure_outcome_rows(plan, progress, row)
        flag_rows += flag_rows_of(plan.id, progress)
        intervention_rows += [{"plan_id": plan.id, "intervention": code}
                              for code in sorted(used[plan.id])]
    write_rows(ids, plan_rows, measure_rows, flag_rows, intervention_rows)


def write_rows(ids: Sequence[int], plan_rows: list[dict], measure_rows: list[dict],
               flag_rows: list[dict], intervention_rows: list[dict]) -> None:
    """Replace the summary rows of the plans ``ids`` with the rows given, in bulk."""
    for model in (PlanFlag, PlanIntervention, MeasureOutcome, PlanOutcome):
        db.session.execute(delete(model).where(model.plan_id.in_(ids)))
    for model, rows in ((PlanOutcome, plan_rows), (MeasureOutcome, measure_rows),
                        (PlanFlag, flag_rows), (PlanIntervention, intervention_rows)):
        if rows:
            # NULLs written as NULLs (no column has a default a NULL would skip): every row has
            # the same columns, so each table takes one executemany, not one per pattern of
            # missing values, and a rebuild costs the same statements for 1 plan or 500.
            db.session.execute(insert(model).execution_options(render_nulls=True), rows)


def plan_row(plan: PlanOfCare, visit_dates: Sequence, progress: PlanProgress, *, key: str,
             now) -> dict:
    """The :class:`PlanOutcome` row of a plan and its computed progress."""
    measures = progress.measures
    primary = _primary_keys(plan, measures)
    by_key = {(mp.measure, mp.side): mp for mp in measures}
    goals_met = 0
    for goal in plan.goals:
        mp = by_key.get((goal.measure, goal.side))
        if mp is None and goal.side is None:  # a goal without a side covers the primary side
            mp = next((by_key[k] for k in primary if k[0] == goal.measure), None)
        goals_met += bool(mp is not None and mp.goal_met)
    has_goals = bool(plan.goals)
    retentions = [mp.retention for mp in measures
                  if (mp.measure, mp.side) in primary and mp.retention is not None]
    visits = sorted(visit_dates)
    if plan.discharge_date is not None:
        episode_end = plan.discharge_date
    elif plan.status in ("active", "on_hold"):
        episode_end = None
    else:
        episode_end = visits[-1] if visits else plan.start_date
    return {
        "plan_id": plan.id, "patient_id": plan.patient_id,
        "practitioner_id": plan.practitioner_id, "diagnosis_code": plan.diagnosis_code,
        "diagnosis_group": plan.diagnosis_code[:3].upper(), "status": plan.status,
        "start_date": plan.start_date, "end_date": plan.end_date, "episode_end": episode_end,
        "discharge_date": plan.discharge_date, "discharge_reason": plan.discharge_reason,
        "planned_visits": plan.planned_visits, "visits": len(visits),
        "first_visit_date": visits[0] if visits else None,
        "last_visit_date": visits[-1] if visits else None,
        "goals": len(plan.goals), "goals_met": goals_met,
        "assessable": any(mp.status != "insufficient_data" for mp in measures if mp.series),
        # The flag rules of clinical-reference §3, read at the latest visit whatever the
        # plan's status, so a discharged plan keeps the state it ended in.
        "plateau": any(mp.status == "plateau" and (
            mp.goal_target is not None or (not has_goals and mp.measure == "pain"))
            for mp in measures),
        "worsening": any(mp.status == "worsening" for mp in measures),
        "retention": round(median(retentions), 4) if retentions else None,
        "plan_version": plan.version, "rules_key": key, "refreshed_at": now,
    }


#: Plan columns copied onto each measure row, so clinic-wide figures need no join.
COHORT_COLUMNS = ("practitioner_id", "diagnosis_group", "status", "start_date", "episode_end",
                  "discharge_date")


def measure_outcome_rows(plan: PlanOfCare, progress: PlanProgress, plan_row: dict
                         ) -> list[dict]:
    """The :class:`MeasureOutcome` rows: each measure with a value, on the plan's side."""
    primary = _primary_keys(plan, progress.measures)
    cohort = {column: plan_row[column] for column in COHORT_COLUMNS}
    rows = []
    for mp in progress.measures:
        if (mp.measure, mp.side) not in primary:
            continue
        series = mp.series
        rows.append({
            "plan_id": plan.id, "measure": mp.measure, "side": mp.side, "points": len(series),
            "baseline": mp.baseline, "baseline_date": mp.baseline_date,
            "latest": mp.latest, "latest_date": mp.latest_date,
            "change": (round(mp.catalog.improvement(mp.baseline, mp.latest), 6)
                       if len(series) >= 2 else None),
            "progress_status": mp.status, "goal_target": mp.goal_target,
            "goal_met": mp.goal_met,
            "retention": round(mp.retention, 4) if mp.retention is not None else None,
            **cohort,
        })
    return rows


def flag_fingerprint(code: str, mp: MeasureProgress) -> str:
    """The situation a measure flag describes: a new value or a moved window changes it."""
    latest = f"{mp.latest:g}" if mp.latest is not None else "-"
    return f"{code}:{mp.measure}:{mp.side or '-'}:{mp.window_start}:{mp.window_end}:{latest}"


def flag_rows_of(plan_id: int, progress: PlanProgress) -> list[dict]:
    """The :class:`PlanFlag` rows of the plan's measure flags."""
    by_key = {(mp.measure, mp.side): mp for mp in progress.measures}
    return [{"plan_id": plan_id, "code": flag.code, "severity": flag.severity,
             "measure": flag.measure, "side": flag.side, "message": flag.message,
             "fingerprint": flag_fingerprint(flag.code, by_key[(flag.measure, flag.side)])}
            for flag in progress.flags if flag.code in MEASURE_FLAGS]


def _primary_keys(plan: PlanOfCare, measures: Sequence[MeasureProgress]) -> set[tuple]:
    """The (measure, side) that stands for the plan, per measure with values.

    Unsided measures stand for themselves. Of a sided measure's sides: the one with a goal,
    else the plan's side, else the one that started worse (the affected side).
    """
    sides: dict[str, list[MeasureProgress]] = defaultdict(list)
    for mp in measures:
        if mp.series:
            sides[mp.measure].append(mp)
    goal_sides = {(g.measure, g.side) for g in plan.goals}
    keys = set()
    for code, candidates in sides.items():
        if len(candidates) == 1:
            keys.add((code, candidates[0].side))
            continue
        pick = next((mp for mp in candidates if (code, mp.side) in goal_sides), None) \
            or next((mp for mp in candidates if mp.side == plan.side), None) \
            or min(candidates, key=lambda mp: (mp.catalog.improvement(0, mp.baseline),
                                               mp.side or ""))
        keys.add((code, pick.side))
    return keys
