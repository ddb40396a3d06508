"""Schemas of plans of care and goals."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from notes_service.auth.schemas import UserSummarySchema
from notes_service.catalog import (
    BODY_REGIONS,
    DISCHARGE_REASONS,
    ICD10_CODES,
    MEASURES,
    PLAN_SIDES,
    PLAN_STATUSES,
)
from notes_service.clock import clinic_today
from notes_service.validation import (
    InputSchema,
    StrictFloat,
    StrictInteger,
    id_field,
    intervention_list,
    side_field,
    text,
)

#: ICD-10-CM code shape: letter, two characters, optional dot and up to four more.
ICD10_PATTERN = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$"


def check_measure_side(measure_code: str | None, side: str | None, errors: dict) -> None:
    """Add errors for an unknown measure, a missing side on a sided one, a side on an unsided one.

    Shared by every schema that names a catalog measure, so the rule reads the same everywhere.
    """
    if measure_code is None:
        return
    if measure_code not in MEASURES:
        errors.setdefault("measure", []).append(f"Unknown measure code '{measure_code}'.")
        return
    entry = MEASURES[measure_code]
    if entry.sided and side is None:
        errors.setdefault("side", []).append(
            f"{entry.short_label} is measured per side: give \"left\" or \"right\".")
    if not entry.sided and side is not None:
        errors.setdefault("side", []).append(f"{entry.short_label} has no side; leave it out.")


def check_in_range(measure_code: str, value: float | None, field: str, errors: dict) -> None:
    """Add an error when ``value`` lies outside the catalog range of the measure."""
    entry = MEASURES.get(measure_code)
    if entry is None or value is None:
        return
    if not entry.minimum <= value <= entry.maximum:
        errors.setdefault(field, []).append(
            f"{entry.short_label} must be between {entry.minimum:g} and {entry.maximum:g}"
            f" {entry.unit}.")


def validate_catalog_entry(data: dict, value_field: str | None = None) -> None:
    """Raise the catalog errors of an item naming a measure (and side, and a value to range-check).

    The one check behind every schema that names a catalog measure.
    """
    errors: dict = {}
    check_measure_side(data.get("measure"), data.get("side"), errors)
    if value_field is not None and "measure" not in errors:
        check_in_range(data.get("measure"), data.get(value_field), value_field, errors)
    if errors:
        raise ValidationError(errors)


class TrackedMeasureSchema(InputSchema):
    """A measure (and side) tracked at every visit of the plan."""

    measure = fields.String(required=True)
    side = side_field()

    @validates_schema
    def _catalog(self, data, **_):
        validate_catalog_entry(data)


class GoalInputSchema(InputSchema):
    """A goal as entered: target in the catalog's better direction."""

    measure = fields.String(required=True)
    side = side_field()
    target = StrictFloat(required=True)
    target_date = fields.Date(allow_none=True)
    term = fields.String(validate=validate.OneOf(("short", "long")), load_default="long")
    description = text(300, allow_none=True)

    @validates_schema
    def _catalog(self, data, **_):
        validate_catalog_entry(data, "target")


class GoalSchema(GoalInputSchema):
    """A goal as the API returns it."""

    id = fields.Integer(dump_only=True)
    comparator = fields.Function(lambda g: MEASURES[g.measure].goal_comparator, dump_only=True)
    unit = fields.Function(lambda g: MEASURES[g.measure].unit, dump_only=True)


class PlanInputSchema(InputSchema):
    """A plan of care as entered. ``goals`` replaces the plan's goals when given."""

    start_date = fields.Date(required=True)
    weeks = StrictInteger(required=True, validate=validate.Range(1, 26))
    visits_per_week = StrictInteger(required=True, validate=validate.Range(1, 7))
    diagnosis_code = fields.String(required=True, validate=validate.Regexp(
        ICD10_PATTERN, error="Not an ICD-10 code (e.g. M54.41)."))
    diagnosis = fields.String(attribute="diagnosis_text",
                              validate=validate.Length(min=1, max=200))
    body_region = fields.String(validate=validate.OneOf(BODY_REGIONS), allow_none=True)
    side = fields.String(validate=validate.OneOf(PLAN_SIDES), allow_none=True)
    planned_interventions = intervention_list()
    tracked_measures = fields.List(fields.Nested(TrackedMeasureSchema),
                                   validate=validate.Length(max=40))
    goals = fields.List(fields.Nested(GoalInputSchema), validate=validate.Length(max=20))
    practitioner_id = id_field(metadata={"description": "Owner; defaults to you."})

    def __init__(self, *, plan=None, **kwargs):
        #: The plan being changed, for partial updates checked against its current values.
        self.plan = plan
        super().__init__(**kwargs)

    @validates_schema
    def _consistent(self, data, partial=None, **_):
        errors: dict = {}
        start = data.get("start_date", getattr(self.plan, "start_date", None))
        weeks = data.get("weeks", getattr(self.plan, "weeks", None))
        today = clinic_today()
        if "start_date" in data:
            if start < today - timedelta(days=366):
                errors["start_date"] = ["The plan cannot start more than a year ago."]
            elif start > today + timedelta(days=90):
                errors["start_date"] = ["The plan cannot start more than 90 days ahead."]
        code = data.get("diagnosis_code")
        if code and "diagnosis_text" not in data:  # on create, and when a change names a code
            if code not in ICD10_CODES:
                errors["diagnosis"] = ["Describe the diagnosis (the code is not in the list)."]
        if self.plan is None and not data.get("tracked_measures") and not data.get("goals"):
            errors["tracked_measures"] = ["Track at least one measure (or set a goal)."]
        for key in ("tracked_measures", "goals"):
            seen = set()
            for item in data.get(key) or []:
                pair = (item["measure"], item.get("side"))
                if pair in seen:
                    errors.setdefault(key, []).append(
                        f"{item['measure']}{' ' + pair[1] if pair[1] else ''} is listed twice.")
                seen.add(pair)
        if start is not None and weeks is not None:
            end = start + timedelta(days=weeks * 7 - 1)
            for index, goal in enumerate(data.get("goals") or []):
                target_date = goal.get("target_date")
                if target_date and not start <= target_date <= end:
                    errors.setdefault("goals", {}).setdefault(index, {})["target_date"] = [
                        f"The target date must fall inside the plan ({start} to {end})."]
        if errors:
            raise ValidationError(errors)


class PlanSchema(InputSchema):
    """A plan of care as the API returns it."""

    id = fields.Integer()
    patient_id = fields.Integer()
    practitioner = fields.Nested(UserSummarySchema)
    diagnosis_code = fields.String()
    diagnosis = fields.String(attribute="diagnosis_text")
    body_region = fields.String(allow_none=True)
    side = fields.String(allow_none=True)
    start_date = fields.Date()
    end_date = fields.Date()
    weeks = fields.Integer()
    visits_per_week = fields.Integer()
    planned_visits = fields.Integer()
    planned_interventions = fields.List(fields.String())
    tracked_measures = fields.List(fields.Nested(TrackedMeasureSchema))
    goals = fields.List(fields.Nested(GoalSchema))
    status = fields.String(validate=validate.OneOf(PLAN_STATUSES))
    discharge_date = fields.Date(allow_none=True)
    discharge_reason = fields.String(allow_none=True)
    discharge_note = fields.String(allow_none=True)
    maintenance_since = fields.Date(allow_none=True)
    version = fields.Integer()
    created_at = fields.AwareDateTime()


class PlanUpdateSchema(PlanInputSchema):
    """A partial change of a plan; ``version`` guards against overwriting someone else's edit."""

    status = fields.String(validate=validate.OneOf(("active", "on_hold", "cancelled")))
    version = StrictInteger(metadata={"description": "The version you read; 409 if stale."})


class DischargeSchema(InputSchema):
    """Discharging a plan of care."""

    discharge_date = fields.Date(metadata={"description": "Defaults to today."})
    reason = fields.String(required=True, validate=validate.OneOf(DISCHARGE_REASONS))
    note = text(5000, allow_none=True)
