"""Durability and failure behaviour in-process: SQLite's settings, one retry of retryable
PostgreSQL errors (and none when a commit may have happened), a clear 503 with Retry-After when
the database is unreachable or locked, nothing half-written, recovery by itself."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from conftest import Api, ClinicBuilder, app_on, iso_day, make_account
from notes_service.extensions import db


@contextmanager
def migrated(url, **extra):
    with app_on(url, **extra) as application:
        with application.app_context():
            upgrade()
        yield application


def _deadlock(dialect_name: str) -> Exception:
    """A driver error with SQLSTATE 40P01, as each driver would raise it."""
    if dialect_name == "postgresql":
        return psycopg.errors.DeadlockDetected("deadlock detected")

    class Deadlock(sqlite3.OperationalError):
        sqlstate = "40P01"

    return Deadlock("deadlock detected (simulated)")


def _disconnect(dialect_name: str, dbapi_connection=None) -> Exception:
    """Close the driver connection under SQLAlchemy and return the error the driver raises."""
    if dbapi_connection is not None:  # the driver's connection, under any pool proxy
        getattr(dbapi_connection, "dbapi_connection", dbapi_connection).close()
    if dialect_name == "postgresql":
        return psycopg.OperationalError("server closed the connection unexpectedly")
    return sqlite3.ProgrammingError("Cannot operate on a closed database.")


def _make(make_error, dialect_name, dbapi_connection):
    if make_error is _disconnect:
        return make_error(dialect_name, dbapi_connection)
    return make_error(dialect_name)


@contextmanager
def failing(application, make_error, *, sql_prefix=None, on_commit=False, times=1):
    """Raise a driver error at the next matching statement (or inside COMMIT), ``times``
    times; a lost connection is really closed first."""
    with application.app_context():
        engine = db.engine
    left = {"n": times}

    def before_execute(conn, cursor, statement, *args):
        if sql_prefix and left["n"] > 0 and statement.lstrip().upper().startswith(sql_prefix):
            left["n"] -= 1
            raise _make(make_error, conn.dialect.name, conn.connection.dbapi_connection)

    dialect = engine.dialect
    real_commit = dialect.do_commit

    def do_commit(dbapi_connection):
        if on_commit and left["n"] > 0:
            left["n"] -= 1
            raise _make(make_error, dialect.name, dbapi_connection)
        return real_commit(dbapi_connection)

    sa.event.listen(engine, "before_cursor_execute", before_execute)
    dialect.do_commit = do_commit
    try:
        yield left
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_execute)
        del dialect.do_commit


def _visits(application):
    with application.app_context():
        return db.session.execute(sa.text("SELECT subjective FROM visit_notes")).scalars().all()


def _chart(application):
    client = application.test_client()
    account = make_account(application, "dur@example.org", "practitioner")
    api = Api(client, account)
    _, plan = ClinicBuilder(api).chart()
    return api, plan


def test_sqlite_connection_settings(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite settings")
        connection = db.session.connection()
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000


def test_sqlite_transactions_begin_immediately(empty_database):
    """Every transaction takes the write lock up front (no lock-upgrade failures)."""
    with migrated(empty_database) as application:
        with application.app_context():
            if db.engine.dialect.name != "sqlite":
                pytest.skip("SQLite")
            seen = []

            def note(conn, cursor, statement, *args):
                seen.append(statement)

            sa.event.listen(db.engine, "before_cursor_execute", note)
            db.session.execute(sa.text("SELECT 1"))
            db.session.rollback()
            sa.event.remove(db.engine, "before_cursor_execute", note)
        assert seen[0] == "BEGIN IMMEDIATE"


def test_a_deadlock_is_retried_once_and_written_once(empty_database):
    with migrated(empty_database) as application:
        api, plan = _chart(application)
        with failing(application, _deadlock, sql_prefix="INSERT INTO VISIT_NOTES") as left:
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "retried"})
        assert left["n"] == 0
        assert response.status_code == 201, response.get_json()
        assert _visits(application).count("retried") == 1


def test_a_second_failure_is_not_retried_again(empty_database):
    with migrated(empty_database) as application:
        api, plan = _chart(application)
        with failing(application, _deadlock, sql_prefix="INSERT INTO VISIT_NOTES", times=2):
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "twice"})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "twice" not in _visits(application)


def test_a_connection_lost_before_commit_is_retried(empty_database):
    with migrated(empty_database) as application:
        api, plan = _chart(application)
        with failing(application, _disconnect, sql_prefix="INSERT INTO VISIT_NOTES"):
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "reconnected"})
        assert response.status_code == 201
        assert _visits(application).count("reconnected") == 1


def test_a_connection_lost_during_commit_is_not_retried(empty_database):
    """The commit may have happened: running the request again could write twice."""
    with migrated(empty_database) as application:
        api, plan = _chart(application)
        with failing(application, _disconnect, on_commit=True):
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "ambiguous"})
        assert response.status_code == 503
        assert response.get_json() == {"errors": {"_request": [
            "The database is unavailable right now; nothing was saved. "
            "Try again in a few seconds."]}}
        assert _visits(application).count("ambiguous") == 0
        again = api.post(f"/api/v1/plans/{plan['id']}/visits",
                         json={"visit_date": iso_day(1), "subjective": "after"})
        assert again.status_code == 201  # the broken connection was replaced


def test_nothing_is_half_written_when_the_audit_write_fails(empty_database):
    """The note and its audit row commit together or not at all."""
    def broken(dialect_name):
        if dialect_name == "postgresql":
            return psycopg.OperationalError("could not write to file (simulated)")
        return sqlite3.OperationalError("disk I/O error (simulated)")

    with migrated(empty_database) as application:
        api, plan = _chart(application)
        with failing(application, broken, sql_prefix="INSERT INTO AUDIT_EVENTS"):
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "half"})
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "half" not in _visits(application)


def test_unreachable_database_answers_503_page_and_json(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2"
    with app_on(url) as application:
        client = application.test_client()
        api = client.get("/api/v1/patients", headers={"Authorization": "Bearer x" * 3})
        assert api.status_code == 503 and api.headers["Retry-After"] == "5"
        assert api.get_json()["errors"]["_request"][0].startswith("The database is unavailable")
        with client.session_transaction() as session:
            session["_user_id"] = "1"  # a signed-in browser: the session check needs the db
            session["sid"] = "x"
        page = client.get("/patients/")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        html = page.get_data(as_text=True)
        assert "Service unavailable" in html and "nothing was saved" in html
        assert page.headers["Cache-Control"] == "no-store"


def test_sqlite_locked_past_the_busy_timeout_answers_503_then_recovers(tmp_path):
    path = tmp_path / "locked.db"
    with migrated(f"sqlite:///{path}") as application:
        api, plan = _chart(application)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "locked"})
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert "locked" not in _visits(application)
        again = api.post(f"/api/v1/plans/{plan['id']}/visits",
                         json={"visit_date": iso_day(1), "subjective": "unlocked"})
        assert again.status_code == 201


def test_retry_rules():
    from notes_service.security.retry import retryable

    def wrapped(orig, invalidated=False):
        return sa.exc.OperationalError("stmt", {}, orig, connection_invalidated=invalidated)

    assert retryable(wrapped(psycopg.errors.SerializationFailure()), during_commit=True)
    assert retryable(wrapped(psycopg.errors.DeadlockDetected()), during_commit=True)
    assert retryable(wrapped(psycopg.OperationalError(), True), during_commit=False)
    assert not retryable(wrapped(psycopg.OperationalError(), True), during_commit=True)
    assert not retryable(wrapped(psycopg.errors.UniqueViolation()), during_commit=False)
    assert not retryable(ValueError(), during_commit=False)


