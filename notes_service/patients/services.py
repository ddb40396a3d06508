"""Patient operations, each scoped by the acting user's access."""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from notes_service.access import get_patient, patient_scope, require_clinical_write
from notes_service.audit.services import record, record_many
from notes_service.auth.models import User
from notes_service.errors import Forbidden, NotFound
from notes_service.extensions import db
from notes_service.patients.models import Patient, care_team


def _unique_mrn(mrn: str | None, patient_id: int | None = None) -> None:
    if not mrn:
        return
    clash = db.session.execute(select(Patient.id).where(Patient.mrn == mrn)).scalar()
    if clash is not None and clash != patient_id:
        raise ValidationError({"mrn": ["Another patient already has this MRN."]})


def create_patient(actor: User, data: dict) -> Patient:
    """Register a patient; a creating clinician joins the care team."""
    if actor.role not in ("practitioner", "director"):
        raise Forbidden("Only clinic staff may register patients.")
    _unique_mrn(data.get("mrn"))
    patient = Patient(**data)
    if actor.is_clinician:
        patient.care_team = [actor]
    else:
        patient.care_team = []
    db.session.add(patient)
    db.session.flush()
    record(actor, "create", "patient", patient_id=patient.id, object_id=patient.id)
    return patient


def list_patients(actor: User, q: str | None = None) -> list[Patient]:
    """The patients ``actor`` may see, by family name; each one shown is audited."""
    stmt = (select(Patient).where(patient_scope(actor, Patient.id))
            .options(selectinload(Patient.care_team))
            .order_by(Patient.family_name, Patient.given_name, Patient.id))
    if q and q.strip():
        # autoescape: "%" and "_" typed in a search are letters, not wildcards
        term = q.strip().lower()
        stmt = stmt.where(or_(*(func.lower(column).contains(term, autoescape=True)
                                for column in (Patient.family_name, Patient.given_name,
                                               Patient.mrn))))
    patients = list(db.session.execute(stmt).scalars())
    record_many(actor, "list", "patient", [p.id for p in patients])
    return patients


def read_patient(actor: User, patient_id: int) -> Patient:
    """Load a patient with the care team, audited."""
    patient = get_patient(actor, patient_id, selectinload(Patient.care_team))
    record(actor, "read", "patient", patient_id=patient.id, object_id=patient.id)
    return patient


def update_patient(actor: User, patient_id: int, data: dict) -> Patient:
    """Change demographics (care team or director)."""
    patient = get_patient(actor, patient_id, selectinload(Patient.care_team))
    if actor.role != "director":
        require_clinical_write(actor, patient.id)
    if "mrn" in data:
        _unique_mrn(data["mrn"], patient.id)
    for key, value in data.items():
        setattr(patient, key, value)
    record(actor, "update", "patient", patient_id=patient.id, object_id=patient.id,
           detail="fields: " + ", ".join(sorted(data)))
    db.session.flush()
    return patient


def add_care_team_member(actor: User, patient_id: int, user_id: int) -> Patient:
    """Add a clinician to the care team (directors, or a clinician already on it)."""
    patient = get_patient(actor, patient_id, selectinload(Patient.care_team))
    if actor.role != "director":
        require_clinical_write(actor, patient.id)
    member = db.session.get(User, user_id)
    if member is None or not member.is_clinician or not member.active:
        raise ValidationError({"user_id": ["Not an active practitioner of the clinic."]})
    if member not in patient.care_team:
        patient.care_team.append(member)
        record(actor, "update", "care_team", patient_id=patient.id, object_id=member.id,
               detail=f"added user {member.id}")
    db.session.flush()
    return patient


def remove_care_team_member(actor: User, patient_id: int, user_id: int) -> Patient:
    """Remove a clinician from the care team (directors only)."""
    patient = get_patient(actor, patient_id, selectinload(Patient.care_team))
    if actor.role != "director":
        raise Forbidden("Only a clinic director manages care teams.")
    member = next((u for u in patient.care_team if u.id == user_id), None)
    if member is None:
        raise NotFound("care_team_member", user_id, patient_id=patient.id)
    patient.care_team.remove(member)
    record(actor, "update", "care_team", patient_id=patient.id, object_id=user_id,
           detail=f"removed user {user_id}")
    db.session.flush()
    return patient


def care_team_ids(patient_id: int) -> set[int]:
    """Ids of the users on a patient's care team."""
    return set(db.session.execute(
        select(care_team.c.user_id).where(care_team.c.patient_id == patient_id)).scalars())
