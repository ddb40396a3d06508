"""Prepared statements (:mod:`notes_service.prepared`) answer what SQLAlchemy's execution of
the same statement answers, on both databases, and behave like an executed statement: listeners
see them, they run in the Connection's transaction, driver errors arrive as SQLAlchemy's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import make_account
from notes_service.access import _plan_version_select, _plan_version_statement, scope_params
from notes_service.api import Identity, _token_identity_statement, token_digest
from notes_service.audit.chain import append_rows_on, verify_chain
from notes_service.db_types import utcnow
from notes_service.extensions import db, own_connections
from notes_service.prepared import Prepared


@pytest.fixture
def plan(app, clinic):
    """A plan with signed notes and a draft, and a patient account of its own."""
    patient = clinic.patient()
    found = clinic.plan(patient["id"], tracked_measures=[{"measure": "slr", "side": "left"}])
    clinic.signed_visit(found["id"], days_ago=6)
    clinic.visit(found["id"], days_ago=2)  # a draft: staff see it, the patient does not
    account = make_account(app, "prepared-patient@example.org", "patient",
                           patient_id=patient["id"])
    return found, account


@pytest.mark.parametrize("kind", ["care_team", "director", "patient"])
@pytest.mark.parametrize("reports", [False, True])
def test_plan_version_rows_equal_sqlalchemys(app, plan, practitioner, kind, reports):
    found, patient = plan
    viewer = {"care_team": Identity(practitioner.id, "practitioner", None),
              "director": Identity(0, "director", None),
              "patient": Identity(patient.id, "patient", found["patient_id"])}[kind]
    params = {"plan_id": found["id"], **scope_params(viewer)}
    with app.app_context(), own_connections.begin() as connection:
        expected = connection.execute(
            _plan_version_select(kind, kind == "patient", reports), params).one()
        got = _plan_version_statement(kind, kind == "patient", reports).first(connection,
                                                                               params)
        assert got == tuple(expected)
        assert [type(v) for v in got] == [type(v) for v in expected]
        assert {"measure": "slr", "side": "left"} in got[4]  # JSON, decoded
        assert got[6] is not None and got[6].tzinfo is not None  # latest change, aware
        missing = _plan_version_statement(kind, kind == "patient", reports).first(
            connection, {**params, "plan_id": found["id"] + 1000})
        assert missing is None


def test_token_identity_equals_sqlalchemys(app, practitioner):
    params = {"digest": token_digest(practitioner.token), "now": utcnow()}
    with app.app_context(), own_connections.begin() as connection:
        expected = connection.execute(_token_identity_statement(), params).one()
        prepared = Prepared(_token_identity_statement)
        assert prepared.first(connection, params) == tuple(expected) == (
            practitioner.id, "practitioner", None)
        assert prepared.first(connection, {**params, "digest": token_digest("nope")}) is None


def test_listeners_see_the_statement_in_the_connections_transaction(app, count_queries):
    prepared = Prepared(lambda: sa.select(sa.literal(7, sa.Integer)))
    # A reading request's connection of the engine's own (BEGIN, not the test's write lock).
    with app.test_request_context("/", method="GET"), db.engine.connect() as connection, \
            count_queries() as counter:
        assert not connection.in_transaction()
        assert prepared.rows(connection, {}) == [(7,)]
        assert connection.in_transaction()  # begun through SQLAlchemy: its listeners ran
        connection.rollback()
    assert len(counter.statements) == 1 and counter.statements[0].upper().startswith("SELECT")


def test_a_driver_error_is_sqlalchemys_and_the_connection_goes_on(app):
    broken = Prepared(lambda: sa.select(sa.column("no_such_column")).select_from(
        sa.table("users")))
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError) as raised, own_connections.begin() as connection:
            broken.rows(connection, {})
        assert "no_such_column" in str(raised.value)
        with own_connections.begin() as connection:  # rolled back to before the error
            assert connection.execute(sa.select(sa.literal(1))).scalar() == 1


def test_a_connection_lost_under_a_statement_is_reported_lost(tmp_path):
    """SQLite: a statement whose connection was closed under it raises SQLAlchemy's disconnect
    error, the connection invalidated (so the request is retried), not the failure of its
    cursor to close on the closed connection."""
    import sqlite3

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'lost.db'}")
    prepared = Prepared(lambda: sa.select(sa.literal(1)))

    def lose(connection, _cursor, statement, *_args):
        connection.connection.dbapi_connection.close()
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    try:
        with engine.connect() as connection:
            sa.event.listen(engine, "before_cursor_execute", lose)
            with pytest.raises(sa.exc.DBAPIError) as raised:
                prepared.rows(connection, {})
        assert raised.value.connection_invalidated
        assert "closed database" in str(raised.value)
    finally:
        engine.dispose()


def test_expanding_parameters_are_refused(app):
    users = sa.table("users", sa.column("id"))
    prepared = Prepared(lambda: sa.select(users.c.id).where(
        users.c.id.in_(sa.bindparam("ids", expanding=True))))
    with app.app_context(), own_connections.begin() as connection:
        with pytest.raises(ValueError, match="expanding"):
            prepared.rows(connection, {"ids": [1, 2]})


def test_audit_rows_appended_on_a_connection_keep_the_chain(app, practitioner):
    def row(detail):
        return {"user_id": practitioner.id, "action": "read", "kind": "chart",
                "patient_id": None, "object_id": None, "outcome": "ok", "detail": detail,
                "at": utcnow(), "ip": "127.0.0.1", "user_agent": None, "request": None}

    with app.app_context(), own_connections.begin() as connection:
        append_rows_on(connection, [row("one")])
        append_rows_on(connection, [row("two"), row("three")])  # several: executemany
        report = verify_chain(connection)
        details = connection.execute(sa.text(
            "SELECT detail FROM audit_events ORDER BY id DESC LIMIT 3")).scalars().all()
    assert report.ok, report
    assert details == ["three", "two", "one"]


def test_numeric_columns_read_as_sqlalchemy_reads_them(app, plan):
    """Float columns (goal targets, measurement values) and a sum of them: on PostgreSQL their
    result processors depend on the type the server reports, read at the first run."""
    from notes_service.plans.models import Goal
    from notes_service.visits.models import Measurement

    found, _ = plan
    statement = (sa.select(Goal.target, sa.func.sum(Measurement.value), sa.func.count())
                 .join(Measurement, sa.true()).where(Goal.plan_id == sa.bindparam("plan_id"))
                 .group_by(Goal.id, Goal.target))
    prepared = Prepared(lambda: statement)
    with app.app_context(), own_connections.begin() as connection:
        expected = [tuple(row) for row in connection.execute(statement, {"plan_id": found["id"]})]
        for _ in range(2):  # the readers found at the first run serve the next ones
            got = prepared.rows(connection, {"plan_id": found["id"]})
            assert got == expected and got
            assert [type(v) for v in got[0]] == [type(v) for v in expected[0]]
