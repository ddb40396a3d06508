"""Exports of a patient's record: the FHIR R4 bundle and the measurement-history CSV.

Both read the record as the acting user may see it (a patient: their own record, signed notes
only; a practitioner: the patients of their care teams; a director: every patient) in a
constant number of queries, and both are audited as exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload, undefer

from notes_service.access import get_patient, visible_notes
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import MEASURES
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.exports import csv_text
from notes_service.extensions import db
from notes_service.interop import fhir
from notes_service.patients.models import Patient
from notes_service.plans.models import PlanOfCare
from notes_service.progress.rules import PlanProgress
from notes_service.portal.rules import assessment_visible_to
from notes_service.progress.services import compute, load_snapshots, signed_only_for
from notes_service.reports.models import ProgressReport
from notes_service.visits.models import VisitNote
from notes_service.visits.services import NOTE_LOADS

#: Columns of the measurement-history CSV, in order.
CSV_COLUMNS = ("date", "plan_id", "diagnosis", "visit_id", "measure", "label", "side", "phase",
               "value", "unit", "note_status", "author")


@dataclass
class PatientRecord:
    """A patient's record as one user may see it, fully loaded (no lazy loads afterwards)."""

    patient: Patient
    plans: list[PlanOfCare]
    #: Notes visible to the user, by visit date.
    notes: list[VisitNote]
    progress: dict[int, PlanProgress]
    reports: list[ProgressReport] = field(default_factory=list)
    #: Whether the reader may see assessment text (a patient only if the clinic shares it).
    shows_assessment: bool = True

    @property
    def practitioners(self) -> list[User]:
        """Care team, plan owners, note authors and signers, addenda and report authors."""
        people: dict[int, User] = {}
        for user in self.patient.care_team:
            people[user.id] = user
        for plan in self.plans:
            people.setdefault(plan.practitioner.id, plan.practitioner)
        for note in self.notes:
            for user in (note.author, note.signed_by, *(a.author for a in note.addenda)):
                if user is not None:
                    people.setdefault(user.id, user)
        for report in self.reports:
            people.setdefault(report.signed_by.id, report.signed_by)
        return sorted((u for u in people.values() if u.role != "patient"), key=lambda u: u.id)


def load_record(actor: User, patient_id: int, *, reports: bool = True) -> PatientRecord:
    """Load everything an export shows about a patient, whatever the number of visits."""
    patient = get_patient(actor, patient_id, selectinload(Patient.care_team))
    plans = list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.patient_id == patient.id)
        .options(selectinload(PlanOfCare.goals), joinedload(PlanOfCare.practitioner))
        .order_by(PlanOfCare.start_date, PlanOfCare.id)).scalars())
    notes = list(db.session.execute(
        select(VisitNote).where(VisitNote.patient_id == patient.id, visible_notes(actor))
        .options(*NOTE_LOADS).order_by(VisitNote.visit_date, VisitNote.id)).scalars())
    snapshots = load_snapshots(plans, signed_only=signed_only_for(actor))
    stored = []
    shows_assessment = assessment_visible_to(actor)
    if reports and shows_assessment:  # a stored report's PDF holds the assessment
        stored = list(db.session.execute(
            select(ProgressReport).where(ProgressReport.patient_id == patient.id)
            .options(joinedload(ProgressReport.signed_by), undefer(ProgressReport.pdf))
            .order_by(ProgressReport.signed_at, ProgressReport.id)).scalars())
    return PatientRecord(patient=patient, plans=plans, notes=notes,
                         progress={pid: compute(s) for pid, s in snapshots.items()},
                         reports=stored, shows_assessment=shows_assessment)


def fhir_bundle(actor: User, patient_id: int) -> dict:
    """The patient's record as a FHIR R4 ``collection`` Bundle, audited as an export."""
    loaded = load_record(actor, patient_id)
    bundle = fhir.build_bundle(loaded, base_url=fhir_base_url(), timestamp=utcnow())
    record(actor, "export", "fhir", patient_id=loaded.patient.id, object_id=loaded.patient.id,
           detail=f"FHIR R4 bundle, {len(bundle['entry'])} resources")
    return bundle


def fhir_base_url() -> str:
    """Base of the service's own FHIR code systems and identifiers (``FHIR_BASE_URL``)."""
    return current_app.config.get("FHIR_BASE_URL", fhir.DEFAULT_BASE_URL).rstrip("/")


def _number(value: float) -> int | float:
    """6.0 → 6: whole values without a needless decimal, still numbers."""
    return int(value) if float(value).is_integer() else value


def measurement_rows(notes: list[VisitNote], plans: list[PlanOfCare]) -> list[list]:
    """One row per measurement (``CSV_COLUMNS``), by date, plan and catalog order."""
    diagnosis = {p.id: p.diagnosis_code for p in plans}
    order = {code: i for i, code in enumerate(MEASURES)}
    rows = []
    for note in notes:
        measurements = sorted(note.measurements, key=lambda m: (
            order.get(m.measure, 99), m.side or "", m.phase != "pre"))
        for m in measurements:
            entry = MEASURES.get(m.measure)
            rows.append([note.visit_date, note.plan_id, diagnosis.get(note.plan_id), note.id,
                         m.measure, entry.label if entry else m.measure, m.side, m.phase,
                         _number(m.value), entry.unit if entry else None, note.status,
                         note.author.display_name])
    return rows


def measurements_csv(actor: User, patient_id: int) -> tuple[str, str]:
    """The patient's measurement history as CSV text and a file name, audited as an export."""
    loaded = load_record(actor, patient_id, reports=False)
    rows = measurement_rows(loaded.notes, loaded.plans)
    record(actor, "export", "measurements", patient_id=loaded.patient.id,
           object_id=loaded.patient.id, detail=f"measurement history CSV, {len(rows)} rows")
    name = f"measurements-patient-{loaded.patient.id}-{clinic_today().isoformat()}.csv"
    return csv_text(CSV_COLUMNS, rows), name

