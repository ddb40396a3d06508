"""A plan's flags are its measure flags (which never depend on the date) merged with its
date-dependent flags: what the caseload reads from the stored summaries plus live figures
(``outcomes.caseload``) is exactly what :func:`plan_progress` raises."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from notes_service.catalog import MEASURES, PLAN_STATUSES
from notes_service.progress.rules import (
    MEASURE_FLAGS,
    GoalSpec,
    PlanSnapshot,
    Point,
    admin_flags,
    date_flags,
    plan_progress,
    series_order,
    sort_flags,
    unsigned_flags,
)

START = date(2026, 3, 2)
END = START + timedelta(days=55)
KEYS = [("pain", None), ("pain_worst", None), ("slr", "right"), ("slr", "left"),
        ("lumbar_flexion", None)]


def value(code):
    m = MEASURES[code]
    return st.integers(int(m.minimum * 10), int(m.maximum * 10)).map(lambda v: v / 10)


@st.composite
def snapshots(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=4))
    series, goals = {}, {}
    for code, side in keys:
        days = draw(st.lists(st.integers(0, 55), unique=True, max_size=7))
        series[(code, side)] = [
            Point(START + timedelta(days=d), draw(value(code)),
                  draw(st.none() | value(code))) for d in days]
        if draw(st.booleans()):
            goals[(code, side)] = GoalSpec(
                draw(value(code)), draw(st.none() | st.integers(0, 55).map(
                    lambda d: START + timedelta(days=d))))
    visit_dates = sorted({p.day for points in series.values() for p in points})
    today = START + timedelta(days=draw(st.integers(0, 90)))
    now = datetime.combine(today, time(draw(st.integers(0, 23))), tzinfo=UTC)
    drafts = [(i, now - timedelta(hours=draw(st.integers(0, 200))))
              for i in range(draw(st.integers(0, 3)))]
    snapshot = PlanSnapshot(
        plan_id=1, status=draw(st.sampled_from(PLAN_STATUSES)), start_date=START,
        end_date=END, maintenance=draw(st.booleans()), goals=goals, series=series,
        visit_dates=visit_dates, visits_since_report=draw(st.integers(0, 14)),
        draft_notes=drafts)
    return snapshot, today, now


def _several_of_one_code():
    """Two worsening measures and two plateaus (with relief), a draft and a report due."""
    days = (0, 7, 14)
    series = {("pain", None): [Point(START + timedelta(days=d), v, v - 2)
                               for d, v in zip(days, (4, 5, 7))],
              ("pain_worst", None): [Point(START + timedelta(days=d), v)
                                     for d, v in zip(days, (5, 6, 8))],
              ("slr", "right"): [Point(START + timedelta(days=d), 40, 48) for d in days],
              ("slr", "left"): [Point(START + timedelta(days=d), 50) for d in days]}
    goals = {("slr", None): GoalSpec(70)}
    today = START + timedelta(days=15)
    now = datetime.combine(today, time(10), tzinfo=UTC)
    return (PlanSnapshot(plan_id=1, status="active", start_date=START, end_date=END,
                         goals=goals, series=series, visit_dates=[START + timedelta(days=d)
                                                                 for d in days],
                         visits_since_report=10, draft_notes=[(3, now - timedelta(hours=30))]),
            today, now)


@settings(max_examples=300, deadline=None)
@given(snapshots())
@example(_several_of_one_code())
def test_stored_measure_flags_and_date_flags_make_the_plans_flags(case):
    snapshot, today, now = case
    flags = plan_progress(snapshot, today, now=now).flags
    stored = [f for f in flags if f.code in MEASURE_FLAGS]
    stored.reverse()  # rows may come back in any order
    # What the caseload knows without the series: the plan's dates, counts and drafts.
    bare = PlanSnapshot(plan_id=1, status=snapshot.status, start_date=START, end_date=END,
                        visits_since_report=snapshot.visits_since_report,
                        draft_notes=snapshot.draft_notes,
                        last_visit_date=snapshot.last_visit_date)
    stored.sort(key=lambda f: series_order(f.measure, f.side))
    assert sort_flags(stored + date_flags(bare, today, now=now)) == flags


@settings(max_examples=100, deadline=None)
@given(snapshots())
def test_the_measure_flags_do_not_depend_on_the_date(case):
    snapshot, today, now = case
    later = today + timedelta(days=40)

    def measure_flags(day, moment):
        return [f for f in plan_progress(snapshot, day, now=moment).flags
                if f.code in MEASURE_FLAGS]

    assert measure_flags(today, now) == measure_flags(later, now + timedelta(days=40))


def test_the_example_has_several_flags_of_one_code():
    snapshot, today, now = _several_of_one_code()
    codes = [f.code for f in plan_progress(snapshot, today, now=now).flags]
    assert codes.count("worsening") == 2 and codes.count("plateau") == 2, codes


def test_the_date_flags_are_the_admin_and_unsigned_flags():
    snapshot = PlanSnapshot(plan_id=1, status="active", start_date=START, end_date=END,
                            visits_since_report=12, last_visit_date=START + timedelta(days=3),
                            draft_notes=[(7, datetime(2026, 3, 5, 9, 0))])  # naive: UTC
    today = END + timedelta(days=2)
    now = datetime.combine(today, time(12), tzinfo=UTC)
    found = date_flags(snapshot, today, now=now)
    assert [f.code for f in found] == ["progress_report_due", "plan_expired",
                                       "no_recent_visit", "unsigned_note"]
    assert found == admin_flags(snapshot, today) + unsigned_flags(snapshot, now)
    assert found[-1].note_ids == (7,)
    assert [f.code for f in sort_flags(found)] == ["plan_expired", "progress_report_due",
                                                   "unsigned_note", "no_recent_visit"]
    held = PlanSnapshot(plan_id=1, status="on_hold", start_date=START, end_date=END,
                        draft_notes=snapshot.draft_notes)
    assert [f.code for f in date_flags(held, today, now=now)] == ["unsigned_note"]
    # Without a time of day, the start of today: never early.
    assert date_flags(held, date(2026, 3, 6)) == []
