"""Server-side sign-in sessions, sign-in attempts and break-glass grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, exists, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db


class UserSession(db.Model):
    """One signed-in browser session. The cookie carries a random id; only its SHA-256 is here.

    A session ends when it is revoked (sign-out, password change), idle for longer than
    ``SESSION_IDLE_MINUTES`` or older than ``SESSION_MAX_HOURS``; a copy of its cookie then
    signs nobody in.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the random session id kept in the signed cookie.
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Last request of the session (written at most every ``SESSION_TOUCH_SECONDS``).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: logout, password_change, idle, expired, deactivated.
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginAttempt(db.Model):
    """A sign-in attempt (web or API), kept in the database so every worker sees the count."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),
                      Index("ix_login_attempts_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The e-mail as typed, lower-cased (an unknown account counts like a known one).
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(45))
    succeeded: Mapped[bool] = mapped_column(default=False)


class BreakGlassGrant(db.Model):
    """Time-limited read access of a clinician off a patient's care team, with the reason
    they gave. Never changed: an expired grant stays as the record of the access."""

    __tablename__ = "break_glass_grants"
    __table_args__ = (Index("ix_break_glass_grants_user_patient", "user_id", "patient_id",
                            "expires_at"),
                      Index("ix_break_glass_grants_expires_at", "expires_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user = relationship("User", lazy="raise")
    patient = relationship("Patient", lazy="raise")


class sql_utcnow(FunctionElement):  # noqa: N801  (reads like the SQL function it is)
    """The database's current time as naive UTC, like the stored timestamps.

    Evaluated by the database, so statements that embed it can be built once and cached.
    """

    type = DateTime()
    inherit_cache = True


@compiles(sql_utcnow)
def _utcnow_default(_element, _compiler, **_kw):
    return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"


@compiles(sql_utcnow, "sqlite")
def _utcnow_sqlite(_element, _compiler, **_kw):
    # The format SQLAlchemy stores DateTime in on SQLite, so text comparison is time order.
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def granted_patients(user_id):
    """SELECT of the patients ``user_id`` holds an open break-glass grant for."""
    return select(BreakGlassGrant.patient_id).where(BreakGlassGrant.user_id == user_id,
                                                    BreakGlassGrant.expires_at > sql_utcnow())


def grant_condition(user_id, patient_id_column):
    """SQL condition: ``user_id`` holds an open break-glass grant for ``patient_id_column``."""
    return exists().where(BreakGlassGrant.user_id == user_id,
                          BreakGlassGrant.patient_id == patient_id_column,
                          BreakGlassGrant.expires_at > sql_utcnow())
