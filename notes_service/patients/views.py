"""Patient pages: the list, registering a patient, the patient page and demographics."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from marshmallow import ValidationError

from notes_service.access import on_care_team
from notes_service.extensions import db
from notes_service.patients.models import SEXES
from notes_service.patients.schemas import PatientInputSchema
from notes_service.patients.services import (
    create_patient,
    list_patients,
    read_patient,
    update_patient,
)
from notes_service.plans.services import list_plans
from notes_service.progress.views import progress_context
from notes_service.reports.services import list_reports
from notes_service.web.forms import FormState, map_errors
from notes_service.web.pages import actor, render_page, require_staff
from notes_service.web.queries import (
    clinic_rows,
    first_values,
    latest_values,
    patient_notes,
    plan_week,
)

bp = Blueprint("patients", __name__, url_prefix="/patients")
bp.before_request(require_staff)

FIELDS = ("given_name", "family_name", "birth_date", "sex", "mrn", "phone", "email")
_REQUIRED = ("given_name", "family_name", "birth_date")


def patient_payload(form: FormState) -> dict:
    """Schema input from the form: blank required fields are missing, blank optional ones null."""
    data: dict = {}
    for name in FIELDS:
        value = form.get(name).strip()
        if value:
            data[name] = value
        elif name not in _REQUIRED and name != "sex":
            data[name] = None
    return data


def _form_page(form: FormState, patient=None, status: int = 200):
    return render_page("patients/form.html", status, form=form, patient=patient, sexes=SEXES)


@bp.get("/")
def index():
    """The patients the user may see, with a name or MRN search."""
    query = request.args.get("q", "").strip()[:80]
    patients = list_patients(actor(), query or None)
    return render_page("patients/index.html", rows=clinic_rows(actor(), patients), q=query)


@bp.route("/new", methods=["GET", "POST"])
def create():
    """Register a patient; the registering clinician joins the care team."""
    if actor().role not in ("practitioner", "director"):
        abort(403)
    if request.method == "GET":
        return _form_page(FormState.from_mapping({"sex": "unknown"}))
    form = FormState.from_request()
    try:
        data = PatientInputSchema().load(patient_payload(form))
        patient = create_patient(actor(), data)
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=FIELDS)
        return _form_page(form, status=422)
    db.session.commit()
    flash(f"{patient.full_name} was registered.", "success")
    return redirect(url_for("patients.detail", patient_id=patient.id))


@bp.get("/<int:patient_id>")
def detail(patient_id: int):
    """Demographics, care team, plans of care with goals, and the visit history."""
    user = actor()
    patient = read_patient(user, patient_id)
    plans = list_plans(user, patient.id)
    notes = patient_notes(user, patient.id)
    can_write = user.is_clinician and on_care_team(user, patient.id)
    counts: dict[int, int] = {}
    last_visit: dict[int, object] = {}
    for note in notes:
        counts[note.plan_id] = counts.get(note.plan_id, 0) + 1
        last_visit.setdefault(note.plan_id, note.visit_date)
    active = next((p for p in plans if p.status == "active"), None)
    return render_page(
        "patients/detail.html", patient=patient, plans=plans, notes=notes, active=active,
        plans_by_id={p.id: p for p in plans}, counts=counts, last_visit=last_visit,
        latest=latest_values(notes), baseline=first_values(notes), can_write=can_write,
        weeks={p.id: plan_week(p) for p in plans}, reports=list_reports(user, patient.id),
        **progress_context(plans, focus=active))


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int):
    """Change a patient's demographics."""
    patient = read_patient(actor(), patient_id)
    if request.method == "GET":
        form = FormState.from_mapping({name: getattr(patient, name) for name in FIELDS})
        form.set("birth_date", patient.birth_date.isoformat())
        return _form_page(form, patient)
    form = FormState.from_request()
    try:
        data = PatientInputSchema().load(patient_payload(form))
        update_patient(actor(), patient.id, data)
    except ValidationError as exc:  # raised before anything changed
        map_errors(form, exc.messages, fields=FIELDS)
        return _form_page(form, patient, 422)
    db.session.commit()
    flash("Demographics saved.", "success")
    return redirect(url_for("patients.detail", patient_id=patient.id))
