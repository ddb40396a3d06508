"""Plan-of-care pages: start a plan, the plan with its flow sheet, edit it, discharge it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from marshmallow import ValidationError

from notes_service.access import on_care_team, require_clinical_write
from notes_service.catalog import (
    BODY_REGIONS,
    DISCHARGE_REASONS,
    ICD10_CODES,
    INTERVENTIONS,
    MEASURES,
    PLAN_SIDES,
)
from notes_service.clock import clinic_today
from notes_service.errors import Conflict
from notes_service.extensions import db
from notes_service.patients.services import read_patient
from notes_service.plans.schemas import (
    DischargeSchema,
    PlanInputSchema,
    PlanSchema,
    PlanUpdateSchema,
)
from notes_service.plans.services import create_plan, discharge_plan, read_plan, update_plan
from notes_service.progress.views import progress_context
from notes_service.reports.services import list_reports
from notes_service.visits.services import list_visits
from notes_service.web.forms import FormState, map_errors
from notes_service.web.pages import actor, render_page, require_staff
from notes_service.web.plan_form import (
    FIELDS,
    ROWS,
    changed_fields,
    new_plan_form,
    plan_form,
    plan_payload,
)
from notes_service.web.queries import next_expected_visit, plan_week

bp = Blueprint("plans", __name__)
bp.before_request(require_staff)

EDITABLE_STATUSES = ("active", "on_hold", "cancelled")


def _form_page(form: FormState, patient, plan=None, status: int = 200, stale=None):
    return render_page("plans/form.html", status, form=form, patient=patient, plan=plan,
                       rows=ROWS, icd10=ICD10_CODES, sides=PLAN_SIDES, regions=BODY_REGIONS,
                       interventions=INTERVENTIONS, statuses=EDITABLE_STATUSES, stale=stale)


@bp.route("/patients/<int:patient_id>/plans/new", methods=["GET", "POST"])
def create(patient_id: int):
    """Start a plan of care: diagnosis, dates and frequency, measures, goals, interventions."""
    user = actor()
    patient = read_patient(user, patient_id)
    require_clinical_write(user, patient.id)
    if request.method == "GET":
        return _form_page(new_plan_form(), patient)
    form = FormState.from_request()
    data, locate = plan_payload(form, editing=False)
    try:
        loaded = PlanInputSchema().load(data)
        plan = create_plan(user, patient.id, loaded)
    except ValidationError as exc:
        map_errors(form, exc.messages, locate, fields=(*FIELDS, "goals", "track"))
        return _form_page(form, patient, status=422)
    db.session.commit()
    flash(f"Plan of care {plan.diagnosis_code} started: {plan.weeks} weeks, "
          f"{plan.visits_per_week} visits a week.", "success")
    return redirect(url_for("patients.detail", patient_id=patient.id))


@bp.get("/plans/<int:plan_id>")
def detail(plan_id: int):
    """The plan: goals with baseline and latest values, and its flow sheet of every visit."""
    user = actor()
    plan = read_plan(user, plan_id)
    patient = read_patient(user, plan.patient_id)
    notes = list_visits(user, plan.id)
    keys = list(plan.tracked_keys)
    order = list(MEASURES)
    for note in notes:
        for m in note.measurements:
            if (m.measure, m.side) not in keys and m.measure in MEASURES:
                keys.append((m.measure, m.side))
    keys.sort(key=lambda k: (order.index(k[0]), k[1] or ""))
    cells: dict[tuple, dict[str, float]] = {}
    for note in notes:
        for m in note.measurements:
            cells.setdefault((note.id, m.measure, m.side), {})[m.phase] = m.value
    first: dict[tuple, float] = {}
    latest: dict[tuple, tuple[float, object]] = {}
    for note in notes:
        for m in note.measurements:
            if m.phase == "pre":
                first.setdefault((m.measure, m.side), m.value)
                latest[(m.measure, m.side)] = (m.value, note.visit_date)
    last_visit = notes[-1].visit_date if notes else None
    reports = [r for r in list_reports(user, plan.patient_id) if r.plan_id == plan.id]
    return render_page(
        "plans/detail.html", plan=plan, patient=patient, notes=notes, keys=keys, cells=cells,
        first=first, latest=latest, week=plan_week(plan),
        next_visit=next_expected_visit(plan, last_visit), last_visit=last_visit,
        can_write=user.is_clinician and on_care_team(user, plan.patient_id), reports=reports,
        maintenance_form=FormState(), **progress_context([plan], focus=plan))


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
def edit(plan_id: int):
    """Change an open plan; a stale edit keeps the user's values and shows what differs."""
    user = actor()
    plan = read_plan(user, plan_id)
    require_clinical_write(user, plan.patient_id)
    patient = read_patient(user, plan.patient_id)
    if plan.status not in ("active", "on_hold"):
        flash(f"The plan is {plan.status.replace('_', ' ')}; it can no longer be changed.",
              "warning")
        return redirect(url_for("plans.detail", plan_id=plan.id))
    if request.method == "GET":
        return _form_page(plan_form(plan), patient, plan)
    form = FormState.from_request()
    data, locate = plan_payload(form, editing=True)
    try:
        loaded = PlanUpdateSchema(plan=plan, partial=True).load(data)
        plan = update_plan(user, plan.id, loaded, dump=PlanSchema().dump)
    except ValidationError as exc:
        map_errors(form, exc.messages, locate, fields=(*FIELDS, "goals", "track"))
        return _form_page(form, patient, plan, 422)
    except Conflict as exc:
        if "version" not in exc.payload:
            raise
        db.session.rollback()
        stored = read_plan(user, plan_id)
        patient = read_patient(user, stored.patient_id)
        differs = changed_fields(form, plan_form(stored))
        form.set("version", str(stored.version))
        form.error("_form", exc.message)
        return _form_page(form, patient, stored, 409, stale={"plan": stored, "fields": differs})
    db.session.commit()
    flash("Plan of care saved.", "success")
    return redirect(url_for("plans.detail", plan_id=plan.id))


@bp.route("/plans/<int:plan_id>/discharge", methods=["GET", "POST"])
def discharge(plan_id: int):
    """Discharge a plan with a reason (and date, and an optional summary)."""
    user = actor()
    plan = read_plan(user, plan_id)
    require_clinical_write(user, plan.patient_id)
    patient = read_patient(user, plan.patient_id)
    if plan.status in ("discharged", "cancelled"):
        flash(f"The plan is already {plan.status}.", "warning")
        return redirect(url_for("plans.detail", plan_id=plan.id))
    if request.method == "GET":
        form = FormState.from_mapping({"discharge_date": clinic_today().isoformat()})
        return render_page("plans/discharge.html", form=form, plan=plan, patient=patient,
                           reasons=DISCHARGE_REASONS)
    form = FormState.from_request()
    data: dict = {"note": form.get("note").strip() or None}
    if form.get("reason"):
        data["reason"] = form.get("reason")
    if form.get("discharge_date").strip():
        data["discharge_date"] = form.get("discharge_date").strip()
    try:
        discharge_plan(user, plan.id, DischargeSchema().load(data))
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=("discharge_date", "reason", "note"))
        return render_page("plans/discharge.html", 422, form=form, plan=plan, patient=patient,
                           reasons=DISCHARGE_REASONS)
    db.session.commit()
    flash(f"{patient.full_name} was discharged from plan {plan.diagnosis_code}.", "success")
    return redirect(url_for("patients.detail", patient_id=patient.id))
