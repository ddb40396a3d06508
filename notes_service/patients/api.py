"""Patient routes of the JSON API."""

from flask import g

from notes_service.api import api_route
from notes_service.patients import services
from notes_service.patients.schemas import (
    CareTeamMemberSchema,
    PatientInputSchema,
    PatientListQuerySchema,
    PatientSchema,
    PatientUpdateSchema,
)


@api_route("/patients", "POST", summary="Register a patient", tag="patients",
           body=PatientInputSchema, response=PatientSchema, status=201, errors=(401, 403, 422))
def create_patient(data):
    return services.create_patient(g.actor, data)


@api_route("/patients", summary="List the patients you may see", tag="patients",
           query=PatientListQuerySchema, response=PatientSchema, many=True, errors=(401, 422))
def list_patients(query):
    return services.list_patients(g.actor, query.get("q"))


@api_route("/patients/<int:patient_id>", summary="Read a patient", tag="patients",
           response=PatientSchema, errors=(401, 404))
def get_patient(patient_id):
    return services.read_patient(g.actor, patient_id)


@api_route("/patients/<int:patient_id>", "PATCH", summary="Change a patient's demographics",
           tag="patients", body=PatientUpdateSchema, partial=True, response=PatientSchema,
           errors=(401, 403, 404, 422))
def update_patient(patient_id, data):
    return services.update_patient(g.actor, patient_id, data)


@api_route("/patients/<int:patient_id>/care-team", "POST", summary="Add to the care team",
           tag="patients", body=CareTeamMemberSchema, response=PatientSchema,
           errors=(401, 403, 404, 422))
def add_care_team_member(patient_id, data):
    return services.add_care_team_member(g.actor, patient_id, data["user_id"])


@api_route("/patients/<int:patient_id>/care-team/<int:user_id>", "DELETE",
           summary="Remove from the care team (directors)", tag="patients",
           response=PatientSchema, errors=(401, 403, 404))
def remove_care_team_member(patient_id, user_id):
    return services.remove_care_team_member(g.actor, patient_id, user_id)
