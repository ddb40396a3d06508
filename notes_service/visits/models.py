"""Visit notes and what is recorded in them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db

NOTE_STATUSES = ("draft", "signed")


class VisitNote(db.Model):
    """A SOAP note of one visit. Signed notes never change; addenda add to them."""

    __tablename__ = "visit_notes"
    __table_args__ = (
        CheckConstraint(f"status IN {NOTE_STATUSES!r}", name="status"),
        Index("ix_visit_notes_plan_date", "plan_id", "visit_date"),
        Index("ix_visit_notes_author_status", "author_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans_of_care.id"))
    #: Denormalised from the plan so access checks and patient views need no join.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    visit_date: Mapped[date]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subjective: Mapped[str] = mapped_column(Text, default="")
    objective: Mapped[str] = mapped_column(Text, default="")
    assessment: Mapped[str] = mapped_column(Text, default="")
    plan_text: Mapped[str] = mapped_column(Text, default="")
    #: Coded interventions performed (keys of ``catalog.INTERVENTIONS``).
    interventions: Mapped[list] = mapped_column(JSON, default=list)
    home_programme: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The note this draft's text was copied forward from, if any.
    copied_from_id: Mapped[int | None] = mapped_column(ForeignKey("visit_notes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Optimistic-locking counter: a stale update is refused, never applied.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    plan_of_care = relationship("PlanOfCare", back_populates="visits", lazy="raise")
    author = relationship("User", foreign_keys=[author_id], lazy="raise")
    signed_by = relationship("User", foreign_keys=[signed_by_id], lazy="raise")
    measurements = relationship("Measurement", back_populates="visit", lazy="raise",
                                cascade="all, delete-orphan",
                                order_by="(Measurement.measure, Measurement.side, "
                                         "Measurement.phase.desc())")
    special_tests = relationship("SpecialTestResult", lazy="raise",
                                 cascade="all, delete-orphan", order_by="SpecialTestResult.id")
    questionnaires = relationship("QuestionnaireResponse", lazy="raise",
                                  cascade="all, delete-orphan",
                                  order_by="QuestionnaireResponse.instrument")
    addenda = relationship("Addendum", lazy="raise", cascade="all, delete-orphan",
                           order_by="Addendum.created_at")

    @property
    def is_signed(self) -> bool:
        """Whether the note is signed (and so immutable)."""
        return self.status == "signed"


class Measurement(db.Model):
    """One value of a catalog measure, before (``pre``) or after (``post``) treatment."""

    __tablename__ = "measurements"
    __table_args__ = (
        CheckConstraint("phase IN ('pre', 'post')", name="phase"),
        # The progress series of a plan is read by (plan, measure, side).
        Index("ix_measurements_plan_measure", "plan_id", "measure", "side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit_notes.id", ondelete="CASCADE"),
                                          index=True)
    #: Denormalised from the visit for series and outcome queries.
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans_of_care.id"))
    measure: Mapped[str] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    phase: Mapped[str] = mapped_column(String(4), default="pre")
    value: Mapped[float] = mapped_column(Float)

    visit = relationship("VisitNote", back_populates="measurements", lazy="raise")


class SpecialTestResult(db.Model):
    """A structured special test result (e.g. straight-leg raise positive at 45°)."""

    __tablename__ = "special_tests"
    __table_args__ = (
        CheckConstraint("result IN ('positive', 'negative')", name="result"),
        CheckConstraint("phase IN ('pre', 'post')", name="phase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit_notes.id", ondelete="CASCADE"),
                                          index=True)
    test: Mapped[str] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    result: Mapped[str] = mapped_column(String(10))
    #: Angle at symptom onset, in degrees, when the test has one.
    angle: Mapped[float | None] = mapped_column(Float)
    phase: Mapped[str] = mapped_column(String(4), default="pre")


class QuestionnaireResponse(db.Model):
    """Item answers of an outcome questionnaire; the score is also a measurement."""

    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit_notes.id", ondelete="CASCADE"),
                                          index=True)
    instrument: Mapped[str] = mapped_column(String(10))
    #: ODI/LEFS: item scores (None for an unanswered ODI item); PSFS: [{"activity", "score"}].
    items: Mapped[list] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)


class Addendum(db.Model):
    """A dated addition to a signed note, by its author; the note itself stays intact."""

    __tablename__ = "addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit_notes.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    author = relationship("User", lazy="raise")
