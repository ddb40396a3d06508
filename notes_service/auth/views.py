"""Signing in and out of the web pages, and the automatic sign-out after inactivity."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, jsonify, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.auth.schemas import TokenRequestSchema
from notes_service.auth.services import authenticate
from notes_service.extensions import db, login_manager
from notes_service.web.forms import FormState, map_errors, safe_next
from notes_service.web.pages import render_page

bp = Blueprint("auth", __name__)

#: Session key of the user signed out for inactivity (a stashed note is bound to them).
IDLE_USER_KEY = "idle_user_id"
_LAST_SEEN_KEY = "last_seen"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the active user of a session."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


@bp.before_app_request
def enforce_idle_timeout():
    """Sign out a session idle for longer than ``SESSION_IDLE_MINUTES`` (HIPAA automatic logoff).

    Only the sign-in is dropped; the rest of the session (its CSRF token, a stashed note) stays,
    so a note posted after the timeout is kept rather than refused.
    """
    if request.endpoint in (None, "static") or request.path.startswith("/api/"):
        return
    if current_user.is_authenticated:
        now = int(time.time())
        last = session.get(_LAST_SEEN_KEY)
        limit = current_app.config["SESSION_IDLE_MINUTES"] * 60
        if isinstance(last, int) and now - last > limit:
            session[IDLE_USER_KEY] = current_user.id
            record(current_user, "timeout", "auth")
            db.session.commit()
            logout_user()
            session.pop(_LAST_SEEN_KEY, None)
            flash(f"You were signed out after {current_app.config['SESSION_IDLE_MINUTES']} "
                  "minutes without activity.", "info")
        elif not isinstance(last, int) or now - last >= 30:
            session[_LAST_SEEN_KEY] = now
    g.actor = current_user._get_current_object() if current_user.is_authenticated else None


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
    user = authenticate(data["email"], data["password"])
    if user is None:
        db.session.commit()  # keep the audit record of the failed attempt
        form.error("_form", "Wrong e-mail or password.")
        return _form_page(form, 422)
    login_user(user)
    session[_LAST_SEEN_KEY] = int(time.time())
    idle_user = session.pop(IDLE_USER_KEY, None)
    db.session.commit()
    if idle_user is not None and idle_user != user.id:
        from notes_service.web import pending

        pending.discard()  # the previous user's typed note is not for this user
    return redirect(target or url_for("web.home"))


@bp.post("/logout")
def logout():
    """Sign out and forget the whole session."""
    if current_user.is_authenticated:
        record(current_user, "logout", "auth")
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
