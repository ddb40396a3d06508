"""Server-side records of signed-in browser sessions.

The signed session cookie holds a random session id (:data:`SID_KEY`); the database holds only
its SHA-256 in :class:`UserSession`. A request is signed in only while that record exists, is
not revoked, has been active within ``SESSION_IDLE_MINUTES`` and is younger than
``SESSION_MAX_HOURS``, so signing out (or changing the password) on one device ends every
copy of the cookie, wherever it was copied to.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, g, has_request_context, request
from sqlalchemy import bindparam, select, update

from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.prepared import Prepared, as_loaded, column_keys, holds_nothing
from notes_service.security.models import UserSession

#: Session-cookie key of the random session id.
SID_KEY = "sid"

OK, UNKNOWN, IDLE, EXPIRED = "ok", "unknown", "idle", "expired"


def digest(sid: str) -> str:
    """SHA-256 (hex) of a session id: all the database keeps of it."""
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(user) -> str:
    """Record a new session of ``user``; return its id (for the cookie)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    origin = {}
    if has_request_context():
        origin = {"ip": request.remote_addr,
                  "user_agent": (request.user_agent.string or "")[:200] or None}
    db.session.add(UserSession(id_hash=digest(sid), user_id=user.id, created_at=now,
                               last_seen_at=now, **origin))
    return sid


def session_limits() -> tuple[timedelta, timedelta]:
    """How long a session may be idle, and how long it may last at most."""
    config = current_app.config
    return (timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
            timedelta(hours=config["SESSION_MAX_HOURS"]))


@cache
def _statement():
    """A session record with its user, in one ORM statement built once (the user loader then
    finds the user in the session's identity map)."""
    from notes_service.auth.models import User

    return (select(UserSession, User).outerjoin(User, User.id == UserSession.user_id)
            .where(UserSession.id_hash == bindparam("id_hash")))


@cache
def _row_statement() -> Prepared:
    """The columns of :func:`_statement`'s two objects (the user's null without one), run on the
    driver's cursor (:mod:`notes_service.prepared`): SQLAlchemy's execution of the ORM
    statement and its loading of the two objects cost several times the statement itself, on
    every request of a signed-in browser."""
    from notes_service.auth.models import User

    def build():
        columns = [getattr(model, key) for model in (UserSession, User)
                   for key in column_keys(model)]
        return (select(*columns).outerjoin(User, User.id == UserSession.user_id)
                .where(UserSession.id_hash == bindparam("id_hash")))

    return Prepared(build)


def _read(sid: str):
    """The session record of ``sid`` and its user (either None when not found), as objects of
    the request's ORM session.

    They are read as rows and attached as loaded while the session holds nothing (every
    request: the hooks check the session first), else through the ORM
    (:func:`notes_service.prepared.holds_nothing`).
    """
    from notes_service.auth.models import User

    session = db.session()
    if not holds_nothing(session):
        row = session.execute(_statement(), {"id_hash": digest(sid)}).one_or_none()
        return (row[0], row[1]) if row is not None else (None, None)
    row = _row_statement().first(session.connection(), {"id_hash": digest(sid)})
    if row is None:
        return None, None
    width = len(column_keys(UserSession))
    record = as_loaded(session, UserSession, row[:width])
    user = as_loaded(session, User, row[width:]) if row[width] is not None else None
    return record, user


def check_session(sid, user_id, cookie_last_seen: datetime | None = None
                  ) -> tuple[str, UserSession | None]:
    """The state of the session ``sid`` claimed for ``user_id``, and its record.

    ``cookie_last_seen`` is the last activity the cookie itself remembers: a replayed old copy
    of a cookie is idle even while the original is still in use.
    """
    if not isinstance(sid, str) or not sid or not str(user_id).isdigit():
        return UNKNOWN, None
    found, user = _read(sid)
    if user is not None and has_request_context():
        # The identity map holds objects weakly: kept here, the user loader finds this user
        # there instead of reading it again.
        g.session_user = user
    if found is None or found.revoked_at is not None or found.user_id != int(user_id):
        return UNKNOWN, found
    idle, lifetime = session_limits()
    now = utcnow()
    if now - found.created_at > lifetime:
        return EXPIRED, found
    last = found.last_seen_at
    if cookie_last_seen is not None and cookie_last_seen < last:
        last = cookie_last_seen
    if now - last > idle:
        return IDLE, found
    return OK, found


def touch(record: UserSession) -> bool:
    """Note activity on the session (written at most every ``SESSION_TOUCH_SECONDS``)."""
    now = utcnow()
    if (now - record.last_seen_at).total_seconds() < current_app.config["SESSION_TOUCH_SECONDS"]:
        return False
    record.last_seen_at = now
    return True


def end_session(record: UserSession | None, reason: str) -> None:
    """Revoke one session."""
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        record.revoked_reason = reason


def end_all_sessions(user_id: int, reason: str) -> int:
    """Revoke every open session of a user; return how many were open."""
    result = db.session.execute(
        update(UserSession).where(UserSession.user_id == user_id,
                                  UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch"))
    return result.rowcount
