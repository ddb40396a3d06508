"""Schemas of the outcome filters, the figures, the worklist and flag acknowledgements.

The query schemas are shared by the JSON API and the dashboard's filter form, so both refuse
the same input with the same messages.
"""

from __future__ import annotations

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)
from sqlalchemy import select

from notes_service.catalog import INTERVENTIONS, MEASURES, PLAN_STATUSES
from notes_service.extensions import db
from notes_service.outcomes.models import ACK_REASONS
from notes_service.outcomes.services import OutcomeFilters
from notes_service.outcomes.worklist import ACKNOWLEDGEABLE, ITEM_TYPES, WorklistQuery
from notes_service.plans.schemas import check_measure_side
from notes_service.validation import MAX_ID, InputSchema, side_field, text

#: An ICD-10-CM category: letter, digit, digit or A/B ("M54", "G57", "M51").
ICD10_CATEGORY = r"^[A-TV-Z][0-9][0-9AB]$"


def query_id(**kwargs) -> fields.Integer:
    """An id given in a query string (text, so not the strict JSON integer)."""
    return fields.Integer(strict=False, **kwargs,
                          validate=validate.Range(1, MAX_ID, error="Not a valid id."))


def check_practitioner(value: int) -> None:
    """Refuse an id that is not a clinician of the clinic."""
    from notes_service.auth.models import User

    user = db.session.execute(select(User.role, User.practices).where(User.id == value)).first()
    if user is None or not (user.role == "practitioner"
                            or (user.role == "director" and user.practices)):
        raise ValidationError("No practitioner with this id.")


class OutcomeQuerySchema(InputSchema):
    """Filters of the clinic outcome figures (query parameters or the dashboard form)."""

    date_from = fields.Date(metadata={"description": "First day of the period (ISO date)."})
    date_to = fields.Date(metadata={"description": "Last day of the period (ISO date)."})
    practitioner_id = query_id(metadata={"description": "Plans owned by this practitioner."})
    diagnosis = fields.String(validate=validate.Regexp(
        ICD10_CATEGORY, error="Give an ICD-10 category such as M54."),
        metadata={"description": "ICD-10 category of the plan's diagnosis, e.g. M54."})
    intervention = fields.String(validate=validate.OneOf(sorted(INTERVENTIONS)), metadata={
        "description": "Plans that used (or, with intervention_used=false, never used) it."})
    intervention_used = fields.Boolean(load_default=True)
    status = fields.String(validate=validate.OneOf(PLAN_STATUSES))

    @pre_load
    def _normalise(self, data, **_):
        # Empty form fields mean "no filter"; categories are written in capitals.
        data = {k: v for k, v in data.items() if v not in ("", None)}
        if isinstance(data.get("diagnosis"), str):
            data["diagnosis"] = data["diagnosis"].strip().upper()
        return data

    @validates("practitioner_id")
    def _known_practitioner(self, value, **_):
        check_practitioner(value)

    @validates_schema(skip_on_field_errors=False)
    def _consistent(self, data, **_):
        start, end = data.get("date_from"), data.get("date_to")
        if start is not None and end is not None and start > end:
            raise ValidationError("The period ends before it starts.", "date_to")
        if "intervention" not in data and data.get("intervention_used") is False:
            raise ValidationError("Name the intervention this applies to.", "intervention_used")

    @post_load
    def _filters(self, data, **_):
        return OutcomeFilters(**data)


class OutcomeChartQuerySchema(OutcomeQuerySchema):
    """Filters of an outcome chart, plus the measure and the size."""

    measure = fields.String(load_default="pain", validate=validate.OneOf(list(MEASURES)))
    width = fields.Integer(validate=validate.Range(300, 1600), load_default=800)
    height = fields.Integer(validate=validate.Range(200, 1200), load_default=400)

    @post_load
    def _filters(self, data, **_):
        options = {key: data.pop(key) for key in ("measure", "width", "height")}
        return {"filters": OutcomeFilters(**data), **options}


class ShareSchema(Schema):
    """A share of plans: how many of how many, and whether it rests on too few plans."""

    count = fields.Integer()
    plans = fields.Integer(metadata={"description": "Plans the share is taken of."})
    share = fields.Float(allow_none=True, metadata={"description": "0–1; null without plans."})
    low_n = fields.Boolean(metadata={"description": "Fewer plans than min_plans."})


class MedianSchema(Schema):
    """A median over plans."""

    plans = fields.Integer()
    median = fields.Float(allow_none=True)
    low_n = fields.Boolean()


class PlanCountsSchema(Schema):
    """Plans of the cohort."""

    total = fields.Integer()
    started = fields.Integer(metadata={"description": "Started within the period."})
    discharged = fields.Integer(metadata={"description": "Discharged within the period."})
    active = fields.Integer(metadata={"description": "Still active today."})
    on_hold = fields.Integer()
    cancelled = fields.Integer()
    low_n = fields.Boolean()


class VisitsSchema(Schema):
    """Visits per plan against planned visits."""

    plans = fields.Integer()
    median = fields.Float(allow_none=True)
    q1 = fields.Float(allow_none=True)
    q3 = fields.Float(allow_none=True)
    planned_median = fields.Float(allow_none=True)
    low_n = fields.Boolean()


class MeasureFiguresSchema(Schema):
    """Change from baseline to discharge (or latest) of one measure."""

    measure = fields.String()
    label = fields.String()
    unit = fields.String()
    better = fields.String()
    threshold = fields.Float(metadata={"description": "Minimal important change used."})
    plans = fields.Integer(metadata={"description": "Plans with the measure at 2+ visits."})
    low_n = fields.Boolean()
    baseline_mean = fields.Float(allow_none=True)
    latest_mean = fields.Float(allow_none=True)
    mean_change = fields.Float(allow_none=True, metadata={"description": "Positive = better."})
    median_change = fields.Float(allow_none=True)
    q1_change = fields.Float(allow_none=True)
    q3_change = fields.Float(allow_none=True)
    mcid = fields.Nested(ShareSchema)
    goal = fields.Nested(ShareSchema)


class ReasonSchema(Schema):
    reason = fields.String(allow_none=True)
    count = fields.Integer()
    share = fields.Float()


class DischargeReasonsSchema(Schema):
    plans = fields.Integer()
    low_n = fields.Boolean()
    reasons = fields.List(fields.Nested(ReasonSchema))


class GroupFiguresSchema(Schema):
    """The figures of the clinic, or of one practitioner."""

    plans = fields.Nested(PlanCountsSchema)
    visits = fields.Nested(VisitsSchema)
    goals_met = fields.Nested(ShareSchema)
    plateau = fields.Nested(ShareSchema)
    worsening = fields.Nested(ShareSchema)
    retention = fields.Nested(MedianSchema)
    measures = fields.List(fields.Nested(MeasureFiguresSchema))
    discharge_reasons = fields.Nested(DischargeReasonsSchema)


class NamedSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PractitionerFiguresSchema(GroupFiguresSchema):
    practitioner = fields.Nested(NamedSchema)


class FiltersSchema(Schema):
    date_from = fields.Date(allow_none=True)
    date_to = fields.Date(allow_none=True)
    practitioner_id = fields.Integer(allow_none=True)
    diagnosis = fields.String(allow_none=True)
    intervention = fields.String(allow_none=True)
    intervention_used = fields.Boolean()
    status = fields.String(allow_none=True)


class OutcomesSchema(Schema):
    """Clinic outcome figures, clinic-wide and per practitioner."""

    filters = fields.Nested(FiltersSchema)
    min_plans = fields.Integer()
    clinic = fields.Nested(GroupFiguresSchema)
    practitioners = fields.List(fields.Nested(PractitionerFiguresSchema))


class WorklistQuerySchema(InputSchema):
    """Which part of the worklist to show."""

    practitioner_id = query_id(metadata={
        "description": "Directors: one practitioner's items. Practitioners: only their own."})
    type = fields.String(validate=validate.OneOf(ITEM_TYPES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))

    @validates("practitioner_id")
    def _known_practitioner(self, value, **_):
        check_practitioner(value)

    @post_load
    def _query(self, data, **_):
        return WorklistQuery(**data)


class UnsignedCountSchema(Schema):
    practitioner = fields.Nested(NamedSchema)
    count = fields.Integer()


class WorklistCountsSchema(Schema):
    total = fields.Integer()
    by_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    unsigned_by_practitioner = fields.List(fields.Nested(UnsignedCountSchema))


class WorklistItemSchema(Schema):
    """One thing to do."""

    type = fields.String(validate=validate.OneOf(ITEM_TYPES))
    severity = fields.String()
    plan_id = fields.Integer()
    patient = fields.Nested(NamedSchema)
    practitioner = fields.Nested(NamedSchema)
    note_id = fields.Integer(allow_none=True)
    measure = fields.String(allow_none=True)
    side = fields.String(allow_none=True)
    date = fields.Date(metadata={"description": "Visit, plan end or last visit date."})
    since = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When an unsigned draft was created (UTC)."})
    fingerprint = fields.String(allow_none=True, metadata={
        "description": "Plateau/worsening: the situation an acknowledgement holds for."})
    message = fields.String()


class BreakGlassItemSchema(Schema):
    """An open break-glass grant, on the director's worklist."""

    patient = fields.Nested(NamedSchema)
    practitioner = fields.Nested(NamedSchema)
    reason = fields.String()
    granted_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()


class WorklistSchema(Schema):
    """Open items: counts over the whole scope and one page of items."""

    scope = fields.String(validate=validate.OneOf(("clinic", "practitioner")))
    practitioner_id = fields.Integer(allow_none=True)
    counts = fields.Nested(WorklistCountsSchema)
    type = fields.String(allow_none=True)
    limit = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Nested(WorklistItemSchema))
    break_glass = fields.List(fields.Nested(BreakGlassItemSchema), metadata={
        "description": "Directors: open break-glass grants (records read off the care team)."})


class AcknowledgeSchema(InputSchema):
    """Acknowledging an open plateau or worsening flag."""

    code = fields.String(required=True, validate=validate.OneOf(ACKNOWLEDGEABLE))
    measure = fields.String(required=True)
    side = side_field()
    reason = fields.String(required=True, validate=validate.OneOf(ACK_REASONS))
    note = text(500, allow_none=True)

    @validates_schema
    def _catalog(self, data, **_):
        errors: dict = {}
        check_measure_side(data.get("measure"), data.get("side"), errors)
        if errors:
            raise ValidationError(errors)


class AcknowledgementSchema(Schema):
    """A recorded acknowledgement."""

    id = fields.Integer()
    plan_id = fields.Integer()
    code = fields.String()
    measure = fields.String(allow_none=True)
    side = fields.String(allow_none=True)
    reason = fields.String()
    note = fields.String(allow_none=True)
    fingerprint = fields.String()
    user_id = fields.Integer()
    at = fields.AwareDateTime()
