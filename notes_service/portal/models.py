"""Portal invitations and the patient's pain diary."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db

#: ``account``: the link creates the patient's portal account; ``reset``: the patient already
#: has one and the link sets a new password on it (there is no e-mail server to send resets).
INVITATION_PURPOSES = ("account", "reset")


class PortalInvitation(db.Model):
    """A one-time link a practitioner hands to a patient; only its SHA-256 digest is stored."""

    __tablename__ = "portal_invitations"
    __table_args__ = (
        CheckConstraint(f"purpose IN {INVITATION_PURPOSES!r}", name="purpose"),
        Index("ix_portal_invitations_patient_created", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    #: The practitioner who created the link.
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(10), default="account")
    #: SHA-256 of the token in the link; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set once, when the patient set their password with the link.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The patient account the link created or reset.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Set when a newer link for the same patient replaced this one.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invited_by = relationship("User", foreign_keys=[invited_by_id], lazy="raise")
    patient = relationship("Patient", lazy="raise")

    def state(self, now: datetime) -> str:
        """``open``, ``used``, ``revoked`` or ``expired`` at ``now``."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"


class DiaryEntry(db.Model):
    """A pain rating the patient reported between visits (not an in-clinic measure)."""

    __tablename__ = "pain_diary_entries"
    __table_args__ = (
        CheckConstraint("pain BETWEEN 0 AND 10", name="pain"),
        Index("ix_pain_diary_entries_patient_day", "patient_id", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    #: The day the rating is about (not in the future, not before the first plan's start).
    entry_date: Mapped[date]
    #: Pain on the 0–10 numeric rating scale, whole numbers as patients report it.
    pain: Mapped[int] = mapped_column(SmallInteger)
    #: What the patient wants their practitioner to know (at most 1000 characters).
    note: Mapped[str] = mapped_column(String(1000), default="")
    #: The (patient) user who wrote the entry.
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the patient last corrected the entry (None: as first written).
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the patient withdrew the entry. The row stays for the audit trail, but no list,
    #: count or average of the diary includes it any more.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author = relationship("User", lazy="raise")
