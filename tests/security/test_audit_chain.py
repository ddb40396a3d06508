"""The audit log is chained by hash: every request's rows, bulk rows and concurrent writers
keep one chain; ``flask verify-audit`` names the first row edited, deleted or inserted outside
the service; triggers refuse UPDATE and DELETE of audit rows."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from conftest import app_on
from notes_service.audit.chain import GENESIS, verify_chain
from notes_service.extensions import db


def _seed(application, rows: int = 6) -> None:
    """A user and some audit rows written by the service (single and bulk)."""
    from notes_service.audit.services import record, record_many
    from notes_service.auth.services import create_user

    with application.app_context():
        upgrade()
        user = create_user({"email": "a@example.org", "name": "A", "role": "director",
                            "password": "long enough pass", "patient_id": None})
        db.session.commit()
        for n in range(rows):
            record(user, "read", "patient", patient_id=n + 1, object_id=n + 1)
            db.session.commit()
        record_many(user, "list", "patient", [7, 8, 9])
        db.session.commit()


def _tamper(application, *statements: str) -> None:
    """Change audit rows as someone with the database owner's rights could."""
    with application.app_context():
        with db.engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            else:
                connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
                connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
            for statement in statements:
                connection.exec_driver_sql(statement)
            if postgres:
                connection.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")


def _verify(application, *args):
    return application.test_cli_runner().invoke(args=["verify-audit", *args])


def test_rows_written_by_requests_form_one_chain(app, api, clinic, director, as_account):
    patient, plan = clinic.chart()
    clinic.signed_visit(plan["id"])
    api.get("/api/v1/patients")
    as_account(director).get(f"/api/v1/patients/{patient['id']}")
    with app.app_context():
        report = verify_chain(db.session.connection())
        rows = db.session.execute(sa.text("SELECT prev_hash, row_hash FROM audit_events "
                                          "ORDER BY id")).all()
    assert report.ok and report.rows == len(rows) > 5
    assert rows[0][0] == GENESIS
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))


def test_verify_audit_passes_on_an_untouched_log(empty_database):
    with app_on(empty_database) as application:
        _seed(application)
        result = _verify(application)
    assert result.exit_code == 0, result.output
    assert "Audit log intact: 9 rows, head " in result.output


@pytest.mark.parametrize("change, bad_row, words", [
    ("UPDATE audit_events SET detail = 'nothing to see' WHERE id = 3", 3, "edited"),
    ("UPDATE audit_events SET patient_id = 99 WHERE id = 5", 5, "edited"),
    ("DELETE FROM audit_events WHERE id = 4", 5, "deleted"),
    ("INSERT INTO audit_events (id, at, user_id, kind, action, outcome, prev_hash, row_hash) "
     "VALUES (100, '2020-01-01 00:00:00', 1, 'patient', 'read', 'ok', '{prev}', '{prev}')",
     100, "inserted"),
])
def test_verify_audit_names_the_first_row_changed_out_of_band(empty_database, change, bad_row,
                                                              words):
    with app_on(empty_database) as application:
        _seed(application)
        with application.app_context():
            tail = db.session.execute(sa.text(
                "SELECT row_hash FROM audit_events ORDER BY id DESC LIMIT 1")).scalar()
        _tamper(application, change.format(prev=tail))
        result = _verify(application)
    assert result.exit_code == 1
    assert f"BROKEN at row {bad_row}:" in result.stderr and words in result.stderr


def test_verify_audit_detects_rows_cut_from_the_end_with_a_recorded_head(empty_database):
    with app_on(empty_database) as application:
        _seed(application)
        head = _verify(application).output.split("head ")[1].strip()
        assert _verify(application, "--expect-head", head).exit_code == 0
        _tamper(application, "DELETE FROM audit_events WHERE id = 9")
        assert _verify(application).exit_code == 0  # a shorter chain is still a chain...
        result = _verify(application, "--expect-head", head)
    assert result.exit_code == 1 and "rows were removed from the end" in result.stderr


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET detail = 'x'",
                                       "DELETE FROM audit_events"])
def test_the_database_refuses_changes_to_audit_rows(empty_database, statement):
    with app_on(empty_database) as application:
        _seed(application)
        with application.app_context():
            with pytest.raises(sa.exc.DatabaseError) as refused:
                with db.engine.begin() as connection:
                    connection.exec_driver_sql(statement)
    assert "append-only" in str(refused.value)


def test_concurrent_writers_keep_one_chain(empty_database):
    """Eight threads, each with its own connection, append at once."""
    from notes_service.audit.services import record, record_many

    with app_on(empty_database) as application:
        _seed(application, rows=1)
        errors = []

        def writer(n):
            try:
                for i in range(15):
                    with application.app_context():
                        record(None, "read", "patient", patient_id=n, object_id=i)
                        if i % 5 == 0:
                            record_many(None, "list", "patient", [n, n + 100])
                        db.session.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with application.app_context():
            with db.engine.connect() as connection:
                report = verify_chain(connection)
    assert report.ok, report.first_bad
    assert report.rows == 4 + 8 * (15 + 3 * 2)


def test_migration_chains_rows_written_before_it(empty_database):
    """Rows from before 0006 get hashes that verify."""
    from flask_migrate import downgrade

    with app_on(empty_database) as application:
        with application.app_context():
            upgrade(revision="0004")
            with db.engine.begin() as connection:
                for n in range(3):
                    connection.exec_driver_sql(
                        "INSERT INTO audit_events (at, kind, action, outcome, detail) VALUES "
                        f"('2026-01-0{n + 1} 10:00:00.123456', 'auth', 'login', 'ok', 'é{n}')")
            upgrade()
            with db.engine.connect() as connection:
                report = verify_chain(connection)
            assert report.ok and report.rows == 3
            downgrade(revision="0004")
            upgrade()


def test_a_director_account_does_not_make_an_audit_route(app):
    """No route edits or deletes audit rows (the report is read-only)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit."):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}


