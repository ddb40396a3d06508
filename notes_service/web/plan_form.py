"""The plan-of-care form: catalog rows of measures and goals, form ↔ schema input, error mapping."""

from __future__ import annotations

from dataclasses import dataclass

from notes_service.catalog import ICD10_CODES, MEASURES, SIDES, Measure
from notes_service.clock import clinic_today
from notes_service.plans.models import PlanOfCare
from notes_service.web.forms import FormState, number_text, parse_integer, parse_number

#: Tracked by default on a new (sciatica) plan; the clinician unticks what does not apply.
DEFAULT_TRACKED = ("pain", "pain_worst", "odi", "slr-left", "slr-right", "lumbar_flexion")
DEFAULT_INTERVENTIONS = ("art", "nerve_glides", "therapeutic_exercise", "education")

FIELDS = ("diagnosis_code", "diagnosis", "side", "body_region", "start_date", "weeks",
          "visits_per_week", "planned_interventions", "status", "version")
FIELD_LABELS = {
    "diagnosis_code": "ICD-10 code", "diagnosis": "Diagnosis", "side": "Side",
    "body_region": "Body region", "start_date": "Start date", "weeks": "Weeks",
    "visits_per_week": "Visits per week", "planned_interventions": "Planned interventions",
    "status": "Status", "track": "Tracked measures",
}


@dataclass(frozen=True)
class MeasureRow:
    """One line of the measures-and-goals table: a catalog measure, on one side if sided."""

    measure: Measure
    side: str | None

    @property
    def key(self) -> str:
        return self.measure.code if self.side is None else f"{self.measure.code}-{self.side}"

    @property
    def label(self) -> str:
        name = self.measure.short_label
        return f"{name}, {self.side}" if self.side else name

    def field(self, part: str) -> str:
        return f"goal-{self.key}-{part}"


ROWS = tuple(MeasureRow(m, side) for m in MEASURES.values()
             for side in (SIDES if m.sided else (None,)))
_ROW_BY_KEY = {row.key: row for row in ROWS}


def new_plan_form(plan_side: str | None = None) -> FormState:
    """Defaults of a new plan: starts today, 6 weeks at 2 visits a week, common measures."""
    return FormState({
        "start_date": [clinic_today().isoformat()], "weeks": ["6"], "visits_per_week": ["2"],
        "body_region": ["lumbar"], "track": list(DEFAULT_TRACKED),
        "planned_interventions": list(DEFAULT_INTERVENTIONS),
        **({"side": [plan_side]} if plan_side else {}),
    })


def plan_form(plan: PlanOfCare) -> FormState:
    """The form showing a stored plan."""
    form = FormState.from_mapping({
        "diagnosis_code": plan.diagnosis_code, "diagnosis": plan.diagnosis_text,
        "side": plan.side, "body_region": plan.body_region,
        "start_date": plan.start_date.isoformat(), "weeks": plan.weeks,
        "visits_per_week": plan.visits_per_week,
        "planned_interventions": list(plan.planned_interventions or []),
        "status": plan.status, "version": plan.version,
        "track": [MeasureRow(MEASURES[m], s).key for m, s in plan.tracked_keys if m in MEASURES],
    })
    for goal in plan.goals:
        row = _ROW_BY_KEY.get(MeasureRow(MEASURES[goal.measure], goal.side).key)
        if row is None:
            continue
        form.set(row.field("target"), number_text(goal.target))
        form.set(row.field("term"), goal.term)
        if goal.target_date:
            form.set(row.field("date"), goal.target_date.isoformat())
    return form


def _tracked(value: str) -> dict:
    row = _ROW_BY_KEY.get(value)
    if row is None:
        return {"measure": value}  # the schema names the unknown code
    return {"measure": row.measure.code, "side": row.side}


def plan_payload(form: FormState, *, editing: bool) -> tuple[dict, dict[str, str]]:
    """Schema input from the form, and where each error path is shown."""
    data: dict = {}
    locate: dict[str, str] = {}
    code = form.get("diagnosis_code").strip().upper()
    if code:
        data["diagnosis_code"] = code
    if form.get("start_date").strip():
        data["start_date"] = form.get("start_date").strip()
    for name in ("weeks", "visits_per_week"):
        value = parse_integer(form.get(name))
        if value is not None:
            data[name] = value
    text = " ".join(form.get("diagnosis").split())
    if text:
        data["diagnosis"] = text
    elif code in ICD10_CODES:
        data["diagnosis"] = ICD10_CODES[code]
    elif editing:
        data["diagnosis"] = ""  # the schema says it cannot be empty
    data["side"] = form.get("side") or None
    data["body_region"] = form.get("body_region") or None
    data["planned_interventions"] = form.getlist("planned_interventions")
    data["tracked_measures"] = [_tracked(v) for v in form.getlist("track")]
    locate["tracked_measures"] = "track"
    goals = []
    for row in ROWS:
        target = form.get(row.field("target"))
        if not target.strip():
            continue
        goal = {"measure": row.measure.code, "side": row.side, "target": parse_number(target),
                "term": form.get(row.field("term")) or "long"}
        if form.get(row.field("date")).strip():
            goal["target_date"] = form.get(row.field("date")).strip()
        index = len(goals)
        locate[f"goals.{index}"] = row.field("target")
        locate[f"goals.{index}.target_date"] = row.field("date")
        locate[f"goals.{index}.term"] = row.field("term")
        goals.append(goal)
    data["goals"] = goals
    if editing:
        if form.get("status"):
            data["status"] = form.get("status")
        version = parse_integer(form.get("version"))
        if version is not None:
            data["version"] = version
    return data, locate


def changed_fields(mine: FormState, stored: FormState) -> list[str]:
    """Labels of the fields where the user's form and the stored plan differ."""
    mine = FormState(mine.values)
    code = mine.get("diagnosis_code").strip().upper()
    mine.set("diagnosis_code", code)
    if not mine.get("diagnosis").strip() and code in ICD10_CODES:
        mine.set("diagnosis", ICD10_CODES[code])
    names = sorted(set(mine.values) | set(stored.values))
    labels = []
    for name in names:
        if name in ("version",):
            continue
        if sorted(mine.getlist(name)) == sorted(stored.getlist(name)):
            continue
        if name.startswith("goal-"):
            key = name[5:].rsplit("-", 1)[0]
            row = _ROW_BY_KEY.get(key)
            label = f"Goal: {row.label}" if row else name
        else:
            label = FIELD_LABELS.get(name, name)
        if label not in labels:
            labels.append(label)
    return labels
