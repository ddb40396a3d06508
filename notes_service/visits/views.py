"""Visit-note pages: write a note fast (copy forward, test/treat/retest grid, questionnaires),
save drafts, merge a stale edit, sign with a confirmation step, add addenda to signed notes.

Nothing typed is lost: invalid input re-renders the form with every value and the errors beside
the fields; a stale edit opens a merge page; a note posted after the session expired is kept
(:mod:`notes_service.web.pending`) and restored once the clinician signs in again.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy import select

from notes_service.access import (
    get_patient,
    get_plan,
    get_visit,
    on_care_team,
    require_clinical_write,
    visible_notes,
)
from notes_service.audit.services import record
from notes_service.auth.views import IDLE_USER_KEY
from notes_service.catalog import INTERVENTIONS, ODI_SECTIONS, SIDES, SPECIAL_TESTS
from notes_service.clock import clinic_today
from notes_service.errors import Conflict
from notes_service.extensions import db
from notes_service.plans.services import PLAN_LOADS
from notes_service.visits.models import VisitNote
from notes_service.visits.schemas import (
    AddendumInputSchema,
    VisitInputSchema,
    VisitSchema,
    VisitUpdateSchema,
)
from notes_service.visits.services import (
    NOTE_LOADS,
    add_addendum,
    missing_for_signature,
    previous_note,
    read_visit,
    record_visit_note,
    sign_note,
    update_visit_note,
)
from notes_service.web import note_form as nf
from notes_service.web import pending
from notes_service.web.forms import FormState, map_errors, parse_integer
from notes_service.web.pages import actor, format_moment, render_page, require_staff
from notes_service.web.questionnaires import LEFS_ITEMS, LEFS_SCALE, ODI_SCALE, PSFS_SCALE

bp = Blueprint("visits", __name__)

#: Endpoints whose posted form is kept when the session has expired.
NOTE_FORMS = ("visits.create", "visits.edit", "visits.merge")
#: Errors on these are shown at the top of the form (they belong to no visible field).
FORM_FIELDS = tuple(f for f in nf.FIELDS if f not in ("copied_from_id", "version"))


# --------------------------------------------------------------------------- expired sessions

def _posted_values() -> tuple[str, dict[str, list[str]]]:
    """The endpoint to restore and the values of the posted note form."""
    values = FormState.from_request().values
    if request.endpoint == "visits.merge":
        mine = _mine_from(request.form.get("mine_json", ""))
        return "visits.edit", (mine.values if mine else values)
    return request.endpoint, values


def _keep_posted_note(user_id: int | None, message: str):
    endpoint, values = _posted_values()
    view_args = dict(request.view_args or {})
    pending.stash(endpoint, view_args, values, user_id)
    flash(message, "warning")
    return endpoint, view_args


@bp.before_request
def keep_note_of_expired_session():
    """A note posted without a sign-in is kept, and the clinician is asked to sign in again."""
    if (request.method == "POST" and request.endpoint in NOTE_FORMS
            and not current_user.is_authenticated):
        endpoint, view_args = _keep_posted_note(
            session.get(IDLE_USER_KEY),
            "Your session expired before the note was saved. Nothing is lost: sign in again "
            "and the note opens as you left it.")
        return redirect(url_for("auth.login", next=url_for(endpoint, **view_args)))
    return require_staff()


def _posted_from_this_site() -> bool:
    """Whether the browser says the form was posted from one of our pages.

    A form that failed the CSRF check is only kept when it did not come from another site, so
    no other site can plant text in a clinician's note form.
    """
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return not source  # no header at all: an older or privacy-strict browser
    return urlsplit(source).netloc == request.host


@bp.errorhandler(CSRFError)
def expired_form(exc: CSRFError):
    """A note form whose CSRF token no longer matches (new session) is kept, not refused."""
    if request.endpoint not in NOTE_FORMS or not _posted_from_this_site():
        return render_template("errors/error.html", status=400, title="Form expired",
                               message=exc.description), 400
    if not current_user.is_authenticated:
        endpoint, view_args = _keep_posted_note(
            None, "Your session expired before the note was saved. Nothing is lost: sign in "
                  "again and the note opens as you left it.")
        return redirect(url_for("auth.login", next=url_for(endpoint, **view_args)))
    endpoint, view_args = _keep_posted_note(
        current_user.id, "The form had expired, so the note was not saved yet. Everything you "
                         "typed is below: review it and save again.")
    return redirect(url_for(endpoint, **view_args))


# --------------------------------------------------------------------------- rendering

def _copy_source(user, form: FormState) -> VisitNote | None:
    source_id = parse_integer(form.get("copied_from_id"))
    if not isinstance(source_id, int):
        return None
    return db.session.execute(select(VisitNote).where(
        VisitNote.id == source_id, visible_notes(user))).scalar_one_or_none()


def _test_indexes(form: FormState) -> list[int]:
    """Rows to show: the filled ones (keeping their numbers, which errors refer to), then blanks."""
    present = nf.test_rows(form)
    filled = [n for n in present if nf.row_is_filled(form, n)]
    start = (max(present) + 1) if present else 0
    blanks = 1 if filled else nf.BLANK_TEST_ROWS
    return filled + list(range(start, start + blanks))


def _render_form(user, plan, patient, form: FormState, *, note=None, status: int = 200,
                 restored: bool = False):
    """The note form, with the grid rows, previous values, copy marks and computed changes."""
    day = note.visit_date if note is not None else clinic_today()
    previous = previous_note(plan.id, day, exclude_id=note.id if note is not None else None)
    rows = nf.grid_rows(plan, note, form)
    source = _copy_source(user, form)
    record(user, "read", "plan", patient_id=plan.patient_id, object_id=plan.id,
           detail="note form")
    if previous is not None:
        record(user, "read", "visit", patient_id=plan.patient_id, object_id=previous.id,
               detail="previous visit beside the note form")
    tracked = {code for code, _ in plan.tracked_keys}
    return render_page(
        "visits/form.html", status, user=user, plan=plan, patient=patient, note=note, form=form,
        rows=rows, previous=previous, prev=nf.previous_values(previous),
        changes={row.key: nf.within_visit_change(row, form) for row in rows},
        marks=nf.copied_marks(form, source), source=source, soap=nf.SOAP,
        test_indexes=_test_indexes(form), special_tests=SPECIAL_TESTS, sides=SIDES,
        interventions=INTERVENTIONS, odi_sections=ODI_SECTIONS, lefs_items=LEFS_ITEMS,
        odi_scale=ODI_SCALE, lefs_scale=LEFS_SCALE, psfs_scale=PSFS_SCALE,
        psfs_slots=range(1, nf.PSFS_SLOTS + 1), tracked=tracked,
        odi_score=nf.odi_preview(form), lefs_score=nf.lefs_preview(form),
        psfs_score=nf.psfs_preview(form), restored=restored)


def _plan_and_patient(user, plan_id: int):
    plan = get_plan(user, plan_id, *PLAN_LOADS)
    return plan, get_patient(user, plan.patient_id)


def _after_save(note: VisitNote, message: str):
    db.session.commit()
    if request.form.get("action") == "sign":
        return redirect(url_for("visits.sign", visit_id=note.id))
    flash(message, "success")
    return redirect(url_for("visits.edit", visit_id=note.id))


# --------------------------------------------------------------------------- new note

@bp.route("/plans/<int:plan_id>/visits/new", methods=["GET", "POST"])
def create(plan_id: int):
    """Write the note of a visit under an active plan; starts from the previous note's text."""
    user = actor()
    plan, patient = _plan_and_patient(user, plan_id)
    require_clinical_write(user, plan.patient_id)
    if plan.status != "active":
        flash(f"The plan of care is {plan.status.replace('_', ' ')}: resume it before "
              "documenting visits.", "warning")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    if request.method == "GET":
        restored = pending.take("visits.create", {"plan_id": plan.id}, user.id)
        if restored is not None:
            return _render_form(user, plan, patient, FormState(restored), restored=True)
        previous = previous_note(plan.id, clinic_today())
        form = nf.new_note_form(plan, previous, copy=request.args.get("copy") != "0")
        return _render_form(user, plan, patient, form)
    form = FormState.from_request()
    data, locate = nf.note_payload(form, nf.grid_rows(plan, None, form), editing=False)
    try:
        loaded = VisitInputSchema(plan=plan).load(data)
        note = record_visit_note(user, plan.id, loaded)
    except ValidationError as exc:
        map_errors(form, exc.messages, locate, fields=FORM_FIELDS)
        return _render_form(user, plan, patient, form, status=422)
    return _after_save(note, f"Draft saved at {format_moment(note.updated_at)}.")


# --------------------------------------------------------------------------- view and edit

@bp.get("/visits/<int:visit_id>")
def detail(visit_id: int):
    """A note as documented; signed notes with their addenda and the addendum form."""
    return _detail_page(actor(), visit_id, FormState())


def _detail_page(user, visit_id: int, addendum_form: FormState, status: int = 200):
    note = read_visit(user, visit_id)
    plan, patient = _plan_and_patient(user, note.plan_id)
    form = nf.note_form(note)
    rows = nf.grid_rows(plan, note)
    can_write = user.is_clinician and on_care_team(user, note.patient_id)
    return render_page(
        "visits/detail.html", status, note=note, plan=plan, patient=patient, form=form,
        rows=[r for r in rows if form.get(r.field("pre")) or form.get(r.field("post"))],
        changes={row.key: nf.within_visit_change(row, form) for row in rows},
        can_write=can_write, addendum_form=addendum_form, interventions=INTERVENTIONS,
        special_tests=SPECIAL_TESTS, odi_sections=ODI_SECTIONS, lefs_items=LEFS_ITEMS,
        missing=missing_for_signature(note) if not note.is_signed else {})


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
def edit(visit_id: int):
    """Edit a draft; signed notes are read-only (add an addendum instead)."""
    user = actor()
    note = get_visit(user, visit_id, *NOTE_LOADS)
    require_clinical_write(user, note.patient_id)
    plan, patient = _plan_and_patient(user, note.plan_id)
    if note.is_signed:
        if request.method == "POST":  # refused, but what was typed stays on screen
            form = FormState.from_request()
            form.error("_form", "A signed note never changes: add an addendum instead.")
            return _render_form(user, plan, patient, form, note=note, status=409)
        flash("This note is signed and can no longer be changed. Add an addendum instead.",
              "warning")
        return redirect(url_for("visits.detail", visit_id=note.id, _anchor="addendum"))
    if request.method == "GET":
        record(user, "read", "visit", patient_id=note.patient_id, object_id=note.id)
        restored = pending.take("visits.edit", {"visit_id": note.id}, user.id)
        if restored is not None:
            return _render_form(user, plan, patient, FormState(restored), note=note,
                                restored=True)
        return _render_form(user, plan, patient, nf.note_form(note), note=note)
    return _save_edit(user, note, plan, patient, FormState.from_request())


def _save_edit(user, note, plan, patient, form: FormState, *, merged: bool = False):
    data, locate = nf.note_payload(form, nf.grid_rows(plan, note, form), editing=True)
    try:
        loaded = VisitUpdateSchema(plan=plan).load(data)
        saved = update_visit_note(user, note.id, loaded, dump=VisitSchema().dump)
    except ValidationError as exc:
        map_errors(form, exc.messages, locate, fields=FORM_FIELDS)
        return _render_form(user, plan, patient, form, note=note, status=422)
    except Conflict as exc:
        db.session.rollback()
        if "version" in exc.payload:
            return _merge_page(user, note.id, form)
        form.error("_form", exc.message)  # e.g. signed meanwhile: keep the text on screen
        note = get_visit(user, note.id, *NOTE_LOADS)
        return _render_form(user, plan, patient, form, note=note, status=409)
    message = "Merged and saved" if merged else "Draft saved"
    return _after_save(saved, f"{message} at {format_moment(saved.updated_at)}.")


# --------------------------------------------------------------------------- stale edits

def _mine_from(raw: str) -> FormState | None:
    try:
        values = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
            for k, v in values.items()):
        return None
    return FormState(values)


def _merge_page(user, visit_id: int, mine: FormState, notice: str | None = None):
    """Both versions side by side, a keep-mine/take-stored choice where they differ."""
    stored_note = get_visit(user, visit_id, *NOTE_LOADS)
    plan, patient = _plan_and_patient(user, stored_note.plan_id)
    if stored_note.is_signed:
        mine.error("_form", "Someone signed this note while you were editing it; a signed "
                            "note never changes. Your text is kept below: copy what is "
                            "missing into an addendum.")
        return _render_form(user, plan, patient, mine, note=stored_note, status=409)
    stored = nf.note_form(stored_note)
    rows = nf.grid_rows(plan, stored_note, mine)
    units = nf.merge_units(mine, stored, rows)
    if not units:  # the stored version says the same: save on top of it
        mine.set("version", stored.get("version"))
        return _save_edit(user, stored_note, plan, patient, mine, merged=True)
    record(user, "read", "visit", patient_id=stored_note.patient_id, object_id=stored_note.id,
           detail="stale-edit merge")
    return render_page("visits/merge.html", 409, note=stored_note, plan=plan, patient=patient,
                       units=units, mine_json=json.dumps(mine.values), notice=notice,
                       version=stored_note.version)


@bp.post("/visits/<int:visit_id>/merge")
def merge(visit_id: int):
    """Save the merge of the user's edit and the stored version, against the stored version."""
    user = actor()
    mine = _mine_from(request.form.get("mine_json", ""))
    if mine is None:
        flash("The merge form was incomplete; start again from the note.", "warning")
        return redirect(url_for("visits.edit", visit_id=visit_id))
    note = get_visit(user, visit_id, *NOTE_LOADS)
    require_clinical_write(user, note.patient_id)
    plan, patient = _plan_and_patient(user, note.plan_id)
    if note.is_signed or parse_integer(request.form.get("version")) != note.version:
        return _merge_page(user, note.id, mine,
                           notice="The note changed again while you were merging; here is "
                                  "the newest stored version.")
    stored = nf.note_form(note)
    units = nf.merge_units(mine, stored, nf.grid_rows(plan, note, mine))
    choices = {unit.key: request.form.get(f"choice-{unit.key}", "mine") for unit in units}
    merged = nf.apply_merge(mine, stored, units, choices)
    return _save_edit(user, note, plan, patient, merged, merged=True)


# --------------------------------------------------------------------------- sign, addenda

@bp.route("/visits/<int:visit_id>/sign", methods=["GET", "POST"])
def sign(visit_id: int):
    """Review a draft and sign it; from then on it is read-only."""
    user = actor()
    note = read_visit(user, visit_id) if request.method == "GET" else get_visit(user, visit_id)
    if note.is_signed:
        flash("This note is already signed.", "info")
        return redirect(url_for("visits.detail", visit_id=note.id))
    require_clinical_write(user, note.patient_id)
    if request.method == "GET":
        return _sign_page(user, note, FormState())
    version = parse_integer(request.form.get("version"))
    try:
        signed = sign_note(user, note.id, version if isinstance(version, int) else None,
                           dump=VisitSchema().dump)
    except ValidationError as exc:
        db.session.rollback()
        form = FormState()
        map_errors(form, exc.messages, fields=("subjective", "objective", "assessment", "plan"))
        return _sign_page(user, get_visit(user, visit_id, *NOTE_LOADS), form, 422)
    except Conflict as exc:
        if "version" not in exc.payload:
            raise
        db.session.rollback()
        flash("The draft changed since you reviewed it. Review it again before signing.",
              "warning")
        return redirect(url_for("visits.sign", visit_id=visit_id))
    db.session.commit()
    flash(f"Note signed {format_moment(signed.signed_at)}. It can no longer be changed; "
          "add an addendum for late information.", "success")
    return redirect(url_for("visits.detail", visit_id=signed.id))


def _sign_page(user, note, form: FormState, status: int = 200):
    note = get_visit(user, note.id, *NOTE_LOADS)
    plan, patient = _plan_and_patient(user, note.plan_id)
    note_values = nf.note_form(note)
    rows = nf.grid_rows(plan, note)
    return render_page(
        "visits/sign.html", status, note=note, plan=plan, patient=patient, form=note_values,
        rows=[r for r in rows
              if note_values.get(r.field("pre")) or note_values.get(r.field("post"))],
        changes={row.key: nf.within_visit_change(row, note_values) for row in rows},
        errors=form, missing=missing_for_signature(note), is_author=note.author_id == user.id,
        interventions=INTERVENTIONS, special_tests=SPECIAL_TESTS, odi_sections=ODI_SECTIONS,
        lefs_items=LEFS_ITEMS)


@bp.post("/visits/<int:visit_id>/addenda")
def addendum(visit_id: int):
    """Add a dated addendum, by the signed-in clinician, under a signed note."""
    user = actor()
    form = FormState.from_request()
    try:
        data = AddendumInputSchema().load({"text": form.get("text").strip()})
        add_addendum(user, visit_id, data["text"])
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=("text",))
        return _detail_page(user, visit_id, form, 422)
    db.session.commit()
    flash("Addendum added.", "success")
    return redirect(url_for("visits.detail", visit_id=visit_id, _anchor="addenda"))

