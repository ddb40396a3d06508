"""Plans of care and goals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notes_service.catalog import MEASURES, PLAN_STATUSES
from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db


class PlanOfCare(db.Model):
    """A plan of care: a diagnosis treated over a set number of weeks at a set frequency."""

    __tablename__ = "plans_of_care"
    __table_args__ = (
        CheckConstraint(f"status IN {PLAN_STATUSES!r}", name="status"),
        CheckConstraint("weeks BETWEEN 1 AND 26", name="weeks"),
        CheckConstraint("visits_per_week BETWEEN 1 AND 7", name="visits_per_week"),
        Index("ix_plans_of_care_patient_status", "patient_id", "status"),
        Index("ix_plans_of_care_practitioner_status", "practitioner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: The practitioner who owns the plan.
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    diagnosis_code: Mapped[str] = mapped_column(String(10))
    diagnosis_text: Mapped[str] = mapped_column(String(200))
    body_region: Mapped[str | None] = mapped_column(String(30))
    #: "left", "right", "bilateral" or None.
    side: Mapped[str | None] = mapped_column(String(10))
    start_date: Mapped[date]
    weeks: Mapped[int]
    visits_per_week: Mapped[int]
    #: Coded interventions planned (keys of ``catalog.INTERVENTIONS``).
    planned_interventions: Mapped[list] = mapped_column(JSON, default=list)
    #: Measures tracked at each visit: ``[{"measure": code, "side": "left"|"right"|None}]``.
    tracked_measures: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="active")
    discharge_date: Mapped[date | None]
    discharge_reason: Mapped[str | None] = mapped_column(String(30))
    discharge_note: Mapped[str | None] = mapped_column(Text)
    #: Set when a plateaued plan becomes a maintenance plan (goal: maintaining function).
    maintenance_since: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Optimistic-locking counter; every update increments it.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    patient = relationship("Patient", back_populates="plans", lazy="raise")
    practitioner = relationship("User", lazy="raise")
    goals = relationship("Goal", back_populates="plan", lazy="raise",
                         cascade="all, delete-orphan", order_by="Goal.id")
    visits = relationship("VisitNote", back_populates="plan_of_care", lazy="raise",
                          order_by="VisitNote.visit_date")

    @property
    def end_date(self) -> date:
        """Last day of the plan (inclusive)."""
        return self.start_date + timedelta(days=self.weeks * 7 - 1)

    @property
    def planned_visits(self) -> int:
        """Visits the plan provides for."""
        return self.weeks * self.visits_per_week

    @property
    def tracked_keys(self) -> list[tuple[str, str | None]]:
        """Tracked (measure, side) pairs in catalog order."""
        return tracked_keys(self.tracked_measures)

    def week_of(self, day: date) -> int:
        """Week of the plan ``day`` falls in (1-based)."""
        return (day - self.start_date).days // 7 + 1


class Goal(db.Model):
    """A measurable goal of a plan; its direction comes from the measure catalog."""

    __tablename__ = "goals"
    __table_args__ = (CheckConstraint("term IN ('short', 'long')", name="term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans_of_care.id", ondelete="CASCADE"),
                                         index=True)
    measure: Mapped[str] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    target: Mapped[float] = mapped_column(Float)
    target_date: Mapped[date | None]
    term: Mapped[str] = mapped_column(String(5), default="long")
    description: Mapped[str | None] = mapped_column(String(300))

    plan = relationship("PlanOfCare", back_populates="goals", lazy="raise")

    @property
    def catalog(self):
        """The catalog entry of the goal's measure."""
        return MEASURES[self.measure]


def tracked_keys(tracked_measures: list | None) -> list[tuple[str, str | None]]:
    """The (measure, side) pairs of a plan's ``tracked_measures``, in catalog order."""
    order = list(MEASURES)
    keys = {(t["measure"], t.get("side")) for t in tracked_measures or []}
    return sorted(keys, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1] or ""))
