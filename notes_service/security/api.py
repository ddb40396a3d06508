"""Break-glass access through the JSON API."""

from flask import g

from notes_service.api import api_route
from notes_service.auth.schemas import BreakGlassRequestSchema, BreakGlassSchema
from notes_service.security.break_glass import break_glass


@api_route("/patients/<int:patient_id>/break-glass", "POST",
           summary="Read a record off your care team in an emergency, stating why "
           "(time-limited, audited, shown to the director)", tag="patients",
           body=BreakGlassRequestSchema, response=BreakGlassSchema, status=201,
           errors=(401, 403, 404, 409, 422))
def open_break_glass(patient_id, data):
    return break_glass(g.actor, patient_id, data["reason"])
