"""Signing in and out of the web pages, server-side sessions with automatic sign-out after
inactivity and after ``SESSION_MAX_HOURS``, and changing one's password."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, g, jsonify, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.auth.schemas import PasswordChangeSchema, TokenRequestSchema
from notes_service.auth.services import authenticate, change_password
from notes_service.extensions import db, login_manager
from notes_service.security import sessions
from notes_service.security.throttle import TooManyAttempts
from notes_service.web.forms import FormState, map_errors, safe_next
from notes_service.web.pages import render_page

bp = Blueprint("auth", __name__)

#: Session key of the user signed out for inactivity (a stashed note is bound to them).
IDLE_USER_KEY = "idle_user_id"
_LAST_SEEN_KEY = "last_seen"
#: Session keys that survive signing in (everything else is dropped: a new session).
_KEPT_AT_SIGN_IN = ("pending_form", IDLE_USER_KEY)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the active user of a session whose server-side record is valid.

    :func:`enforce_session` normally checked the record first. When it did not run (a
    ``before_request`` hook that ran before it refused the request, e.g. the CSRF check), the
    record is checked here, without the sign-out's side effects.
    """
    if "session_record" not in g:
        state, found = sessions.check_session(session.get(sessions.SID_KEY), user_id,
                                              _cookie_last_seen())
        g.session_record = found if state == sessions.OK else None
    record = g.session_record
    if not user_id.isdigit() or record is None or record.user_id != int(user_id):
        return None
    user = g.get("session_user")  # read with the record: the one in the identity map
    if user is None or user.id != record.user_id:
        user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def _cookie_last_seen() -> datetime | None:
    last = session.get(_LAST_SEEN_KEY)
    return datetime.fromtimestamp(last, UTC) if isinstance(last, int) else None


@bp.before_app_request
def enforce_session():
    """Admit a signed-in session only while its server-side record is valid.

    A session idle for longer than ``SESSION_IDLE_MINUTES`` (HIPAA automatic logoff) or older
    than ``SESSION_MAX_HOURS`` is signed out with a message; a revoked or unknown one (signed
    out elsewhere, password changed, a copied cookie) silently. Only the sign-in is dropped;
    the rest of the session (its CSRF token, a stashed note) stays, so a note posted after the
    timeout is kept rather than refused.
    """
    if request.endpoint == "static" or request.path.startswith("/api/"):
        g.session_record = None
        return
    g.session_record = None
    user_id = session.get("_user_id")
    if user_id is None:
        g.actor = None
        return
    state, found = sessions.check_session(session.get(sessions.SID_KEY), user_id,
                                          _cookie_last_seen())
    if state == sessions.OK:
        g.session_record = found
        if not current_user.is_authenticated:  # deactivated since
            sessions.end_session(found, "deactivated")
            _sign_out()
            return
        now = int(time.time())
        last = session.get(_LAST_SEEN_KEY)
        if not isinstance(last, int) or now - last >= current_app.config["SESSION_TOUCH_SECONDS"]:
            session[_LAST_SEEN_KEY] = now
        if sessions.touch(found):
            db.session.commit()  # its own short transaction, not the page's
        g.actor = current_user._get_current_object()
        return
    if state in (sessions.IDLE, sessions.EXPIRED):
        user = db.session.get(User, found.user_id)
        session[IDLE_USER_KEY] = found.user_id
        record(user, "timeout", "auth",
               detail="idle" if state == sessions.IDLE else "session lifetime reached")
        sessions.end_session(found, "idle" if state == sessions.IDLE else "expired")
        if state == sessions.IDLE:
            flash(f"You were signed out after {current_app.config['SESSION_IDLE_MINUTES']} "
                  "minutes without activity.", "info")
        else:
            flash(f"You were signed out {current_app.config['SESSION_MAX_HOURS']} hours after "
                  "signing in. Sign in again to continue.", "info")
    elif found is not None:  # signed out elsewhere, or a copy of an old cookie
        record(db.session.get(User, found.user_id), "session_refused", "auth",
               detail=f"session ended ({found.revoked_reason or 'other user'})")
    _sign_out()


def _sign_out() -> None:
    db.session.commit()
    g.session_record = None
    g.actor = None
    logout_user()
    session.pop(sessions.SID_KEY, None)
    session.pop(_LAST_SEEN_KEY, None)


def _form_page(form: FormState, status: int = 200):
    return render_page("auth/login.html", status, form=form,
                       next_url=safe_next(request.values.get("next")) or "")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; sign in with e-mail and password."""
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("web.home"))
    if request.method == "GET":
        return _form_page(FormState())
    form = FormState.from_request()
    form.set("password", None)  # never echo a password back into the page
    try:
        data = TokenRequestSchema().load({"email": request.form.get("email", "").strip(),
                                          "password": request.form.get("password", "")})
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=("email", "password"))
        return _form_page(form, 422)
    try:
        user = authenticate(data["email"], data["password"], ip=request.remote_addr)
    except TooManyAttempts as exc:
        db.session.commit()  # keep the audit record of the refused attempt
        form.error("_form", exc.message)
        html, status = _form_page(form, 429)
        return html, status, {"Retry-After": str(exc.retry_after)}
    if user is None:
        db.session.commit()  # keep the audit record of the failed attempt
        form.error("_form", "Wrong e-mail or password.")
        return _form_page(form, 422)
    _begin_session(user)
    idle_user = session.pop(IDLE_USER_KEY, None)
    db.session.commit()
    if idle_user is not None and idle_user != user.id:
        from notes_service.web import pending

        pending.discard()  # the previous user's typed note is not for this user
    return redirect(target or url_for("web.home"))


def _begin_session(user: User) -> None:
    """Sign ``user`` in with a new session: new id, new CSRF token, a new server record."""
    kept = {key: session[key] for key in _KEPT_AT_SIGN_IN if key in session}
    session.clear()
    session.update(kept)
    login_user(user)
    session[sessions.SID_KEY] = sessions.start_session(user)
    session[_LAST_SEEN_KEY] = int(time.time())


@bp.post("/logout")
def logout():
    """Sign out: end every session of the user (all devices), and forget this one."""
    if current_user.is_authenticated:
        ended = sessions.end_all_sessions(current_user.id, "logout")
        record(current_user, "logout", "auth", detail=f"ended {ended} session(s)")
        db.session.commit()
    from notes_service.web import pending

    pending.discard()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/session/ping")
def ping():
    """Typing in a note counts as activity: the note form pings while the clinician types.

    Answers 401 once the session has expired, so the page can say the note will be kept.
    """
    if not current_user.is_authenticated:
        return jsonify(signed_in=False), 401
    return jsonify(signed_in=True,
                   idle_minutes=current_app.config["SESSION_IDLE_MINUTES"])


_PASSWORD_FIELDS = ("current_password", "new_password", "confirm_password")


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """Change one's password; every other session and every API token of the user ends."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method == "GET":
        return render_page("auth/password.html", form=FormState())
    form = FormState()
    data = {name: request.form.get(name, "") for name in _PASSWORD_FIELDS}
    try:
        loaded = PasswordChangeSchema().load(data)
        user = current_user._get_current_object()
        change_password(user, loaded["current_password"], loaded["new_password"],
                        ip=request.remote_addr)
    except ValidationError as exc:
        db.session.commit()  # keep the record of a wrong current password
        map_errors(form, exc.messages, fields=_PASSWORD_FIELDS)
        return render_page("auth/password.html", 422, form=form)
    except TooManyAttempts as exc:
        db.session.commit()
        form.error("_form", exc.message)
        html, status = render_page("auth/password.html", 429, form=form)
        return html, status, {"Retry-After": str(exc.retry_after)}
    _begin_session(user)
    db.session.commit()
    flash("Your password was changed. You were signed out everywhere else.", "success")
    return redirect(url_for("web.home"))


