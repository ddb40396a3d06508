"""Report routes of the JSON API. There is no route that changes or deletes a report."""

from flask import Response, g

from notes_service.api import api_route
from notes_service.reports import services
from notes_service.reports.schemas import (
    ReportInputSchema,
    ReportKindQuerySchema,
    ReportPrefillSchema,
    ReportSchema,
)


@api_route("/plans/<int:plan_id>/reports", "POST",
           summary="Generate and sign a progress report or discharge summary (PDF)",
           tag="reports", body=ReportInputSchema, response=ReportSchema, status=201,
           errors=(401, 403, 404, 409, 422))
def create_report(plan_id, data):
    return services.create_report(g.actor, plan_id, data)


@api_route("/plans/<int:plan_id>/reports/prefill",
           summary="The report form, pre-filled from the latest signed notes", tag="reports",
           query=ReportKindQuerySchema, response=ReportPrefillSchema,
           errors=(401, 403, 404, 409, 422))
def report_prefill(plan_id, query):
    return services.prefill(g.actor, plan_id, query["kind"])


@api_route("/patients/<int:patient_id>/reports", summary="List a patient's reports",
           tag="reports", response=ReportSchema, many=True, errors=(401, 404))
def list_reports(patient_id):
    return services.list_reports(g.actor, patient_id)


@api_route("/reports/<int:report_id>", summary="Read a report's details", tag="reports",
           response=ReportSchema, errors=(401, 404))
def get_report(report_id):
    return services.read_report(g.actor, report_id)


def pdf_response(report) -> Response:
    """The stored PDF, byte for byte, as an attachment; its SHA-256 is the ETag."""
    return Response(report.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{report.filename}"',
        "ETag": f'"{report.sha256}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    })


@api_route("/reports/<int:report_id>.pdf", summary="Download a report's PDF", tag="reports",
           media_type="application/pdf", errors=(401, 404))
def download_report(report_id):
    return pdf_response(services.report_pdf(g.actor, report_id))
