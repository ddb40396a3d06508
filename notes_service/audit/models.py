"""Audit events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from notes_service.audit import chain  # noqa: F401  (chains rows as they are written)
from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db


class AuditEvent(db.Model):
    """Who did what to which patient's data, when (UTC) and from where. Never updated.

    Rows are chained by hash in id order; a database trigger refuses UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_patient_at", "patient_id", "at"),
        Index("ix_audit_events_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Not a foreign key: a denied request may name a patient id that does not exist.
    patient_id: Mapped[int | None]
    #: Kind of data: patient, care_team, plan, goal, visit, progress, chart, auth, ...
    kind: Mapped[str] = mapped_column(String(20))
    #: read, list, create, update, sign, addendum, discharge, login, ...
    action: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int | None]
    #: "ok" or "denied".
    outcome: Mapped[str] = mapped_column(String(10), default="ok")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    #: Method and path of the request that caused it.
    request: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(String(500))
    #: ``row_hash`` of the row before this one (by id); 64 zeros for the first row.
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of ``prev_hash`` and this row's content (see :mod:`notes_service.audit.chain`),
    #: so an edit, deletion or insertion made outside the service breaks the chain.
    row_hash: Mapped[str] = mapped_column(String(64))
