"""The director's outcomes dashboard and the compliance worklist (HTML pages).

The pages call the same services as the JSON API and read their filters with the same schemas,
so the dashboard shows the API's figures and refuses the same input with the same messages.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from notes_service.auth.models import User
from notes_service.catalog import INTERVENTIONS, PLAN_STATUSES
from notes_service.errors import Conflict
from notes_service.extensions import db
from notes_service.outcomes import exports, services, worklist
from notes_service.outcomes.models import ACK_REASONS
from notes_service.outcomes.schemas import (
    AcknowledgeSchema,
    OutcomeChartQuerySchema,
    OutcomeQuerySchema,
    WorklistQuerySchema,
)
from notes_service.web.forms import FormState, map_errors, safe_next
from notes_service.web.pages import actor, render_page, require_staff

bp = Blueprint("outcomes", __name__)
bp.before_request(require_staff)

CHARTS = (("change", "pain"), ("mcid_by_month", "pain"), ("visits", "pain"))
FILTER_FIELDS = ("date_from", "date_to", "practitioner_id", "diagnosis", "intervention",
                 "intervention_used", "status")
WORKLIST_PAGE = 50


def _clinicians() -> list[tuple[str, str]]:
    return [(str(uid), name) for uid, name in db.session.execute(
        select(User.id, User.name).where(
            (User.role == "practitioner") | ((User.role == "director") & User.practices))
        .order_by(User.name)).all()]


def _filters_from_request():
    """Load the filters of the query string; on error, the form with messages beside fields."""
    args = request.args.to_dict()
    form = FormState.from_mapping(args)
    try:
        return OutcomeQuerySchema().load(args), form
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=FILTER_FIELDS)
        return None, form


def _query_string(filters) -> dict:
    """The filters as query parameters for links (charts, CSV files)."""
    values = filters.params()
    if filters.intervention is not None and not filters.intervention_used:
        values["intervention_used"] = "false"
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}


@bp.get("/outcomes")
def dashboard():
    """Clinic outcome figures with filters, the per-practitioner table and charts."""
    filters, form = _filters_from_request()
    context = {"form": form, "clinicians": _clinicians(), "statuses": PLAN_STATUSES,
               "intervention_options": [(code, label)
                                        for code, (label, _) in INTERVENTIONS.items()]}
    if filters is None:
        services.require_director(actor())
        return render_page("outcomes/dashboard.html", 422, figures=None, **context)
    figures = services.clinic_outcomes(actor(), filters)
    charts = [services.chart_data(filters, name, measure) for name, measure in CHARTS]
    return render_page("outcomes/dashboard.html", figures=figures, charts=charts,
                       query=_query_string(filters), **context)


@bp.get("/outcomes/charts/<any(change, mcid_by_month, visits):name>.<any(png, svg):fmt>")
def chart(name, fmt):
    """One outcome chart for the dashboard (the filters of the page's query string)."""
    try:
        options = OutcomeChartQuerySchema().load(request.args.to_dict())
    except ValidationError:
        return Response("Invalid chart options.", 422, mimetype="text/plain")
    image = services.outcome_chart(actor(), name, fmt, **options)
    db.session.commit()
    return Response(image, mimetype={"png": "image/png", "svg": "image/svg+xml"}[fmt],
                    headers={"Cache-Control": "private, no-store"})


def _csv(text: str, filename: str) -> Response:
    db.session.commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@bp.get("/outcomes/practitioners.csv")
def table_csv():
    """The per-practitioner table as CSV."""
    filters = OutcomeQuerySchema().load(request.args.to_dict())
    figures = services.clinic_outcomes(actor(), filters)
    return _csv(exports.practitioner_table_csv(figures), "outcomes-by-practitioner.csv")


@bp.get("/outcomes/plans.csv")
def plans_csv():
    """The de-identified plan-level outcome file as CSV."""
    from notes_service.audit.services import record

    filters = OutcomeQuerySchema().load(request.args.to_dict())
    services.require_director(actor())
    services.ensure_current_for(filters)
    text, count = exports.deidentified_plans_csv(filters,
                                                 current_app.config["PROGRESS_THRESHOLDS"])
    record(actor(), "export", "outcomes",
           detail=f"de-identified plans ({count}) {filters.describe()}")
    return _csv(text, "outcomes-plans-deidentified.csv")


@bp.get("/worklist")
def worklist_page():
    """Open compliance items: the clinic for a director, the own caseload for a practitioner."""
    user = actor()
    args = {k: v for k, v in request.args.items() if v != ""}
    args.setdefault("limit", str(WORKLIST_PAGE))
    form = FormState.from_mapping(args)
    try:
        query = WorklistQuerySchema().load(args)
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=("type", "practitioner_id", "offset", "limit"))
        return render_page("outcomes/worklist.html", 422, result=None, form=form,
                           clinicians=_clinicians(), reasons=ACK_REASONS,
                           types=worklist.ITEM_TYPES, acknowledgeable=(), query=None)
    result = worklist.worklist_for(user, query)
    return render_page("outcomes/worklist.html", result=result, form=form,
                       clinicians=_clinicians(), reasons=ACK_REASONS, types=worklist.ITEM_TYPES,
                       acknowledgeable=worklist.ACKNOWLEDGEABLE, query=query)


@bp.post("/worklist/acknowledge")
def acknowledge():
    """Acknowledge a plateau or worsening flag from the worklist, then go back to it."""
    back = safe_next(request.form.get("next")) or url_for("outcomes.worklist_page")
    try:
        plan_id = int(request.form.get("plan_id", ""))
        data = AcknowledgeSchema().load({
            key: request.form[key] for key in ("code", "measure", "side", "reason", "note")
            if request.form.get(key)})
        worklist.acknowledge_flag(actor(), plan_id, data)
    except (ValueError, ValidationError) as exc:
        messages = (exc.messages if isinstance(exc, ValidationError)
                    else {"plan": ["not a valid plan"]})
        flash("Not acknowledged: " + "; ".join(
            f"{field.replace('_', ' ')}: {' '.join(map(str, text))}"
            for field, text in messages.items()), "error")
        db.session.rollback()
        return redirect(back)
    except Conflict as exc:
        db.session.rollback()
        flash(f"Not acknowledged: {exc.message}", "warning")
        return redirect(back)
    db.session.commit()
    flash("Flag acknowledged. It leaves the worklist until a new value changes the picture.",
          "success")
    return redirect(back)
