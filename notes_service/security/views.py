"""Break-glass access from the web pages: state a reason, then read the record."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from marshmallow import ValidationError

from notes_service.auth.schemas import BreakGlassRequestSchema
from notes_service.extensions import db
from notes_service.security.break_glass import break_glass
from notes_service.web.forms import FormState, map_errors
from notes_service.web.pages import actor, render_page, require_staff

bp = Blueprint("security", __name__)
bp.before_request(require_staff)


def _page(patient_id: int, form: FormState, status: int = 200):
    return render_page("security/break_glass.html", status, form=form, patient_id=patient_id,
                       hours=current_app.config["BREAK_GLASS_HOURS"])


@bp.route("/patients/<int:patient_id>/break-glass", methods=["GET", "POST"])
def break_glass_page(patient_id: int):
    """Ask for the reason; open the record for ``BREAK_GLASS_HOURS`` (read-only)."""
    if request.method == "GET":
        return _page(patient_id, FormState())
    form = FormState.from_request()
    try:
        data = BreakGlassRequestSchema().load({"reason": request.form.get("reason", "")})
    except ValidationError as exc:
        map_errors(form, exc.messages, fields=("reason",))
        return _page(patient_id, form, 422)
    grant = break_glass(actor(), patient_id, data["reason"])
    db.session.commit()
    flash(f"Emergency access granted until {grant.expires_at:%H:%M} UTC. It is recorded and "
          "shown to the clinic director.", "warning")
    return redirect(url_for("patients.detail", patient_id=patient_id))
