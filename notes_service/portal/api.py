"""Portal routes of the JSON API: the pain diary and invitation links."""

from flask import Response, g, url_for

from notes_service.api import api_route, load_json
from notes_service.portal import services
from notes_service.portal.schemas import (
    DiaryEntryChangeSchema,
    DiaryEntryInputSchema,
    DiaryEntrySchema,
    InvitationInputSchema,
    InvitationSchema,
)


@api_route("/patients/<int:patient_id>/diary", "POST",
           summary="Record a pain-diary entry (the patient, for their own record)", tag="portal",
           body=DiaryEntryInputSchema, load_body=False, response=DiaryEntrySchema, status=201,
           errors=(401, 403, 404, 422))
def create_diary_entry(patient_id):
    start = services.diary_open_for_writing(g.actor, patient_id)  # 404 before the body is read
    data = load_json(DiaryEntryInputSchema(earliest=start))
    return services.record_diary_entry(g.actor, patient_id, data)


@api_route("/patients/<int:patient_id>/diary",
           summary="A patient's pain diary, newest first (patient-reported values)",
           tag="portal", response=DiaryEntrySchema, many=True, errors=(401, 404))
def list_diary(patient_id):
    return services.list_diary(g.actor, patient_id)


@api_route("/patients/<int:patient_id>/diary/<int:entry_id>", "PATCH",
           summary="Correct a pain-diary entry (its author, within PORTAL_DIARY_CHANGE_HOURS, "
                   "24 by default, of writing it)", tag="portal",
           body=DiaryEntryChangeSchema, load_body=False, partial=True,
           response=DiaryEntrySchema, errors=(401, 403, 404, 409, 422))
def change_diary_entry(patient_id, entry_id):
    # 404, 403, 409 (audited as denied) before the body is read
    entry = services.diary_entry_for_change(g.actor, patient_id, entry_id)
    data = load_json(DiaryEntryChangeSchema(earliest=services.diary_start(entry.patient_id),
                                            partial=True))
    return services.change_diary_entry(g.actor, entry, data)


@api_route("/patients/<int:patient_id>/diary/<int:entry_id>", "DELETE",
           summary="Withdraw a pain-diary entry (its author, within PORTAL_DIARY_CHANGE_HOURS "
                   "of writing it): kept for the audit trail, no longer listed or counted",
           tag="portal", status=204,
           errors=(401, 403, 404, 409))
def withdraw_diary_entry(patient_id, entry_id):
    services.withdraw_diary_entry(
        g.actor, services.diary_entry_for_change(g.actor, patient_id, entry_id))
    return Response(status=204)


@api_route("/patients/<int:patient_id>/portal-invitations", "POST",
           summary="Create a one-time portal link for the patient (care team)", tag="portal",
           body=InvitationInputSchema, response=InvitationSchema, status=201,
           errors=(401, 403, 404, 409, 422))
def create_invitation(patient_id, data):
    invitation, token = services.create_invitation(g.actor, patient_id, reset=data["reset"])
    return {"id": invitation.id, "patient_id": invitation.patient_id,
            "purpose": invitation.purpose, "expires_at": invitation.expires_at,
            "url": url_for("portal.accept", token=token, _external=True)}
