"""Progress and chart routes of the JSON API."""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Response, g, request
from marshmallow import ValidationError

from notes_service.access import get_plan
from notes_service.api import api_route
from notes_service.audit.services import record
from notes_service.catalog import MEASURES
from notes_service.errors import NotFound
from notes_service.plans.schemas import PlanSchema
from notes_service.progress import charts, services
from notes_service.progress.schemas import (
    ChartQuerySchema,
    MaintenanceSchema,
    OverviewQuerySchema,
    ProgressSchema,
)

MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


class ChartCache:
    """A small in-process LRU of rendered charts, keyed by their ETag (content-derived)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


CHART_CACHE = ChartCache()


@api_route("/plans/<int:plan_id>/progress", summary="Progress of every tracked measure, and flags",
           tag="progress", response=ProgressSchema, errors=(401, 404))
def get_progress(plan_id):
    plan, progress = services.plan_progress_for(g.actor, plan_id)
    return {"plan_id": plan.id, "measures": progress.measures, "flags": progress.flags}


def _chart_response(plan, etag: str, fmt: str, render) -> Response:
    """Answer 304 for a matching ETag, else the cached or freshly rendered chart."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    body = CHART_CACHE.get(etag)
    if body is None:
        body = render()
        CHART_CACHE.put(etag, body)
    return Response(body, mimetype=MEDIA[fmt], headers=headers)


def _pick_side(plan, measure: str, side: str | None) -> str | None:
    entry = MEASURES[measure]
    if not entry.sided:
        if side is not None:
            raise ValidationError({"side": [f"{entry.short_label} has no side."]})
        return None
    if side is not None:
        return side
    tracked = [s for m, s in plan.tracked_keys if m == measure]
    if plan.side in ("left", "right") and plan.side in tracked:
        return plan.side
    return tracked[0] if tracked else plan.side if plan.side in ("left", "right") else "left"


@api_route("/plans/<int:plan_id>/charts/<measure>.<any(png, svg):fmt>",
           summary="Chart of one measure (PNG or SVG); ETag / If-None-Match", tag="progress",
           query=ChartQuerySchema, media_type="image/png", errors=(304, 401, 404, 422))
def measure_chart(plan_id, measure, fmt, query):
    plan = get_plan(g.actor, plan_id)
    if measure not in MEASURES:
        raise NotFound("chart", plan_id, patient_id=plan.patient_id)
    side = _pick_side(plan, measure, query.get("side"))
    friendly = g.actor.role == "patient"
    signed_only = services.signed_only_for(g.actor)
    etag = services.chart_etag(plan, measure, side, fmt, query["width"], query["height"],
                               friendly, signed_only=signed_only)
    record(g.actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail=f"{measure} {side or ''}".strip())

    def render() -> bytes:
        _, progress = services.plan_progress_for(g.actor, plan.id)
        by_key = {(m.measure, m.side): m for m in progress.measures}
        mp = by_key.get((measure, side))
        if mp is None:
            mp = services.empty_progress(measure, side)
        band = None
        if measure == "pain" and ("pain_worst", None) in by_key and ("pain_best", None) in by_key:
            band = (by_key[("pain_worst", None)].points, by_key[("pain_best", None)].points)
        return charts.measure_chart(mp, plan_start=plan.start_date, plan_end=plan.end_date,
                                    fmt=fmt, width=query["width"], height=query["height"],
                                    patient_friendly=friendly, band=band)

    return _chart_response(plan, etag, fmt, render)


@api_route("/plans/<int:plan_id>/charts/overview.<any(png, svg):fmt>",
           summary="Overview chart of every tracked measure (PNG or SVG)", tag="progress",
           query=OverviewQuerySchema, media_type="image/png", errors=(304, 401, 404, 422))
def overview_chart(plan_id, fmt, query):
    plan = get_plan(g.actor, plan_id)
    friendly = g.actor.role == "patient"
    etag = services.chart_etag(plan, "overview", fmt, query["width"], friendly,
                               signed_only=services.signed_only_for(g.actor))
    record(g.actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail="overview")

    def render() -> bytes:
        _, progress = services.plan_progress_for(g.actor, plan.id)
        return charts.overview_chart(progress.measures, plan_start=plan.start_date,
                                     plan_end=plan.end_date, fmt=fmt, width=query["width"],
                                     patient_friendly=friendly)

    return _chart_response(plan, etag, fmt, render)


@api_route("/plans/<int:plan_id>/maintenance", "POST",
           summary="Make a plateaued plan a maintenance plan", tag="progress",
           body=MaintenanceSchema, response=PlanSchema, errors=(401, 403, 404, 409, 422))
def start_maintenance(plan_id, data):
    return services.start_maintenance(g.actor, plan_id, data["reason"])
