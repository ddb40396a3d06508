"""The session check of every signed-in browser request: one statement reads the session record
with its user, both become loaded objects of the request's ORM session (the user is the
request's actor), and the record is touched and revoked through them as through any loaded
object; a session that already holds objects is read through the ORM."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from notes_service.auth.models import User
from notes_service.extensions import db
from notes_service.security import sessions
from notes_service.security.models import UserSession
from security_support import pending_dir, shift_sessions, web  # noqa: F401

#: A page that reads nothing but the session.
PAGE = "/account/password"


def sid_of(client) -> str:
    with client.session_transaction() as session:
        return session[sessions.SID_KEY]


def stored(app, user_id: int) -> UserSession:
    """The user's session record as stored (read in a session of its own)."""
    with app.app_context():
        record = db.session.execute(sa.select(UserSession).where(
            UserSession.user_id == user_id)).scalar_one()
        db.session.expunge(record)
        return record


def test_a_signed_in_request_reads_its_session_and_user_in_one_statement(web, count_queries):
    assert web.get(PAGE).status_code == 200
    with count_queries() as counter:
        assert web.get(PAGE).status_code == 200
    reads = [s for s in counter.statements if "user_sessions" in s or "FROM users" in s]
    assert len(reads) == 1 and "JOIN users" in reads[0], reads  # the user loader reads nothing


def test_the_record_and_user_are_loaded_objects_of_the_request(app, web, practitioner,
                                                               count_queries):
    with app.test_request_context(PAGE):
        state, record = sessions.check_session(sid_of(web), str(practitioner.id))
        assert state == sessions.OK
        user = g.session_user
        for obj in (record, user):
            info = sa.inspect(obj)
            assert info.persistent and obj in db.session and not info.modified
            assert not info.unloaded & {attr.key for attr in info.mapper.column_attrs}
            table = info.mapper.local_table
            row = db.session.execute(sa.select(table).where(table.c.id == obj.id)).one()
            for attr in info.mapper.column_attrs:
                assert getattr(obj, attr.key) == row._mapping[attr.key], attr.key
        assert user.id == record.user_id == practitioner.id and user.active
        assert record.last_seen_at.tzinfo is not None  # the column's type read it
        with count_queries() as counter:
            assert db.session.get(User, practitioner.id) is user
            assert db.session.get(UserSession, record.id) is record
        assert counter.count == 0
        assert sessions.check_session("not-a-session", str(practitioner.id)) == (
            sessions.UNKNOWN, None)
        db.session.rollback()


def test_a_request_in_a_context_holding_the_user_reads_through_the_orm(app, web,
                                                                       practitioner):
    """A request inside an app context that loaded the user (its ORM session) gets that very
    object as its actor, as an ORM read would give it."""
    with app.app_context():
        user = db.session.get(User, practitioner.id)
        assert web.get(PAGE).status_code == 200
        assert g.actor is user


def test_a_touch_writes_the_last_activity_alone(app, web, practitioner, count_queries):
    before = stored(app, practitioner.id).last_seen_at
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(
        seconds=app.config["SESSION_TOUCH_SECONDS"] + 1))
    with count_queries() as counter:
        assert web.get(PAGE).status_code == 200
    writes = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 1 and writes[0].startswith("UPDATE user_sessions SET last_seen_at="), \
        writes
    assert stored(app, practitioner.id).last_seen_at >= before
    with count_queries() as counter:  # touched a moment ago: not again
        assert web.get(PAGE).status_code == 200
    assert not [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]


@pytest.mark.parametrize(("shift", "reason"), [
    ({"last_seen_at": timedelta(minutes=16)}, "idle"),
    ({"created_at": timedelta(hours=12, minutes=1)}, "expired"),
])
def test_a_lapsed_session_is_revoked_with_its_reason(app, web, practitioner, shift, reason):
    shift_sessions(app, practitioner.id, **shift)
    assert web.get(PAGE).headers["Location"].startswith("/login")
    record = stored(app, practitioner.id)
    assert record.revoked_reason == reason and record.revoked_at is not None


def test_a_deactivated_users_session_is_revoked(app, web, practitioner):
    with app.app_context():
        db.session.get(User, practitioner.id).active = False
        db.session.commit()
    assert web.get(PAGE).headers["Location"].startswith("/login")
    record = stored(app, practitioner.id)
    assert record.revoked_reason == "deactivated" and record.revoked_at is not None


def test_a_cookie_claiming_another_user_is_refused(app, web, practitioner, director):
    with web.session_transaction() as session:
        session["_user_id"] = str(director.id)
    assert web.get(PAGE).headers["Location"].startswith("/login")
    assert stored(app, practitioner.id).revoked_at is None  # the session itself is not ended
