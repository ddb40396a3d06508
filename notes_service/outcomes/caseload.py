"""A caseload's flags from the stored outcome summaries, without reading a single series.

A plan's flags are of two kinds (``progress.rules``). Its measure flags (plateau, worsening,
short-lived relief, off track) follow from its series, goals and the rule settings alone, never
from the date: the outcome summary stores them as the engine worded them (:class:`PlanFlag`,
kept current by :func:`~notes_service.outcomes.summary.ensure_current`). The flags that move
with the clock (progress report due, plan ending or expired, no recent visit, overdue drafts)
need a few figures per plan, read live in one aggregate and one list of drafts, and the engine
words them (:func:`~notes_service.progress.rules.date_flags`). So a caseload costs the same few
statements whether it holds 2 plans or 60, whatever the process has memoised, and the result is
the engine's own: :func:`caseload_flags` equals ``caseload_progress(actor, plans)[id].flags``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import bindparam, case, func, or_, select

from notes_service.auth.models import User
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.outcomes.models import PlanFlag, PlanOutcome
from notes_service.outcomes.summary import ensure_current, rules_key
from notes_service.plans.models import PlanOfCare
from notes_service.progress.rules import (
    Flag,
    PlanSnapshot,
    date_flags,
    resolve_settings,
    series_order,
    sort_flags,
)
from notes_service.progress.services import caseload_progress, signed_only_for
from notes_service.reports.models import ProgressReport
from notes_service.visits.models import VisitNote


def _statements() -> tuple:
    """The three reads, built once (building them costs more than running them)."""
    ids = bindparam("plan_ids", expanding=True)
    outcomes, flags = PlanOutcome.__table__, PlanFlag.__table__
    notes, reports = VisitNote.__table__, ProgressReport.__table__
    # The stored measure flags, with what shows the row they belong to is usable: a row marked
    # stale after ensure_current ran (a note saved meanwhile) has another rules key.
    stored = (select(outcomes.c.plan_id, outcomes.c.plan_version, outcomes.c.status,
                     outcomes.c.rules_key, flags.c.code, flags.c.severity, flags.c.measure,
                     flags.c.side, flags.c.message)
              .outerjoin(flags, flags.c.plan_id == outcomes.c.plan_id)
              .where(outcomes.c.plan_id.in_(ids)))
    # As progress.services.load_snapshots counts them: every note (draft or signed), the
    # latest visit date, and the visits after the period of the latest report.
    reported = (select(reports.c.plan_id, func.max(reports.c.period_end).label("until"))
                .where(reports.c.plan_id.in_(ids)).group_by(reports.c.plan_id)
                .subquery("reported"))
    visits = (select(notes.c.plan_id, func.max(notes.c.visit_date),
                     func.sum(case((or_(reported.c.until.is_(None),
                                        notes.c.visit_date > reported.c.until), 1), else_=0)))
              .outerjoin(reported, reported.c.plan_id == notes.c.plan_id)
              .where(notes.c.plan_id.in_(ids)).group_by(notes.c.plan_id))
    # In the order load_snapshots lists them: the flag's note ids keep it among equal ages.
    drafts = (select(notes.c.plan_id, notes.c.id, notes.c.created_at)
              .where(notes.c.plan_id.in_(ids), notes.c.status == "draft")
              .order_by(notes.c.visit_date, notes.c.id))
    return stored, visits, drafts


_STORED, _VISITS, _DRAFTS = _statements()


def caseload_flags(actor: User | None, plans: Iterable[PlanOfCare]) -> dict[int, list[Flag]]:
    """The flags of each plan (already scoped), most severe first, as the progress engine
    raises them for ``actor`` (``caseload_progress(actor, plans)[id].flags``), in a constant
    number of statements and with no series read.

    The summaries of the active plans are brought up to date first (in this transaction, as
    every reader of them does). A patient sees progress from signed notes only, which the
    summaries do not hold: their flags, and those of any plan whose summary is not usable,
    come from the engine.
    """
    plans = list(plans)
    if not plans:
        return {}
    if signed_only_for(actor):
        return {plan_id: p.flags for plan_id, p in caseload_progress(actor, plans).items()}
    active = {p.id: p for p in plans if p.status == "active"}
    stored: dict[int, list[Flag]] = {}
    if active:
        ensure_current(PlanOfCare.id.in_(list(active)))
        stored = _stored_flags(active)
    params = {"plan_ids": [p.id for p in plans]}
    visits = {plan_id: (last, since) for plan_id, last, since
              in db.session.execute(_VISITS, params)}
    drafts: dict[int, list] = defaultdict(list)
    for plan_id, note_id, created in db.session.execute(_DRAFTS, params):
        drafts[plan_id].append((note_id, created))
    settings = resolve_settings(current_app.config["PROGRESS_SETTINGS"])
    today, now = clinic_today(), utcnow()
    result: dict[int, list[Flag]] = {}
    computed = []
    for plan in plans:
        measure_flags = stored.get(plan.id, []) if plan.status == "active" else []
        if measure_flags is None:  # no usable summary row: the engine computes this plan
            computed.append(plan)
            continue
        last, since = visits.get(plan.id, (None, 0))
        snapshot = PlanSnapshot(
            plan_id=plan.id, status=plan.status, start_date=plan.start_date,
            end_date=plan.end_date, visits_since_report=int(since or 0),
            draft_notes=drafts.get(plan.id, ()), last_visit_date=last)
        result[plan.id] = sort_flags(measure_flags + date_flags(snapshot, today, settings,
                                                                now=now))
    if computed:
        result.update((plan_id, p.flags)
                      for plan_id, p in caseload_progress(actor, computed).items())
    return result


def _stored_flags(active: dict[int, PlanOfCare]) -> dict[int, list[Flag] | None]:
    """The stored measure flags of each active plan in series order (``None``: the plan's
    summary row is missing, or was built from another plan version, status or rule set)."""
    key = rules_key()
    found: dict[int, list[Flag] | None] = {plan_id: None for plan_id in active}
    usable: dict[int, list[Flag]] = {}
    for (plan_id, version, status, row_key, code, severity, measure, side,
         message) in db.session.execute(_STORED, {"plan_ids": list(active)}):
        if version != active[plan_id].version or status != "active" or row_key != key:
            continue
        flags = usable.setdefault(plan_id, [])
        if code is not None:
            flags.append(Flag(code=code, severity=severity, measure=measure, side=side,
                              message=message))
    for plan_id, flags in usable.items():
        # The engine lists one plan's measure flags by measure (catalog order), and at most one
        # of each code per measure and side; sort_flags then keeps that order within a code.
        found[plan_id] = sorted(flags, key=lambda f: series_order(f.measure, f.side))
    return found
