"""The note :func:`record_visit_note` returns is the stored note, persistent in the session:
every column as stored, its collections loaded, its version checked by the next change."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from notes_service.auth.models import User
from notes_service.extensions import db
from notes_service.patients import services as patients
from notes_service.plans import services as plans
from notes_service.visits import services as visits
from notes_service.visits.models import Measurement, VisitNote

MEASUREMENTS = [
    {"measure": "slr", "side": "right", "phase": "post", "value": 55.0},
    {"measure": "pain", "side": None, "phase": "post", "value": 3.0},
    {"measure": "pain", "side": None, "phase": "pre", "value": 6.0},
    {"measure": "slr", "side": "left", "phase": "pre", "value": 70.0},
]


@pytest.fixture
def recorded(app, practitioner):
    """Record a note with measurements, a special test and a questionnaire; yield it, in the
    app context (and session) that recorded it."""
    with app.test_request_context("/api/v1/plans/1/visits", method="POST"):
        actor = db.session.get(User, practitioner.id)
        patient = patients.create_patient(actor, {
            "given_name": "A", "family_name": "Recorded", "birth_date": date(1980, 1, 1)})
        plan = plans.create_plan(actor, patient.id, {
            "start_date": date.today() - timedelta(days=20), "weeks": 8,
            "visits_per_week": 2, "diagnosis_code": "M54.41"})
        note = visits.record_visit_note(actor, plan.id, {
            "visit_date": date.today() - timedelta(days=1), "subjective": "s",
            "interventions": ["art"], "measurements": MEASUREMENTS,
            "special_tests": [{"test": "slump", "side": "right", "result": "negative",
                               "phase": "pre"}],
            "questionnaires": [{"instrument": "odi", "items": [2] * 10}]})
        yield note
        db.session.rollback()


def _columns(obj) -> dict:
    return {column.key: getattr(obj, column.key) for column in sa.inspect(obj).mapper.column_attrs}


def test_the_recorded_note_is_persistent_with_nothing_pending(recorded):
    session = db.session()
    state = sa.inspect(recorded)
    assert state.persistent and recorded in session
    assert not (session.new or session.dirty)
    assert state.unloaded <= {"plan_of_care"}  # everything shown is loaded
    assert recorded.version == 1 and recorded.status == "draft"
    children = [*recorded.measurements, *recorded.special_tests, *recorded.questionnaires]
    assert len(children) == len(MEASUREMENTS) + 1 + 1 + 1  # and the ODI score
    assert all(sa.inspect(child).persistent and child.id for child in children)


def test_the_recorded_note_holds_what_was_stored(recorded):
    held = _columns(recorded)
    held_measurements = sorted(_columns(m).items() for m in recorded.measurements)
    shown = [(m.measure, m.side, m.phase) for m in recorded.measurements]
    db.session.expire_all()
    note = db.session.execute(
        sa.select(VisitNote).where(VisitNote.id == held["id"])
        .options(*visits.NOTE_LOADS)).scalar_one()
    assert _columns(note) == held
    assert sorted(_columns(m).items() for m in note.measurements) == held_measurements
    assert [(m.measure, m.side, m.phase) for m in note.measurements] == shown
    stored = db.session.execute(sa.select(sa.func.count()).select_from(Measurement)
                                .where(Measurement.visit_id == note.id)).scalar()
    assert stored == len(MEASUREMENTS) + 1  # and the ODI score


def test_a_change_to_the_recorded_note_is_checked_against_its_version(recorded):
    session = db.session()
    recorded.objective = "first change"
    session.flush()
    assert recorded.version == 2
    session.connection().execute(sa.text("UPDATE visit_notes SET version = 3 WHERE id = :id"),
                                 {"id": recorded.id})  # someone else saves meanwhile
    recorded.objective = "second change"
    with pytest.raises(StaleDataError):
        session.flush()
