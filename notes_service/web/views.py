"""The start page of each role: a practitioner's caseload, the director's clinic list, a patient's
own plan summary."""

from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from notes_service.audit.services import record_many
from notes_service.patients.services import list_patients
from notes_service.web import bp
from notes_service.web.pages import actor, render_page
from notes_service.web.queries import caseload, clinic_rows

#: ``app.extensions`` key of a callable ``plans -> {plan_id: [flag, ...]}`` (the progress
#: engine registers it); without one, the caseload shows its "no open flags" state.
FLAG_PROVIDER = "notes_service.plan_flags"

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def open_flags(plans, progress: dict | None = None) -> dict:
    """Open progress flags per plan id, most severe first.

    ``plans`` must have their goals loaded. The flags are the progress engine's: ``progress``
    when the page computed it already, else
    :func:`notes_service.outcomes.caseload.caseload_flags` (the stored measure flags and the
    date-dependent flags, in a few statements for all the plans, no series read), unless a
    provider is registered under :data:`FLAG_PROVIDER`.
    """
    plans = [p for p in plans if p.status in ("active", "on_hold")]
    if not plans:
        return {}
    provider = current_app.extensions.get(FLAG_PROVIDER)
    if provider is not None:
        flags = provider(plans)
    elif progress is not None:
        flags = {p.id: progress[p.id].flags for p in plans if p.id in progress}
    else:
        from notes_service.outcomes.caseload import caseload_flags

        user = actor()
        flags = caseload_flags(user, plans)
        record_many(user, "read", "progress", sorted({p.patient_id for p in plans}))
    return {plan_id: sorted(items, key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
            for plan_id, items in flags.items() if items}


@bp.get("/")
def home():
    """Send each role to its start page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == "practitioner":
        return _caseload_page()
    if current_user.role == "director":
        return _clinic_page()
    return _patient_page()


@bp.get("/caseload")
def caseload_page():
    """The caseload of a clinician (a practising director reaches theirs here)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    if not current_user.is_clinician:
        abort(404)
    return _caseload_page()


def _caseload_page():
    load = caseload(actor())
    flags_by_plan = open_flags([row.plan for row in load.rows])
    all_flags = sorted(
        ((row, flag) for row in load.rows for flag in flags_by_plan.get(row.plan.id, [])),
        key=lambda pair: SEVERITY_ORDER.get(pair[1].severity, 9))
    return render_page("home/caseload.html", load=load, flags_by_plan=flags_by_plan,
                       all_flags=all_flags)


def _clinic_page():
    query = request.args.get("q", "").strip()[:80]
    patients = list_patients(actor(), query or None)
    return render_page("home/clinic.html", rows=clinic_rows(actor(), patients), q=query)


def _patient_page():
    from notes_service.portal.views import home_page

    return home_page()  # the portal home, written for the patient
