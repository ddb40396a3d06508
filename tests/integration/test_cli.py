"""Flask commands: init-db, create-user (password from standard input), seed-demo."""

from datetime import date

import pytest
import sqlalchemy as sa

from conftest import app_on
from notes_service.auth.models import User
from notes_service.demo import DEMO_PASSWORD
from notes_service.extensions import db
from notes_service.patients.models import Patient
from notes_service.plans.models import PlanOfCare
from notes_service.visits.models import Measurement, VisitNote

PASSWORD = "a long enough secret"


def test_init_db_creates_then_upgrades_idempotently(empty_database):
    with app_on(empty_database) as application:
        runner = application.test_cli_runner()
        first = runner.invoke(args=["init-db"])
        assert first.exit_code == 0, first.output
        assert "Database schema is up to date." in first.output
        with application.app_context():
            tables = set(sa.inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        again = runner.invoke(args=["init-db"])
        assert again.exit_code == 0, again.output
        with application.app_context():
            assert set(sa.inspect(db.engine).get_table_names()) == tables


def create_user(runner, *options, password=PASSWORD):
    return runner.invoke(args=["create-user", *options], input=f"{password}\n")


def find(app, email):
    with app.app_context():
        return db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()


def test_create_user_reads_the_password_from_standard_input(app, client, runner):
    result = create_user(runner, "--email", "Sam@Example.org", "--name", "Sam Rivera",
                         "--role", "practitioner", "--credentials", "PT, DPT")
    assert result.exit_code == 0, result.output
    assert "Created practitioner sam@example.org" in result.output
    user = find(app, "sam@example.org")
    assert user.role == "practitioner" and user.credentials == "PT, DPT"
    assert user.password_hash != PASSWORD and PASSWORD not in user.password_hash
    token = client.post("/api/v1/auth/token",
                        json={"email": "sam@example.org", "password": PASSWORD})
    assert token.status_code == 201


def test_create_user_rejects_a_duplicate_email(app, runner):
    options = ("--email", "dup@example.org", "--name", "Dup", "--role", "director")
    assert create_user(runner, *options).exit_code == 0
    again = create_user(runner, "--email", "DUP@example.org", "--name", "Other", "--role",
                        "practitioner")
    assert again.exit_code == 1
    assert "email: A user with this e-mail already exists." in again.stderr
    assert find(app, "dup@example.org").name == "Dup"


def test_a_patient_user_needs_an_existing_patient(app, runner):
    missing = create_user(runner, "--email", "p@example.org", "--name", "P", "--role",
                          "patient")
    assert missing.exit_code == 1
    assert "patient_id: A patient user needs an existing patient." in missing.stderr
    unknown = create_user(runner, "--email", "p@example.org", "--name", "P", "--role",
                          "patient", "--patient-id", "999999")
    assert unknown.exit_code == 1 and "patient_id" in unknown.stderr
    huge = create_user(runner, "--email", "p@example.org", "--name", "P", "--role",
                       "patient", "--patient-id", str(2**63))
    assert huge.exit_code == 1 and "patient_id" in huge.stderr
    with app.app_context():
        patient = Patient(given_name="Ana", family_name="Silva",
                          birth_date=date(1980, 5, 1))
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
    made = create_user(runner, "--email", "p@example.org", "--name", "P", "--role", "patient",
                       "--patient-id", str(patient_id))
    assert made.exit_code == 0, made.output
    assert find(app, "p@example.org").patient_id == patient_id


@pytest.mark.parametrize("options, password, field", [
    (("--role", "practitioner", "--patient-id", "1"), PASSWORD, "patient_id"),
    (("--role", "practitioner"), "short", "password"),
    (("--role", "practitioner"), "", "password"),
])
def test_create_user_validation(app, runner, options, password, field):
    result = create_user(runner, "--email", "x@example.org", "--name", "X", *options,
                         password=password)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{field}: ")
    assert find(app, "x@example.org") is None


def test_create_user_needs_a_known_role_and_a_valid_email(runner):
    assert create_user(runner, "--email", "x@example.org", "--name", "X", "--role",
                       "admin").exit_code == 2
    bad = create_user(runner, "--email", "not-an-email", "--name", "X", "--role", "director")
    assert bad.exit_code == 1 and "email" in bad.stderr


def test_seed_demo_builds_a_demo_clinic(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    with app.app_context():
        users = db.session.execute(sa.select(User)).scalars().all()
        roles = [u.role for u in users]
        assert roles.count("practitioner") >= 2 and "director" in roles
        [portal] = [u for u in users if u.role == "patient"]
        assert portal.patient_id is not None and portal.email in result.output
        assert all(u.email in result.output for u in users)
        plans = db.session.execute(sa.select(PlanOfCare)).scalars().all()
        assert len(plans) >= 5
        assert {p.weeks for p in plans} <= {6, 7, 8} and {p.visits_per_week for p in plans} == {2}
        notes = db.session.execute(sa.select(VisitNote)).scalars().all()
        assert {n.status for n in notes} == {"draft", "signed"}
        for plan in plans:
            dates = sorted(n.visit_date for n in notes if n.plan_id == plan.id)
            assert dates and plan.start_date <= dates[0] and dates[-1] <= plan.end_date
        phases = db.session.execute(sa.select(Measurement.phase, sa.func.count())
                                    .group_by(Measurement.phase)).all()
        assert {phase for phase, count in phases if count} == {"pre", "post"}
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "already" in again.output


def test_seeded_demo_logins_work(app, client, runner):
    runner.invoke(args=["seed-demo"])
    for email in ("director@demo.clinic", "patient@demo.clinic"):
        response = client.post("/api/v1/auth/token",
                               json={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 201, email
