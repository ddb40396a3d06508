"""Schemas of visit notes, measurements, special tests, questionnaires and addenda."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from notes_service.auth.schemas import UserSummarySchema
from notes_service.catalog import (
    PHASES,
    QUESTIONNAIRES,
    SPECIAL_TESTS,
    TEST_RESULTS,
)
from notes_service.clock import clinic_today
from notes_service.plans.schemas import validate_catalog_entry
from notes_service.validation import (
    InputSchema,
    NestedList,
    StrictFloat,
    StrictInteger,
    id_field,
    intervention_list,
    side_field,
    text,
)

NOTE_TEXT = 20_000

#: The plan a visit schema built without one checks against, during :func:`checked_against`.
_PLAN: ContextVar = ContextVar("visit_note_plan", default=None)


@contextmanager
def checked_against(plan) -> Iterator[None]:
    """Check the visit notes loaded in this block against ``plan``, also with a schema built
    once without a plan (building one per request would rebuild its nested schemas)."""
    token = _PLAN.set(plan)
    try:
        yield
    finally:
        _PLAN.reset(token)


class MeasurementInputSchema(InputSchema):
    """A value of a catalog measure; ``phase`` is ``pre`` (before treatment) or ``post``."""

    measure = fields.String(required=True)
    side = side_field()
    phase = fields.String(validate=validate.OneOf(PHASES), load_default="pre")
    value = StrictFloat(required=True)

    @validates_schema
    def _catalog(self, data, **_):
        validate_catalog_entry(data, "value")


class SpecialTestInputSchema(InputSchema):
    """A special test result."""

    test = fields.String(required=True, validate=validate.OneOf(tuple(SPECIAL_TESTS)))
    side = side_field()
    result = fields.String(required=True, validate=validate.OneOf(TEST_RESULTS))
    angle = StrictFloat(allow_none=True, validate=validate.Range(0, 120, error=(
        "The angle at symptom onset must be between 0 and 120 degrees.")))
    phase = fields.String(validate=validate.OneOf(PHASES), load_default="pre")

    @validates_schema
    def _side(self, data, **_):
        test = SPECIAL_TESTS.get(data.get("test"))
        if test is not None and test.sided and data.get("side") is None:
            raise ValidationError({"side": [f"{test.label} is done per side."]})


class PsfsActivitySchema(InputSchema):
    """One activity of the Patient-Specific Functional Scale (0 = unable, 10 = as before)."""

    activity = fields.String(required=True, validate=validate.Length(min=1, max=120))
    score = StrictFloat(required=True, validate=validate.Range(0, 10))


class QuestionnaireInputSchema(InputSchema):
    """A questionnaire given as its items; the score is computed, never typed."""

    instrument = fields.String(required=True, validate=validate.OneOf(tuple(QUESTIONNAIRES)))
    items = fields.List(StrictInteger(allow_none=True), allow_none=True, metadata={
        "description": "ODI: ten items 0–5 (null for an unanswered one); LEFS: twenty 0–4."})
    activities = fields.List(fields.Nested(PsfsActivitySchema), allow_none=True,
                             validate=validate.Length(min=1, max=5),
                             metadata={"description": "PSFS: one to five activities."})

    @validates_schema
    def _items(self, data, **_):
        spec = QUESTIONNAIRES.get(data.get("instrument"))
        if spec is None:
            return
        if spec.code == "psfs":
            if not data.get("activities"):
                raise ValidationError({"activities": ["List one to five activities."]})
            if data.get("items"):
                raise ValidationError({"items": ["The PSFS is scored from its activities."]})
            return
        items = data.get("items")
        if data.get("activities"):
            raise ValidationError({"activities": [f"Only the PSFS has activities."]})
        if items is None or len(items) != spec.item_count:
            raise ValidationError({"items": [f"The {spec.label} has {spec.item_count} items."]})
        bad = [i + 1 for i, v in enumerate(items)
               if v is not None and not spec.item_min <= v <= spec.item_max]
        if bad:
            raise ValidationError({"items": [
                f"Item {', '.join(map(str, bad))}: answers run from {spec.item_min} to "
                f"{spec.item_max}."]})
        missing = sum(v is None for v in items)
        if spec.code == "lefs" and missing:
            raise ValidationError({"items": ["Every LEFS item needs an answer."]})
        if spec.code == "odi" and missing > 1:
            raise ValidationError({"items": [
                "With more than one ODI item unanswered there is no valid score."]})


class VisitInputSchema(InputSchema):
    """A visit note as entered. Checked against its plan: the visit date lies inside it."""

    visit_date = fields.Date(required=True)
    subjective = text(NOTE_TEXT)
    objective = text(NOTE_TEXT)
    assessment = text(NOTE_TEXT)
    plan = text(NOTE_TEXT, attribute="plan_text")
    interventions = intervention_list()
    home_programme = text(NOTE_TEXT)
    measurements = NestedList(MeasurementInputSchema, validate=validate.Length(max=200))
    special_tests = NestedList(SpecialTestInputSchema, validate=validate.Length(max=40))
    questionnaires = NestedList(QuestionnaireInputSchema, validate=validate.Length(max=3))
    copied_from_id = id_field(allow_none=True, metadata={
        "description": "The earlier note this draft's text was copied forward from."})

    def __init__(self, *, plan=None, **kwargs):
        #: The plan of care the note belongs to; None when documenting the schema, or when the
        #: schema is built once and each load names its plan (:func:`checked_against`).
        self.plan = plan
        super().__init__(**kwargs)

    @validates_schema
    def _inside_plan(self, data, **_):
        plan = self.plan if self.plan is not None else _PLAN.get()
        if plan is None:
            raise ValidationError("A visit note is checked against its plan of care.")
        errors: dict = {}
        day = data.get("visit_date")
        if day is not None:
            if day < plan.start_date:
                errors["visit_date"] = [
                    f"The visit date is before the plan of care starts ({plan.start_date})."]
            elif day > clinic_today():
                errors["visit_date"] = ["The visit date cannot be in the future."]
            elif day > plan.end_date:
                errors["visit_date"] = [
                    f"The plan of care ended on {plan.end_date}: extend or re-certify it "
                    "before documenting this visit."]
        seen = set()
        for item in data.get("measurements") or []:
            key = (item["measure"], item.get("side"), item["phase"])
            if key in seen:
                errors.setdefault("measurements", []).append(
                    f"{item['measure']} {item.get('side') or ''} {item['phase']} is given twice."
                    .replace("  ", " "))
            seen.add(key)
        instruments = [q["instrument"] for q in data.get("questionnaires") or []]
        for code in set(instruments):
            if instruments.count(code) > 1:
                errors.setdefault("questionnaires", []).append(f"{code} is given twice.")
            if (code, None, "pre") in seen:
                errors.setdefault("measurements", []).append(
                    f"{code} is scored from its questionnaire; do not also enter it as a value.")
        if errors:
            raise ValidationError(errors)


class VisitUpdateSchema(VisitInputSchema):
    """A change to a draft note; ``version`` must be the version you read."""

    version = StrictInteger(required=True)


class SignSchema(InputSchema):
    """Signing a draft (``version`` optional; when given it must be current)."""

    version = StrictInteger()


class AddendumInputSchema(InputSchema):
    """An addendum's text."""

    text = fields.String(required=True, validate=validate.Length(
        min=1, max=5000, error="Write between 1 and 5000 characters."))

    @validates("text")
    def _not_blank(self, value, **_):
        if not value.strip():
            raise ValidationError("Write between 1 and 5000 characters.")


class MeasurementSchema(MeasurementInputSchema):
    """A measurement as the API returns it."""


class SpecialTestSchema(SpecialTestInputSchema):
    """A special test result as the API returns it."""


class QuestionnaireSchema(InputSchema):
    """A questionnaire as the API returns it, with its computed score."""

    instrument = fields.String()
    items = fields.Method("_items", allow_none=True)
    activities = fields.Method("_activities", allow_none=True)
    score = fields.Float(allow_none=True)

    def _items(self, obj):
        return None if obj.instrument == "psfs" else obj.items

    def _activities(self, obj):
        return obj.items if obj.instrument == "psfs" else None


class AddendumSchema(InputSchema):
    """An addendum as the API returns it."""

    id = fields.Integer()
    author = fields.Nested(UserSummarySchema)
    created_at = fields.AwareDateTime()
    text = fields.String()


class VisitSchema(InputSchema):
    """A visit note as the API returns it."""

    id = fields.Integer()
    plan_id = fields.Integer()
    patient_id = fields.Integer()
    visit_date = fields.Date()
    author = fields.Nested(UserSummarySchema)
    subjective = fields.String()
    objective = fields.String()
    assessment = fields.String(allow_none=True, metadata={
        "description": "Null for patient users unless the clinic shares assessments "
                       "(PORTAL_SHOWS_ASSESSMENT)."})
    plan = fields.String(attribute="plan_text")
    interventions = fields.List(fields.String())
    home_programme = fields.String()
    measurements = fields.List(fields.Nested(MeasurementSchema))
    special_tests = fields.List(fields.Nested(SpecialTestSchema))
    questionnaires = fields.List(fields.Nested(QuestionnaireSchema))
    status = fields.String(validate=validate.OneOf(("draft", "signed")))
    signed_by = fields.Nested(UserSummarySchema, allow_none=True)
    signed_at = fields.AwareDateTime(allow_none=True)
    addenda = fields.List(fields.Nested(AddendumSchema))
    copied_from_id = fields.Integer(allow_none=True)
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PatientVisitSchema(VisitSchema):
    """A visit note as a patient reads it where the clinic keeps assessments to clinicians:
    the same contract, with ``assessment`` null."""

    assessment = fields.Constant(None, allow_none=True)
