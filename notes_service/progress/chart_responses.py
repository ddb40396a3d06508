"""Chart answers shared by the JSON API (bearer token) and the web pages (session).

One code path for both: scope the plan to the actor, pick the side, derive the ETag from the
data, audit the read, answer 304 to a matching ``If-None-Match`` without rendering, and
otherwise serve the chart from a small in-process cache or render it.

The API answers a 304 or a cached chart first from the validator alone (:func:`_known`, its
``shortcut``): a plain connection, no ORM session or user object, three statements. Anything
else goes the one code path above.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from flask import Response, request
from marshmallow import ValidationError

from notes_service.access import PlanVersion, plan_version, plan_version_on
from notes_service.api import Identity, bearer_identity
from notes_service.audit.services import record, record_on
from notes_service.auth.models import User
from notes_service.catalog import MEASURES
from notes_service.errors import NotFound
from notes_service.extensions import own_connections
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


def _headers(etag: str) -> dict:
    return {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}


def _known_answer(etag: str, fmt: str, if_none_match: Container[str]) -> Response | None:
    """304 for a matching ETag, the cached chart, or None (it must be rendered)."""
    if etag in if_none_match:
        return Response(status=304, headers=_headers(etag))
    body = CHART_CACHE.get(etag)
    if body is None:
        return None
    return Response(body, mimetype=MEDIA[fmt], headers=_headers(etag))


def _answer(etag: str, fmt: str, if_none_match: Container[str],
            render: Callable[[], bytes]) -> Response:
    """304 for a matching ETag, else the cached or freshly rendered chart."""
    known = _known_answer(etag, fmt, if_none_match)
    if known is not None:
        return known
    body = render()
    CHART_CACHE.put(etag, body)
    return Response(body, mimetype=MEDIA[fmt], headers=_headers(etag))


def _measure_validator(actor, plan: PlanVersion, measure: str, side: str | None, fmt: str,
                       width: int, height: int) -> tuple[str | None, str, str]:
    """The side drawn, the chart's ETag and the audit row's detail."""
    side = pick_side(plan, measure, side)
    etag = services.chart_etag(plan, measure, side, fmt, width, height,
                               actor.role == "patient")
    return side, etag, f"{measure} {side or ''}".strip()


def _overview_validator(actor, plan: PlanVersion, fmt: str, width: int) -> str:
    return services.chart_etag(plan, "overview", fmt, width, actor.role == "patient")


def measure_chart_response(actor: User, plan_id: int, measure: str, fmt: str, *,
                           side: str | None, width: int, height: int,
                           if_none_match: Container[str] = ()) -> Response:
    """The chart of one measure (and side) of a plan the actor may see (404 otherwise)."""
    plan = plan_version(actor, plan_id)
    if measure not in MEASURES:
        raise NotFound("chart", plan_id, patient_id=plan.patient_id)
    side, etag, detail = _measure_validator(actor, plan, measure, side, fmt, width, height)
    friendly = actor.role == "patient"
    record(actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail=detail)

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
    etag = _overview_validator(actor, plan, fmt, width)
    record(actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail="overview")

    def render() -> bytes:
        loaded, progress = services.plan_progress_for(actor, plan.id)
        return charts.overview_chart(progress.measures, plan_start=loaded.start_date,
                                     plan_end=loaded.end_date, fmt=fmt, width=width,
                                     patient_friendly=actor.role == "patient")

    return _answer(etag, fmt, if_none_match, render)


# --------------------------------------------------------------------------- known answers

def _known(plan_id: int, validator: Callable[[Identity, PlanVersion], tuple[str, str]],
           fmt: str) -> Response | None:
    """A 304 or a cached chart for the request's bearer token, from the plan's validator
    alone, on a connection of its own (no ORM session; :class:`~notes_service.extensions.
    OwnConnections`): three statements (token, validator, audit row) and the commit. None,
    with nothing written, when the answer needs more (see ``api_route(shortcut=...)``)."""
    with own_connections.begin() as connection:
        actor = bearer_identity(connection)
        if actor is None:
            return None
        plan = plan_version_on(connection, actor, plan_id)
        if plan is None:
            return None
        try:
            etag, detail = validator(actor, plan)
        except ValidationError:
            return None
        answer = _known_answer(etag, fmt, request.if_none_match)
        if answer is not None:
            record_on(connection, actor, "read", "chart", patient_id=plan.patient_id,
                      object_id=plan.id, detail=detail)
        return answer  # the block commits the audit row (or the reads alone)


def known_measure_chart(plan_id: int, measure: str, fmt: str, query: dict) -> Response | None:
    """The measure chart's answer when a validator is enough (API shortcut), else None."""
    if measure not in MEASURES:
        return None

    def validator(actor, plan):
        _side, etag, detail = _measure_validator(actor, plan, measure, query.get("side"), fmt,
                                                 query["width"], query["height"])
        return etag, detail

    return _known(plan_id, validator, fmt)


def known_overview_chart(plan_id: int, fmt: str, query: dict) -> Response | None:
    """The overview chart's answer when a validator is enough (API shortcut), else None."""
    return _known(plan_id, lambda actor, plan: (
        _overview_validator(actor, plan, fmt, query["width"]), "overview"), fmt)
