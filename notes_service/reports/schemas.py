"""Schemas of progress reports: the form, the stored report, the pre-filled form."""

from marshmallow import Schema, fields, validate

from notes_service.auth.schemas import UserSummarySchema
from notes_service.catalog import DISCHARGE_REASONS
from notes_service.reports.models import REPORT_KINDS
from notes_service.validation import InputSchema, id_field, text

REPORT_TEXT = 20_000


class ReportKindQuerySchema(InputSchema):
    """Which report the form is for."""

    kind = fields.String(validate=validate.OneOf(REPORT_KINDS), load_default="progress")


class ReportInputSchema(InputSchema):
    """A report as the practitioner writes it; the rest comes from the record."""

    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    period_start = fields.Date(metadata={
        "description": "Defaults to the day after the last report's period, else the plan start."})
    period_end = fields.Date(metadata={
        "description": "Defaults to today (discharge summaries: the discharge date)."})
    assessment = fields.String(required=True, validate=validate.Length(min=1, max=REPORT_TEXT))
    plan = fields.String(required=True, validate=validate.Length(min=1, max=REPORT_TEXT))
    home_programme = text(REPORT_TEXT, allow_none=True, metadata={
        "description": "Discharge summaries; defaults to the latest signed note's."})
    corrects_id = id_field(allow_none=True, metadata={
        "description": "The earlier report of the plan this one corrects."})


class ReportSchema(Schema):
    """A stored report (its PDF is downloaded separately)."""

    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(REPORT_KINDS))
    title = fields.String()
    plan_id = fields.Integer()
    patient_id = fields.Integer()
    period_start = fields.Date()
    period_end = fields.Date()
    visits_in_period = fields.Integer()
    visits_attended = fields.Integer()
    visits_planned = fields.Integer()
    signed_by = fields.Nested(UserSummarySchema)
    signed_at = fields.AwareDateTime()
    assessment = fields.String()
    plan = fields.String(attribute="plan_text")
    discharge_reason = fields.String(allow_none=True,
                                     validate=validate.OneOf(DISCHARGE_REASONS))
    home_programme = fields.String(allow_none=True)
    corrects_id = fields.Integer(allow_none=True)
    pdf_size = fields.Integer(metadata={"description": "Bytes."})
    sha256 = fields.String(metadata={"description": "SHA-256 of the PDF, hex."})
    pdf_url = fields.Function(lambda r: f"/api/v1/reports/{r.id}.pdf")


class ReportPrefillSchema(Schema):
    """The report form, pre-filled from the latest signed notes."""

    kind = fields.String()
    plan_id = fields.Integer()
    period_start = fields.Date()
    period_end = fields.Date()
    assessment = fields.String()
    plan = fields.String()
    home_programme = fields.String(allow_none=True)
    discharge_reason = fields.String(allow_none=True)
    visits_in_period = fields.Integer()
    drafts_in_period = fields.List(fields.Date(), metadata={
        "description": "Visit dates of unsigned notes: sign them before writing the report."})
    last_report_id = fields.Integer(allow_none=True)
