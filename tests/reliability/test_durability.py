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


@contextmanager
def sqlite_trace(application):
    """Every statement SQLite runs on the app's connections (BEGIN and PRAGMA included), but
    the setting of how long to wait for the write lock (see
    :func:`test_a_contended_write_lock_is_taken_as_soon_as_it_is_free`)."""
    seen: list[str] = []
    with application.app_context():
        engine = db.engine

    def seen_unless_wait(statement: str) -> None:
        if not statement.startswith("PRAGMA busy_timeout"):  # how long to wait, see below
            seen.append(statement)

    def traced(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(seen_unless_wait)

    engine.dispose()  # new connections only, each traced from its first statement
    sa.event.listen(engine, "connect", traced)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "connect", traced)
        engine.dispose()


def _transactions(statements: list[str]) -> list[list[str]]:
    """The statements grouped by transaction (from each BEGIN to its COMMIT or ROLLBACK)."""
    groups, current = [], None
    for statement in statements:
        head = statement.split()[0].upper()
        if head == "BEGIN":
            current = [statement]
        elif current is not None:
            current.append(statement)
            if head in ("COMMIT", "ROLLBACK"):
                groups.append(current)
                current = None
    return groups


def _sqlite_only(application):
    with application.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite")


def test_sqlite_writes_begin_immediately_with_full_sync(empty_database):
    """A write takes the write lock up front (no lock-upgrade failure) and is fsynced."""
    with migrated(empty_database) as application:
        _sqlite_only(application)
        api, plan = _chart(application)
        with sqlite_trace(application) as seen:
            response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                json={"visit_date": iso_day(1), "subjective": "full"})
        assert response.status_code == 201
        assert seen[:2] == ["PRAGMA synchronous = FULL", "BEGIN IMMEDIATE"] or \
            "PRAGMA synchronous = NORMAL" not in seen and seen[0] == "BEGIN IMMEDIATE"
        (write,) = _transactions(seen)
        assert write[0] == "BEGIN IMMEDIATE" and any(
            s.startswith("INSERT INTO visit_notes") for s in write)
        assert any(s.startswith("INSERT INTO audit_events") for s in write)


def test_a_read_appends_its_audit_row_in_a_short_write_transaction(empty_database):
    """GET: the reads run without the write lock; the audit row follows in its own
    BEGIN IMMEDIATE transaction, with NORMAL sync while a FULL one happened within a second."""
    with migrated(empty_database) as application:
        _sqlite_only(application)
        api, plan = _chart(application)
        api.post(f"/api/v1/plans/{plan['id']}/visits",
                 json={"visit_date": iso_day(1), "subjective": "read me"})  # a FULL commit
        with sqlite_trace(application) as seen:
            assert api.get(f"/api/v1/plans/{plan['id']}/visits").status_code == 200
        read, audit = _transactions(seen)
        assert read[0] == "BEGIN" and read[-1] == "COMMIT"
        assert not any(s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") for s in read)
        assert audit[0] == "BEGIN IMMEDIATE" and audit[-1] == "COMMIT"
        # One statement: the row, chained by the insert itself to the tail it reads.
        assert [s.split()[0] for s in audit[1:-1]] == ["INSERT"]
        assert "PRAGMA synchronous = NORMAL" in seen and "PRAGMA synchronous = FULL" not in seen


def test_read_audit_rows_reach_the_disk_within_a_second(empty_database, monkeypatch):
    from notes_service import extensions

    with migrated(empty_database) as application:
        _sqlite_only(application)
        api, plan = _chart(application)
        monkeypatch.setattr(extensions, "READ_AUDIT_SYNC_SECONDS", 0.0)
        with sqlite_trace(application) as seen:
            assert api.get(f"/api/v1/plans/{plan['id']}/visits").status_code == 200
        assert "PRAGMA synchronous = NORMAL" not in seen  # overdue: this commit is fsynced


def test_audit_reads_durable_makes_every_commit_full(tmp_path):
    with migrated(f"sqlite:///{tmp_path / 'durable.db'}",
                  AUDIT_READS_DURABLE=True) as application:
        api, plan = _chart(application)
        with sqlite_trace(application) as seen:
            assert api.get(f"/api/v1/plans/{plan['id']}/visits").status_code == 200
        (only,) = _transactions(seen)
        assert only[0] == "BEGIN IMMEDIATE" and "PRAGMA synchronous = NORMAL" not in seen


def test_a_read_outlives_a_write_committed_during_it(tmp_path, audit_chain_ok=True):
    """Another process commits while a GET is reading: the GET's audit row still goes in (a
    read snapshot upgraded in place would fail with SQLITE_BUSY here), and the chain holds."""
    from notes_service.audit.chain import verify_chain

    path = tmp_path / "race.db"
    with migrated(f"sqlite:///{path}") as application:
        api, plan = _chart(application)
        with application.app_context():
            engine = db.engine
        state = {"done": False}

        def meanwhile(conn, cursor, statement, *args):
            if not state["done"] and statement.startswith("SELECT") and "visit_notes" in statement:
                state["done"] = True
                other = sqlite3.connect(path, isolation_level=None)
                other.execute("BEGIN IMMEDIATE")
                other.execute("UPDATE patients SET given_name = 'Changed'")
                other.execute("COMMIT")
                other.close()

        sa.event.listen(engine, "before_cursor_execute", meanwhile)
        try:
            response = api.get(f"/api/v1/plans/{plan['id']}/visits")
        finally:
            sa.event.remove(engine, "before_cursor_execute", meanwhile)
        assert state["done"] and response.status_code == 200, response.get_json()
        with application.app_context():
            assert verify_chain(db.session.connection()).ok
            last = db.session.execute(sa.text(
                "SELECT action, kind FROM audit_events ORDER BY id DESC LIMIT 1")).one()
        assert tuple(last) == ("list", "visit")


def test_postgresql_relaxes_only_audit_only_commits(empty_database, monkeypatch):
    """synchronous_commit = off for a read's audit rows; never for a clinical write."""
    from notes_service import extensions

    relaxed = []
    real = extensions._relax_commit
    monkeypatch.setattr(extensions, "_relax_commit",
                        lambda dbapi_connection: relaxed.append(1) or real(dbapi_connection))
    with migrated(empty_database) as application:
        with application.app_context():
            if db.engine.dialect.name != "postgresql":
                pytest.skip("PostgreSQL")
        api, plan = _chart(application)
        relaxed.clear()
        assert api.post(f"/api/v1/plans/{plan['id']}/visits", json={
            "visit_date": iso_day(1), "subjective": "durable"}).status_code == 201
        assert relaxed == []
        assert api.get(f"/api/v1/plans/{plan['id']}/visits").status_code == 200
        assert relaxed == [1]


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


@pytest.mark.parametrize("route", ["write", "read"])
def test_a_contended_write_lock_is_taken_as_soon_as_it_is_free(tmp_path, monkeypatch, route):
    """Another connection holds SQLite's write lock: a write (or a read's audit row) takes it
    at its next quick try once it is free, 50 µs later, rather than after SQLite's busy handler
    sleeps (1 ms, then 2, 5, 10 ms…); the busy timeout is back to 5 s afterwards."""
    from notes_service import extensions

    path = tmp_path / "contended.db"
    with migrated(f"sqlite:///{path}") as application:
        api, plan = _chart(application)
        blocker = sqlite3.connect(path, isolation_level=None)
        pauses = []

        def pause(seconds):
            pauses.append(seconds)
            if len(pauses) == 3:
                blocker.execute("ROLLBACK")  # the other transaction ends

        def timeout_at_checkin(dbapi_connection, _record):
            timeouts.append(dbapi_connection.execute("PRAGMA busy_timeout").fetchone()[0])

        timeouts = []
        monkeypatch.setattr(extensions, "_pause", pause)
        with application.app_context():
            engine = db.engine
        sa.event.listen(engine, "checkin", timeout_at_checkin)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            if route == "write":
                response = api.post(f"/api/v1/plans/{plan['id']}/visits",
                                    json={"visit_date": iso_day(1), "subjective": "quick"})
                assert response.status_code == 201, response.get_json()
            else:
                assert api.get(f"/api/v1/plans/{plan['id']}/visits").status_code == 200
        finally:
            sa.event.remove(engine, "checkin", timeout_at_checkin)
            if blocker.in_transaction:
                blocker.execute("ROLLBACK")
            blocker.close()
        assert pauses == [0.00005, 0.0001, 0.0002]
        assert timeouts and set(timeouts) == {5000}
        if route == "read":
            with application.app_context():
                last = db.session.execute(sa.text(
                    "SELECT action, kind FROM audit_events ORDER BY id DESC LIMIT 1")).one()
                assert tuple(last) == ("list", "visit")


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


