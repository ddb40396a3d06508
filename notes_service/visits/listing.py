"""A plan's visit notes as JSON, kept per process until any of them changes.

The list of 24 whole notes (their measurements, tests, questionnaires, addenda and authors) costs
some 330 ORM objects and their dump on every read; the same notes give the same JSON. The key is
what the viewer may see of the plan, from one prepared statement (:func:`access.plan_version`):
the plan's version, the count, latest change and sum of row versions of the notes visible to
the viewer (signed ones only for a patient), and the count and latest id of their addenda —
every write of a note moves one of these. Whether the viewer sees assessments is part of the
key. Authors' names are not: the service never renames a user.
"""

from __future__ import annotations

from flask import Response, json

from notes_service.access import plan_version, scope_kind
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.memo import Memo
from notes_service.portal.rules import assessment_visible_to
from notes_service.visits import services
from notes_service.visits.schemas import PatientVisitSchema, VisitSchema

#: Dumped lists of notes by plan and validator (tens of KB each).
VISIT_LISTS = Memo(256)
_DUMPERS = {True: VisitSchema(many=True), False: PatientVisitSchema(many=True)}


def list_visits_answer(actor: User, plan_id: int) -> Response:
    """The notes of a plan the actor may see, by visit date, audited as one list read."""
    plan = plan_version(actor, plan_id)
    assessments = assessment_visible_to(actor)
    key = (plan.id, plan.version, scope_kind(actor) == "patient", assessments, plan.notes,
           plan.addenda)
    body = VISIT_LISTS.get(key)
    if body is None:
        notes = services.list_visits(actor, plan_id)  # audits the read itself
        body = json.dumps(_DUMPERS[assessments].dump(notes))
        VISIT_LISTS.put(key, body)
    else:
        record(actor, "list", "visit", patient_id=plan.patient_id, object_id=plan.id,
               detail=f"{plan.notes[0]} notes of plan {plan.id}")
    return Response(body, mimetype="application/json")
