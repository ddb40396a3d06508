"""The bearer token's user of every API request: one statement reads it, and it becomes a loaded
object of the request's ORM session, exactly as the ORM statement would load it; a session that
already holds objects reads it through the ORM. A lapsed token finds no user either way."""

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Unauthorized

from conftest import lapse_token, make_account
from notes_service.api import authenticate_bearer
from notes_service.auth.models import User
from notes_service.extensions import db

PLAN = "/api/v1/patients"


def test_the_user_is_a_loaded_object_of_the_request(app, practitioner, count_queries):
    with app.test_request_context(PLAN, headers=practitioner.headers):
        with count_queries() as counter:
            user = authenticate_bearer()
        assert [s for s in counter.statements if "FROM users" in s] == counter.statements[-1:]
        info = sa.inspect(user)
        assert info.persistent and user in db.session and not info.modified
        assert not info.unloaded & {attr.key for attr in info.mapper.column_attrs}
        row = db.session.execute(sa.select(User.__table__).where(User.id == user.id)).one()
        for attr in info.mapper.column_attrs:
            assert getattr(user, attr.key) == row._mapping[attr.columns[0].name], attr.key
        assert user.created_at.tzinfo is not None  # the column's type read it
        with count_queries() as counter:
            assert db.session.get(User, practitioner.id) is user
        assert counter.count == 0
        db.session.rollback()


def test_a_change_to_the_user_is_flushed_as_a_change_of_that_column(app, practitioner,
                                                                    count_queries):
    with app.test_request_context(PLAN, headers=practitioner.headers):
        user = authenticate_bearer()
        user.name = "Pat Renamed"
        with count_queries() as counter:
            db.session.flush()
        updates = [s for s in counter.statements if s.startswith("UPDATE users")]
        assert len(updates) == 1 and "SET name=" in updates[0], counter.statements
        db.session.commit()
    with app.app_context():
        assert db.session.get(User, practitioner.id).name == "Pat Renamed"


def test_a_session_holding_objects_reads_the_user_through_the_orm(app, practitioner):
    with app.test_request_context(PLAN, headers=practitioner.headers):
        held = db.session.get(User, practitioner.id)
        held.name = "Pending Change"  # pending: the ORM statement flushes it first
        assert authenticate_bearer() is held
        assert db.session.execute(sa.select(User.name).where(
            User.id == practitioner.id)).scalar() == "Pending Change"
        db.session.rollback()


@pytest.mark.parametrize("change", ["expired", "revoked", "deactivated"])
@pytest.mark.parametrize("holding", [False, True])
def test_a_lapsed_token_finds_no_user_either_way(app, change, holding):
    account = make_account(app, f"{change}.{holding}@example.org", "practitioner")
    lapse_token(app, account, change)
    with app.test_request_context(PLAN, headers=account.headers):
        if holding:
            db.session.get(User, account.id)
        with pytest.raises(Unauthorized):
            authenticate_bearer()
        db.session.rollback()


def test_an_unknown_or_missing_token_finds_no_user(app, practitioner):
    for headers in ({"Authorization": "Bearer not-a-token"}, {}):
        with app.test_request_context(PLAN, headers=headers):
            with pytest.raises(Unauthorized):
                authenticate_bearer()


def test_the_answered_commit_leaves_the_session_expiring_on_commit(app, api):
    """The API's last commit skips expiring the objects it no longer reads, for that commit
    only: a request inside an app context that goes on using its session gets it back as
    it was."""
    with app.app_context():
        session = db.session()
        assert session.expire_on_commit
        created = api.post(PLAN, {"given_name": "A", "family_name": "Session",
                                  "birth_date": "1980-01-01"})
        assert created.status_code == 201, created.get_json()
        assert db.session() is session and session.expire_on_commit
