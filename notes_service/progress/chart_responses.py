"""Chart answers shared by the JSON API (bearer token) and the web pages (session).

One code path for both: scope the plan to the actor, pick the side, derive the ETag from the
data, audit the read, answer 304 to a matching ``If-None-Match`` without rendering, and
otherwise serve the chart from a small in-process cache or render it.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from flask import Response
from marshmallow import ValidationError

from notes_service.access import PlanVersion, plan_version
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import MEASURES
from notes_service.errors import NotFound
from notes_service.memo import Memo
from notes_service.plans.models import PlanOfCare
from notes_service.progress import charts, services

MEDIA = {"png": "image/png", "svg": "image/svg+xml"}

#: The measures drawn as the worst/least band of the pain chart (last 24 h).
PAIN_BAND = ("pain_worst", "pain_best")


#: Rendered charts, keyed by their ETag (content-derived), a few KB to 60 KB each.
CHART_CACHE = Memo(256)


def pick_side(plan: PlanOfCare | PlanVersion, measure: str, side: str | None) -> str | None:
    """The side to chart: the one asked for, else the plan's affected side when tracked."""
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


def pain_band(by_key: dict) -> tuple | None:
    """(worst, least) pain points of the last 24 h, when both are tracked, for the pain band."""
    worst, least = (by_key.get((code, None)) for code in PAIN_BAND)
    if worst is None or least is None:
        return None
    return worst.points, least.points


def _answer(etag: str, fmt: str, if_none_match: Container[str],
            render: Callable[[], bytes]) -> Response:
    """304 for a matching ETag, else the cached or freshly rendered chart."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
    if etag in if_none_match:
        return Response(status=304, headers=headers)
    body = CHART_CACHE.get(etag)
    if body is None:
        body = render()
        CHART_CACHE.put(etag, body)
    return Response(body, mimetype=MEDIA[fmt], headers=headers)


def measure_chart_response(actor: User, plan_id: int, measure: str, fmt: str, *,
                           side: str | None, width: int, height: int,
                           if_none_match: Container[str] = ()) -> Response:
    """The chart of one measure (and side) of a plan the actor may see (404 otherwise)."""
    plan = plan_version(actor, plan_id)
    if measure not in MEASURES:
        raise NotFound("chart", plan_id, patient_id=plan.patient_id)
    side = pick_side(plan, measure, side)
    friendly = actor.role == "patient"
    etag = services.chart_etag(plan, measure, side, fmt, width, height, friendly)
    record(actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail=f"{measure} {side or ''}".strip())

    def render() -> bytes:
        loaded, progress = services.plan_progress_for(actor, plan.id)
        by_key = {(m.measure, m.side): m for m in progress.measures}
        mp = by_key.get((measure, side)) or services.empty_progress(measure, side)
        band = pain_band(by_key) if measure == "pain" else None
        return charts.measure_chart(mp, plan_start=loaded.start_date, plan_end=loaded.end_date,
                                    fmt=fmt, width=width, height=height,
                                    patient_friendly=friendly, band=band)

    return _answer(etag, fmt, if_none_match, render)


def overview_chart_response(actor: User, plan_id: int, fmt: str, *, width: int,
                            if_none_match: Container[str] = ()) -> Response:
    """The overview chart (one panel per measure) of a plan the actor may see."""
    plan = plan_version(actor, plan_id)
    friendly = actor.role == "patient"
    etag = services.chart_etag(plan, "overview", fmt, width, friendly)
    record(actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail="overview")

    def render() -> bytes:
        loaded, progress = services.plan_progress_for(actor, plan.id)
        return charts.overview_chart(progress.measures, plan_start=loaded.start_date,
                                     plan_end=loaded.end_date, fmt=fmt, width=width,
                                     patient_friendly=friendly)

    return _answer(etag, fmt, if_none_match, render)
