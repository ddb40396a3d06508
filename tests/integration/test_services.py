"""Services with plain arguments against the database: scopes, accounts, audit records."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from conftest import PASSWORD, make_account
from notes_service.access import get_patient, get_visit, patient_scope
from notes_service.audit.models import AuditEvent
from notes_service.audit.services import record, record_many
from notes_service.auth.models import User
from notes_service.auth.services import authenticate, create_user
from notes_service.errors import Forbidden, NotFound
from notes_service.extensions import db
from notes_service.patients import services as patients
from notes_service.patients.models import Patient
from notes_service.plans import services as plans
from notes_service.visits import services as visits


def user(account) -> User:
    return db.session.get(User, account.id)


@pytest.fixture
def charts(app, practitioner, other_practitioner):
    """Two patients, one on each practitioner's care team, each with a plan and a signed and
    a draft note; returns their ids."""
    ids = {}
    with app.app_context():
        for account, name in ((practitioner, "Mine"), (other_practitioner, "Theirs")):
            actor = user(account)
            patient = patients.create_patient(actor, {
                "given_name": "A", "family_name": name, "birth_date": date(1980, 1, 1)})
            plan = plans.create_plan(actor, patient.id, {
                "start_date": date.today() - timedelta(days=20), "weeks": 8,
                "visits_per_week": 2, "diagnosis_code": "M54.41",
                "goals": [{"measure": "pain", "target": 2.0}]})
            signed = visits.record_visit_note(actor, plan.id, {
                "visit_date": date.today() - timedelta(days=5), "subjective": "s",
                "objective": "o", "assessment": "a", "plan_text": "p"})
            visits.sign_note(actor, signed.id, None, dump=lambda note: {})
            draft = visits.record_visit_note(actor, plan.id, {
                "visit_date": date.today(), "subjective": "s"})
            ids[name] = {"patient": patient.id, "plan": plan.id, "signed": signed.id,
                         "draft": draft.id}
        db.session.commit()
    return ids


def visible_patients(actor) -> set[int]:
    return set(db.session.execute(sa.select(Patient.id)
                                  .where(patient_scope(actor, Patient.id))).scalars())


def test_scopes_per_role(app, charts, practitioner, director):
    mine, theirs = charts["Mine"]["patient"], charts["Theirs"]["patient"]
    portal = make_account(app, "portal@example.org", "patient", patient_id=mine)
    with app.app_context():
        assert visible_patients(user(practitioner)) == {mine}
        assert visible_patients(user(director)) >= {mine, theirs}
        assert visible_patients(user(portal)) == {mine}
        assert visible_patients(None) == set()
        with pytest.raises(NotFound) as caught:
            get_patient(user(practitioner), theirs)
        assert caught.value.patient_id == theirs
        assert get_visit(user(portal), charts["Mine"]["signed"]).id == charts["Mine"]["signed"]
        with pytest.raises(NotFound) as caught:
            get_visit(user(portal), charts["Mine"]["draft"])
        assert caught.value.patient_id == mine


def test_services_refuse_clinical_writes_by_non_clinicians(app, charts, director):
    with app.app_context():
        with pytest.raises(Forbidden):
            visits.record_visit_note(user(director), charts["Mine"]["plan"],
                                     {"visit_date": date.today()})
        with pytest.raises(Forbidden):
            visits.add_addendum(user(director), charts["Mine"]["signed"], "x")


def test_list_visits_of_a_patient_user_holds_only_signed_notes(app, charts):
    portal = make_account(app, "portal@example.org", "patient",
                          patient_id=charts["Mine"]["patient"])
    with app.app_context():
        notes = visits.list_visits(user(portal), charts["Mine"]["plan"])
        assert [n.id for n in notes] == [charts["Mine"]["signed"]]


def test_authenticate_audits_outside_a_request(app, practitioner):
    with app.app_context():
        assert authenticate(practitioner.email, PASSWORD).id == practitioner.id
        assert authenticate(practitioner.email, "wrong") is None
        assert authenticate("nobody@example.org", PASSWORD) is None
        db.session.commit()  # audit rows are written with the transaction's commit
        rows = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc())
                                  .limit(3)).scalars().all()[::-1]
        assert [(r.action, r.user_id, r.ip, r.request) for r in rows] == [
            ("login", practitioner.id, None, None),
            ("login_failed", practitioner.id, None, None),
            ("login_failed", None, None, None)]
        db.session.rollback()


def test_inactive_users_do_not_authenticate(app, practitioner):
    with app.app_context():
        user(practitioner).active = False
        db.session.flush()
        assert authenticate(practitioner.email, PASSWORD) is None
        db.session.rollback()


def test_create_user_rules(app, practitioner):
    base = {"name": "N", "password": PASSWORD, "patient_id": None, "practices": False}
    with app.app_context():
        with pytest.raises(ValidationError) as caught:
            create_user({**base, "email": practitioner.email.upper(), "role": "director"})
        assert "email" in caught.value.messages
        with pytest.raises(ValidationError) as caught:
            create_user({**base, "email": "p@example.org", "role": "patient"})
        assert "patient_id" in caught.value.messages
        made = create_user({**base, "email": " New@Example.org ", "role": "director"})
        assert made.email == "new@example.org" and made.password_hash != PASSWORD
        db.session.rollback()


def test_record_many_writes_one_row_per_patient(app, practitioner):
    with app.app_context():
        before = db.session.execute(sa.select(sa.func.count(AuditEvent.id))).scalar()
        record_many(user(practitioner), "list", "patient", [11, 12, 13])
        record_many(user(practitioner), "list", "patient", [])
        db.session.commit()  # audit rows are written with the transaction's commit
        rows = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc())
                                  .limit(3)).scalars().all()
        assert sorted(r.patient_id for r in rows) == [11, 12, 13]
        assert {(r.action, r.kind, r.user_id, r.outcome) for r in rows} == {
            ("list", "patient", practitioner.id, "ok")}
        assert all(r.at.utcoffset() == timedelta(0) for r in rows)
        after = db.session.execute(sa.select(sa.func.count(AuditEvent.id))).scalar()
        assert after == before + 3
        record(None, "read", "patient", patient_id=11, detail="x" * 600)
        db.session.commit()
        last = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc())
                                  .limit(1)).scalar_one()
        assert (last.patient_id, len(last.detail)) == (11, 500)


def test_update_plan_keeps_goal_measures_tracked(app, charts, practitioner):
    with app.app_context():
        plan = plans.update_plan(user(practitioner), charts["Mine"]["plan"],
                                 {"tracked_measures": [{"measure": "lumbar_flexion"}]},
                                 dump=lambda p: {})
        assert plan.tracked_measures == [{"measure": "pain", "side": None},
                                         {"measure": "lumbar_flexion", "side": None}]
        db.session.rollback()


def test_a_change_racing_another_is_refused_and_answers_409(app, charts, practitioner):
    """Between reading a draft and writing it, someone else saves: the version column turns the
    write into a StaleDataError (nothing overwritten), which the API answers with 409."""
    from sqlalchemy.orm.exc import StaleDataError

    from notes_service.visits.models import VisitNote

    note_id = charts["Mine"]["draft"]
    with app.test_request_context(f"/api/v1/visits/{note_id}", method="PATCH"):
        actor = user(practitioner)
        session = db.session()

        def other_writer_saves_first(session, *_):
            session.connection().execute(
                sa.text("UPDATE visit_notes SET version = 2, objective = 'theirs' "
                        "WHERE id = :id"), {"id": note_id})

        sa.event.listen(session, "before_flush", other_writer_saves_first, once=True)
        with pytest.raises(StaleDataError) as caught:
            visits.update_visit_note(actor, note_id, {"version": 1, "objective": "mine"},
                                     dump=lambda note: {})
        response = app.make_response(app.handle_user_exception(caught.value))
        assert response.status_code == 409 and "version" in response.get_json()["errors"]
        stored = db.session.execute(sa.text("SELECT objective FROM visit_notes WHERE id = :id"),
                                    {"id": note_id}).scalar()
    assert stored != "mine"  # (the handler's rollback also undid the simulated other writer,
    #                           which shares the test's transaction)
