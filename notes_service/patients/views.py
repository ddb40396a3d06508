"""Patient pages: the list, registering a patient, the patient page and demographics."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from marshmallow import ValidationError

from notes_service.catalog import MEASURES
from notes_service.clock import clinic_today
from notes_service.extensions import db
from notes_service.patients.models import SEXES
from notes_service.patients.schemas import PatientInputSchema
from notes_service.patients.services import (
    create_patient,
    list_patients,
    read_patient,
    update_patient,
)
from notes_service.progress.views import focus_context, progress_context
from notes_service.web.forms import FormState, map_errors
from notes_service.web.fragments import (
    Fragment,
    Same,
    render_fragment,
    render_in_layout,
    row_key,
)
from notes_service.web.pages import actor, render_page, require_staff
from notes_service.web.queries import (
    NoteRow,
    PatientPage,
    VisitHistory,
    clinic_rows,
    patient_page,
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
    """Demographics, care team, plans of care with goals, and the visit history.

    Every read runs (scoped and audited) on every request; what they found is the key of the
    page's cached HTML (:func:`content_key`), so the page renders again only when something it
    shows changed, the day changed, or the viewer's role or write right differ.
    """
    user = actor()
    today = clinic_today()
    page = patient_page(user, patient_id, today=today)
    patient, plans, history = page.patient, page.plans, page.history
    can_write = user.is_clinician and any(member.id == user.id for member in page.care_team)
    active = next((p for p in plans if p.status == "active"), None)
    progress = progress_context(plans, focus=active, panels=False,
                                validators=page.progress_validators)

    def context() -> dict:
        counts: dict[int, int] = {}
        last_visit: dict[int, object] = {}
        for note in history.notes:  # newest first
            counts[note.plan_id] = counts.get(note.plan_id, 0) + 1
            last_visit.setdefault(note.plan_id, note.visit_date)
        parts = {
            "patient": patient, "care_team": page.care_team, "plans": plans, "active": active,
            "owners": page.owners,
            "plans_by_id": {p.id: p for p in plans}, "counts": counts,
            "last_visit": last_visit, "latest": history.latest, "baseline": history.baseline,
            "can_write": can_write, "role": user.role, "today": today,
            "history_html": history_html(history, plans, can_write), "reports": page.reports,
            "reported": page.diary, "weeks": {p.id: plan_week(p, today) for p in plans},
            **progress}
        if active is not None:  # its charts' parts, made only for a render
            parts.update(focus_context(active, progress["focus_progress"],
                                       fragment={"heading": 3, "collapsed": True}))
        return parts

    key = content_key(page, progress, today=today, role=user.role, can_write=can_write)
    content = render_fragment("patients/_detail.html", key, context, encoded=True)
    # The layout is cached per viewer (its title is the patient's name); rendered first, then
    # the request's work (the audit rows of what the page shows) is committed, as render_page
    # does.
    html = render_in_layout("patients/detail.html", content, patient.full_name,
                            patient=patient)
    db.session.commit()
    return html


def content_key(page: PatientPage, progress: dict, *, today, role: str, can_write: bool):
    """Everything the patient page's content is made of, as a key of its cached HTML.

    The plans by all their columns and their goals' (and their owner's name), the
    patient and the rows of the care team, visit history, reports and diary as shown, the
    goals' baseline and latest values, the engine's measures (each by identity,
    :class:`~notes_service.web.fragments.Same`: the memo's very objects while the progress
    does not change) and flags of each plan, the clinic's day and time zone, and the viewer's
    role and write right.
    """
    return (
        page.patient, page.care_team,
        tuple((row_key(plan), page.owners.get(plan.id)) for plan in page.plans),
        tuple(page.history.notes), tuple(page.history.baseline.items()),
        tuple(page.history.latest.items()), page.reports, page.diary,
        tuple((plan_id, tuple(map(Same, measures.values())))
              for plan_id, measures in progress["progress_by_plan"].items()),
        tuple((plan_id, tuple(flags)) for plan_id, flags in progress["flags_by_plan"].items()),
        today, current_app.config.get("CLINIC_TIMEZONE"), role, can_write)


def history_html(history: VisitHistory, plans: list, can_write: bool) -> Fragment:
    """The visit history table as a cached fragment, rendered when printed.

    Its key is every row as shown (date, plan code and week, author, status, addenda, pain
    before and after) and the viewer's write right (drafts link to the editor).
    """
    by_id = {p.id: p for p in plans}
    rows = tuple((note, by_id[note.plan_id].diagnosis_code,
                  by_id[note.plan_id].week_of(note.visit_date), _pain_text(note))
                 if note.plan_id in by_id else (note, None, None, _pain_text(note))
                 for note in history.notes)
    return Fragment("patients/_visit_history.html", (rows, can_write), lambda: {
        "rows": rows, "can_write": can_write})


def _pain_text(note: NoteRow) -> str:
    """6/10 → 3/10 (pain now, before and after treatment), or — when not recorded."""
    if note.pain_pre is None and note.pain_post is None:
        return "—"
    fmt = MEASURES["pain"].format_value
    return f"{fmt(note.pain_pre)} → {fmt(note.pain_post)}"


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
