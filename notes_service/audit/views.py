"""The audit report pages of directors: the filtered log and its CSV export."""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for
from marshmallow import ValidationError

from notes_service.audit.report import (
    CSV_HEADER,
    SORT_KEYS,
    AuditQuerySchema,
    audit_csv_rows,
    audit_page,
)
from notes_service.exports import csv_text
from notes_service.extensions import db
from notes_service.web.forms import FormState, map_errors
from notes_service.web.pages import actor, render_page, require_staff

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_staff)

FILTERS = ("user_id", "patient_id", "action", "kind", "outcome", "date_from", "date_to",
           "break_glass", "sort", "per_page")


def _arguments() -> dict:
    return {k: v for k, v in request.args.items() if k in (*FILTERS, "page") and v != ""}


@bp.get("/")
def report():
    """The audit log, filtered by user, patient, action, kind, outcome and dates."""
    arguments = _arguments()
    form = FormState({k: [v] for k, v in arguments.items()})
    try:
        filters = AuditQuerySchema().load(arguments)
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=FILTERS)
        return render_page("audit/report.html", 422, form=form, page=None, args=arguments,
                           sort_keys=SORT_KEYS)
    page = audit_page(actor(), filters)
    return render_page("audit/report.html", form=form, page=page, args=arguments,
                       sort_keys=SORT_KEYS, sort=filters["sort"],
                       csv_url=url_for("audit.report_csv", **{k: v for k, v in arguments.items()
                                                              if k != "page"}))


@bp.get("/export.csv")
def report_csv():
    """The filtered audit log as CSV (every matching row, up to 100 000)."""
    filters = AuditQuerySchema().load(_arguments())
    text = csv_text(CSV_HEADER, audit_csv_rows(actor(), filters))
    db.session.commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="audit-log.csv"'})
