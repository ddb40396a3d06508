"""The visit-note form: SOAP text with copy forward, the test/treat/retest grid, special tests,
questionnaires; form ↔ schema input, error mapping onto grid cells, and merging a stale edit.

Field names are stable and readable, so a stashed or merged form is plain data:
``subjective`` … ``home_programme``; ``m-<measure>[-<side>]-<phase>`` for a grid cell;
``st-<n>-<part>`` for special-test rows; ``odi-<k>``, ``lefs-<k>``, ``psfs-<k>-activity|score``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from notes_service.catalog import (
    INTERVENTIONS,
    MEASURES,
    PHASES,
    QUESTIONNAIRES,
    SPECIAL_TESTS,
    Measure,
    odi_score,
)
from notes_service.clock import clinic_today
from notes_service.plans.models import PlanOfCare
from notes_service.visits.models import VisitNote
from notes_service.web.forms import (
    FormState,
    clean_text,
    number_text,
    parse_integer,
    parse_number,
)
from notes_service.web.questionnaires import PSFS_SLOTS

#: SOAP sections: (form and schema name, model attribute, label, prompt).
SOAP = (
    ("subjective", "subjective", "Subjective",
     "What the patient reports: symptoms, changes since last visit, function."),
    ("objective", "objective", "Objective",
     "Observations and findings beyond the measures in the grid."),
    ("assessment", "assessment", "Assessment",
     "Your interpretation: response to treatment, progress toward goals."),
    ("plan", "plan_text", "Plan", "Next steps: treatment, progression, next re-assessment."),
)
TEXT_FIELDS = (*(name for name, *_ in SOAP), "home_programme")
MODEL_ATTRIBUTE = {name: attr for name, attr, *_ in SOAP} | {"home_programme": "home_programme"}
#: Fields whose schema errors are shown beside the field of the same name.
FIELDS = ("visit_date", *TEXT_FIELDS, "interventions", "copied_from_id", "version")
ST_PARTS = ("test", "side", "result", "angle", "phase")
_CELL = re.compile(r"m-([a-z_]+)(?:-(left|right))?-(pre|post)")
_ST = re.compile(r"st-([0-9]{1,2})-(test|side|result|angle|phase)")
#: Blank special-test rows shown under the recorded ones.
BLANK_TEST_ROWS = 2
MAX_TEST_ROWS = 40


@dataclass(frozen=True)
class GridRow:
    """One row of the measurement grid: a measure, on one side if it is sided."""

    measure: Measure
    side: str | None

    @property
    def key(self) -> tuple[str, str | None]:
        return self.measure.code, self.side

    @property
    def label(self) -> str:
        name = self.measure.short_label
        return f"{name}, {self.side}" if self.side else name

    @property
    def id(self) -> str:
        return self.measure.code if self.side is None else f"{self.measure.code}-{self.side}"

    def field(self, phase: str) -> str:
        return f"m-{self.id}-{phase}"


def parse_cell(name: str) -> tuple[str, str | None, str] | None:
    """(measure, side, phase) of a grid field name, if it is one of a catalog measure."""
    match = _CELL.fullmatch(name)
    if match is None or match.group(1) not in MEASURES:
        return None
    return match.group(1), match.group(2), match.group(3)


def _order(key: tuple[str, str | None]) -> tuple[int, str]:
    return list(MEASURES).index(key[0]), key[1] or ""


def _scored(note: VisitNote | None) -> set[str]:
    return {q.instrument for q in note.questionnaires} if note is not None else set()


def grid_rows(plan: PlanOfCare, note: VisitNote | None = None,
              form: FormState | None = None) -> list[GridRow]:
    """Rows of the grid: the plan's tracked measures, plus whatever the note or the form holds.

    Questionnaire scores are entered through their questionnaire, so they get a row only when a
    score was recorded without its items (through the API); nothing stored is ever dropped.
    """
    keys = {k for k in plan.tracked_keys
            if k[0] in MEASURES and MEASURES[k[0]].group != "questionnaire"}
    if note is not None:
        scored = _scored(note)
        keys |= {(m.measure, m.side) for m in note.measurements if m.measure in MEASURES
                 and not (m.measure in scored and m.phase == "pre" and m.side is None)}
    if form is not None:
        for name in form.values:
            cell = parse_cell(name)
            if cell and form.get(name).strip():
                keys.add(cell[:2])
    return [GridRow(MEASURES[code], side) for code, side in sorted(keys, key=_order)]


# --------------------------------------------------------------------------- note → form

def note_form(note: VisitNote) -> FormState:
    """The form showing a stored note."""
    form = FormState.from_mapping({
        "visit_date": note.visit_date.isoformat(),
        **{name: getattr(note, attr) for name, attr in MODEL_ATTRIBUTE.items()},
        "interventions": list(note.interventions or []),
        "version": note.version, "copied_from_id": note.copied_from_id,
    })
    scored = _scored(note)
    for m in note.measurements:
        if m.measure in scored and m.phase == "pre" and m.side is None:
            continue
        form.set(GridRow(MEASURES[m.measure], m.side).field(m.phase), number_text(m.value))
    for index, test in enumerate(note.special_tests):
        form.set(f"st-{index}-test", test.test)
        form.set(f"st-{index}-side", test.side or "")
        form.set(f"st-{index}-result", test.result)
        form.set(f"st-{index}-angle", number_text(test.angle))
        form.set(f"st-{index}-phase", test.phase)
    for response in note.questionnaires:
        if response.instrument == "psfs":
            for k, activity in enumerate(response.items or [], start=1):
                form.set(f"psfs-{k}-activity", activity.get("activity", ""))
                form.set(f"psfs-{k}-score", number_text(activity.get("score")))
        else:
            for k, item in enumerate(response.items or [], start=1):
                form.set(f"{response.instrument}-{k}", "" if item is None else str(item))
    return form


def new_note_form(plan: PlanOfCare, previous: VisitNote | None, copy: bool = True) -> FormState:
    """A new note dated today; with ``copy``, the previous note's text and interventions."""
    form = FormState.from_mapping({"visit_date": clinic_today().isoformat()})
    if previous is not None and copy:
        for name, attr in MODEL_ATTRIBUTE.items():
            form.set(name, getattr(previous, attr) or "")
        form.set("interventions", list(previous.interventions or []))
        form.set("copied_from_id", str(previous.id))
    return form


# --------------------------------------------------------------------------- form → schema

def test_rows(form: FormState) -> list[int]:
    """Indexes of the special-test rows present in the form."""
    found = set()
    for name in form.values:
        match = _ST.fullmatch(name)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)[:MAX_TEST_ROWS]


def row_is_filled(form: FormState, n: int) -> bool:
    """Whether special-test row ``n`` holds anything beyond its defaults."""
    return any(form.get(f"st-{n}-{part}").strip() for part in ("test", "result", "angle"))


def note_payload(form: FormState, rows: list[GridRow], *,
                 editing: bool) -> tuple[dict, dict[str, str]]:
    """Schema input from the form, and the field each error path is shown beside."""
    data: dict = {}
    locate: dict[str, str] = {"measurements": "grid", "special_tests": "special_tests",
                              "questionnaires": "questionnaires"}
    if form.get("visit_date").strip():
        data["visit_date"] = form.get("visit_date").strip()
    for name in TEXT_FIELDS:
        data[name] = clean_text(form.get(name))
    data["interventions"] = form.getlist("interventions")

    measurements = []
    for row in rows:
        for phase in PHASES:
            raw = form.get(row.field(phase))
            if raw.strip():
                locate[f"measurements.{len(measurements)}"] = row.field(phase)
                measurements.append({"measure": row.measure.code, "side": row.side,
                                     "phase": phase, "value": parse_number(raw)})
    data["measurements"] = measurements

    tests = []
    for n in test_rows(form):
        if not row_is_filled(form, n):
            continue
        index = len(tests)
        locate[f"special_tests.{index}"] = f"st-{n}-test"
        for part in ST_PARTS:
            locate[f"special_tests.{index}.{part}"] = f"st-{n}-{part}"
        test: dict = {"side": form.get(f"st-{n}-side") or None,
                      "phase": form.get(f"st-{n}-phase") or "pre",
                      "angle": parse_number(form.get(f"st-{n}-angle"))}
        for part in ("test", "result"):
            if form.get(f"st-{n}-{part}"):
                test[part] = form.get(f"st-{n}-{part}")
        tests.append(test)
    data["special_tests"] = tests

    questionnaires = []
    for code in ("odi", "lefs"):
        count = QUESTIONNAIRES[code].item_count
        raw = [form.get(f"{code}-{k}") for k in range(1, count + 1)]
        if any(v.strip() for v in raw):
            index = len(questionnaires)
            locate[f"questionnaires.{index}"] = code
            for k in range(count):
                locate[f"questionnaires.{index}.items.{k}"] = f"{code}-{k + 1}"
            questionnaires.append({"instrument": code, "items": [parse_integer(v) for v in raw]})
    activities = []
    activity_index = len(questionnaires)
    for k in range(1, PSFS_SLOTS + 1):
        text = " ".join(form.get(f"psfs-{k}-activity").split())
        score = form.get(f"psfs-{k}-score")
        if not text and not score.strip():
            continue
        j = len(activities)
        locate[f"questionnaires.{activity_index}.activities.{j}"] = f"psfs-{k}-activity"
        locate[f"questionnaires.{activity_index}.activities.{j}.activity"] = f"psfs-{k}-activity"
        locate[f"questionnaires.{activity_index}.activities.{j}.score"] = f"psfs-{k}-score"
        activity: dict = {}
        if text:
            activity["activity"] = text
        if score.strip():
            activity["score"] = parse_number(score)
        activities.append(activity)
    if activities:
        locate[f"questionnaires.{activity_index}"] = "psfs"
        questionnaires.append({"instrument": "psfs", "activities": activities})
    data["questionnaires"] = questionnaires

    data["copied_from_id"] = parse_integer(form.get("copied_from_id"))
    if editing:
        version = parse_integer(form.get("version"))
        if version is not None:
            data["version"] = version
    return data, locate


# --------------------------------------------------------------------------- display helpers

@dataclass(frozen=True)
class Change:
    """Within-visit change of one grid row (post − pre)."""

    delta: float
    improvement: float
    meaningful: bool
    text: str

    @property
    def direction(self) -> str:
        if self.improvement > 0:
            return "better"
        if self.improvement < 0:
            return "worse"
        return "same"


def within_visit_change(row: GridRow, form: FormState) -> Change | None:
    """Post − pre of a row when both are plain numbers, signed and judged by the catalog."""
    pre, post = (parse_number(form.get(row.field(p))) for p in PHASES)
    if not isinstance(pre, int | float) or not isinstance(post, int | float):
        return None
    delta = post - pre
    improvement = row.measure.improvement(pre, post)
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    text = f"{sign}{number_text(abs(delta))}{row.measure.unit_symbol}"
    return Change(delta, improvement, abs(improvement) >= row.measure.threshold, text)


def previous_values(note: VisitNote | None) -> dict[tuple[str, str | None], dict[str, float]]:
    """The previous note's values per (measure, side) and phase."""
    values: dict[tuple[str, str | None], dict[str, float]] = {}
    if note is not None:
        for m in note.measurements:
            values.setdefault((m.measure, m.side), {})[m.phase] = m.value
    return values


def copied_marks(form: FormState, source: VisitNote | None) -> dict[str, bool]:
    """Which fields still hold exactly the text copied forward from ``source``."""
    if source is None:
        return {}
    marks = {name: bool(getattr(source, attr))
             and clean_text(form.get(name)) == clean_text(getattr(source, attr))
             for name, attr in MODEL_ATTRIBUTE.items()}
    marks["interventions"] = bool(source.interventions) and (
        sorted(form.getlist("interventions")) == sorted(source.interventions))
    return marks


def odi_preview(form: FormState) -> float | None:
    """ODI score of the typed items, when they score (for display beside the section)."""
    items = [parse_integer(form.get(f"odi-{k}")) for k in range(1, 11)]
    if any(isinstance(i, str) or (isinstance(i, int) and not 0 <= i <= 5) for i in items):
        return None
    if all(i is None for i in items):
        return None
    return odi_score(items)


def lefs_preview(form: FormState) -> int | None:
    """LEFS total when all twenty items hold 0–4."""
    items = [parse_integer(form.get(f"lefs-{k}")) for k in range(1, 21)]
    if all(isinstance(i, int) and 0 <= i <= 4 for i in items):
        return sum(items)
    return None


def psfs_preview(form: FormState) -> float | None:
    """PSFS mean of the typed activity scores."""
    scores = [parse_number(form.get(f"psfs-{k}-score")) for k in range(1, PSFS_SLOTS + 1)]
    scores = [s for s in scores if isinstance(s, int | float) and 0 <= s <= 10]
    return round(sum(scores) / len(scores), 2) if scores else None


# --------------------------------------------------------------------------- stale-edit merge

@dataclass(frozen=True)
class MergeUnit:
    """A part of the note that differs between the user's edit and the stored version."""

    key: str
    label: str
    fields: tuple[str, ...]
    mine: str
    stored: str
    #: Long text is shown in a block; short values inline.
    long: bool = False


def _text(form: FormState, name: str) -> str:
    return clean_text(form.get(name)).strip()


def _tests_summary(form: FormState) -> list[str]:
    lines = []
    for n in test_rows(form):
        if not row_is_filled(form, n):
            continue
        test = SPECIAL_TESTS.get(form.get(f"st-{n}-test"))
        parts = [test.label if test else form.get(f"st-{n}-test") or "(no test)"]
        if form.get(f"st-{n}-side"):
            parts.append(form.get(f"st-{n}-side"))
        parts.append(form.get(f"st-{n}-result") or "(no result)")
        if form.get(f"st-{n}-angle").strip():
            parts.append(f"at {form.get(f'st-{n}-angle').strip()}°")
        parts.append(form.get(f"st-{n}-phase") or "pre")
        lines.append(" ".join(parts))
    return lines


def _questionnaire_summary(form: FormState, code: str) -> str:
    if code == "psfs":
        pairs = [(form.get(f"psfs-{k}-activity").strip(), form.get(f"psfs-{k}-score").strip())
                 for k in range(1, PSFS_SLOTS + 1)]
        return "; ".join(f"{a or '?'}: {s or '?'}" for a, s in pairs if a or s)
    count = QUESTIONNAIRES[code].item_count
    items = [form.get(f"{code}-{k}").strip() or "–" for k in range(1, count + 1)]
    return "" if all(i == "–" for i in items) else "items " + " ".join(items)


def _questionnaire_fields(code: str) -> tuple[str, ...]:
    if code == "psfs":
        return tuple(f"psfs-{k}-{part}" for k in range(1, PSFS_SLOTS + 1)
                     for part in ("activity", "score"))
    return tuple(f"{code}-{k}" for k in range(1, QUESTIONNAIRES[code].item_count + 1))


def _all_test_fields(*forms: FormState) -> tuple[str, ...]:
    return tuple(sorted({name for form in forms for name in form.values if _ST.fullmatch(name)}))


def merge_units(mine: FormState, stored: FormState, rows: list[GridRow]) -> list[MergeUnit]:
    """The parts of the note where the user's edit and the stored version differ."""
    units: list[MergeUnit] = []
    if mine.get("visit_date").strip() != stored.get("visit_date").strip():
        units.append(MergeUnit("visit_date", "Visit date", ("visit_date",),
                               mine.get("visit_date"), stored.get("visit_date")))
    labels = {name: label for name, _, label, _ in SOAP} | {"home_programme": "Home programme"}
    for name in TEXT_FIELDS:
        if _text(mine, name) != _text(stored, name):
            units.append(MergeUnit(name, labels[name], (name,), _text(mine, name),
                                   _text(stored, name), long=True))
    if sorted(mine.getlist("interventions")) != sorted(stored.getlist("interventions")):
        def names(form):
            return ", ".join(INTERVENTIONS[c][0] if c in INTERVENTIONS else c
                             for c in form.getlist("interventions")) or "none"
        units.append(MergeUnit("interventions", "Interventions", ("interventions",),
                               names(mine), names(stored)))
    for row in rows:
        for phase in PHASES:
            name = row.field(phase)
            a, b = mine.get(name).strip(), stored.get(name).strip()
            if a != b:
                def shown(v):
                    return f"{v}{row.measure.unit_symbol}" if v else "(empty)"
                units.append(MergeUnit(name, f"{row.label} · {'Pre' if phase == 'pre' else 'Post'}",
                                       (name,), shown(a), shown(b)))
    if _tests_summary(mine) != _tests_summary(stored):
        units.append(MergeUnit("special_tests", "Special tests",
                               _all_test_fields(mine, stored),
                               "\n".join(_tests_summary(mine)) or "(none)",
                               "\n".join(_tests_summary(stored)) or "(none)", long=True))
    for code in ("odi", "lefs", "psfs"):
        a, b = _questionnaire_summary(mine, code), _questionnaire_summary(stored, code)
        if a != b:
            units.append(MergeUnit(code, QUESTIONNAIRES[code].label, _questionnaire_fields(code),
                                   a or "(not given)", b or "(not given)"))
    return units


def apply_merge(mine: FormState, stored: FormState, units: list[MergeUnit],
                choices: dict[str, str]) -> FormState:
    """The user's form with the stored version taken for each unit where they chose it."""
    merged = FormState(mine.values)
    for unit in units:
        if choices.get(unit.key) != "stored":
            continue
        names = unit.fields
        if unit.key == "special_tests":
            names = _all_test_fields(mine, stored)
        for name in names:
            merged.set(name, stored.getlist(name) or None)
    merged.set("version", stored.get("version"))
    return merged



_QUESTIONNAIRE_ITEM = re.compile(r"(odi|lefs)-([0-9]{1,2})")
_PSFS_PART = re.compile(r"psfs-([0-9])-(activity|score)")
_GOAL_PART = re.compile(r"goal-(.+)-(target|term|date)")


def field_label(name: str) -> str:
    """A readable name of a form field, for the error summary at the top of a form."""
    cell = parse_cell(name)
    if cell:
        code, side, phase = cell
        label = MEASURES[code].short_label + (f", {side}" if side else "")
        return f"{label} — {'pre' if phase == 'pre' else 'post'}"
    match = _ST.fullmatch(name)
    if match:
        return f"Special test {int(match.group(1)) + 1} — {match.group(2)}"
    match = _QUESTIONNAIRE_ITEM.fullmatch(name)
    if match:
        return f"{match.group(1).upper()} item {match.group(2)}"
    match = _PSFS_PART.fullmatch(name)
    if match:
        return f"PSFS activity {match.group(1)} — {match.group(2)}"
    match = _GOAL_PART.fullmatch(name)
    if match:
        code, _, side = match.group(1).partition("-")
        entry = MEASURES.get(code)
        label = (entry.short_label if entry else code) + (f", {side}" if side else "")
        part = {"target": "goal target", "term": "term", "date": "target date"}[match.group(2)]
        return f"{label} — {part}"
    return {"grid": "Measurements", "odi": "ODI", "lefs": "LEFS", "psfs": "PSFS",
            "track": "Tracked measures", "plan": "Plan", "home_programme": "Home programme",
            "diagnosis_code": "ICD-10 code", "visits_per_week": "Visits per week",
            "mrn": "MRN", "email": "E-mail", "text": "Addendum"}.get(
        name, name.replace("_", " ").capitalize())
