"""Builders of the portal tests: a patient with a sciatica plan and signed notes whose numbers
are chosen so the sentences can be checked by hand, a portal account, and a signed-in client.

Arranged through the core services (not the API) so a test states only what it checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from conftest import PASSWORD, make_account
from notes_service.extensions import db


@dataclass
class PortalPatient:
    """A patient with one plan of care, and (once created) their portal account."""

    patient_id: int
    plan_id: int
    start: date
    note_ids: list[int]
    account: object = None


def user_of(account):
    from notes_service.auth.models import User

    return db.session.get(User, account.id)


def make_patient(app, practitioner, *, given="Ana", family="Silva", days_ago=28,
                 pains=(8, 7, 6, 5, 4), every=7, email=None, goals=None,
                 home_programme="Nerve sliders: 2 sets of 10, twice a day.",
                 assessment="Irritable L5 radiculopathy; centralising.") -> PortalPatient:
    """A patient whose plan started ``days_ago`` days ago, with one signed note every
    ``every`` days from the start carrying the given pain values (and a straight-leg raise
    rising 5° a visit from 35°)."""
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan
    from notes_service.visits.schemas import VisitInputSchema, VisitSchema
    from notes_service.visits.services import record_visit_note, sign_note

    start = date.today() - timedelta(days=days_ago)
    with app.app_context():
        user = user_of(practitioner)
        patient = create_patient(user, {"given_name": given, "family_name": family,
                                        "birth_date": date(1980, 5, 1), "sex": "female",
                                        "email": email})
        plan = create_plan(user, patient.id, PlanInputSchema().load({
            "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "side": "right",
            "planned_interventions": ["art", "nerve_glides"],
            "tracked_measures": [{"measure": "pain"}, {"measure": "slr", "side": "right"}],
            "goals": goals if goals is not None else [
                {"measure": "pain", "target": 2},
                {"measure": "slr", "side": "right", "target": 70}]}))
        ids = []
        for i, pain in enumerate(pains):
            visit = start + timedelta(days=i * every)
            note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load({
                "visit_date": visit.isoformat(), "subjective": "Leg pain after sitting.",
                "objective": "SLR right limited.", "assessment": assessment,
                "plan": "Progress nerve glides; review in 3 days.", "interventions": ["art"],
                "home_programme": home_programme,
                "measurements": [{"measure": "pain", "value": pain},
                                 {"measure": "pain", "phase": "post", "value": max(pain - 2, 0)},
                                 {"measure": "slr", "side": "right", "value": 35 + 5 * i}]}))
            sign_note(user, note.id, None, dump=VisitSchema().dump)
            ids.append(note.id)
        db.session.commit()
        return PortalPatient(patient.id, plan.id, start, ids)


def draft_note(app, practitioner, found: PortalPatient, *, days_ago=1, **fields) -> int:
    """An unsigned note on the patient's plan."""
    from notes_service.access import get_plan
    from notes_service.visits.schemas import VisitInputSchema
    from notes_service.visits.services import record_visit_note

    with app.app_context():
        user = user_of(practitioner)
        plan = get_plan(user, found.plan_id)
        note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load({
            "visit_date": (date.today() - timedelta(days=days_ago)).isoformat(),
            "subjective": "DRAFT subjective", "assessment": "DRAFT assessment",
            "home_programme": "DRAFT home programme",
            "measurements": [{"measure": "pain", "value": 9}], **fields}))
        db.session.commit()
        return note.id


def portal_account(app, found: PortalPatient, email: str):
    """Give the patient a portal account (with an API token)."""
    found.account = make_account(app, email, "patient", patient_id=found.patient_id,
                                 name="Portal Patient")
    return found.account


def signed_in(app, email: str, password: str = PASSWORD):
    """A test client signed in through the sign-in form."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def diary_entry(app, account, found: PortalPatient, *, days_ago=0, pain=4, note=""):
    """A pain-diary entry written by the patient account."""
    from notes_service.portal.services import record_diary_entry

    with app.app_context():
        entry = record_diary_entry(user_of(account), found.patient_id, {
            "entry_date": date.today() - timedelta(days=days_ago), "pain": pain, "note": note})
        db.session.commit()
        return entry.id


def assert_diary_error(html: str, field: str, message: str) -> None:
    """The diary form answered 422 with ``message`` beside ``field`` (the pain scale's error
    sits beside the whole scale), and the page is structurally sound."""
    from web_support import page_problems

    assert page_problems(html) == []
    error_id = "pain-error" if field == "pain" else f"{field}-error"
    assert re.search(rf'id="{error_id}"><span class="visually-hidden">Error: </span>'
                     rf'{re.escape(message)}', html), html
