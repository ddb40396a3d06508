"""Patient records and care teams."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db

SEXES = ("female", "male", "other", "unknown")

#: The practitioners allowed to see and document for a patient.
care_team = Table(
    "care_team",
    db.metadata,
    Column("patient_id", ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, default=utcnow, nullable=False),
)


class Patient(db.Model):
    """A patient's demographic record."""

    __tablename__ = "patients"
    __table_args__ = (CheckConstraint(f"sex IN {SEXES!r}", name="sex"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80), index=True)
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(10), default="unknown")
    #: Medical record number, unique within the clinic when given.
    mrn: Mapped[str | None] = mapped_column(String(40), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    care_team = relationship("User", secondary=care_team, lazy="raise", order_by="User.name")
    plans = relationship("PlanOfCare", back_populates="patient", lazy="raise",
                         order_by="PlanOfCare.start_date.desc()")

    @property
    def full_name(self) -> str:
        """Given and family name."""
        return f"{self.given_name} {self.family_name}"

    @property
    def sort_name(self) -> str:
        """Family name first, for lists."""
        return f"{self.family_name}, {self.given_name}"

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``."""
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))
