"""CSV files of the outcomes: the per-practitioner table and a de-identified plan-level file.

The plan-level file carries no names, record numbers, contact details, birth dates, exact dates,
free text or database ids: each plan gets a row number in the file, ages become ten-year bands
at the start of the plan (90 and over in one band), dates become their month.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from notes_service.auth.models import User
from notes_service.catalog import MEASURES
from notes_service.exports import csv_text
from notes_service.extensions import db
from notes_service.outcomes.models import MeasureOutcome, PlanIntervention, PlanOutcome
from notes_service.outcomes.services import EPS, OutcomeFilters, cohort_conditions
from notes_service.patients.models import Patient
from notes_service.progress.rules import threshold_for

#: Figures of a group (clinic or practitioner), as CSV columns: name → value getter.
_GROUP_COLUMNS = {
    "plans": lambda g: g["plans"]["total"],
    "started": lambda g: g["plans"]["started"],
    "discharged": lambda g: g["plans"]["discharged"],
    "active": lambda g: g["plans"]["active"],
    "visits_median": lambda g: g["visits"]["median"],
    "visits_q1": lambda g: g["visits"]["q1"],
    "visits_q3": lambda g: g["visits"]["q3"],
    "planned_visits_median": lambda g: g["visits"]["planned_median"],
    "goals_met_share": lambda g: g["goals_met"]["share"],
    "goals_met_plans": lambda g: g["goals_met"]["plans"],
    "plateau_rate": lambda g: g["plateau"]["share"],
    "worsening_rate": lambda g: g["worsening"]["share"],
    "rate_plans": lambda g: g["plateau"]["plans"],
    "retention_median_pct": lambda g: g["retention"]["median"],
    "retention_plans": lambda g: g["retention"]["plans"],
}

_MEASURE_COLUMNS = ("plans", "mean_change", "median_change", "mcid_share", "goal_share")


def _measure_value(figures: dict | None, column: str):
    if figures is None:
        return None
    if column == "mcid_share":
        return figures["mcid"]["share"]
    if column == "goal_share":
        return figures["goal"]["share"]
    return figures[column]


def practitioner_table_csv(figures: dict) -> str:
    """The per-practitioner table (and a clinic row) of :func:`compute_outcomes` figures.

    Every figure has the number of plans it rests on beside it; ``fewer_than_min_plans``
    marks rows resting on fewer plans than the clinic's minimum.
    """
    measures = [m["measure"] for m in figures["clinic"]["measures"]]
    header = ["practitioner", *_GROUP_COLUMNS,
              *[f"{code}_{column}" for code in measures for column in _MEASURE_COLUMNS],
              "fewer_than_min_plans"]

    def row(name: str, group: dict) -> list:
        by_code = {m["measure"]: m for m in group["measures"]}
        return [name, *[get(group) for get in _GROUP_COLUMNS.values()],
                *[_measure_value(by_code.get(code), column)
                  for code in measures for column in _MEASURE_COLUMNS],
                "yes" if group["plans"]["low_n"] else "no"]

    rows = [row(p["practitioner"]["name"], p) for p in figures["practitioners"]]
    rows.append(row("All practitioners", figures["clinic"]))
    return csv_text(header, rows)


def age_band(birth_date: date, on: date) -> str:
    """Ten-year age band on a day ("30–39"); under 18 and 90+ as single bands."""
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age < 18:
        return "0-17"
    if age >= 90:
        return "90+"
    if age < 30:
        return "18-29"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def _month(day: date | None) -> str | None:
    return day.strftime("%Y-%m") if day is not None else None


def deidentified_plans(filters: OutcomeFilters, thresholds) -> tuple[list[str], list[list]]:
    """Header and rows of the de-identified plan-level outcome file (three queries)."""
    po, params = PlanOutcome, filters.params()
    plans = db.session.execute(
        select(po, Patient.birth_date, Patient.sex, User.name)
        .join(Patient, Patient.id == po.patient_id).join(User, User.id == po.practitioner_id)
        .where(*cohort_conditions(filters)).order_by(po.start_date, po.plan_id), params).all()
    measures: dict[int, dict[str, MeasureOutcome]] = {}
    for mo in db.session.execute(
            select(MeasureOutcome).where(*cohort_conditions(filters, MeasureOutcome)),
            params).scalars():
        measures.setdefault(mo.plan_id, {})[mo.measure] = mo
    used: dict[int, list[str]] = {}
    for plan_id, code in db.session.execute(
            select(PlanIntervention.plan_id, PlanIntervention.intervention)
            .join(po, po.plan_id == PlanIntervention.plan_id)
            .where(*cohort_conditions(filters)).order_by(PlanIntervention.intervention),
            params):
        used.setdefault(plan_id, []).append(code)
    present = {code for by_code in measures.values() for code in by_code}
    codes = [code for code in MEASURES if code in present]
    header = ["record", "practitioner", "diagnosis_code", "diagnosis_group", "sex", "age_band",
              "start_month", "planned_end_month", "discharge_month", "status",
              "discharge_reason", "planned_visits", "visits", "interventions", "used_art",
              "goals", "goals_met", "plateau", "worsening", "retention_pct"]
    for code in codes:
        header += [f"{code}_side", f"{code}_baseline", f"{code}_latest", f"{code}_change",
                   f"{code}_reached_mcid", f"{code}_goal_met"]
    rows = []
    for number, (plan, birth_date, sex, practitioner) in enumerate(plans, start=1):
        interventions = used.get(plan.plan_id, [])
        row = [number, practitioner, plan.diagnosis_code, plan.diagnosis_group, sex,
               age_band(birth_date, plan.start_date), _month(plan.start_date),
               _month(plan.end_date), _month(plan.discharge_date), plan.status,
               plan.discharge_reason, plan.planned_visits, plan.visits,
               ";".join(interventions), "art" in interventions, plan.goals, plan.goals_met,
               plan.plateau, plan.worsening, plan.retention]
        for code in codes:
            mo = measures.get(plan.plan_id, {}).get(code)
            if mo is None:
                row += [None] * 6
                continue
            row += [mo.side, mo.baseline, mo.latest, mo.change,
                    None if mo.change is None
                    else mo.change >= threshold_for(code, thresholds) - EPS, mo.goal_met]
        rows.append(row)
    return header, rows


def deidentified_plans_csv(filters: OutcomeFilters, thresholds) -> tuple[str, int]:
    """The de-identified plan-level file as CSV text, and its number of plans."""
    header, rows = deidentified_plans(filters, thresholds)
    return csv_text(header, rows), len(rows)
