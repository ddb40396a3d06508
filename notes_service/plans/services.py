"""Plan-of-care operations."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from notes_service.access import get_patient, get_plan, on_care_team, require_clinical_write
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import ICD10_CODES, MEASURES
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.errors import Conflict
from notes_service.extensions import db
from notes_service.outcomes.summary import refresh_plan_summary
from notes_service.plans.models import Goal, PlanOfCare
from notes_service.visits.models import VisitNote

#: Eager loads for a plan shown with its goals and owner.
PLAN_LOADS = (selectinload(PlanOfCare.goals), joinedload(PlanOfCare.practitioner))


def _tracked_with_goals(tracked: list[dict], goals: list[dict]) -> list[dict]:
    """Tracked measures plus every goal's measure, without repeats, in catalog order."""
    pairs = {(t["measure"], t.get("side")) for t in tracked}
    pairs |= {(g["measure"], g.get("side")) for g in goals}
    order = list(MEASURES)
    return [{"measure": m, "side": s}
            for m, s in sorted(pairs, key=lambda p: (order.index(p[0]), p[1] or ""))]


def _owner(actor: User, patient_id: int, practitioner_id: int | None) -> User:
    if practitioner_id is None or practitioner_id == actor.id:
        return actor
    owner = db.session.get(User, practitioner_id)
    if owner is None or not owner.is_clinician or not on_care_team(owner, patient_id):
        raise ValidationError({"practitioner_id": [
            "The owner must be a practitioner on the patient's care team."]})
    return owner


def create_plan(actor: User, patient_id: int, data: dict) -> PlanOfCare:
    """Start a plan of care for a patient on the actor's care team."""
    patient = get_patient(actor, patient_id)
    require_clinical_write(actor, patient.id)
    owner = _owner(actor, patient.id, data.pop("practitioner_id", None))
    goals = data.pop("goals", None) or []
    data["diagnosis_text"] = data.get("diagnosis_text") or ICD10_CODES[data["diagnosis_code"]]
    data["tracked_measures"] = _tracked_with_goals(data.get("tracked_measures") or [], goals)
    plan = PlanOfCare(patient_id=patient.id, practitioner=owner, **data)
    plan.goals = [Goal(**g) for g in goals]
    db.session.add(plan)
    db.session.flush()
    refresh_plan_summary(plan.id)
    record(actor, "create", "plan", patient_id=patient.id, object_id=plan.id)
    return plan


def read_plan(actor: User, plan_id: int) -> PlanOfCare:
    """Load a plan with goals and owner, audited."""
    plan = get_plan(actor, plan_id, *PLAN_LOADS)
    record(actor, "read", "plan", patient_id=plan.patient_id, object_id=plan.id)
    return plan


def _visit_span(plan_id: int):
    return db.session.execute(
        select(func.min(VisitNote.visit_date), func.max(VisitNote.visit_date))
        .where(VisitNote.plan_id == plan_id)).one()


def ensure_version(obj, expected: int | None, current) -> None:
    """Refuse a change made from a stale copy: 409 with the current record and version."""
    if expected is not None and expected != obj.version:
        raise Conflict("This record was changed by someone else since you opened it.",
                       current=current, version=obj.version)


def plan_for_change(actor: User, plan_id: int) -> PlanOfCare:
    """Load a plan the actor may change and that is still open (else 404, 403, 409)."""
    plan = get_plan(actor, plan_id, *PLAN_LOADS)
    require_clinical_write(actor, plan.patient_id)
    if plan.status in ("discharged", "cancelled"):
        raise Conflict(f"The plan is {plan.status}; it can no longer be changed.")
    return plan


def update_plan(actor: User, plan_id: int, data: dict, dump) -> PlanOfCare:
    """Change a plan that is still open; ``goals`` replaces the goal list when given."""
    plan = plan_for_change(actor, plan_id)
    ensure_version(plan, data.pop("version", None), dump(plan))
    if "diagnosis_code" in data and "diagnosis_text" not in data:  # the old text is wrong now
        data["diagnosis_text"] = ICD10_CODES[data["diagnosis_code"]]
    if "practitioner_id" in data:
        plan.practitioner = _owner(actor, plan.patient_id, data.pop("practitioner_id"))
    start = data.get("start_date", plan.start_date)
    end = start + timedelta(days=data.get("weeks", plan.weeks) * 7 - 1)
    first, last = _visit_span(plan.id)
    if first is not None and (first < start or last > end):
        raise ValidationError({"start_date" if first < start else "weeks": [
            f"Visits are recorded from {first} to {last}; the plan must cover them."]})
    if "goals" not in data:  # new goals were checked by the schema; the kept ones are here
        outside = sorted(g.target_date for g in plan.goals
                         if g.target_date and not start <= g.target_date <= end)
        if outside:
            raise ValidationError({"start_date" if outside[0] < start else "weeks": [
                f"A goal's target date ({outside[0]}) would fall outside the plan ({start} to "
                f"{end}); change the goal too."]})
    goals = data.pop("goals", None)
    if goals is not None:
        plan.goals = [Goal(**g) for g in goals]
        plan.updated_at = utcnow()  # the plan row itself changes, so its version moves on
        data["tracked_measures"] = _tracked_with_goals(
            data.get("tracked_measures", plan.tracked_measures), goals)
    elif "tracked_measures" in data:
        data["tracked_measures"] = _tracked_with_goals(
            data["tracked_measures"], [{"measure": g.measure, "side": g.side} for g in plan.goals])
    for key, value in data.items():
        setattr(plan, key, value)
    db.session.flush()
    refresh_plan_summary(plan.id)
    record(actor, "update", "plan", patient_id=plan.patient_id, object_id=plan.id,
           detail="fields: " + ", ".join(sorted(data) + (["goals"] if goals is not None else [])))
    return plan


def discharge_plan(actor: User, plan_id: int, data: dict) -> PlanOfCare:
    """Discharge an open plan with a reason."""
    plan = get_plan(actor, plan_id, *PLAN_LOADS)
    require_clinical_write(actor, plan.patient_id)
    if plan.status in ("discharged", "cancelled"):
        raise Conflict(f"The plan is already {plan.status}.")
    day = data.get("discharge_date") or clinic_today()
    _, last = _visit_span(plan.id)
    errors = []
    if day > clinic_today():
        errors.append("The discharge date cannot be in the future.")
    if day < plan.start_date:
        errors.append(f"The discharge date cannot be before the plan started ({plan.start_date}).")
    if last is not None and day < last:
        errors.append(f"The discharge date cannot be before the last visit ({last}).")
    if errors:
        raise ValidationError({"discharge_date": errors})
    plan.status = "discharged"
    plan.discharge_date = day
    plan.discharge_reason = data["reason"]
    plan.discharge_note = data.get("note")
    db.session.flush()
    refresh_plan_summary(plan.id)
    record(actor, "discharge", "plan", patient_id=plan.patient_id, object_id=plan.id,
           detail=data["reason"])
    return plan


def list_plans(actor: User, patient_id: int) -> list[PlanOfCare]:
    """A patient's plans, active first then newest, audited."""
    patient = get_patient(actor, patient_id)
    plans = list(db.session.execute(
        select(PlanOfCare).where(PlanOfCare.patient_id == patient.id).options(*PLAN_LOADS)
        .order_by((PlanOfCare.status != "active"), PlanOfCare.start_date.desc())).scalars())
    record(actor, "list", "plan", patient_id=patient.id)
    return plans
