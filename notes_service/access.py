"""Access rules: which patients a user may see, and who may write clinical data.

Every query that reads patient data goes through these scopes; ids that come from a URL or a
body are looked up *within* the scope, so a denied object and a missing one both answer 404.
"""

from __future__ import annotations

from sqlalchemy import exists, false, select, true

from notes_service.errors import Forbidden, NotFound
from notes_service.extensions import db
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import PlanOfCare
from notes_service.security.models import grant_condition
from notes_service.visits.models import VisitNote


def patient_scope(user, patient_id_column):
    """SQL condition: ``patient_id_column`` names a patient ``user`` may see."""
    if user is None:
        return false()
    if user.role == "director":
        return true()
    if user.role == "patient":
        return patient_id_column == user.patient_id if user.patient_id else false()
    # A break-glass grant opens a record for reading only: writes check on_care_team.
    return exists().where(care_team.c.patient_id == patient_id_column,
                          care_team.c.user_id == user.id) | grant_condition(user.id,
                                                                            patient_id_column)


def on_care_team(user, patient_id: int) -> bool:
    """Whether ``user`` is on the care team of the patient."""
    return db.session.execute(select(exists().where(
        care_team.c.patient_id == patient_id, care_team.c.user_id == user.id))).scalar()


def require_clinical_write(user, patient_id: int) -> None:
    """Refuse clinical writes by users who are not clinicians on the patient's care team.

    Called after the object was read within the user's scope, so the user already may see it:
    the refusal is a 403, not a 404.
    """
    if not user.is_clinician:
        raise Forbidden("Only practitioners on the patient's care team may document care.",
                        kind="clinical", patient_id=patient_id)
    if not on_care_team(user, patient_id):
        raise Forbidden("You are not on this patient's care team.", kind="clinical",
                        patient_id=patient_id)


def get_patient(user, patient_id: int, *options) -> Patient:
    """Load a patient ``user`` may see, or raise :class:`NotFound`."""
    patient = db.session.execute(
        select(Patient).where(Patient.id == patient_id, patient_scope(user, Patient.id))
        .options(*options)).scalar_one_or_none()
    if patient is None:
        raise NotFound("patient", patient_id, patient_id=patient_id)
    return patient


def get_plan(user, plan_id: int, *options) -> PlanOfCare:
    """Load a plan of care ``user`` may see, or raise :class:`NotFound`."""
    plan = db.session.execute(
        select(PlanOfCare).where(PlanOfCare.id == plan_id,
                                 patient_scope(user, PlanOfCare.patient_id))
        .options(*options)).unique().scalar_one_or_none()
    if plan is None:
        owner = db.session.execute(
            select(PlanOfCare.patient_id).where(PlanOfCare.id == plan_id)).scalar()
        raise NotFound("plan", plan_id, patient_id=owner)
    return plan


def visible_notes(user):
    """SQL condition on :class:`VisitNote` for the notes ``user`` may see.

    Patients see only signed notes of their own record; drafts are work in progress.
    """
    condition = patient_scope(user, VisitNote.patient_id)
    if user is not None and user.role == "patient":
        condition = condition & (VisitNote.status == "signed")
    return condition


def get_visit(user, visit_id: int, *options) -> VisitNote:
    """Load a visit note ``user`` may see, or raise :class:`NotFound`."""
    note = db.session.execute(
        select(VisitNote).where(VisitNote.id == visit_id, visible_notes(user))
        .options(*options)).scalar_one_or_none()
    if note is None:
        owner = db.session.execute(
            select(VisitNote.patient_id).where(VisitNote.id == visit_id)).scalar()
        raise NotFound("visit", visit_id, patient_id=owner)
    return note
