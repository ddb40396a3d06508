"""Progress in the web pages: session-signed chart images, the progress parts of the patient
and plan pages (statuses, explanations, charts with their data tables, flags), and moving a
plateaued plan to a maintenance plan.

The chart routes answer through :mod:`notes_service.progress.chart_responses`, the same code
as the JSON API's chart routes (scope, ETag, audit, 304, cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, Flask, flash, g, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from notes_service.access import require_clinical_write
from notes_service.audit.services import record_many
from notes_service.db_types import utcnow
from notes_service.errors import Conflict
from notes_service.extensions import db, login_manager
from notes_service.patients.services import read_patient
from notes_service.plans.models import PlanOfCare
from notes_service.plans.services import read_plan
from notes_service.progress import services
from notes_service.progress.chart_responses import (
    PAIN_BAND,
    measure_chart_response,
    overview_chart_response,
)
from notes_service.progress.charts import chart_alt_text
from notes_service.progress.rules import MeasureProgress, PlanProgress, format_number
from notes_service.progress.schemas import (
    ChartQuerySchema,
    MaintenanceSchema,
    OverviewQuerySchema,
)
from notes_service.web.forms import FormState, clean_text, map_errors
from notes_service.web.fragments import Fragment
from notes_service.web.pages import render_page, require_staff
from notes_service.web.views import open_flags

bp = Blueprint("progress", __name__)

#: Plans whose flags are open (the engine's flags only concern plans still under care).
OPEN_STATUSES = ("active", "on_hold")

#: Words of each progress status on the pages.
STATUS_LABELS = {
    "goal_met": "Goal met",
    "improving": "Improving",
    "plateau": "Plateau",
    "worsening": "Worsening",
    "insufficient_data": "Insufficient data",
}

#: Pixel size of a measure chart on a page (it scales down to its column; never up).
CHART_WIDTH, CHART_HEIGHT = 720, 360
#: Width of the overview chart (its height follows from the number of panels).
OVERVIEW_WIDTH = 900


@bp.before_request
def _signed_in():
    """Any signed-in user; what they may see is scoped by the services (patients: their own)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    g.actor = current_user._get_current_object()
    return None


# --------------------------------------------------------------------------- chart images

@bp.get("/plans/<int:plan_id>/charts/<measure>.<any(png, svg):fmt>")
def measure_chart(plan_id: int, measure: str, fmt: str):
    """One measure's chart (``?side=left|right``, ``width``, ``height``), with ETag/304."""
    query = ChartQuerySchema().load(request.args.to_dict())
    response = measure_chart_response(g.actor, plan_id, measure, fmt, side=query.get("side"),
                                      width=query["width"], height=query["height"],
                                      if_none_match=request.if_none_match)
    db.session.commit()  # the audit row of the read
    return response


@bp.get("/plans/<int:plan_id>/charts/overview.<any(png, svg):fmt>")
def overview_chart(plan_id: int, fmt: str):
    """The overview chart of every tracked measure of a plan, with ETag/304."""
    query = OverviewQuerySchema().load(request.args.to_dict())
    response = overview_chart_response(g.actor, plan_id, fmt, width=query["width"],
                                       if_none_match=request.if_none_match)
    db.session.commit()
    return response


# --------------------------------------------------------------------------- maintenance

@bp.route("/plans/<int:plan_id>/maintenance", methods=["GET", "POST"])
def maintenance(plan_id: int):
    """Move a plateaued plan to a maintenance plan, with the reason (required)."""
    refused = require_staff()
    if refused is not None:
        return refused
    user = g.actor
    plan = read_plan(user, plan_id)
    require_clinical_write(user, plan.patient_id)
    if plan.maintenance_since is not None:
        flash(f"This plan is a maintenance plan since {plan.maintenance_since:%d %b %Y}.",
              "info")
        return redirect(url_for("plans.detail", plan_id=plan.id))
    if plan.status != "active":
        raise Conflict(f"The plan is {plan.status.replace('_', ' ')}: only an active plan can "
                       "become a maintenance plan.")
    form = FormState.from_request() if request.method == "POST" else FormState()
    status = 200
    if request.method == "POST":
        try:
            data = MaintenanceSchema().load({"reason": clean_text(form.get("reason")).strip()})
        except ValidationError as exc:
            map_errors(form, exc.messages, fields=("reason",))
            status = 422
        else:
            services.start_maintenance(user, plan.id, data["reason"])
            db.session.commit()
            flash(f"Plan {plan.diagnosis_code} is now a maintenance plan: the goal is to maintain "
                  "function, and a plateau no longer raises a flag.", "success")
            return redirect(url_for("plans.detail", plan_id=plan.id))
    patient = read_patient(user, plan.patient_id)
    context = progress_context([plan], focus=plan, panels=False)
    return render_page("progress/maintenance.html", status, plan=plan, patient=patient,
                       form=form, **context)


# --------------------------------------------------------------------------- page parts

@dataclass
class DataRow:
    """One visit of a measure's data table: values before and after treatment, as shown."""

    day: date
    pre: str
    post: str
    #: Within-visit change (post − pre) as shown, and whether it was better/worse/same.
    change: str
    direction: str
    #: Worst and least pain of the last 24 h (pain only, when recorded).
    worst: str = ""
    least: str = ""

    @property
    def iso(self) -> str:
        """The day for ``<time datetime>``."""
        return self.day.isoformat()

    @property
    def short_day(self) -> str:
        """3 Mar (the year is printed for screen readers only)."""
        return f"{self.day.day} {self.day:%b}"


@dataclass
class MeasurePanel:
    """What a page shows of one measure: status, explanation, chart and its data table."""

    progress: MeasureProgress
    chart_url: str | None
    alt_text: str
    width: int
    height: int
    rows: list[DataRow] = field(default_factory=list)
    #: Worst/least pain drawn as the band of the pain chart (their own statuses shown too).
    band: list[MeasureProgress] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """A page id of the measure: progress-slr-right."""
        return "progress-" + self.progress.measure.replace("_", "-") + (
            f"-{self.progress.side}" if self.progress.side else "")


def _change(mp: MeasureProgress, pre: float | None, post: float | None) -> tuple[str, str]:
    if pre is None or post is None:
        return "", ""
    delta = post - pre
    improvement = mp.catalog.improvement(pre, post)
    direction = "better" if improvement > 1e-9 else "worse" if improvement < -1e-9 else "same"
    sign = "+" if delta > 1e-9 else "−" if delta < -1e-9 else "±"
    unit = "°" if mp.unit == "deg" else ""
    return f"{sign}{format_number(abs(delta))}{unit}", direction


def _number(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def measure_panels(plan: PlanOfCare, progress: PlanProgress) -> list[MeasurePanel]:
    """The measures of a plan as page panels, in catalog order.

    Worst and least pain are drawn as the band of the pain chart (as in the reports), so they
    join the pain panel instead of having charts of their own.
    """
    by_key = {(m.measure, m.side): m for m in progress.measures}
    banded = ("pain", None) in by_key and all((code, None) in by_key for code in PAIN_BAND)
    panels = []
    for mp in progress.measures:
        if banded and mp.measure in PAIN_BAND:
            continue
        band = [by_key[(code, None)] for code in PAIN_BAND] if banded and mp.measure == "pain" \
            else []
        extra = {code: {p.day: p.pre for p in by_key[(code, None)].points} for code in PAIN_BAND
                 } if band else {}
        rows = []
        fmt = mp.catalog.format_value
        for point in sorted(mp.points, key=lambda p: p.day, reverse=True):
            change, direction = _change(mp, point.pre, point.post)
            rows.append(DataRow(
                point.day, fmt(point.pre) if point.pre is not None else "—",
                fmt(point.post) if point.post is not None else "—", change, direction,
                worst=_number(extra["pain_worst"].get(point.day)) if band else "",
                least=_number(extra["pain_best"].get(point.day)) if band else ""))
        url = None
        if mp.points:
            url = url_for("progress.measure_chart", plan_id=plan.id, measure=mp.measure,
                          fmt="svg", side=mp.side, width=CHART_WIDTH, height=CHART_HEIGHT)
        panels.append(MeasurePanel(mp, url, chart_alt_text(mp), CHART_WIDTH, CHART_HEIGHT,
                                   rows, band))
    return panels


def overview_alt_text(plan: PlanOfCare, progress: PlanProgress) -> str:
    """A text alternative of the overview chart: each measure with its status."""
    measured = [m for m in progress.measures if m.series]
    if not measured:
        return f"Progress overview of plan {plan.diagnosis_code}: no values recorded yet."
    parts = []
    for mp in measured:
        fmt = mp.catalog.format_value
        values = fmt(mp.latest) if mp.baseline == mp.latest or len(mp.series) == 1 \
            else f"{fmt(mp.baseline)} to {fmt(mp.latest)}"
        parts.append(f"{mp.label} {values}, {STATUS_LABELS[mp.status].lower()}")
    return (f"Progress overview of plan {plan.diagnosis_code}, {len(measured)} measures: "
            + "; ".join(parts) + ". Each measure's values are in its data table.")


def overview_height(count: int) -> int:
    """Pixel height of the overview chart of ``count`` panels (its layout: 200 px a row)."""
    cols = 1 if count <= 1 else 2 if count <= 4 else 3
    return 80 + 200 * max(1, -(-count // cols))


def memo_keys(plans: list[PlanOfCare], validators: dict[int, tuple]) -> dict[int, tuple]:
    """The keys of ``plans`` in the progress memo, from validators the page already read.

    ``validators``: plan id → (count, latest change and sum of row versions of the notes the
    viewer may see, end of the latest report's period), the columns of
    :func:`~notes_service.access.notes_validator` and
    :func:`~notes_service.access.latest_report_end`: the very key
    :func:`~notes_service.progress.services.memoised_progress` builds with a statement of its
    own (a test holds the two equal).
    """
    common = services.memo_common(services.signed_only_for(g.actor))
    return {plan.id: (services._plan_key(plan), validators.get(plan.id), common)
            for plan in plans}


def plans_progress(plans: list[PlanOfCare], validators: dict[int, tuple] | None = None
                   ) -> dict[int, PlanProgress]:
    """Progress of ``plans`` (goals loaded) in one batched computation, audited per patient.

    With ``validators`` (see :func:`memo_keys`), memoised progress costs no query: only the
    plans not in the memo go to :func:`~notes_service.progress.services.caseload_progress`
    (which reads their keys again and computes them).
    """
    if not plans:
        return {}
    if validators is None:
        result = services.caseload_progress(g.actor, plans)
    else:
        now = utcnow()
        keys = memo_keys(plans, validators)
        result = {}
        for plan in plans:
            found = services.PROGRESS_MEMO.get(keys[plan.id], now)
            if found is not None:
                result[plan.id] = found
        missing = [plan for plan in plans if plan.id not in result]
        if missing:
            result.update(services.caseload_progress(g.actor, missing))
    record_many(g.actor, "read", "progress", sorted({p.patient_id for p in plans}))
    return result


def measures_html(plan: PlanOfCare, progress: PlanProgress, *, heading: int = 3,
                  collapsed: bool = False) -> Fragment:
    """The measure sections of ``plan`` (``progress/_measures.html``) as a cached fragment,
    rendered when printed.

    What they show is a function of the plan's id and the engine's measures (values, statuses,
    explanations): those are the key of the fragment, so a new value, a signed or corrected
    note or a changed goal (a new progress) renders them again.
    """
    key = (plan.id, tuple(progress.measures), heading, collapsed)
    return Fragment("progress/_measures.html", key, lambda: {
        "panels": measure_panels(plan, progress), "heading": heading, "collapsed": collapsed})


def focus_context(focus: PlanOfCare, progress: PlanProgress, *,
                  fragment: dict | None = None) -> dict:
    """Template context of the focus plan's progress parts: ``panels`` (measure sections) or,
    with ``fragment`` (the ``heading`` and ``collapsed`` of :func:`measures_html`), the cached
    fragment ``measures_html`` instead; and the overview chart's URL, size and alt text."""
    context = {}
    if fragment is not None:
        context["measures_html"] = measures_html(focus, progress, **fragment)
    else:
        context["panels"] = measure_panels(focus, progress)
    count = len(progress.measures)
    context["overview"] = {
        "url": url_for("progress.overview_chart", plan_id=focus.id, fmt="svg",
                       width=OVERVIEW_WIDTH),
        "width": OVERVIEW_WIDTH, "height": overview_height(count),
        "alt": overview_alt_text(focus, progress),
        "measured": any(m.series for m in progress.measures),
    }
    return context


def progress_context(plans: list[PlanOfCare], *, focus: PlanOfCare | None = None,
                     panels: bool = True, validators: dict[int, tuple] | None = None) -> dict:
    """Template context of a page's progress parts, in a constant number of queries.

    ``flags_by_plan`` (open plans), ``progress_by_plan`` (plan id → {(measure, side) →
    progress}, for the goals tables), ``focus_progress`` (the progress of ``focus``, or None),
    and with ``panels`` the parts of ``focus`` (:func:`focus_context`). ``validators``: those
    of the plans' progress memo, when the page read them with the plans
    (:func:`plans_progress`). A page whose HTML is cached passes ``panels=False`` and makes the
    focus parts (a URL, a text alternative) with :func:`focus_context` only when it renders.
    """
    open_plans = [p for p in plans if p.status in OPEN_STATUSES]
    wanted = open_plans + ([focus] if focus is not None and focus not in open_plans else [])
    progress = plans_progress(wanted, validators)
    context = {
        "flags_by_plan": open_flags(open_plans, progress),
        "progress_by_plan": {plan_id: {(m.measure, m.side): m for m in p.measures}
                             for plan_id, p in progress.items()},
        "focus_plan": focus, "panels": [], "overview": None,
        "focus_progress": progress.get(focus.id) if focus is not None else None,
    }
    if focus is not None and panels:
        context.update(focus_context(focus, progress[focus.id]))
    return context


def progress_status(status: str | None) -> str:
    """goal_met → Goal met (the words of a progress status)."""
    return STATUS_LABELS.get(status or "", (status or "").replace("_", " ").capitalize())


def flag_actions(plan: PlanOfCare, can_write: bool, *, form_on_page: bool = False
                 ) -> dict[str, tuple[str, str]]:
    """What a clinician can do about an open plan's flags: flag code → (url, label).

    ``form_on_page``: the page shows the maintenance form itself (the plan page), so a plateau
    links to it rather than to the maintenance page.
    """
    if not can_write or plan.status not in OPEN_STATUSES:
        return {}
    actions = {"progress_report_due": (
        url_for("reports.create", plan_id=plan.id, kind="progress"), "Write progress report")}
    if plan.status == "active" and plan.maintenance_since is None:
        url = "#maintenance" if form_on_page else url_for("progress.maintenance", plan_id=plan.id)
        actions["plateau"] = (url, "Move to maintenance plan")
    return actions


def register_progress_pages(app: Flask) -> None:
    """Register the blueprint, the filter of progress statuses and the flag actions."""
    app.register_blueprint(bp)
    app.jinja_env.filters["progress_status"] = progress_status
    app.jinja_env.globals["flag_actions"] = flag_actions
