"""Schemas of progress answers and chart requests."""

from marshmallow import Schema, fields, validate

from notes_service.catalog import SIDES
from notes_service.validation import InputSchema


class PointSchema(Schema):
    """One visit's values: before (``pre``) and after (``post``) treatment."""

    date = fields.Date(attribute="day")
    pre = fields.Float(allow_none=True)
    post = fields.Float(allow_none=True)


class MeasureProgressSchema(Schema):
    """Progress of one measure (and side) over the plan."""

    measure = fields.String()
    side = fields.String(allow_none=True)
    label = fields.String()
    unit = fields.String()
    better = fields.String()
    threshold = fields.Float()
    status = fields.String(validate=validate.OneOf(
        ("goal_met", "insufficient_data", "improving", "worsening", "plateau")))
    baseline = fields.Float(allow_none=True)
    latest = fields.Float(allow_none=True)
    change = fields.Float(allow_none=True, metadata={
        "description": "Change over the window, positive = better."})
    window_start = fields.Date(allow_none=True)
    window_end = fields.Date(allow_none=True)
    goal = fields.Float(attribute="goal_target", allow_none=True)
    goal_met = fields.Boolean(allow_none=True)
    within_visit_change = fields.Float(allow_none=True, metadata={
        "description": "Median improvement post − pre within a visit, positive = better."})
    retention = fields.Float(allow_none=True, metadata={
        "description": "Median % of a within-visit gain still present at the next visit."})
    projected = fields.Float(allow_none=True)
    projected_on = fields.Date(allow_none=True)
    points = fields.List(fields.Nested(PointSchema))
    explanation = fields.String()


class FlagSchema(Schema):
    """A flag of the plan, with its plain-language message."""

    code = fields.String()
    severity = fields.String(validate=validate.OneOf(("high", "medium", "low")))
    measure = fields.String(allow_none=True)
    side = fields.String(allow_none=True)
    message = fields.String()


class ProgressSchema(Schema):
    """A plan's progress: every tracked measure and the flags."""

    plan_id = fields.Integer()
    measures = fields.List(fields.Nested(MeasureProgressSchema))
    flags = fields.List(fields.Nested(FlagSchema))


class ChartQuerySchema(InputSchema):
    """Options of a chart."""

    side = fields.String(validate=validate.OneOf(SIDES))
    width = fields.Integer(validate=validate.Range(300, 1600), load_default=800)
    height = fields.Integer(validate=validate.Range(200, 1200), load_default=400)


class OverviewQuerySchema(InputSchema):
    """Options of the overview chart."""

    width = fields.Integer(validate=validate.Range(300, 1600), load_default=900)


class MaintenanceSchema(InputSchema):
    """Moving a plateaued plan to a maintenance plan."""

    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
