"""Outcome, worklist and acknowledgement routes of the JSON API."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify
from marshmallow import Schema

from notes_service.api import CHART_MEDIA, api_route
from notes_service.audit.services import record
from notes_service.outcomes import exports, services, worklist
from notes_service.outcomes.schemas import (
    AcknowledgementSchema,
    AcknowledgeSchema,
    OutcomeChartQuerySchema,
    OutcomeQuerySchema,
    OutcomesSchema,
    WorklistQuerySchema,
    WorklistSchema,
)

MEDIA = {"png": "image/png", "svg": "image/svg+xml"}

# Built once: a schema instance builds its nested schemas on first use and keeps them, so
# dumping with a fresh instance per request would rebuild dozens of them every time.
OUTCOMES = OutcomesSchema()
WORKLIST = WorklistSchema()
ACKNOWLEDGEMENT = AcknowledgementSchema()


def _json(schema: Schema, obj, status: int = 200) -> Response:
    """Dump ``obj`` with a prebuilt schema (``api_route`` still documents the schema)."""
    response = jsonify(schema.dump(obj))
    response.status_code = status
    return response


@api_route("/outcomes", summary="Clinic outcome figures, clinic-wide and per practitioner",
           tag="outcomes", query=OutcomeQuerySchema, response=OutcomesSchema,
           errors=(401, 403, 422))
def get_outcomes(query):
    return _json(OUTCOMES, services.clinic_outcomes(g.actor, query))


def _csv(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@api_route("/outcomes/practitioners.csv", summary="The per-practitioner outcome table as CSV",
           tag="outcomes", query=OutcomeQuerySchema, media_type="text/csv",
           errors=(401, 403, 422))
def outcomes_table_csv(query):
    figures = services.clinic_outcomes(g.actor, query)
    return _csv(exports.practitioner_table_csv(figures), "outcomes-by-practitioner.csv")


@api_route("/outcomes/plans.csv", summary="De-identified plan-level outcomes as CSV",
           tag="outcomes", query=OutcomeQuerySchema, media_type="text/csv",
           errors=(401, 403, 422))
def outcomes_plans_csv(query):
    services.require_director(g.actor)
    services.ensure_current_for(query)
    text, count = exports.deidentified_plans_csv(
        query, current_app.config["PROGRESS_THRESHOLDS"])
    record(g.actor, "export", "outcomes", detail=f"de-identified plans ({count}) "
           f"{query.describe()}")
    return _csv(text, "outcomes-plans-deidentified.csv")


@api_route("/outcomes/charts/<any(change, mcid_by_month, visits):name>.<any(png, svg):fmt>",
           summary="An outcome chart (PNG or SVG): change per practitioner, share reaching "
                   "the minimal important change by month of discharge, visits per plan",
           tag="outcomes", query=OutcomeChartQuerySchema, media_type=CHART_MEDIA,
           errors=(401, 403, 422))
def outcomes_chart(name, fmt, query):
    image = services.outcome_chart(g.actor, name, fmt, **query)
    return Response(image, mimetype=MEDIA[fmt], headers={
        "Cache-Control": "private, no-store"})


@api_route("/worklist", summary="Open compliance items: the clinic (directors) or the "
                                "practitioner's own caseload", tag="outcomes",
           query=WorklistQuerySchema, response=WorklistSchema, errors=(401, 403, 422))
def get_worklist(query):
    return _json(WORKLIST, worklist.worklist_for(g.actor, query))


@api_route("/plans/<int:plan_id>/flags/acknowledge", "POST",
           summary="Acknowledge an open plateau or worsening flag with a reason",
           tag="outcomes", body=AcknowledgeSchema, response=AcknowledgementSchema, status=201,
           errors=(401, 403, 404, 409, 422))
def acknowledge_flag(plan_id, data):
    return _json(ACKNOWLEDGEMENT, worklist.acknowledge_flag(g.actor, plan_id, data), 201)
