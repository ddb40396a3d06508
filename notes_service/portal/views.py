"""Portal pages: the patient's own plan, charts, visits and pain diary; the practitioner's
invitation page; and the public page where a patient opens their link and sets a password."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from notes_service.audit.services import record
from notes_service.auth.views import _begin_session as begin_session
from notes_service.clock import clinic_today
from notes_service.extensions import db, login_manager
from notes_service.patients.models import Patient
from notes_service.portal import services
from notes_service.portal.models import DiaryEntry
from notes_service.portal.rules import assessment_visible_to
from notes_service.portal.schemas import (
    DIARY_NOTE_LENGTH,
    PASSWORD_MIN_LENGTH,
    AcceptInvitationSchema,
    DiaryEntryInputSchema,
)
from notes_service.web.forms import FormState, map_errors, parse_integer
from notes_service.web.pages import actor, render_page

bp = Blueprint("portal", __name__, url_prefix="/portal")

#: Longest token looked up; real ones are 43 characters.
_MAX_TOKEN_LENGTH = 100
_ACCEPT_FIELDS = ("email", "password", "password_confirm")
_DIARY_FIELDS = ("entry_date", "pain", "note")


@bp.record_once
def _config_defaults(state) -> None:
    #: Days an invitation link stays valid.
    state.app.config.setdefault("PORTAL_INVITE_DAYS", services.DEFAULT_INVITE_DAYS)


def _signed_in():
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    g.actor = actor()
    return g.actor


def _patient():
    """The signed-in patient user (staff get 403: these pages are the patient's own)."""
    user = _signed_in()
    if user.role != "patient" or user.patient_id is None:
        abort(403, "These pages are for patients.")
    return user


def _staff():
    """The signed-in clinic staff member (patients get 403)."""
    user = _signed_in()
    if user.role not in ("practitioner", "director"):
        abort(403, "These pages are for clinic staff.")
    return user


def _private(response, status: int | None = None):
    """Keep a page with a secret link out of caches and referrers."""
    response = make_response(response)
    if status is not None:
        response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --------------------------------------------------------------------------------------
# The patient's pages
# --------------------------------------------------------------------------------------


def home_page():
    """The patient's home: their plan in plain words, goals, charts and home programme."""
    user = _patient()
    home = services.portal_home(user)
    return render_page("portal/home.html", home=home, plan_view=home.current,
                       show_assessment=assessment_visible_to(user))


@bp.get("/")
def home():
    """The portal's address of the patient's start page, which lives at ``/``."""
    _patient()
    return redirect(url_for("web.home"))


@bp.get("/plans/<int:plan_id>")
def plan(plan_id: int):
    """One of the patient's plans of care (a past one, or the current one on its own)."""
    user = _patient()
    plan_view, notes = services.portal_plan(user, plan_id)
    return render_page("portal/plan.html", plan_view=plan_view, notes=notes)


@bp.get("/visits")
def visits():
    """The patient's signed visit notes, newest first."""
    user = _patient()
    home = services.portal_home(user)
    return render_page("portal/visits.html", home=home)


@bp.get("/visits/<int:visit_id>")
def visit(visit_id: int):
    """One signed visit note: the parts written for the patient."""
    user = _patient()
    view = services.portal_visit(user, visit_id)
    return render_page("portal/visit.html", note=view.note, measures=view.measures,
                       treatments=view.treatments, show_assessment=assessment_visible_to(user))


def _diary_page(user, form: FormState, status: int = 200, *, editing=None, withdrawing=None):
    """The diary page: the new-entry form, or the form correcting ``editing``, or the question
    before withdrawing ``withdrawing``; beside it the entries, those still open for change
    with their Edit and Withdraw buttons."""
    entries = services.list_diary(user, user.patient_id)
    start = services.diary_start(user.patient_id)
    return render_page("portal/diary.html", status, form=form, entries=entries, start=start,
                       note_length=DIARY_NOTE_LENGTH, editing=editing, withdrawing=withdrawing,
                       changeable=services.changeable_diary_entries(user, entries),
                       change_hours=services.diary_change_hours())


def _diary_payload(form: FormState) -> dict:
    """The diary form's fields as the schema takes them (a blank day or pain left out)."""
    payload = {"entry_date": form.get("entry_date").strip() or None,
               "pain": parse_integer(form.get("pain")),
               "note": form.get("note").replace("\r\n", "\n").strip()}
    return {k: v for k, v in payload.items() if v is not None}


@bp.route("/diary", methods=["GET", "POST"])
def diary():
    """The pain diary: record today's pain (or an earlier day's) and see past entries."""
    user = _patient()
    if request.method == "GET":
        return _diary_page(user, FormState.from_mapping(
            {"entry_date": clinic_today().isoformat()}))
    form = FormState.from_request()
    try:
        start = services.diary_open_for_writing(user, user.patient_id)
        data = DiaryEntryInputSchema(earliest=start).load(_diary_payload(form))
        entry = services.record_diary_entry(user, user.patient_id, data)
    except ValidationError as exc:
        db.session.rollback()
        map_errors(form, exc.messages, fields=_DIARY_FIELDS)
        return _diary_page(user, form, 422)
    db.session.commit()
    flash(f"Saved: pain {entry.pain} out of 10 on {entry.entry_date:%-d %B}. "
          "Your practitioner will see it.", "success")
    return redirect(url_for("portal.diary"))


def _locked(user, exc: services.DiaryEntryLocked):
    """Back to the diary, saying why the entry cannot change, the refusal audited (nothing
    else the request did is kept)."""
    db.session.rollback()
    exc.record(user)
    db.session.commit()
    flash(exc.message, "warning")
    return redirect(url_for("portal.diary"))


def _entry_for_change(user, entry_id: int):
    """The patient's own entry, still open for change, or the redirect of a locked one
    (another patient's entry or a withdrawn one is a 404)."""
    try:
        return services.diary_entry_for_change(user, user.patient_id, entry_id)
    except services.DiaryEntryLocked as exc:
        return _locked(user, exc)


@bp.route("/diary/<int:entry_id>/edit", methods=["GET", "POST"])
def diary_edit(entry_id: int):
    """Correct one of the patient's own entries (day, pain, note) while it is open for change,
    with the new-entry form's fields and rules."""
    user = _patient()
    entry = _entry_for_change(user, entry_id)
    if not isinstance(entry, DiaryEntry):
        return entry
    if request.method == "GET":
        return _diary_page(user, FormState.from_mapping(
            {"entry_date": entry.entry_date.isoformat(), "pain": entry.pain,
             "note": entry.note}), editing=entry)
    form = FormState.from_request()
    try:
        start = services.diary_start(user.patient_id)
        data = DiaryEntryInputSchema(earliest=start).load(_diary_payload(form))
        services.change_diary_entry(user, entry, data)
    except services.DiaryEntryLocked as exc:  # the window ended while the form was sent
        return _locked(user, exc)
    except ValidationError as exc:
        db.session.rollback()
        map_errors(form, exc.messages, fields=_DIARY_FIELDS)
        return _diary_page(user, form, 422, editing=entry)
    message = (f"Changed: your entry now says pain {entry.pain} out of 10 on "
               f"{entry.entry_date:%-d %B}.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("portal.diary"))


@bp.route("/diary/<int:entry_id>/withdraw", methods=["GET", "POST"])
def diary_withdraw(entry_id: int):
    """Withdraw one of the patient's own entries while it is open for change: the page asks
    first, and its small form (a POST, CSRF-protected) withdraws."""
    user = _patient()
    entry = _entry_for_change(user, entry_id)
    if not isinstance(entry, DiaryEntry):
        return entry
    if request.method == "GET":
        return _diary_page(user, FormState(), withdrawing=entry)
    try:
        services.withdraw_diary_entry(user, entry)
    except services.DiaryEntryLocked as exc:
        return _locked(user, exc)
    message = (f"Withdrawn: your entry of {entry.entry_date:%-d %B} (pain {entry.pain} out "
               "of 10). Your practitioner will no longer see it.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("portal.diary"))


# --------------------------------------------------------------------------------------
# The practitioner's invitation page
# --------------------------------------------------------------------------------------


@bp.route("/patients/<int:patient_id>/invitation", methods=["GET", "POST"])
def invite(patient_id: int):
    """Show a patient's portal access; create a one-time link to hand over."""
    user = _staff()
    if request.method == "GET":
        access = services.invitation_status(user, patient_id)
        return render_page("portal/invite.html", access=access,
                           days=services.invite_days())
    invitation, token = services.create_invitation(
        user, patient_id, reset=request.form.get("purpose") == "reset")
    db.session.commit()
    link = url_for("portal.accept", token=token, _external=True)
    patient = db.session.get(Patient, invitation.patient_id)  # loaded by the service
    return _private(render_page("portal/invite_link.html", invitation=invitation, link=link,
                                patient=patient, days=services.invite_days()))


# --------------------------------------------------------------------------------------
# The patient opens their link
# --------------------------------------------------------------------------------------


def _link_problem(exc: services.InvitationUnusable):
    return _private(render_page("portal/link_problem.html", exc.status, reason=exc.reason,
                                days=services.invite_days()))


def _accept_form(invitation, form: FormState, status: int = 200):
    account = services.portal_account(invitation.patient_id) \
        if invitation.purpose == "reset" else None
    return _private(render_page("portal/accept.html", status, invitation=invitation, form=form,
                                min_length=PASSWORD_MIN_LENGTH,
                                account_email=account.email if account else None))


@bp.route("/join/<token>", methods=["GET", "POST"])
def accept(token: str):
    """Open an invitation link: set a password (and e-mail), then land signed in."""
    if current_user.is_authenticated:
        g.actor = actor()
        return _private(render_page("portal/signed_in_already.html", 409))
    token = token[:_MAX_TOKEN_LENGTH]
    try:
        invitation = services.open_invitation(token)
    except services.InvitationUnusable as exc:
        return _link_problem(exc)
    if request.method == "GET":
        return _accept_form(invitation, FormState.from_mapping(
            {"email": invitation.patient.email or ""}))
    form = FormState.from_request()
    for secret in ("password", "password_confirm"):
        form.set(secret, None)  # never echo a password back into the page
    reset = invitation.purpose == "reset"
    payload = {name: request.form.get(name, "") for name in _ACCEPT_FIELDS
               if not (reset and name == "email")}
    payload = {k: (v.strip() if k == "email" else v) for k, v in payload.items() if v != ""}
    try:
        data = AcceptInvitationSchema(exclude=("email",) if reset else ()).load(payload)
        user = services.accept_invitation(invitation, data)
    except ValidationError as exc:  # raised before anything but the audit row was written
        map_errors(form, exc.messages, fields=_ACCEPT_FIELDS)
        return _accept_form(invitation, form, 422)
    except services.InvitationUnusable as exc:
        return _link_problem(exc)
    begin_session(user)  # as the sign-in form does: new session id, CSRF token, server record
    record(user, "login", "auth", patient_id=user.patient_id, detail="portal invitation")
    db.session.commit()
    flash("Your account is ready. Next time, sign in with your e-mail address and password."
          if not reset else "Your new password is set.", "success")
    return redirect(url_for("web.home"))
