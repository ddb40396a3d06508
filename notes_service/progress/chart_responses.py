"""Chart answers shared by the JSON API (bearer token) and the web pages (session).

One code path for both: scope the plan to the actor, pick the side, derive the ETag from the
data, audit the read, answer 304 to a matching ``If-None-Match`` without rendering, and
otherwise serve the chart from a small in-process cache or render it. A chart is drawn from
the plan's progress, kept by the same validator as its ETag
(:func:`~notes_service.progress.services.chart_source`) or else read and computed.

The API answers first from the validator alone (:func:`_known`, its ``shortcut``): a 304, a
cached chart, or one drawn from its kept progress, on a plain connection with no ORM session or
user object, in three statements. Anything else goes the one code path above.
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
from notes_service.progress.services import ChartSource

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


def _rendered(etag: str, fmt: str, body: bytes) -> Response:
    """A freshly rendered chart, kept for the next request of the same ETag."""
    CHART_CACHE.put(etag, body)
    return Response(body, mimetype=MEDIA[fmt], headers=_headers(etag))


def _answer(etag: str, fmt: str, if_none_match: Container[str],
            render: Callable[[], bytes]) -> Response:
    """304 for a matching ETag, else the cached or freshly rendered chart."""
    known = _known_answer(etag, fmt, if_none_match)
    if known is not None:
        return known
    return _rendered(etag, fmt, render())


def _draw_measure(source: ChartSource, measure: str, side: str | None, fmt: str, width: int,
                  height: int, patient_friendly: bool) -> bytes:
    by_key = {(m.measure, m.side): m for m in source.progress.measures}
    mp = by_key.get((measure, side)) or services.empty_progress(measure, side)
    band = pain_band(by_key) if measure == "pain" else None
    return charts.measure_chart(mp, plan_start=source.plan_start, plan_end=source.plan_end,
                                fmt=fmt, width=width, height=height,
                                patient_friendly=patient_friendly, band=band)


def _draw_overview(source: ChartSource, fmt: str, width: int, patient_friendly: bool) -> bytes:
    return charts.overview_chart(source.progress.measures, plan_start=source.plan_start,
                                 plan_end=source.plan_end, fmt=fmt, width=width,
                                 patient_friendly=patient_friendly)


#: A chart's validator: from the viewer and the plan's validator, the chart's ETag, the audit
#: row's detail and how to draw it from its :class:`ChartSource`.
Validator = Callable[[Identity | User, PlanVersion],
                     tuple[str, str, Callable[[ChartSource], bytes]]]


def _measure_validator(measure: str, side: str | None, fmt: str, width: int,
                       height: int) -> Validator:
    def validator(actor, plan):
        friendly = actor.role == "patient"
        drawn = pick_side(plan, measure, side)
        etag = services.chart_etag(plan, measure, drawn, fmt, width, height, friendly)
        return etag, f"{measure} {drawn or ''}".strip(), lambda source: _draw_measure(
            source, measure, drawn, fmt, width, height, friendly)
    return validator


def _overview_validator(fmt: str, width: int) -> Validator:
    def validator(actor, plan):
        friendly = actor.role == "patient"
        etag = services.chart_etag(plan, "overview", fmt, width, friendly)
        return etag, "overview", lambda source: _draw_overview(source, fmt, width, friendly)
    return validator


def _chart_response(actor: User, plan_id: int, validator: Validator, fmt: str,
                    if_none_match: Container[str]) -> Response:
    plan = plan_version(actor, plan_id)
    etag, detail, draw = validator(actor, plan)
    record(actor, "read", "chart", patient_id=plan.patient_id, object_id=plan.id,
           detail=detail)
    return _answer(etag, fmt, if_none_match,
                   lambda: draw(services.chart_source_for(actor, plan)))


def measure_chart_response(actor: User, plan_id: int, measure: str, fmt: str, *,
                           side: str | None, width: int, height: int,
                           if_none_match: Container[str] = ()) -> Response:
    """The chart of one measure (and side) of a plan the actor may see (404 otherwise)."""
    if measure not in MEASURES:
        plan = plan_version(actor, plan_id)
        raise NotFound("chart", plan_id, patient_id=plan.patient_id)
    return _chart_response(actor, plan_id, _measure_validator(measure, side, fmt, width, height),
                           fmt, if_none_match)


def overview_chart_response(actor: User, plan_id: int, fmt: str, *, width: int,
                            if_none_match: Container[str] = ()) -> Response:
    """The overview chart (one panel per measure) of a plan the actor may see."""
    return _chart_response(actor, plan_id, _overview_validator(fmt, width), fmt, if_none_match)


# --------------------------------------------------------------------------- known answers

def _known(plan_id: int, validator: Validator, fmt: str) -> Response | None:
    """A 304, a cached chart, or one drawn from its kept :class:`ChartSource`, for the
    request's bearer token, from the plan's validator alone, on a connection of its own (no
    ORM session; :class:`~notes_service.extensions.OwnConnections`): three statements (token,
    validator, audit row) and the commit. None, with nothing written, when the answer needs
    more (see ``api_route(shortcut=...)``)."""
    with own_connections.begin() as connection:
        actor = bearer_identity(connection)
        if actor is None:
            return None
        plan = plan_version_on(connection, actor, plan_id)
        if plan is None:
            return None
        try:
            etag, detail, draw = validator(actor, plan)
        except ValidationError:
            return None
        answer = _known_answer(etag, fmt, request.if_none_match)
        if answer is None:
            source = services.chart_source(plan, services.signed_only_for(actor))
            if source is None:
                return None
        record_on(connection, actor, "read", "chart", patient_id=plan.patient_id,
                  object_id=plan.id, detail=detail)
    # The block committed the audit row: no lock or connection is held while a chart draws.
    return answer if answer is not None else _rendered(etag, fmt, draw(source))


def known_measure_chart(plan_id: int, measure: str, fmt: str, query: dict) -> Response | None:
    """The measure chart's answer when a validator is enough (API shortcut), else None."""
    if measure not in MEASURES:
        return None

    return _known(plan_id, _measure_validator(measure, query.get("side"), fmt, query["width"],
                                              query["height"]), fmt)


def known_overview_chart(plan_id: int, fmt: str, query: dict) -> Response | None:
    """The overview chart's answer when a validator is enough (API shortcut), else None."""
    return _known(plan_id, _overview_validator(fmt, query["width"]), fmt)
