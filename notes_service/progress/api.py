"""Progress and chart routes of the JSON API (the charts share their answer with the web
pages: :mod:`notes_service.progress.chart_responses`)."""

from __future__ import annotations

from flask import Response, g, json, request

from notes_service.access import plan_version
from notes_service.api import CHART_MEDIA, api_route
from notes_service.audit.services import record
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.memo import Memo
from notes_service.plans.schemas import PlanSchema
from notes_service.progress import services
from notes_service.progress.chart_responses import (
    known_measure_chart,
    known_overview_chart,
    measure_chart_response,
    overview_chart_response,
)
from notes_service.progress.schemas import (
    ChartQuerySchema,
    MaintenanceSchema,
    OverviewQuerySchema,
    ProgressSchema,
)


#: The dumped progress of a plan, by a validator of everything it is computed from (the plan's
#: version, which moves with its status, dates and goals; its notes as the viewer sees them; its
#: latest report; the clinic's date and settings), until a draft of it turns overdue.
PROGRESS_JSON = Memo(1024)
_PROGRESS_SCHEMA = ProgressSchema()


@api_route("/plans/<int:plan_id>/progress", summary="Progress of every tracked measure, and flags",
           tag="progress", response=ProgressSchema, errors=(401, 404))
def get_progress(plan_id):
    found = plan_version(g.actor, plan_id, reports=True)
    key = (found.id, found.version, found.notes, found.reported_until,
           services.signed_only_for(g.actor), clinic_today(), services.settings_key())
    body = PROGRESS_JSON.get(key, utcnow())
    if body is None:
        plan, progress, memo_key = services.plan_progress_entry(g.actor, plan_id)  # audited
        body = json.dumps(_PROGRESS_SCHEMA.dump(
            {"plan_id": plan.id, "measures": progress.measures, "flags": progress.flags}))
        PROGRESS_JSON.put(key, body, services.PROGRESS_MEMO.expiry(memo_key))
    else:
        record(g.actor, "read", "progress", patient_id=found.patient_id, object_id=found.id)
    return Response(body, mimetype="application/json")


@api_route("/plans/<int:plan_id>/charts/<measure>.<any(png, svg):fmt>",
           summary="Chart of one measure (PNG or SVG); ETag / If-None-Match", tag="progress",
           query=ChartQuerySchema, media_type=CHART_MEDIA, errors=(304, 401, 404, 422),
           shortcut=known_measure_chart)
def measure_chart(plan_id, measure, fmt, query):
    return measure_chart_response(g.actor, plan_id, measure, fmt, side=query.get("side"),
                                  width=query["width"], height=query["height"],
                                  if_none_match=request.if_none_match)


@api_route("/plans/<int:plan_id>/charts/overview.<any(png, svg):fmt>",
           summary="Overview chart of every tracked measure (PNG or SVG)", tag="progress",
           query=OverviewQuerySchema, media_type=CHART_MEDIA, errors=(304, 401, 404, 422),
           shortcut=known_overview_chart)
def overview_chart(plan_id, fmt, query):
    return overview_chart_response(g.actor, plan_id, fmt, width=query["width"],
                                   if_none_match=request.if_none_match)


@api_route("/plans/<int:plan_id>/maintenance", "POST",
           summary="Make a plateaued plan a maintenance plan", tag="progress",
           body=MaintenanceSchema, response=PlanSchema, errors=(401, 403, 404, 409, 422))
def start_maintenance(plan_id, data):
    return services.start_maintenance(g.actor, plan_id, data["reason"])
