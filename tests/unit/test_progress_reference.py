"""The progress rule's numbers against a plain reference implementation (Hypothesis).

``measure_progress`` is written for speed (a caseload computes hundreds of measures): day
numbers instead of date arithmetic, the window found by scanning back from the latest value,
points already one a day and in date order passed through as they are, the result built once.
The reference below is the rule as ``clinical-reference.md`` §3 states it, written plainly; every
number, date and status must be the same, to the last bit (``repr``: ``-0.0`` and ``0``
differ from ``0.0``), whatever the order and the duplicates of the points given.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta
from statistics import median

from hypothesis import given, settings
from hypothesis import strategies as st

from notes_service.catalog import MEASURES
from notes_service.progress.rules import (
    GoalSpec,
    MeasureProgress,
    Point,
    Settings,
    measure_progress,
    threshold_for,
)

START = date(2026, 3, 2)
EPS = 1e-9


def reference(code: str, points: list[Point], goal: GoalSpec | None, thresholds: dict,
              plan_end: date | None, cfg: Settings) -> dict:
    """The numbers of :class:`MeasureProgress`, computed the plain way."""
    m = MEASURES[code]
    threshold = threshold_for(code, thresholds)
    by_day: dict[date, list[Point]] = {}
    for p in points:
        by_day.setdefault(p.day, []).append(p)
    ordered = []
    for day in sorted(by_day):
        group = by_day[day]
        if len(group) == 1:
            ordered.append(group[0])
        else:
            pres = [p.pre for p in group if p.pre is not None]
            posts = [p.post for p in group if p.post is not None]
            ordered.append(Point(day, round(sum(pres) / len(pres), 9) if pres else None,
                                 round(sum(posts) / len(posts), 9) if posts else None))
    series = [p for p in ordered if p.pre is not None]
    window = []
    if series:
        start = series[-1].day - timedelta(days=cfg.window_days)
        window = [p for p in series if p.day >= start]
        if len(window) < cfg.min_points:
            window = series[-cfg.min_points:]
    latest = series[-1].pre if series else None
    change = span = None
    if window:
        change = round(m.improvement(window[0].pre, window[-1].pre), 9)
        span = (window[-1].day - window[0].day).days
    goal_met = None if goal is None or latest is None else (
        m.meets(latest, goal.target) or abs(latest - goal.target) <= EPS)
    if goal_met:
        status = "goal_met"
    elif len(series) < cfg.min_points or span < cfg.window_days:
        status = "insufficient_data"
    elif change >= threshold - EPS:
        status = "improving"
    elif change <= -threshold + EPS:
        status = "worsening"
    else:
        status = "plateau"
    gains = [m.improvement(p.pre, p.post) for p in window if p.post is not None]
    ratios = []
    for current, following in zip(series, series[1:]):
        if current.post is None:
            continue
        gain = m.improvement(current.pre, current.post)
        if gain < threshold / 2 - EPS:
            continue
        ratios.append(m.improvement(current.pre, following.pre) / gain * 100)
    slopes = [(b.pre - a.pre) / (b.day - a.day).days
              for i, a in enumerate(window) for b in window[i + 1:] if b.day != a.day]
    slope = median(slopes) if slopes else None
    projected = projected_on = None
    if slope is not None and plan_end is not None:
        projected_on = plan_end
        if goal is not None and goal.target_date is not None \
                and goal.target_date > window[-1].day:
            projected_on = goal.target_date
        origin = window[0].day
        intercept = median(p.pre - slope * (p.day - origin).days for p in window)
        value = intercept + slope * (projected_on - origin).days
        projected = min(max(value, m.minimum), m.maximum)
    values = [p.pre for p in window]
    return {
        "threshold": threshold, "status": status, "points": tuple(ordered),
        "baseline": series[0].pre if series else None,
        "baseline_date": series[0].day if series else None,
        "latest": latest, "latest_date": series[-1].day if series else None,
        "change": change, "window_start": window[0].day if window else None,
        "window_end": window[-1].day if window else None, "window_points": len(window),
        "window_min": min(values) if values else None,
        "window_max": max(values) if values else None,
        "goal_met": goal_met, "within_visit_change": round(median(gains), 9) if gains else None,
        "within_visit_visits": len(gains), "retention": median(ratios) if ratios else None,
        "retention_pairs": len(ratios), "trend_per_day": slope, "projected": projected,
        "projected_on": projected_on,
    }


@st.composite
def cases(draw):
    """A measure, up to 16 visits (any order, some entered twice), a goal, thresholds, settings."""
    code = draw(st.sampled_from(sorted(MEASURES)))
    m = MEASURES[code]
    value = st.one_of(st.integers(int(m.minimum), int(m.maximum)).map(float),
                      st.floats(m.minimum, m.maximum).map(lambda v: round(v, 1)))
    days = st.integers(0, 80).map(lambda d: START + timedelta(days=d))
    points = draw(st.lists(st.builds(Point, days, st.one_of(st.none(), value, value),
                                     st.one_of(st.none(), value)), max_size=16))
    if points and draw(st.booleans()):  # the common case: one a day, in date order
        points = sorted({p.day: p for p in points}.values(), key=lambda p: p.day)
    goal = draw(st.one_of(st.none(), st.builds(GoalSpec, value,
                                                   st.one_of(st.none(), days))))
    thresholds = draw(st.one_of(st.just({}), st.builds(
        lambda factor: {code: m.threshold * factor}, st.sampled_from([0.5, 1.5, 3]))))
    cfg = Settings(window_days=draw(st.sampled_from([7, 14, 21])),
                   min_points=draw(st.integers(2, 5)))
    plan_end = draw(st.one_of(st.none(), days))
    return code, points, goal, thresholds, plan_end, cfg


@settings(max_examples=400, deadline=None, database=None)
@given(cases())
def test_measure_progress_gives_the_reference_numbers(case):
    code, points, goal, thresholds, plan_end, cfg = case
    mp = measure_progress(code, None, points, goal, thresholds, plan_end=plan_end, settings=cfg)
    expected = reference(code, points, goal, thresholds, plan_end, cfg)
    assert {name: repr(getattr(mp, name)) for name in expected} == {
        name: repr(value) for name, value in expected.items()}
    assert mp.series == tuple(p for p in expected["points"] if p.pre is not None)
    assert {f.name for f in fields(MeasureProgress)} <= set(vars(mp))  # every field is set
    assert mp.explanation and mp.explanation.endswith(".")
