"""Housekeeping of the security tables: sign-in attempts older than
``LOGIN_ATTEMPT_RETENTION_DAYS`` and browser sessions that ended more than
``SESSION_RETENTION_DAYS`` ago are deleted.

Nothing still in use goes: attempts inside the throttle's window (``LOGIN_THROTTLE_MINUTES``)
stay whatever the retention, and a session that can still sign someone in has not ended. An
ended session's record only lets a replayed copy of its cookie be refused with an audit row
saying why; Flask itself refuses a cookie last set more than 31 days ago
(``PERMANENT_SESSION_LIFETIME``), so a retention of 31 days or more loses nothing. No page lists
sessions or attempts; the audit log keeps the history of sign-ins and sign-outs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select

from notes_service.audit.services import record
from notes_service.config import positive_int
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.security.models import LoginAttempt, UserSession
from notes_service.security.sessions import session_limits


@dataclass(frozen=True)
class Pruned:
    """How many records a run deleted (or, in a dry run, would delete)."""

    login_attempts: int
    sessions: int


def _expired_attempts(days: int, now: datetime):
    """Attempts older than ``days``, and never one the sign-in throttle still counts."""
    window = timedelta(minutes=current_app.config["LOGIN_THROTTLE_MINUTES"])
    return LoginAttempt.at < now - max(timedelta(days=days), window)


def _expired_sessions(days: int, now: datetime):
    """Sessions that ended more than ``days`` ago: revoked then, or by then idle for longer
    than ``SESSION_IDLE_MINUTES`` or older than ``SESSION_MAX_HOURS``.

    A session ends at the first of the three, so each is compared on its own. ``days`` is at
    least 1, so a session matched here fails :func:`notes_service.security.sessions.check_session`
    by more than a day: it cannot sign anyone in.
    """
    idle, lifetime = session_limits()
    cutoff = now - timedelta(days=days)
    return or_(UserSession.revoked_at < cutoff, UserSession.last_seen_at < cutoff - idle,
               UserSession.created_at < cutoff - lifetime)


def _count(model, condition) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(condition)
                              ).scalar_one()


def _delete(model, condition) -> int:
    # No request holds these old rows, and reading back every deleted id (to keep the ORM
    # session in step) would make a first run over a large table slow.
    return db.session.execute(delete(model).where(condition)
                              .execution_options(synchronize_session=False)).rowcount


def prune_security_records(*, dry_run: bool = False) -> Pruned:
    """Delete sign-in attempts and ended sessions past their retention, and audit the run.

    Both deletes and the audit event are in the current transaction, for the caller to commit
    as one. ``dry_run`` only counts: nothing is deleted and nothing audited. Raises
    :class:`~notes_service.config.ConfigError` for a retention that is not a whole number of
    days of at least 1, before touching anything.
    """
    config = current_app.config
    attempt_days = positive_int("LOGIN_ATTEMPT_RETENTION_DAYS",
                                config["LOGIN_ATTEMPT_RETENTION_DAYS"])
    session_days = positive_int("SESSION_RETENTION_DAYS", config["SESSION_RETENTION_DAYS"])
    now = utcnow()
    attempts = _expired_attempts(attempt_days, now)
    sessions = _expired_sessions(session_days, now)
    if dry_run:
        return Pruned(_count(LoginAttempt, attempts), _count(UserSession, sessions))
    pruned = Pruned(_delete(LoginAttempt, attempts), _delete(UserSession, sessions))
    record(None, "prune", "security",
           detail=f"deleted {pruned.login_attempts} sign-in attempt(s) older than "
                  f"{attempt_days} days and {pruned.sessions} session(s) ended over "
                  f"{session_days} days ago")
    return pruned
