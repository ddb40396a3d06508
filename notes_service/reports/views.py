"""Report pages: write a progress report or discharge summary from a form pre-filled from the
latest signed notes, and the signed-in download of a stored report (listed by
``templates/reports/_list.html`` on the patient and plan pages).

A report is signed when it is written: the form says so before, and nothing changes it after.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from notes_service.errors import Conflict
from notes_service.extensions import db, login_manager
from notes_service.patients.services import read_patient
from notes_service.plans.services import read_plan
from notes_service.reports import services
from notes_service.reports.api import pdf_response
from notes_service.reports.schemas import ReportInputSchema, ReportKindQuerySchema
from notes_service.visits.services import list_visits
from notes_service.web.forms import FormState, clean_text, map_errors, parse_integer
from notes_service.web.pages import actor, render_page, require_staff

bp = Blueprint("reports", __name__)

FIELDS = ("period_start", "period_end", "assessment", "plan", "home_programme", "corrects_id")
TITLES = {"progress": "Progress report", "discharge": "Discharge summary"}


@bp.get("/reports/<int:report_id>.pdf")
def download(report_id: int):
    """The stored PDF, byte for byte; audited as an export (404 outside the user's scope)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    g.actor = current_user._get_current_object()
    response = pdf_response(services.report_pdf(g.actor, report_id))
    db.session.commit()  # the audit row of the download
    return response


def report_kind_for(plan) -> str | None:
    """The report a plan's status calls for (None for a cancelled plan)."""
    if plan.status == "discharged":
        return "discharge"
    return None if plan.status == "cancelled" else "progress"


def report_links_for(plans, reports, can_write: bool) -> list[tuple[str, str, str]]:
    """Report forms a patient page offers: (url, label, diagnosis code) per plan.

    An open plan offers a progress report; a discharged plan without a discharge summary yet
    offers one.
    """
    if not can_write:
        return []
    summarised = {r.plan_id for r in reports if r.kind == "discharge"}
    links = []
    for plan in plans:
        if plan.status in ("active", "on_hold"):
            links.append((url_for("reports.create", plan_id=plan.id, kind="progress"),
                          "Write progress report", plan.diagnosis_code))
        elif plan.status == "discharged" and plan.id not in summarised:
            links.append((url_for("reports.create", plan_id=plan.id, kind="discharge"),
                          "Write discharge summary", plan.diagnosis_code))
    return links


def report_payload(form: FormState, kind: str) -> dict:
    """Schema input from the form: blank optional fields are left out."""
    data: dict = {"kind": kind, "assessment": clean_text(form.get("assessment")).strip(),
                  "plan": clean_text(form.get("plan")).strip()}
    for name in ("period_start", "period_end"):
        if form.get(name).strip():
            data[name] = form.get(name).strip()
    if kind == "discharge" and form.get("home_programme").strip():
        data["home_programme"] = clean_text(form.get("home_programme")).strip()
    if form.get("corrects_id").strip():
        data["corrects_id"] = parse_integer(form.get("corrects_id"))
    return data


def _form_from(prefill: dict) -> FormState:
    return FormState.from_mapping({
        "period_start": prefill["period_start"].isoformat(),
        "period_end": prefill["period_end"].isoformat(),
        "assessment": prefill["assessment"], "plan": prefill["plan"],
        "home_programme": prefill["home_programme"]})


@bp.route("/plans/<int:plan_id>/reports/new", methods=["GET", "POST"])
def create(plan_id: int):
    """Write and sign a progress report (``?kind=progress``) or discharge summary."""
    refused = require_staff()
    if refused is not None:
        return refused
    user = actor()
    kind = ReportKindQuerySchema().load({"kind": request.args.get("kind", "progress")})["kind"]
    plan = read_plan(user, plan_id)
    patient = read_patient(user, plan.patient_id)
    prefill = services.prefill(user, plan.id, kind)  # 403 off the care team, 409 wrong kind
    status = 200
    if request.method == "GET":
        form = _form_from(prefill)
    else:
        form = FormState.from_request()
        try:
            data = ReportInputSchema().load(report_payload(form, kind))
            report = services.create_report(user, plan.id, data)
        except ValidationError as exc:
            db.session.rollback()
            map_errors(form, exc.messages, fields=FIELDS)
            status = 422
        except Conflict as exc:
            db.session.rollback()
            form.error("_form", exc.message)
            status = 409
        else:
            db.session.commit()
            flash(f"{report.title} no. {report.id} signed and stored as a PDF. It can no longer "
                  "be changed: a correction is a new report.", "success")
            return redirect(url_for("patients.detail", patient_id=patient.id,
                                    _anchor="reports-title"))
        # the page again after a rollback: reload what it shows
        plan = read_plan(user, plan_id)
        patient = read_patient(user, plan.patient_id)
        prefill = services.prefill(user, plan.id, kind)
    period = (prefill["period_start"], prefill["period_end"])
    drafts = [n for n in list_visits(user, plan.id) if not n.is_signed
              and period[0] <= n.visit_date <= period[1]]
    return render_page("reports/form.html", status, form=form, plan=plan, patient=patient,
                       kind=kind, title=TITLES[kind], prefill=prefill, drafts=drafts)
