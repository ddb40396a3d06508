"""Clinic outcomes: figures over the plan summaries, computed in SQL, for the clinic and each
practitioner.

Definitions (the dashboard, the API and the exports all read these):

* **Cohort**: the plans matching the filters. With a date range, the plans whose episode
  overlaps it: started on or before its last day and not ended (discharged, or the last visit of
  a cancelled plan) before its first day.
* **Plans**: ``total`` in the cohort; ``started`` and ``discharged`` within the date range (all
  of them without one); ``active``, ``on_hold``, ``cancelled`` by their status today.
* **Visits per plan**: documented visits, median and quartiles; and the median planned visits
  (weeks × visits per week).
* **Per measure**, over the plans with the measure at two visits or more, on the side that
  stands for the plan (the goal's side, else the plan's side, else the side that started worse):
  mean and median change from the first to the latest pre-treatment value (the discharge value
  of a discharged plan), positive = better; the share reaching the minimal important change
  (the catalog threshold or the clinic's ``PROGRESS_THRESHOLDS``); among those with a goal on
  the measure, the share whose latest value meets it.
* **Goals met**: plans with goals whose every goal is met by its latest value.
* **Plateau** and **worsening** rates: among plans with at least one measure past "too early to
  tell", those whose goal measure (or pain, without goals) is on a plateau, or with any measure
  worsening, at the latest visit (the flag rules of clinical-reference §3).
* **Retention** of within-visit gains: the median over plans of each plan's median retention
  (its measures' medians; whole per cent).
* **Discharge reasons**: counts among the discharged plans of the cohort.

Quartiles interpolate linearly (as PostgreSQL's ``percentile_cont``). Every figure carries the
number of plans behind it; ``low_n`` marks those resting on fewer than ``OUTCOMES_MIN_PLANS``
(default 5).
"""

from __future__ import annotations

import json
import functools
from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import Decimal
from statistics import median

from flask import current_app
from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import DISCHARGE_REASONS, MEASURES, PLAN_STATUSES
from notes_service.errors import Forbidden
from notes_service.extensions import db
from notes_service.outcomes.models import MeasureOutcome, PlanIntervention, PlanOutcome
from notes_service.outcomes.stats import (
    count_from,
    count_of,
    cumulative,
    histogram_part,
    quantile,
    sum_of,
    with_totals,
)
from notes_service.outcomes.summary import ensure_current
from notes_service.plans.models import PlanOfCare
from notes_service.progress.rules import measure_label, threshold_for

#: Float noise allowance, as in the progress rules: a change of exactly the threshold counts.
EPS = 1e-9


@dataclass(frozen=True)
class OutcomeFilters:
    """What a director narrows the figures to; ``None`` means no restriction."""

    date_from: date | None = None
    date_to: date | None = None
    practitioner_id: int | None = None
    #: ICD-10 category, e.g. "M54".
    diagnosis: str | None = None
    intervention: str | None = None
    #: With ``intervention``: plans that used it (True) or never used it (False).
    intervention_used: bool = True
    status: str | None = None

    def params(self) -> dict:
        """The bound parameters of the statements built from these filters."""
        return {name: getattr(self, name) for name in BOUND_FILTERS
                if getattr(self, name) is not None}

    def shape(self) -> OutcomeFilters:
        """Which filters are set (values replaced by ``True``): what a statement depends on."""
        return replace(self, **{name: True for name in BOUND_FILTERS
                                if getattr(self, name) is not None})

    def describe(self) -> str:
        """The filters as compact JSON, for the audit log."""
        return json.dumps({k: v for k, v in asdict(self).items()
                           if v is not None and not (k == "intervention_used"
                                                     and self.intervention is None)},
                          default=str, sort_keys=True)


def require_director(actor: User) -> None:
    """Clinic-wide outcomes are for the clinic director."""
    if actor.role != "director":
        raise Forbidden("Clinic outcomes are available to the clinic director.")


def min_plans() -> int:
    """Fewest plans a figure must rest on before it is shown without a caution."""
    return int(current_app.config.get("OUTCOMES_MIN_PLANS", 5))


#: Filters compared with values sent as bound parameters, with their column types.
BOUND_FILTERS = {"date_from": Date, "date_to": Date, "practitioner_id": Integer,
                 "diagnosis": String, "intervention": String, "status": String}


def cohort_conditions(filters: OutcomeFilters, table=PlanOutcome) -> list:
    """SQL conditions selecting the cohort, on :class:`PlanOutcome` or :class:`MeasureOutcome`
    (which carries the same plan columns).

    Values are bound parameters (execute with ``filters.params()``), so a statement depends
    only on which filters are set and can be built once (see :func:`outcome_statements`).
    """
    def value(name):
        return bindparam(name, type_=BOUND_FILTERS[name])

    conditions = []
    if filters.date_from is not None:
        conditions.append(or_(table.episode_end.is_(None),
                              table.episode_end >= value("date_from")))
    if filters.date_to is not None:
        conditions.append(table.start_date <= value("date_to"))
    if filters.practitioner_id is not None:
        conditions.append(table.practitioner_id == value("practitioner_id"))
    if filters.diagnosis is not None:
        conditions.append(table.diagnosis_group == value("diagnosis"))
    if filters.status is not None:
        conditions.append(table.status == value("status"))
    if filters.intervention is not None:
        used = exists().where(PlanIntervention.plan_id == table.plan_id,
                              PlanIntervention.intervention == value("intervention"))
        conditions.append(used if filters.intervention_used else not_(used))
    return conditions


def _in_range(column, filters: OutcomeFilters):
    parts = []
    if filters.date_from is not None:
        parts.append(column >= bindparam("date_from", type_=Date))
    if filters.date_to is not None:
        parts.append(column <= bindparam("date_to", type_=Date))
    return and_(column.is_not(None), *parts)


def _one_if(condition):
    return case((condition, 1), else_=0)


def _count_if(condition):
    return func.sum(_one_if(condition))


#: Counts carried along the visits histogram of the plan figures.
PLAN_COUNTS = ("started", "discharged", "active", "on_hold", "cancelled", "goal_plans",
               "goals_met", "assessable", "plateau", "worsening")
#: Sums carried along the change histogram of the measure figures.
MEASURE_SUMS = ("baseline_sum", "latest_sum", "change_sum", "goal_plans", "goals_met")


def plan_figures_statement(filters: OutcomeFilters):
    """One statement: the plan-level figures per practitioner, and clinic-wide (id NULL)."""
    po = PlanOutcome
    where = cohort_conditions(filters, po)
    counts = {
        "started": _one_if(_in_range(po.start_date, filters)),
        "discharged": _one_if(and_(po.status == "discharged",
                                   _in_range(po.discharge_date, filters))),
        **{s: _one_if(po.status == s) for s in PLAN_STATUSES if s != "discharged"},
        "goal_plans": _one_if(po.goals > 0),
        "goals_met": _one_if(and_(po.goals > 0, po.goals_met == po.goals)),
        "assessable": _one_if(po.assessable),
        "plateau": _one_if(and_(po.assessable, po.plateau)),
        "worsening": _one_if(and_(po.assessable, po.worsening)),
    }
    keys = [po.practitioner_id]
    histogram = with_totals([
        histogram_part("visits", keys, po.visits, where, counts, PLAN_COUNTS),
        histogram_part("planned", keys, po.planned_visits, where, None, PLAN_COUNTS),
        # Whole per cent: a median of retention needs no more, and the histogram stays small.
        histogram_part("retention", keys, func.round(po.retention), where, None, PLAN_COUNTS),
    ], "practitioner_id", (), PLAN_COUNTS)
    cum = cumulative(histogram, ("practitioner_id",))
    return select(
        cum.c.practitioner_id, count_of(cum, "visits").label("total"),
        *[sum_of(cum, "visits", name).label(name) for name in PLAN_COUNTS],
        quantile(cum, "visits", 1).label("visits_q1"),
        quantile(cum, "visits", 2).label("visits_median"),
        quantile(cum, "visits", 3).label("visits_q3"),
        quantile(cum, "planned", 2).label("planned_median"),
        count_of(cum, "retention").label("retention_plans"),
        quantile(cum, "retention", 2).label("retention_median"),
    ).group_by(cum.c.practitioner_id)


def measure_figures_statement(filters: OutcomeFilters, thresholds: dict):
    """One statement: per-measure figures per practitioner, and clinic-wide (id NULL)."""
    mo = MeasureOutcome
    where = cohort_conditions(filters, mo)
    keys = [mo.practitioner_id, mo.measure]
    has_goal = mo.goal_target.is_not(None)
    histogram = with_totals([
        histogram_part("change", keys, mo.change, where, {
            "baseline_sum": mo.baseline, "latest_sum": mo.latest, "change_sum": mo.change,
            "goal_plans": _one_if(has_goal), "goals_met": _one_if(and_(has_goal, mo.goal_met)),
        }, MEASURE_SUMS),
    ], "practitioner_id", ("measure",), MEASURE_SUMS)
    cum = cumulative(histogram, ("practitioner_id", "measure"))
    threshold = case({code: threshold_for(code, thresholds) for code in MEASURES},
                     value=cum.c.measure)
    plans = count_of(cum, "change")

    def mean(name):
        return case((plans > 0, sum_of(cum, "change", name) * 1.0 / plans))

    return select(
        cum.c.practitioner_id, cum.c.measure, plans.label("plans"),
        mean("baseline_sum").label("baseline_mean"), mean("latest_sum").label("latest_mean"),
        mean("change_sum").label("mean_change"),
        quantile(cum, "change", 1).label("q1_change"),
        quantile(cum, "change", 2).label("median_change"),
        quantile(cum, "change", 3).label("q3_change"),
        count_from(cum, "change", cum.c.v >= threshold - EPS).label("mcid"),
        sum_of(cum, "change", "goal_plans").label("goal_plans"),
        sum_of(cum, "change", "goals_met").label("goals_met"),
    ).group_by(cum.c.practitioner_id, cum.c.measure)


def discharge_reasons_statement(filters: OutcomeFilters):
    """Discharge reasons of the discharged plans, per practitioner and clinic-wide (id NULL)."""
    po = PlanOutcome
    per = (select(po.practitioner_id, po.discharge_reason, func.count().label("plans"))
           .where(po.status == "discharged", *cohort_conditions(filters, po))
           .group_by(po.practitioner_id, po.discharge_reason).cte("reasons"))
    return union_all(
        select(per),
        select(null().label("practitioner_id"), per.c.discharge_reason,
               func.sum(per.c.plans).label("plans")).group_by(per.c.discharge_reason))


def outcome_statements(filters: OutcomeFilters) -> list:
    """Every statement the figures rest on, to execute with ``filters.params()`` (the
    benchmark's floor runs exactly these)."""
    thresholds = current_app.config["PROGRESS_THRESHOLDS"]
    return _statements(filters.shape(), tuple(sorted(thresholds.items())))


@functools.lru_cache(maxsize=64)
def _statements(shape: OutcomeFilters, thresholds: tuple) -> list:
    # Building these expressions costs more than running them on a filtered view, so they are
    # built once per combination of filters set (and threshold configuration).
    return [plan_figures_statement(shape), measure_figures_statement(shape, dict(thresholds)),
            discharge_reasons_statement(shape)]


def _number(value, digits: int = 2):
    """Round a database number (float, Decimal, int) for the answer."""
    if value is None:
        return None
    return round(float(value) if isinstance(value, Decimal) else value, digits)


def _share(count: int, plans: int, low: int) -> dict:
    return {"count": int(count or 0), "plans": int(plans or 0),
            "share": round(count / plans, 4) if plans else None, "low_n": (plans or 0) < low}


class _NoPlans:
    """The figures' row of an empty cohort."""

    def __getattr__(self, name):
        return None


_EMPTY = _NoPlans()


def _group_figures(row, measures: list, reasons: dict[str, int], low: int) -> dict:
    total = int(row.total or 0)
    discharged_total = sum(reasons.values())
    return {
        "plans": {"total": total, "started": int(row.started or 0),
                  "discharged": int(row.discharged or 0), "active": int(row.active or 0),
                  "on_hold": int(row.on_hold or 0), "cancelled": int(row.cancelled or 0),
                  "low_n": total < low},
        "visits": {"plans": total, "median": _number(row.visits_median),
                   "q1": _number(row.visits_q1), "q3": _number(row.visits_q3),
                   "planned_median": _number(row.planned_median), "low_n": total < low},
        "goals_met": _share(row.goals_met or 0, row.goal_plans or 0, low),
        "plateau": _share(row.plateau or 0, row.assessable or 0, low),
        "worsening": _share(row.worsening or 0, row.assessable or 0, low),
        "retention": {"plans": int(row.retention_plans or 0),
                      "median": _number(row.retention_median, 1),
                      "low_n": (row.retention_plans or 0) < low},
        "measures": measures,
        "discharge_reasons": {
            "plans": discharged_total, "low_n": discharged_total < low,
            "reasons": [{"reason": reason, "count": reasons[reason],
                         "share": round(reasons[reason] / discharged_total, 4)}
                        for reason in [*DISCHARGE_REASONS, None] if reasons.get(reason)]},
    }


def _measure_figures(row, low: int) -> dict:
    plans = int(row.plans or 0)
    thresholds = current_app.config["PROGRESS_THRESHOLDS"]
    m = MEASURES[row.measure]
    return {
        "measure": row.measure, "label": measure_label(row.measure, None), "unit": m.unit,
        "better": m.better, "threshold": threshold_for(row.measure, thresholds),
        "plans": plans, "low_n": plans < low,
        "baseline_mean": _number(row.baseline_mean), "latest_mean": _number(row.latest_mean),
        "mean_change": _number(row.mean_change), "median_change": _number(row.median_change),
        "q1_change": _number(row.q1_change), "q3_change": _number(row.q3_change),
        "mcid": _share(int(row.mcid or 0), plans, low),
        "goal": _share(int(row.goals_met or 0), int(row.goal_plans or 0), low),
    }


def _ordered_measures(rows) -> list:
    order = {code: i for i, code in enumerate(MEASURES)}
    return sorted(rows, key=lambda r: order[r.measure])


def ensure_current_for(filters: OutcomeFilters) -> None:
    """Bring the summaries the filters can select up to date (see ``summary.ensure_current``)."""
    if filters.practitioner_id is not None:
        ensure_current(PlanOfCare.practitioner_id == filters.practitioner_id)
    else:
        ensure_current()


def compute_outcomes(filters: OutcomeFilters) -> dict:
    """The figures of the cohort: clinic-wide and per practitioner (no access check, no audit)."""
    ensure_current_for(filters)
    low = min_plans()
    params = filters.params()
    plans, measures, reasons = (db.session.execute(stmt, params).all()
                                for stmt in outcome_statements(filters))
    reasons_by: dict = {}
    for practitioner_id, reason, count in reasons:
        reasons_by.setdefault(practitioner_id, {})[reason] = int(count)
    measures_by: dict = {}
    for row in _ordered_measures(measures):
        measures_by.setdefault(row.practitioner_id, []).append(_measure_figures(row, low))
    groups = {row.practitioner_id: _group_figures(
        row, measures_by.get(row.practitioner_id, []), reasons_by.get(row.practitioner_id, {}),
        low) for row in plans}
    clinic = groups.pop(None, None) or _group_figures(_EMPTY, [], {}, low)
    names = dict(db.session.execute(
        select(User.id, User.name).where(User.id.in_(groups))).all()) if groups else {}
    practitioners = sorted(
        ({"practitioner": {"id": pid, "name": names[pid]}, **figures}
         for pid, figures in groups.items()),
        key=lambda p: (p["practitioner"]["name"].casefold(), p["practitioner"]["id"]))
    return {"filters": filters, "min_plans": low, "clinic": clinic,
            "practitioners": practitioners}


def clinic_outcomes(actor: User, filters: OutcomeFilters) -> dict:
    """The clinic's outcome figures for the director, audited as one clinic-wide read."""
    require_director(actor)
    figures = compute_outcomes(filters)
    record(actor, "read", "outcomes", detail=filters.describe())
    return figures


# --------------------------------------------------------------------------------------
# Chart data: aggregated in SQL, drawn by notes_service.outcomes.charts
# --------------------------------------------------------------------------------------


class month_of(FunctionElement):
    """``YYYY-MM`` of a date column, on SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True
    name = "month_of"


@compiles(month_of)
def _month_of_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


def _followed(filters: OutcomeFilters, measure: str) -> list:
    """Conditions: ``measure`` of a cohort plan, measured at two visits or more."""
    mo = MeasureOutcome
    return [mo.measure == measure, mo.change.is_not(None), *cohort_conditions(filters, mo)]


def change_by_practitioner(filters: OutcomeFilters, measure: str) -> list[tuple[str, list]]:
    """Each practitioner's per-plan changes of ``measure`` (positive = better), by name."""
    rows = db.session.execute(
        select(User.name, MeasureOutcome.change)
        .join(User, User.id == MeasureOutcome.practitioner_id)
        .where(*_followed(filters, measure))
        .order_by(func.lower(User.name), User.id, MeasureOutcome.change), filters.params()).all()
    groups: dict[str, list[float]] = {}
    for name, change in rows:
        groups.setdefault(name, []).append(change)
    return list(groups.items())


def mcid_by_month(filters: OutcomeFilters, measure: str) -> list[tuple[str, int, int]]:
    """(month of discharge, plans reaching the minimal important change, plans), by month."""
    threshold = threshold_for(measure, current_app.config["PROGRESS_THRESHOLDS"])
    month = month_of(MeasureOutcome.discharge_date)
    return [(m, int(reached), int(plans)) for m, reached, plans in db.session.execute(
        select(month, _count_if(MeasureOutcome.change >= threshold - EPS), func.count())
        .where(MeasureOutcome.status == "discharged", *_followed(filters, measure))
        .group_by(month).order_by(month), filters.params()).all()]


def visits_histogram(filters: OutcomeFilters) -> tuple[list[tuple[int, int]], float | None]:
    """(visits, plans with that many) of the cohort, and the median planned visits."""
    po = PlanOutcome
    counts = db.session.execute(
        select(po.visits, func.count()).where(*cohort_conditions(filters))
        .group_by(po.visits).order_by(po.visits), filters.params()).all()
    planned = cumulative(
        histogram_part("planned", [], po.planned_visits, cohort_conditions(filters)).subquery(),
        ())
    median_planned = db.session.execute(select(quantile(planned, "planned", 2)),
                                        filters.params()).scalar()
    return [(int(v), int(n)) for v, n in counts], _number(median_planned, 1)


@dataclass(frozen=True)
class OutcomeChart:
    """An outcome chart: its data, in words (alt text) and as a table, and how to draw it."""

    name: str
    title: str
    alt: str
    columns: tuple[str, ...]
    rows: list[tuple]
    #: Arguments of the drawing function of :mod:`notes_service.outcomes.charts`.
    drawing: dict


def chart_data(filters: OutcomeFilters, name: str, measure: str = "pain") -> OutcomeChart:
    """The data of chart ``name`` ("change", "mcid_by_month" or "visits") with its alt text."""
    from notes_service.outcomes import charts

    low = min_plans()
    label = MEASURES[measure].short_label
    if name == "change":
        threshold = threshold_for(measure, current_app.config["PROGRESS_THRESHOLDS"])
        groups = change_by_practitioner(filters, measure)
        rows = [(practitioner, len(values), _number(median(values)), _number(min(values)),
                 _number(max(values)), sum(v >= threshold - EPS for v in values))
                for practitioner, values in groups]
        return OutcomeChart(
            name, f"Change in {label} per practitioner",
            charts.change_alt_text(groups, measure, threshold, low),
            ("Practitioner", "Plans", "Median change", "Lowest", "Highest",
             "Reached minimal important change"), rows,
            {"groups": groups, "measure": measure, "threshold": threshold, "min_plans": low})
    if name == "mcid_by_month":
        months = mcid_by_month(filters, measure)
        return OutcomeChart(
            name, f"Plans reaching the minimal important change in {label}, by month",
            charts.mcid_alt_text(months, measure, low),
            ("Month of discharge", "Plans", "Reached", "Share"),
            [(m, n, r, round(r / n, 4)) for m, r, n in months],
            {"months": months, "measure": measure, "min_plans": low})
    if name == "visits":
        counts, planned = visits_histogram(filters)
        return OutcomeChart(name, "Visits per plan", charts.visits_alt_text(counts, planned),
                            ("Visits", "Plans"), counts,
                            {"counts": counts, "planned_median": planned})
    raise ValueError(f"unknown outcome chart {name!r}")


def outcome_chart(actor: User, name: str, fmt: str, filters: OutcomeFilters,
                  measure: str = "pain", width: int = 800, height: int = 400) -> bytes:
    """Draw an outcome chart for the director, audited as one clinic-wide read."""
    from notes_service.outcomes import charts

    require_director(actor)
    ensure_current_for(filters)
    chart = chart_data(filters, name, measure)
    draw = {"change": charts.change_chart, "mcid_by_month": charts.mcid_chart,
            "visits": charts.visits_chart}[name]
    image = draw(**chart.drawing, fmt=fmt, width=width, height=height)
    record(actor, "read", "outcomes", detail=f"chart {name} {measure} {filters.describe()}")
    return image
