"""Progress status of a measure and the plan-level flags (``clinical-reference.md`` §3).

Pure functions over plain frozen dataclasses: no Flask, no database, no clock, no I/O.
Callers build one :class:`PlanSnapshot` per plan and call :func:`plan_progress`, for one
plan or a whole caseload.

Every number that is a product choice is a setting (:data:`DEFAULT_SETTINGS`) or a per-clinic
threshold override (a mapping of measure code to threshold); the measure catalog supplies
direction, unit, range and the default thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property, lru_cache
from itertools import combinations
from statistics import median
from types import MappingProxyType

from notes_service.catalog import HIGHER, MEASURES, PLAN_STATUSES, SIDES, Measure

__all__ = [
    "DEFAULT_SETTINGS", "FLAG_CODES", "MEASURE_FLAGS", "SEVERITIES", "STATUSES",
    "Flag", "GoalSpec", "MeasureProgress", "PlanProgress", "PlanSnapshot", "Point", "Settings",
    "admin_flags", "date_flags", "format_amount", "format_day", "format_number",
    "measure_label", "measure_progress", "plan_flags", "plan_progress", "resolve_settings",
    "series_order", "sort_flags", "threshold_for", "unsigned_flags",
]

#: Progress statuses, in the order the rule tests them (first match wins).
STATUSES = ("goal_met", "insufficient_data", "improving", "worsening", "plateau")

#: Flag codes, in display order within one severity.
FLAG_CODES = (
    "worsening", "plateau", "short_lived_relief", "off_track",
    "plan_expired", "progress_report_due", "unsigned_note", "plan_ending", "no_recent_visit",
)

#: Severities, most urgent first.
SEVERITIES = ("high", "medium", "low")

#: Flag codes that concern one measure; the others concern the plan.
MEASURE_FLAGS = frozenset({"worsening", "plateau", "short_lived_relief", "off_track"})

#: Default rule settings; every one can be overridden per clinic.
DEFAULT_SETTINGS: Mapping[str, float] = MappingProxyType({
    "window_days": 14,
    "min_points": 3,
    "report_every_visits": 10,
    "ending_within_days": 7,
    "unsigned_after_hours": 24,
    "no_visit_days": 14,
})

_SEVERITY = {
    "worsening": "high",
    "plan_expired": "high",
    "progress_report_due": "high",
    "plateau": "medium",
    "short_lived_relief": "medium",
    "unsigned_note": "medium",
    "plan_ending": "medium",
    "no_recent_visit": "medium",
    "off_track": "low",
}

#: Display order of measures (catalog order), of sides, of severities and of flag codes.
_MEASURE_ORDER = {code: i for i, code in enumerate(MEASURES)}
_SIDE_ORDER = {None: 0, **{s: i + 1 for i, s in enumerate(SIDES)}}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_CODE_RANK = {c: i for i, c in enumerate(FLAG_CODES)}

# Values are entered with one decimal at most; this absorbs float noise such as
# 4.1 - 2.1 = 1.9999999999999996 so a change of exactly the threshold counts as real.
_EPS = 1e-9


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One visit's value of a measure (and side)."""

    #: Date of the visit.
    day: date
    #: Pre-treatment value; a value recorded without a phase counts as pre-treatment.
    pre: float | None
    #: Post-treatment retest in the same visit, if any.
    post: float | None = None


@dataclass(frozen=True)
class GoalSpec:
    """A measurable goal; its direction (≤ or ≥) comes from the catalog."""

    #: Target value, in the measure's unit.
    target: float
    #: Date the goal should be met by; ``None`` means the plan's end date.
    target_date: date | None = None


@dataclass(frozen=True)
class Settings:
    """Resolved rule settings (see :data:`DEFAULT_SETTINGS`)."""

    #: Length of the progress window, in days, ending at the latest value.
    window_days: int = 14
    #: Fewest points a window holds (it is extended backwards to reach it).
    min_points: int = 3
    #: Visits since the plan start or last progress report that make a report due.
    report_every_visits: int = 10
    #: An active plan ending within this many days is flagged ``plan_ending``.
    ending_within_days: int = 7
    #: A draft note older than this many hours is flagged ``unsigned_note``.
    unsigned_after_hours: float = 24
    #: An active plan with no visit for more than this many days is flagged.
    no_visit_days: int = 14


SeriesKey = tuple[str, str | None]


@dataclass(frozen=True)
class PlanSnapshot:
    """Everything the plan-level flags need about one plan, read once from storage."""

    #: Identifier of the plan (opaque to the rules).
    plan_id: Hashable
    #: One of ``catalog.PLAN_STATUSES``: 'active', 'on_hold', 'discharged', 'cancelled'.
    status: str
    #: First day of the plan of care.
    start_date: date
    #: Last day of the plan of care (inclusive).
    end_date: date
    #: True when a plateaued plan became a maintenance plan: no plateau flag.
    maintenance: bool = False
    #: Goals keyed by (measure code, side); a side of ``None`` applies to both sides.
    goals: Mapping[SeriesKey, GoalSpec] = field(default_factory=dict)
    #: Values keyed by (measure code, side or ``None``), one point per visit, any order.
    series: Mapping[SeriesKey, Sequence[Point]] = field(default_factory=dict)
    #: Dates of the plan's visits (signed and draft).
    visit_dates: Sequence[date] = ()
    #: Signed and draft visits since the plan start or the last progress report.
    visits_since_report: int = 0
    #: Draft (unsigned) notes as (note id, created_at); naive datetimes are taken as UTC.
    draft_notes: Sequence[tuple[Hashable, datetime]] = ()
    #: Date of the latest visit; derived from ``visit_dates`` (or the series) when omitted.
    last_visit_date: date | None = None

    def __post_init__(self) -> None:
        if self.status not in PLAN_STATUSES:
            raise ValueError(f"unknown plan status {self.status!r}")
        if self.end_date < self.start_date:
            raise ValueError("a plan cannot end before it starts")
        # Freeze the containers so a snapshot can be shared safely between callers.
        object.__setattr__(self, "goals", MappingProxyType(dict(self.goals)))
        object.__setattr__(self, "series", MappingProxyType(
            {key: tuple(points) for key, points in self.series.items()}))
        object.__setattr__(self, "visit_dates", tuple(self.visit_dates))
        object.__setattr__(self, "draft_notes", tuple(self.draft_notes))
        if self.last_visit_date is None:
            days = list(self.visit_dates) or [
                p.day for points in self.series.values() for p in points]
            object.__setattr__(self, "last_visit_date", max(days, default=None))


# --------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureProgress:
    """Progress of one measure (and side) within one plan of care."""

    #: Measure code (key of ``catalog.MEASURES``).
    measure: str
    #: 'left', 'right' or ``None``.
    side: str | None
    #: Display label, e.g. "Pain now", "Left SLR".
    label: str
    #: Catalog unit ('score', 'deg', '%', 'points').
    unit: str
    #: Direction of improvement ('lower' or 'higher').
    better: str
    #: Smallest real change used (clinic override or catalog default).
    threshold: float
    #: One of :data:`STATUSES`.
    status: str
    #: All points given, sorted by date (including retests without a pre value).
    points: tuple[Point, ...]
    #: First pre-treatment value of the plan, and its date.
    baseline: float | None
    baseline_date: date | None
    #: Latest pre-treatment value, and its date.
    latest: float | None
    latest_date: date | None
    #: Change from the first to the last point of the window; positive = better.
    change: float | None
    #: First and last date of the window, and how many points it holds.
    window_start: date | None
    window_end: date | None
    window_points: int
    #: Lowest and highest pre-treatment value in the window.
    window_min: float | None
    window_max: float | None
    #: Goal target and date (``None`` without a goal).
    goal_target: float | None
    goal_date: date | None
    #: Whether the latest value meets the goal (``None`` without a goal).
    goal_met: bool | None
    #: Median within-visit improvement (post − pre, better direction) over the window.
    within_visit_change: float | None
    #: Window visits with both a pre and a post value.
    within_visit_visits: int
    #: Median share (%) of a within-visit gain still there at the next visit.
    retention: float | None
    #: Visit pairs that qualified for ``retention``.
    retention_pairs: int
    #: Theil–Sen slope over the window, in units per day (raw sign, not "better").
    trend_per_day: float | None
    #: Trend value projected to ``projected_on`` (goal date, else plan end), within range.
    projected: float | None
    projected_on: date | None
    #: One plain clinical sentence citing the numbers.
    explanation: str

    @property
    def catalog(self) -> Measure:
        """The catalog entry of the measure."""
        return MEASURES[self.measure]

    @cached_property
    def series(self) -> tuple[Point, ...]:
        """The between-visit series: points with a pre-treatment value, by date."""
        # Computed once: the fields it derives from never change (kept in __dict__, which a
        # frozen dataclass allows; equality and ``replace`` look at the fields only).
        return tuple(p for p in self.points if p.pre is not None)

    @property
    def short_lived_relief(self) -> bool:
        """Whether treatment helps within the visit but the gain is not kept between visits.

        The median within-visit improvement over the window reaches the threshold while the
        between-visit status is plateau or worsening.
        """
        return (self.status in ("plateau", "worsening") and self.within_visit_change is not None
                and self.within_visit_change >= self.threshold - _EPS)

    @property
    def window_days(self) -> int | None:
        """Days the window spans."""
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_end - self.window_start).days


@dataclass(frozen=True)
class Flag:
    """Something on a plan that needs the clinician's attention."""

    #: One of :data:`FLAG_CODES`.
    code: str
    #: 'high', 'medium' or 'low'.
    severity: str
    #: Measure code and side for measure flags; ``None`` for plan flags.
    measure: str | None
    side: str | None
    #: Plain clinical language citing the numbers and saying what to do.
    message: str
    #: For ``unsigned_note``: the overdue drafts, oldest first.
    note_ids: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class PlanProgress:
    """Progress of every measure of a plan and the plan's flags."""

    #: Per measure and side, in catalog order.
    measures: list[MeasureProgress]
    #: Most severe first.
    flags: list[Flag]
    #: The snapshot's plan id.
    plan_id: Hashable = None

    def flag_codes(self) -> set[str]:
        """Codes of the flags raised."""
        return {f.code for f in self.flags}


# --------------------------------------------------------------------------------------
# Settings and thresholds
# --------------------------------------------------------------------------------------


def resolve_settings(settings: Mapping[str, float] | Settings | None = None) -> Settings:
    """Merge ``settings`` over the defaults; unknown keys are an error (typos)."""
    if isinstance(settings, Settings):
        return settings
    overrides = dict(settings or {})
    unknown = set(overrides) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown progress settings: {', '.join(sorted(unknown))}")
    values = {**DEFAULT_SETTINGS, **overrides}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"progress setting {name} must be a non-negative number")
    if values["min_points"] < 2:
        raise ValueError("progress setting min_points must be at least 2")
    resolved = {f.name: values[f.name] for f in fields(Settings)}
    for name in ("window_days", "min_points", "report_every_visits", "ending_within_days",
                 "no_visit_days"):
        resolved[name] = int(resolved[name])
    return Settings(**resolved)


def threshold_for(code: str, thresholds: Mapping[str, float] | None = None) -> float:
    """Return the change threshold of ``code``: the clinic's override, else the catalog's."""
    value = (thresholds or {}).get(code, MEASURES[code].threshold)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"threshold for {code} must be a positive number, not {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------
# One measure
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def measure_label(code: str, side: str | None) -> str:
    """Return the display label of a measure and side ("Pain now", "Left SLR")."""
    short = MEASURES[code].short_label
    if side is None:
        return short
    # Lower-case an ordinary first word ("Hip IR" -> "left hip IR") but keep acronyms.
    if len(short) > 1 and short[1].islower():
        short = short[0].lower() + short[1:]
    return f"{side.capitalize()} {short}"


def measure_progress(
    measure_code: str,
    side: str | None,
    points: Sequence[Point],
    goal: GoalSpec | float | None = None,
    thresholds: Mapping[str, float] | None = None,
    *,
    plan_end: date | None = None,
    settings: Mapping[str, float] | Settings | None = None,
) -> MeasureProgress:
    """Compute the progress status of one measure and side (§3, first match wins).

    ``plan_end`` enables the trend projection used by the ``off_track`` flag: the trend is
    projected to the goal's target date when it lies after the latest value, else to
    ``plan_end``.
    """
    m = MEASURES[measure_code]
    if side is not None and side not in SIDES:
        raise ValueError(f"unknown side {side!r}")
    if isinstance(goal, (int, float)) and not isinstance(goal, bool):
        goal = GoalSpec(float(goal))
    cfg = resolve_settings(settings)
    threshold = threshold_for(measure_code, thresholds)
    # A caseload computes hundreds of these: each value below is computed once, on plain
    # lists, with day numbers (ordinals) instead of date arithmetic.
    higher = m.better == HIGHER
    ordered = _one_point_per_day(points)
    series = [p for p in ordered if p.pre is not None]
    window = _window(series, cfg.window_days, cfg.min_points)
    pres = [p.pre for p in window]

    baseline = series[0].pre if series else None
    latest = series[-1].pre if series else None
    change = None
    span = None
    if window:
        change = round(pres[-1] - pres[0] if higher else pres[0] - pres[-1], 9)
        span = (window[-1].day - window[0].day).days
    goal_met = None if goal is None or latest is None else _meets(m, latest, goal.target)

    if goal_met:
        status = "goal_met"
    elif len(series) < cfg.min_points or span < cfg.window_days:
        status = "insufficient_data"
    elif change >= threshold - _EPS:
        status = "improving"
    elif change <= -threshold + _EPS:
        status = "worsening"
    else:
        status = "plateau"

    if higher:
        gains = [p.post - p.pre for p in window if p.post is not None]
    else:
        gains = [p.pre - p.post for p in window if p.post is not None]
    within = round(median(gains), 9) if gains else None
    retention, pairs = _retention(higher, series, threshold)

    slope = projected = projected_on = None
    if len(window) > 1:
        days = [p.day.toordinal() for p in window]
        slope = _theil_sen_slope(days, pres)
        if slope is not None and plan_end is not None:
            projected_on = plan_end
            if goal is not None and goal.target_date is not None \
                    and goal.target_date > window[-1].day:
                projected_on = goal.target_date
            projected = _project(m, days, pres, slope, projected_on)

    result = _measure_result(
        measure=measure_code, side=side, label=measure_label(measure_code, side), unit=m.unit,
        better=m.better, threshold=threshold, status=status, points=ordered,
        baseline=baseline, baseline_date=series[0].day if series else None,
        latest=latest, latest_date=series[-1].day if series else None,
        change=change,
        window_start=window[0].day if window else None,
        window_end=window[-1].day if window else None,
        window_points=len(window),
        window_min=min(pres) if pres else None,
        window_max=max(pres) if pres else None,
        goal_target=goal.target if goal is not None else None,
        goal_date=goal.target_date if goal is not None else None,
        goal_met=goal_met,
        within_visit_change=within, within_visit_visits=len(gains),
        retention=retention, retention_pairs=pairs,
        trend_per_day=slope, projected=projected, projected_on=projected_on,
        explanation="",
    )
    # The explanation cites the numbers above; it is set once, before the result is shared
    # (as ``PlanSnapshot.__post_init__`` does), instead of building the result twice.
    object.__setattr__(result, "explanation", _explanation(result, series, cfg))
    return result


def _measure_result(**values) -> MeasureProgress:
    """A :class:`MeasureProgress` of ``values`` (every field), built without the frozen
    ``__init__``'s 30 guarded assignments: a caseload builds hundreds of them."""
    result = object.__new__(MeasureProgress)
    result.__dict__.update(values)
    return result


def _one_point_per_day(points: Sequence[Point]) -> tuple[Point, ...]:
    """One point per visit day, by date: values recorded twice on a day count once (their mean).

    A note entered twice for one visit is not a second visit: counted twice it would shrink the
    window and could change its first point. The mean keeps the result independent of the order
    the entries were made.
    """
    previous = None
    for p in points:  # already one a day, in date order (as storage hands them): as they are
        if previous is not None and p.day <= previous:
            break
        previous = p.day
    else:
        return tuple(points)
    by_day: dict[date, list[Point]] = {}
    for p in points:
        by_day.setdefault(p.day, []).append(p)
    merged = []
    for day in sorted(by_day):
        group = by_day[day]
        if len(group) == 1:
            merged.append(group[0])
            continue
        pres = [p.pre for p in group if p.pre is not None]
        posts = [p.post for p in group if p.post is not None]
        merged.append(Point(day, round(sum(pres) / len(pres), 9) if pres else None,
                            round(sum(posts) / len(posts), 9) if posts else None))
    return tuple(merged)


def _window(series: list[Point], window_days: int, min_points: int) -> list[Point]:
    """Points of the ``window_days`` ending at the latest, extended back to ``min_points``."""
    if not series:
        return []
    start = series[-1].day - timedelta(days=window_days)
    first = len(series) - 1
    while first > 0 and series[first - 1].day >= start:  # by date: scan back from the latest
        first -= 1
    return series[min(first, max(len(series) - min_points, 0)):]


def _meets(m: Measure, value: float, target: float) -> bool:
    # Catalog ``meets`` with a float tolerance.
    return m.meets(value, target) or abs(value - target) <= _EPS


def _retention(higher: bool, series: list[Point], threshold: float) -> tuple[float | None, int]:
    """Median % of a within-visit gain kept at the next visit, over the plan's series.

    Only visits whose within-visit gain is at least half the threshold count: a smaller
    gain makes the ratio meaningless noise. ``higher``: whether higher values are better.
    """
    least = threshold / 2 - _EPS
    ratios = []
    for current, following in zip(series, series[1:]):
        post = current.post
        if post is None:
            continue
        pre = current.pre
        gain = post - pre if higher else pre - post
        if gain < least:
            continue
        kept = following.pre - pre if higher else pre - following.pre
        ratios.append(kept / gain * 100)
    return (median(ratios) if ratios else None), len(ratios)


def _theil_sen_slope(days: list[int], values: list[float]) -> float | None:
    """Median of the pairwise slopes (units per day); robust to one odd visit.

    ``days`` are day numbers (``date.toordinal()``) of the ``values``, in date order.
    """
    slopes = [(value_b - value_a) / (day_b - day_a)
              for (day_a, value_a), (day_b, value_b) in combinations(zip(days, values), 2)
              if day_b != day_a]
    return median(slopes) if slopes else None


def _project(m: Measure, days: list[int], values: list[float], slope: float, on: date) -> float:
    """Value of the Theil–Sen line on ``on``, kept within the measure's valid range."""
    origin = days[0]
    intercept = median([v - slope * (d - origin) for d, v in zip(days, values)])
    value = intercept + slope * (on.toordinal() - origin)
    return min(max(value, m.minimum), m.maximum)


# --------------------------------------------------------------------------------------
# Wording
# --------------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Format a number without needless decimals (one decimal at most)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_amount(m: Measure, amount: float) -> str:
    """Format the size of a change: "3°", "1 point", "2.5 points"."""
    text = format_number(abs(amount))
    if m.unit == "deg":
        return f"{text}°"
    return f"{text} point" + ("" if text == "1" else "s")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_day(day: date, *, year: bool = True) -> str:
    """Format a date the way clinicians write it: "3 Mar 2026"."""
    # English month names whatever the process locale (``%b`` follows it), without strftime.
    return f"{day.day} {_MONTHS[day.month - 1]}" + (f" {day.year}" if year else "")


def _range_text(m: Measure, low: float, high: float) -> str:
    if format_number(low) == format_number(high):
        return f"at {m.format_value(high)}"
    return f"between {format_number(low)} and {m.format_value(high)}"


def _change_text(m: Measure, change: float) -> str:
    if format_number(change) == "0":
        return "no overall change"
    direction = "better" if change > 0 else "worse"
    return f"a change of {format_amount(m, change)} for the {direction}"


def _goal_text(mp: MeasureProgress, *, yet: bool = False) -> str:
    if mp.goal_target is None:
        return ""
    m = mp.catalog
    by = f" by {format_day(mp.goal_date)}" if mp.goal_date else ""
    return f"; goal {m.goal_comparator} {m.format_value(mp.goal_target)}{by} not met" + (
        " yet" if yet else "")


def _span_text(mp: MeasureProgress) -> str:
    visits = f"{mp.window_points} visit" + ("" if mp.window_points == 1 else "s")
    days = f"{mp.window_days} day" + ("" if mp.window_days == 1 else "s")
    return f"over the last {visits} ({days})"


def _explanation(mp: MeasureProgress, series: list[Point], cfg: Settings) -> str:
    """One plain clinical sentence citing the numbers of ``mp`` (``series``: ``mp.series``)."""
    m = mp.catalog
    fmt = m.format_value
    label = mp.label
    if not series:
        return f"{label}: no pre-treatment values recorded yet."
    if mp.status == "goal_met":
        start = f" (from {fmt(mp.baseline)} at the start)" if len(series) > 1 else ""
        return (f"{label} is {fmt(mp.latest)}{start}, meeting the goal "
                f"{m.goal_comparator} {fmt(mp.goal_target)}.")
    # The window is the last ``window_points`` of the series.
    start_value = fmt(series[-mp.window_points].pre)
    if mp.status == "insufficient_data":
        n = len(series)
        if n < cfg.min_points:
            values = ", ".join(fmt(p.pre) for p in series)
            return (f"{label}: only {n} visit{'' if n == 1 else 's'} with a value ({values}); "
                    f"progress is judged on at least {cfg.min_points} visits spanning "
                    f"{cfg.window_days} days{_goal_text(mp)}.")
        days = f"{mp.window_days} day" + ("" if mp.window_days == 1 else "s")
        return (f"{label}: the last {mp.window_points} visits span only {days} "
                f"({start_value} to {fmt(mp.latest)}); progress is judged over at "
                f"least {cfg.window_days} days{_goal_text(mp)}.")
    minimal = f"the minimal important change of {format_amount(m, mp.threshold)}"
    change = _change_text(m, mp.change)
    if mp.status == "improving":
        return (f"{label} improved from {start_value} to {fmt(mp.latest)} {_span_text(mp)}: "
                f"{change}, at or above {minimal}{_goal_text(mp, yet=True)}.")
    if mp.status == "worsening":
        return (f"{label} worsened from {start_value} to {fmt(mp.latest)} {_span_text(mp)}: "
                f"{change}, beyond {minimal}{_goal_text(mp)}.")
    return (f"{label} has stayed {_range_text(m, mp.window_min, mp.window_max)} "
            f"{_span_text(mp)}: {change}, below {minimal}{_goal_text(mp)}.")


def _window_first(mp: MeasureProgress) -> str:
    # The window is the last ``window_points`` of the series.
    return mp.catalog.format_value(mp.series[-mp.window_points].pre)


# --------------------------------------------------------------------------------------
# A plan
# --------------------------------------------------------------------------------------


def plan_progress(
    snapshot: PlanSnapshot,
    today: date | datetime,
    thresholds: Mapping[str, float] | None = None,
    settings: Mapping[str, float] | Settings | None = None,
    *,
    now: datetime | None = None,
) -> PlanProgress:
    """Compute every measure's progress and the plan's flags from one snapshot.

    ``today`` may be a date or an aware datetime. ``unsigned_note`` needs a time of day:
    it uses ``now``, else ``today`` when it is a datetime, else the start of ``today`` (UTC),
    which never flags a draft early.
    """
    cfg = resolve_settings(settings)
    unknown = [code for code, _ in snapshot.series if code not in _MEASURE_ORDER]
    if unknown:
        raise ValueError(f"plan {snapshot.plan_id}: unknown measure codes {sorted(unknown)}")
    keys = sorted(snapshot.series, key=lambda k: series_order(*k))
    measures = [
        measure_progress(code, side, snapshot.series[(code, side)],
                         _goal_for(snapshot, code, side), thresholds,
                         plan_end=snapshot.end_date, settings=cfg)
        for code, side in keys
    ]
    now, today = _clock(today, now)
    flags = _flags(snapshot, measures, today, now, cfg)
    return PlanProgress(measures=measures, flags=flags, plan_id=snapshot.plan_id)


def plan_flags(
    snapshot: PlanSnapshot,
    today: date | datetime,
    thresholds: Mapping[str, float] | None = None,
    settings: Mapping[str, float] | Settings | None = None,
    *,
    now: datetime | None = None,
) -> list[Flag]:
    """Return the plan's flags, most severe first (see :func:`plan_progress`)."""
    return plan_progress(snapshot, today, thresholds, settings, now=now).flags


def date_flags(
    snapshot: PlanSnapshot,
    today: date | datetime,
    settings: Mapping[str, float] | Settings | None = None,
    *,
    now: datetime | None = None,
) -> list[Flag]:
    """Return the plan's flags that move with the clock, in the order :func:`plan_progress`
    merges them (not yet sorted: see :func:`sort_flags`).

    They need no series: on an active plan :func:`admin_flags` (report due, plan expired or
    ending, no recent visit); on any plan :func:`unsigned_flags`. ``today`` and ``now`` as in
    :func:`plan_progress`.
    """
    cfg = resolve_settings(settings)
    now, today = _clock(today, now)
    return _date_flags(snapshot, today, now, cfg)


def series_order(measure: str, side: str | None) -> tuple[int, int]:
    """Display order of a measure and side: catalog order, then no side, then each side."""
    return _MEASURE_ORDER[measure], _SIDE_ORDER.get(side, 9)


def sort_flags(flags: Iterable[Flag]) -> list[Flag]:
    """Order flags most severe first, then by code (:data:`FLAG_CODES`).

    The sort is stable: flags of one code keep the order they are given in, which
    :func:`plan_progress` makes the measures' :func:`series_order`.
    """
    return sorted(flags, key=lambda f: (_SEVERITY_RANK[f.severity], _CODE_RANK[f.code]))


def _goal_for(snapshot: PlanSnapshot, code: str, side: str | None) -> GoalSpec | None:
    goal = snapshot.goals.get((code, side))
    if goal is None and side is not None:
        goal = snapshot.goals.get((code, None))
    return goal


def _clock(today: date | datetime, now: datetime | None) -> tuple[datetime, date]:
    if now is None:
        if isinstance(today, datetime):
            now = today
        else:
            now = datetime.combine(today, time.min, tzinfo=timezone.utc)
    now = _aware(now)
    if isinstance(today, datetime):
        today = _aware(today).astimezone(timezone.utc).date()
    return now, today


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _flags(snapshot: PlanSnapshot, measures: list[MeasureProgress], today: date,
           now: datetime, cfg: Settings) -> list[Flag]:
    flags: list[Flag] = []
    if snapshot.status == "active":
        flags += _measure_flags(snapshot, measures)
    # Stable sort keeps catalog order within a code.
    return sort_flags(flags + _date_flags(snapshot, today, now, cfg))


def _date_flags(snapshot: PlanSnapshot, today: date, now: datetime, cfg: Settings
                ) -> list[Flag]:
    """The flags of :func:`date_flags`; ``now`` aware, ``today`` a date."""
    flags = admin_flags(snapshot, today, cfg) if snapshot.status == "active" else []
    return flags + _unsigned(snapshot, now, cfg)


def _flag(code: str, message: str, mp: MeasureProgress | None = None, **extra) -> Flag:
    return Flag(code=code, severity=_SEVERITY[code], measure=mp.measure if mp else None,
                side=mp.side if mp else None, message=message, **extra)


def _measure_flags(snapshot: PlanSnapshot, measures: list[MeasureProgress]) -> list[Flag]:
    flags = []
    has_goals = bool(snapshot.goals)
    for mp in measures:
        m = mp.catalog
        fmt = m.format_value
        if mp.status == "plateau" and not snapshot.maintenance and (
                mp.goal_target is not None or (not has_goals and mp.measure == "pain")):
            no_goals = "" if has_goals else " The plan has no measurable goals yet."
            flags.append(_flag("plateau", (
                f"{mp.explanation}{no_goals} Re-assess the plan: modify it, refer, "
                "or document a maintenance plan."), mp))
        if mp.status == "worsening":
            flags.append(_flag("worsening", (
                f"{mp.explanation} Re-examine (new neurological signs, red flags), then "
                "modify the plan or refer."), mp))
        if mp.short_lived_relief:
            kept = ""
            if mp.retention is not None:
                kept = (f"; a median {format_number(mp.retention)}% of the within-visit gain "
                        "is still there at the next visit")
            visits = f"{mp.within_visit_visits} visit" + (
                "" if mp.within_visit_visits == 1 else "s")
            flags.append(_flag("short_lived_relief", (
                f"{mp.label} improves within the visit (median "
                f"{format_amount(m, mp.within_visit_change)} better after treatment over the "
                f"last {visits}, against a minimal important change of "
                f"{format_amount(m, mp.threshold)}) but the gain is not kept between visits: "
                f"{_window_first(mp)} to {fmt(mp.latest)} over {mp.window_days} days{kept}. "
                "Add ways to keep the gain (home exercise, graded loading, education) "
                "or change the treatment."), mp))
        if mp.status == "improving" and mp.goal_target is not None \
                and mp.projected is not None and mp.projected_on > mp.latest_date \
                and not _meets(m, mp.projected, mp.goal_target):
            weekly = format_amount(m, m.improvement(0, mp.trend_per_day * 7))
            when = "plan end" if mp.projected_on == snapshot.end_date else "goal date"
            flags.append(_flag("off_track", (
                f"{mp.label} is improving ({_window_first(mp)} to {fmt(mp.latest)} over "
                f"{mp.window_days} days, about {weekly} a week), but at this rate it would "
                f"be about {fmt(mp.projected)} by {format_day(mp.projected_on)} ({when}), "
                f"short of the goal {m.goal_comparator} {fmt(mp.goal_target)}. Adjust the "
                "plan or the goal, or plan for re-certification."), mp))
    return flags


def admin_flags(snapshot: PlanSnapshot, today: date,
                settings: Mapping[str, float] | Settings | None = None) -> list[Flag]:
    """Return the administrative flags of an active plan on ``today``: progress report due,
    plan expired or ending, no recent visit (the caller checks the plan is active)."""
    cfg = resolve_settings(settings)
    flags = []
    n = snapshot.visits_since_report
    if n >= cfg.report_every_visits:
        flags.append(_flag("progress_report_due", (
            f"{n} visits since the plan started or the last progress report; a progress "
            f"report is due at least every {cfg.report_every_visits} treatment visits. "
            "Write a progress report assessing each goal at this visit.")))
    left = (snapshot.end_date - today).days
    end = format_day(snapshot.end_date)
    if left < 0:
        ago = -left
        flags.append(_flag("plan_expired", (
            f"The plan of care ended on {end}, {ago} day{'' if ago == 1 else 's'} ago, and is "
            "still active. Re-certify, extend, or discharge.")))
    elif left <= cfg.ending_within_days:
        when = "today" if left == 0 else f"in {left} day{'' if left == 1 else 's'}"
        flags.append(_flag("plan_ending", (
            f"The plan of care ends on {end}, {when}. Re-certify, extend, or discharge "
            "before it ends.")))
    last = snapshot.last_visit_date
    since = snapshot.start_date if last is None else last
    gap = (today - since).days
    if gap > cfg.no_visit_days:
        what = (f"since the plan started on {format_day(since)}" if last is None
                else f"for {gap} days (last visit {format_day(since)})")
        if last is None:
            what += f", {gap} days ago"
        flags.append(_flag("no_recent_visit", (
            f"No visit {what}. Contact the patient: reschedule, put the plan on hold, "
            "or discharge.")))
    return flags


def unsigned_flags(snapshot: PlanSnapshot, now: datetime,
                   settings: Mapping[str, float] | Settings | None = None) -> list[Flag]:
    """Return the ``unsigned_note`` flag of the plan's drafts overdue at ``now`` (naive: UTC),
    if any; it applies whatever the plan's status."""
    return _unsigned(snapshot, _aware(now), resolve_settings(settings))


def _unsigned(snapshot: PlanSnapshot, now: datetime, cfg: Settings) -> list[Flag]:
    limit = timedelta(hours=cfg.unsigned_after_hours)
    overdue = sorted(
        ((_aware(created), note_id) for note_id, created in snapshot.draft_notes
         if now - _aware(created) > limit),
        key=lambda item: item[0])
    if not overdue:
        return []
    oldest = now - overdue[0][0]
    age = (f"{int(oldest.total_seconds() // 3600)} hours" if oldest < timedelta(hours=48)
           else f"{oldest.days} days")
    k = len(overdue)
    return [_flag("unsigned_note", (
        f"{k} draft note{'' if k == 1 else 's'} unsigned for more than "
        f"{format_number(cfg.unsigned_after_hours)} hours (oldest created "
        f"{format_day(overdue[0][0].date())}, {age} ago). Review and sign: a draft is not "
        "part of the signed record."), note_ids=tuple(note_id for _, note_id in overdue))]
