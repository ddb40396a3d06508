"""User accounts and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db

ROLES = ("practitioner", "director", "patient")


class User(UserMixin, db.Model):
    """A person who signs in: a practitioner, a clinic director or a patient."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-case; the sign-in name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    #: Professional title shown on signed notes (e.g. "PT, DPT" or "DC").
    credentials: Mapped[str | None] = mapped_column(String(60))
    #: A director who also treats patients may document for their care teams.
    practices: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: For a patient user: the one patient record they may read.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient = relationship("Patient", foreign_keys=[patient_id], lazy="raise")

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    @property
    def is_clinician(self) -> bool:
        """Whether this user may write clinical documentation (on their care teams)."""
        return self.role == "practitioner" or (self.role == "director" and self.practices)

    @property
    def display_name(self) -> str:
        """Name with credentials, as printed on notes."""
        return f"{self.name}, {self.credentials}" if self.credentials else self.name

    def set_password(self, password: str) -> None:
        """Hash ``password`` with a slow hash (scrypt unless configured) and store it."""
        method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
