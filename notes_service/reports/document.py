"""What a progress report or discharge summary says, as plain data: built from the progress
engine's results by pure functions (no Flask, no database), laid out by
:mod:`notes_service.reports.pdf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from notes_service.catalog import MEASURES, Measure
from notes_service.progress.rules import MeasureProgress, format_amount, format_day, format_number

__all__ = ["Chart", "GoalRow", "MeasureRow", "ReportDocument", "STATUS_WORDS", "change_text",
           "goal_rows", "measure_rows"]

#: How the report names each progress status (clinical wording, for referrers and payers).
STATUS_WORDS = {
    "goal_met": "Met",
    "improving": "Progressing",
    "plateau": "Plateau",
    "worsening": "Worsening",
    "insufficient_data": "Too early to judge",
}

#: U+2212, the typographic minus, so "−4" never reads as a hyphen.
MINUS = "\u2212"


@dataclass(frozen=True)
class GoalRow:
    """One goal: where the patient started, is now and should get to."""

    label: str
    baseline: str
    current: str
    target: str
    change: str
    minimal_change: str
    status: str
    #: Engine status code (``goal_met``, ``improving``...), for colour.
    status_code: str


@dataclass(frozen=True)
class MeasureRow:
    """One tracked measure (and side) over the plan."""

    label: str
    baseline: str
    latest: str
    change: str
    within_visit: str
    status: str
    status_code: str


@dataclass(frozen=True)
class Chart:
    """A progress chart (PNG) with its text alternative."""

    title: str
    png: bytes
    alt_text: str


@dataclass(frozen=True)
class ReportDocument:
    """Everything printed on a report, already worded."""

    kind: str
    clinic_name: str
    patient_name: str
    birth_date: date
    sex: str
    mrn: str | None
    diagnosis_code: str
    diagnosis_text: str
    plan_start: date
    plan_end: date
    weeks: int
    visits_per_week: int
    visits_attended: int
    visits_planned: int
    visits_in_period: int
    period_start: date
    period_end: date
    practitioner: str
    assessment: str
    plan_text: str
    signer: str
    signed_at: datetime
    #: The signing time as printed, in the clinic's time zone.
    signed_at_text: str
    goals: Sequence[GoalRow] = ()
    measures: Sequence[MeasureRow] = ()
    #: One sentence per measure from the progress engine, citing the numbers.
    findings: Sequence[str] = ()
    #: (intervention, CPT code or None, visits it was given in) within the period.
    interventions: Sequence[tuple[str, str | None, int]] = ()
    charts: Sequence[Chart] = ()
    #: Address and telephone line under the clinic name (``CLINIC_DETAILS``).
    clinic_details: str | None = None
    body_site: str | None = None
    maintenance_since: date | None = None
    discharge_date: date | None = None
    discharge_reason: str | None = None
    discharge_note: str | None = None
    home_programme: str | None = None
    #: "Corrects the progress report of 3 Mar 2026 (no. 12)", for a corrected report.
    corrects: str | None = None

    @property
    def title(self) -> str:
        """Document title."""
        return "Discharge summary" if self.kind == "discharge" else "Progress report"

    def age_on(self, day: date) -> int:
        """Patient's age in whole years on ``day``."""
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


def _signed_number(value: float) -> str:
    text = format_number(abs(value))
    if text == "0":
        return "0"
    return ("+" if value > 0 else MINUS) + text


def change_text(m: Measure, baseline: float | None, latest: float | None) -> str:
    """Change from baseline to latest in the measure's unit, said better or worse.

    The sign is the raw direction (pain 7 → 3 is "−4 points (better)", SLR 35° → 60° is
    "+25° (better)"), so the number reads the same as the values beside it.
    """
    if baseline is None or latest is None:
        return "—"
    raw = latest - baseline
    if format_number(abs(raw)) == "0":
        return "no change"
    amount = format_amount(m, raw)
    sign = "+" if raw > 0 else MINUS
    word = "better" if m.improvement(baseline, latest) > 0 else "worse"
    return f"{sign}{amount} ({word})"


def _status(mp: MeasureProgress, maintenance: bool) -> str:
    if maintenance and mp.status == "plateau":
        return "Maintained"
    return STATUS_WORDS[mp.status]


def goal_rows(measures: Sequence[MeasureProgress], *, maintenance: bool = False
              ) -> list[GoalRow]:
    """One row per measure (and side) that has a goal, in the engine's (catalog) order."""
    rows = []
    for mp in measures:
        if mp.goal_target is None:
            continue
        m = MEASURES[mp.measure]
        target = f"{m.goal_comparator} {m.format_value(mp.goal_target)}"
        if mp.goal_date is not None:
            target += f" by {format_day(mp.goal_date)}"
        rows.append(GoalRow(
            label=mp.label, baseline=m.format_value(mp.baseline),
            current=m.format_value(mp.latest), target=target,
            change=change_text(m, mp.baseline, mp.latest),
            minimal_change=format_amount(m, mp.threshold),
            status=_status(mp, maintenance), status_code=mp.status))
    return rows


def measure_rows(measures: Sequence[MeasureProgress], *, maintenance: bool = False
                 ) -> list[MeasureRow]:
    """One row per tracked measure (and side) with at least one value."""
    rows = []
    for mp in measures:
        if mp.latest is None:
            continue
        m = MEASURES[mp.measure]
        baseline = m.format_value(mp.baseline)
        latest = m.format_value(mp.latest)
        if mp.baseline_date is not None:
            baseline += f"  ({format_day(mp.baseline_date, year=False)})"
        if mp.latest_date is not None:
            latest += f"  ({format_day(mp.latest_date, year=False)})"
        within = "—"
        if mp.within_visit_change is not None:
            raw = mp.within_visit_change if m.better == "higher" else -mp.within_visit_change
            within = f"{_signed_number(raw)}{'°' if m.unit == 'deg' else ''}"
            if mp.retention is not None:
                within += f", {round(mp.retention)}% kept"
        rows.append(MeasureRow(
            label=mp.label, baseline=baseline, latest=latest,
            change=change_text(m, mp.baseline, mp.latest), within_visit=within,
            status=_status(mp, maintenance), status_code=mp.status))
    return rows
