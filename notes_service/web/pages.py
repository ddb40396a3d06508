"""Page plumbing shared by every HTML blueprint: sign-in and role checks, the one commit of a
request, the layout context (navigation, clinic name) and the template filters."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, abort, current_app, g, render_template, request
from flask_login import current_user

from notes_service.catalog import DISCHARGE_REASONS, INTERVENTIONS, MEASURES, SPECIAL_TESTS
from notes_service.clock import clinic_today
from notes_service.extensions import db, login_manager

STAFF_ROLES = ("practitioner", "director")


def actor():
    """The signed-in user (the acting user of services)."""
    return current_user._get_current_object()


def require_staff():
    """``before_request`` of staff pages: sign-in required, clinic staff only."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in STAFF_ROLES:
        abort(403, "These pages are for clinic staff.")
    g.actor = actor()
    return None


def render_page(template: str, status: int = 200, **context):
    """Render a page, then commit the request's work (audit rows of what the page shows).

    Rendering comes first so that nothing is committed for a page that failed to render.
    """
    html = render_template(template, **context)
    db.session.commit()
    return html, status


def _local(moment: datetime) -> datetime:
    zone = current_app.config.get("CLINIC_TIMEZONE")
    return moment.astimezone(ZoneInfo(zone)) if zone else moment.astimezone()


def format_day(value: date | None, weekday: bool = False) -> str:
    """12 Mar 2026 (or Thu 12 Mar 2026)."""
    if value is None:
        return "—"
    text = f"{value.day} {value:%b %Y}"
    return f"{value:%a} {text}" if weekday else text


def format_moment(value: datetime | None) -> str:
    """12 Mar 2026, 17:45 in the clinic's time zone."""
    if value is None:
        return "—"
    local = _local(value)
    return f"{format_day(local.date())}, {local:%H:%M}"


def iso_moment(value: datetime | None) -> str:
    """Machine-readable timestamp for ``<time datetime>``."""
    return value.isoformat() if value else ""


def humanise(code: str | None) -> str:
    """goals_met → Goals met."""
    if not code:
        return ""
    return code.replace("_", " ").capitalize()


def relative_day(value: date | None) -> str:
    """today, yesterday, in 3 days, 5 days ago."""
    if value is None:
        return ""
    delta = (value - clinic_today()).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    return f"in {delta} days" if delta > 0 else f"{-delta} days ago"


def choices(codes) -> list[tuple[str, str]]:
    """(code, label) pairs of a list of codes, for a select."""
    return [(code, humanise(code)) for code in codes]


def side_label(side: str | None) -> str:
    """left → Left; None → ''."""
    return side.capitalize() if side else ""


def measure_name(code: str, side: str | None = None, short: bool = True) -> str:
    """Pain now, or SLR (right)."""
    entry = MEASURES.get(code)
    name = (entry.short_label if short else entry.label) if entry else code
    return f"{name} ({side})" if side else name


def measure_value(code: str, value: float | None) -> str:
    """A value with its unit (42°, 6/10)."""
    entry = MEASURES.get(code)
    if entry is None:
        return "—" if value is None else f"{value:g}"
    return entry.format_value(value)


def initials(name: str) -> str:
    """Two initials of a name, ignoring titles (Dr. Helen Park → HP)."""
    words = [w for w in name.replace(",", " ").split() if not w.endswith(".")]
    return "".join(w[0] for w in words[:1] + words[-1:] if w).upper() or "?"


def nav_items(user) -> list[tuple[str, str]]:
    """The navigation of ``user`` (the signed-in user, or None): (endpoint, label) pairs."""
    if user is None:
        return []
    if user.role == "practitioner":
        return [("web.home", "Caseload"), ("patients.index", "Patients"),
                ("outcomes.worklist_page", "Worklist")]
    if user.role == "director":
        items = [("web.home", "Clinic patients"), ("outcomes.dashboard", "Outcomes"),
                 ("outcomes.worklist_page", "Worklist"), ("audit.report", "Audit log")]
        if user.is_clinician:
            items.insert(1, ("web.caseload_page", "My caseload"))
        return items
    return [("web.home", "My plan"), ("portal.diary", "Pain diary"), ("portal.visits", "Visits")]


def signed_in_user():
    """The signed-in user, or None (one look-up of ``current_user``)."""
    user = current_user._get_current_object()
    return user if user is not None and user.is_authenticated else None


def layout_context() -> dict:
    """Navigation and clinic details for ``base.html``."""
    return {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "nav_items": nav_items(signed_in_user()),
        "current_endpoint": request.endpoint or "",
        "today": clinic_today(),
        "MEASURES": MEASURES,
        "INTERVENTIONS": INTERVENTIONS,
        "SPECIAL_TESTS": SPECIAL_TESTS,
        "DISCHARGE_REASONS": DISCHARGE_REASONS,
    }


def register_page_helpers(app: Flask) -> None:
    """Install the layout context processor and the template filters."""
    app.context_processor(layout_context)
    app.jinja_env.filters.update(
        day=format_day, moment=format_moment, iso_moment=iso_moment, humanise=humanise,
        relative_day=relative_day, initials=initials, choices=choices, side_label=side_label,
        measure_value=measure_value)
    from notes_service.web.note_form import field_label

    app.jinja_env.globals.update(measure_name=measure_name, field_label=field_label)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
