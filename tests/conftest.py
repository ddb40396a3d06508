"""Fixtures: the app on SQLite (and PostgreSQL when ``TEST_DATABASE_URL`` is set), a database
state of its own for every test (a transaction rolled back afterwards), users of each role with
API tokens, and a query counter.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

os.environ.setdefault("SECRET_KEY", "test-secret-key")

from notes_service import create_app  # noqa: E402
from notes_service.config import database_url as normalise_url  # noqa: E402
from notes_service.extensions import db, own_connections  # noqa: E402
from notes_service.memo import clear_all  # noqa: E402
from flask_sqlalchemy.session import _app_ctx_id  # noqa: E402

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

TEST_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SERVER_NAME": None,
}


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """An empty database per backend, shared by the session.

    On PostgreSQL a fresh database is created for every run (and dropped after it), so runs
    never see each other's data, even when several run at once against the same server.
    """
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
        return
    server_url = sa.engine.make_url(normalise_url(os.environ["TEST_DATABASE_URL"]))
    name = f"notes_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}")
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(url: str, **extra):
    """Create a test app on ``url``."""
    return create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **extra})


@pytest.fixture(scope="session")
def app(database_url):
    """The application with its schema built by the migrations (as in production)."""
    from flask_migrate import upgrade

    application = make_app(database_url)
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _isolated_database(request):
    """Run each test that uses the app inside a transaction that is rolled back afterwards."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    clear_all()  # ids are reused from test to test: no memo may outlive its test's data
    with application.app_context():
        connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    # A plain Session bound to the connection: Flask-SQLAlchemy's own Session picks the engine.
    db.session = sa.orm.scoped_session(
        sa.orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
        scopefunc=_app_ctx_id)

    @contextmanager
    def own_connection():  # a savepoint of the test's transaction, as the session's commits are
        with connection.begin_nested():
            yield connection

    own_connections.factory = own_connection
    try:
        yield
    finally:
        own_connections.factory = None
        with application.app_context():
            db.session.remove()
        db.session = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@contextmanager
def app_context(app) -> Iterator[None]:
    """Push an app context (for arranging data outside requests)."""
    with app.app_context():
        yield


class QueryCounter:
    """Counts the SQL statements the app sends."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Context manager yielding a :class:`QueryCounter` of the statements run inside it."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)

    return counting


def lapse_token(app, account: "Account", change: str) -> None:
    """Make ``account``'s API token lapse: ``expired``, ``revoked``, or its user
    ``deactivated``."""
    from datetime import timedelta

    from notes_service.api import token_digest
    from notes_service.auth.models import ApiToken

    with app.app_context():
        token = db.session.execute(sa.select(ApiToken).where(
            ApiToken.token_hash == token_digest(account.token))).scalar_one()
        moment = token.created_at - timedelta(seconds=1)
        if change == "expired":
            token.expires_at = moment
        elif change == "revoked":
            token.revoked_at = moment
        else:
            token.user.active = False
        db.session.commit()


@dataclass
class Account:
    """A test user with an API token."""

    id: int
    email: str
    token: str
    role: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


PASSWORD = "correct horse battery"


def make_account(app, email: str, role: str, *, name: str | None = None,
                 patient_id: int | None = None, practices: bool = False) -> Account:
    """Create a user and an API token for it."""
    from notes_service.auth.services import create_user, issue_token

    with app.app_context():
        user = create_user({"email": email, "name": name or email.split("@")[0].title(),
                            "role": role, "password": PASSWORD, "patient_id": patient_id,
                            "practices": practices})
        token, _ = issue_token(user, 1)
        db.session.commit()
        return Account(user.id, user.email, token, role)


class Api:
    """Calls the JSON API as one account."""

    def __init__(self, client, account: Account | None):
        self.client = client
        self.account = account

    def _headers(self, headers):
        base = dict(self.account.headers) if self.account else {}
        return {**base, **(headers or {})}

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.client.post(url, json=json, headers=self._headers(kwargs.pop("headers", None)),
                                **kwargs)

    def patch(self, url, json=None, **kwargs):
        return self.client.patch(url, json=json,
                                 headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, url, **kwargs):
        return self.client.delete(url, headers=self._headers(kwargs.pop("headers", None)),
                                  **kwargs)


@pytest.fixture
def practitioner(app) -> Account:
    """A practitioner (who will be on the care team of the patients they create)."""
    return make_account(app, "pat.pt@example.org", "practitioner", name="Pat Physio")


@pytest.fixture
def other_practitioner(app) -> Account:
    """A practitioner off every care team."""
    return make_account(app, "olly.other@example.org", "practitioner", name="Olly Other")


@pytest.fixture
def director(app) -> Account:
    """A clinic director who does not treat patients."""
    return make_account(app, "dana.director@example.org", "director", name="Dana Director")


@pytest.fixture
def api(client, practitioner) -> Api:
    """The API as the practitioner."""
    return Api(client, practitioner)


@pytest.fixture
def as_account(client):
    """Build an :class:`Api` for any account."""
    return lambda account: Api(client, account)


# --- Builders for the core API tests: a patient, a plan, notes, and the audit rows they leave.

def iso_day(days_ago: int) -> str:
    """The ISO date ``days_ago`` days before today (negative: in the future)."""
    from datetime import date, timedelta

    return (date.today() - timedelta(days=days_ago)).isoformat()


class ClinicBuilder:
    """Creates patients, plans and visit notes through the API, asserting each succeeds.

    Calls act as the practitioner fixture unless ``by`` (an :class:`Api`) is given.
    """

    def __init__(self, api: Api):
        self.api = api

    @staticmethod
    def _ok(response, status):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def patient(self, by: Api | None = None, **fields) -> dict:
        body = {"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01", **fields}
        return self._ok((by or self.api).post("/api/v1/patients", json=body), 201)

    def plan(self, patient_id: int, by: Api | None = None, start_days_ago: int = 30,
             **fields) -> dict:
        body = {"start_date": iso_day(start_days_ago), "weeks": 8, "visits_per_week": 2,
                "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}],
                **fields}
        return self._ok((by or self.api).post(f"/api/v1/patients/{patient_id}/plans",
                                              json=body), 201)

    def visit(self, plan_id: int, by: Api | None = None, days_ago: int = 5, **fields) -> dict:
        body = {"visit_date": iso_day(days_ago), "subjective": "Leg pain after sitting.",
                "objective": "SLR right 40°.", "assessment": "Irritable sciatic nerve.",
                "plan": "ART and nerve glides.", "interventions": ["art"],
                "measurements": [{"measure": "pain", "value": 6}], **fields}
        return self._ok((by or self.api).post(f"/api/v1/plans/{plan_id}/visits", json=body),
                        201)

    def signed_visit(self, plan_id: int, by: Api | None = None, **fields) -> dict:
        note = self.visit(plan_id, by=by, **fields)
        return self._ok((by or self.api).post(f"/api/v1/visits/{note['id']}/sign", json={}),
                        200)

    def chart(self, by: Api | None = None, **plan_fields) -> tuple[dict, dict]:
        """A patient with one active plan: ``(patient, plan)``."""
        patient = self.patient(by=by)
        return patient, self.plan(patient["id"], by=by, **plan_fields)


@pytest.fixture
def clinic(api) -> ClinicBuilder:
    """Build patients, plans and notes through the API as the practitioner."""
    return ClinicBuilder(api)


class AuditLog:
    """Reads the audit rows written since a mark."""

    def __init__(self, app):
        self.app = app
        self.last = self._max_id()

    def _max_id(self) -> int:
        from notes_service.audit.models import AuditEvent

        with self.app.app_context():
            return db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar() or 0

    def mark(self) -> None:
        """Forget the rows written so far."""
        self.last = self._max_id()

    def new(self) -> list[dict]:
        """The rows written since the last mark (as dicts, oldest first), then mark."""
        from notes_service.audit.models import AuditEvent

        columns = ("user_id", "patient_id", "kind", "action", "object_id", "outcome", "ip",
                   "request", "detail", "at")
        with self.app.app_context():
            rows = db.session.execute(sa.select(AuditEvent).where(AuditEvent.id > self.last)
                                      .order_by(AuditEvent.id)).scalars().all()
            found = [{c: getattr(r, c) for c in columns} for r in rows]
        self.mark()
        return found


@pytest.fixture
def audit_log(app) -> AuditLog:
    """The audit rows requests write: ``audit_log.mark()`` then ``audit_log.new()``."""
    return AuditLog(app)


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path) -> Iterator[str]:
    """The URL of a database of its own with no schema yet (migration and CLI tests)."""
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "empty.db")
        return
    server_url = sa.engine.make_url(normalise_url(os.environ["TEST_DATABASE_URL"]))
    name = f"notes_empty_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def app_on(url: str, **extra) -> Iterator:
    """An app of its own on ``url`` (not the shared, rolled-back one); its engine is disposed."""
    application = make_app(url, **extra)
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
