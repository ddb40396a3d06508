"""Visit-note routes of the JSON API."""

from flask import g, jsonify

from notes_service.api import api_route, load_json
from notes_service.portal.rules import assessment_visible_to
from notes_service.visits import services
from notes_service.visits.listing import list_visits_answer
from notes_service.visits.schemas import (
    AddendumInputSchema,
    PatientVisitSchema,
    SignSchema,
    VisitInputSchema,
    VisitSchema,
    VisitUpdateSchema,
    checked_against,
)


#: Every field of an update is optional but the version read.
_OPTIONAL_ON_UPDATE = tuple(name for name in VisitUpdateSchema._declared_fields if name != "version")

# Built once: a schema builds its nested schemas on first use and keeps them. The input
# schemas are checked against the request's plan with ``checked_against``.
NEW_NOTE = VisitInputSchema()
CHANGE = VisitUpdateSchema(partial=_OPTIONAL_ON_UPDATE)
VISIT = VisitSchema()


@api_route("/plans/<int:plan_id>/visits", "POST", summary="Record a visit note (draft)",
           tag="visits", body=VisitInputSchema, load_body=False, response=VisitSchema,
           status=201, errors=(401, 403, 404, 409, 422))
def create_visit(plan_id):
    plan = services.plan_open_for_notes(g.actor, plan_id)  # 404, 403, 409 before the body
    with checked_against(plan):
        data = load_json(NEW_NOTE)
    return services.record_visit_note(g.actor, plan, data)


def _as_read_by_actor(result, many: bool = False):
    """Notes as dumped for the actor: a patient gets ``assessment`` null unless the clinic
    shares it (``PORTAL_SHOWS_ASSESSMENT``)."""
    if assessment_visible_to(g.actor):
        return result
    return jsonify(PatientVisitSchema(many=many).dump(result))


@api_route("/plans/<int:plan_id>/visits", summary="List a plan's visit notes", tag="visits",
           response=VisitSchema, many=True, errors=(401, 404))
def list_visits(plan_id):
    return list_visits_answer(g.actor, plan_id)


@api_route("/visits/<int:visit_id>", summary="Read a visit note", tag="visits",
           response=VisitSchema, errors=(401, 404))
def get_visit(visit_id):
    return _as_read_by_actor(services.read_visit(g.actor, visit_id))


@api_route("/visits/<int:visit_id>", "PATCH", summary="Change a draft note", tag="visits",
           body=VisitUpdateSchema, load_body=False, partial=_OPTIONAL_ON_UPDATE,
           response=VisitSchema,
           errors=(401, 403, 404, 409, 422))
def update_visit(visit_id):
    note = services.draft_for_change(g.actor, visit_id)  # 404, 403, 409 before the body
    with checked_against(note.plan_of_care):
        data = load_json(CHANGE)
    return services.update_visit_note(g.actor, note, data, dump=VISIT.dump)


@api_route("/visits/<int:visit_id>/sign", "POST", summary="Sign a draft note", tag="visits",
           body=SignSchema, response=VisitSchema, errors=(401, 403, 404, 409, 422))
def sign_visit(visit_id, data):
    return services.sign_note(g.actor, visit_id, data.get("version"), dump=VISIT.dump)


@api_route("/visits/<int:visit_id>/addenda", "POST", summary="Add an addendum to a signed note",
           tag="visits", body=AddendumInputSchema, response=VisitSchema, status=201,
           errors=(401, 403, 404, 409, 422))
def add_addendum(visit_id, data):
    return services.add_addendum(g.actor, visit_id, data["text"])
