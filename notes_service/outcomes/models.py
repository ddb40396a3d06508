"""Outcome summaries (one row per plan, kept current by :mod:`notes_service.outcomes.summary`)
and flag acknowledgements.

Clinic-wide figures read these few thousand summary rows instead of a million measurements; the
rows are rebuilt from the progress engine whenever a plan or one of its notes changes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db
from notes_service.plans.models import PlanOfCare
from notes_service.visits.models import VisitNote

#: Reasons a clinician gives when acknowledging a plateau or worsening flag.
ACK_REASONS = ("re_assessed", "maintenance_plan", "referred", "discharged")


class PlanOutcome(db.Model):
    """One plan's outcome summary: status, visits, goals, plateau/worsening, retention."""

    __tablename__ = "plan_outcomes"
    __table_args__ = (
        # Covers the figures: one practitioner's period is a seek, the clinic a scan of the
        # index alone (SQLite has no INCLUDE, so the figures' columns are part of the key).
        Index("ix_plan_outcomes_figures", "practitioner_id", "start_date", "episode_end",
              "status", "diagnosis_group", "discharge_date", "discharge_reason", "visits",
              "planned_visits", "goals", "goals_met", "assessable", "plateau", "worsening",
              "retention", "plan_id"),
        # The worklist reads the active plans.
        Index("ix_plan_outcomes_status_practitioner", "status", "practitioner_id"),
    )

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans_of_care.id", ondelete="CASCADE"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    diagnosis_code: Mapped[str] = mapped_column(String(10))
    #: ICD-10 category: the code's first three characters ("M54").
    diagnosis_group: Mapped[str] = mapped_column(String(3))
    #: The plan's status when the row was built.
    status: Mapped[str] = mapped_column(String(12))
    start_date: Mapped[date]
    #: Last day of the plan of care (inclusive).
    end_date: Mapped[date]
    #: Last day of the episode: the discharge date, the last visit of a cancelled plan, or
    #: None while the plan is open (active or on hold).
    episode_end: Mapped[date | None]
    discharge_date: Mapped[date | None]
    discharge_reason: Mapped[str | None] = mapped_column(String(30))
    planned_visits: Mapped[int]
    #: Visits documented (draft and signed notes), as the progress engine counts them.
    visits: Mapped[int]
    first_visit_date: Mapped[date | None]
    last_visit_date: Mapped[date | None]
    #: Number of goals, and of goals met by the latest value.
    goals: Mapped[int]
    goals_met: Mapped[int]
    #: Whether at least one measure has enough data for a status other than too-early-to-tell.
    assessable: Mapped[bool]
    #: A goal measure (or pain, when the plan has no goals) on a plateau at the latest visit.
    plateau: Mapped[bool]
    #: Any tracked measure worsening at the latest visit.
    worsening: Mapped[bool]
    #: Median of the plan's per-measure retention of within-visit gains, in %.
    retention: Mapped[float | None] = mapped_column(Float)
    #: ``plans_of_care.version`` the row was built from (a change elsewhere makes it stale).
    plan_version: Mapped[int]
    #: Digest of the rule settings and thresholds the row was built with.
    rules_key: Mapped[str] = mapped_column(String(16))
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeasureOutcome(db.Model):
    """Baseline and latest value of one measure of a plan, on the side that stands for the plan.

    That side is the goal's, else the plan's, else the one that started worse. The plan's
    cohort columns are copied here so clinic-wide figures read this table alone (no join).
    """

    __tablename__ = "plan_measure_outcomes"
    __table_args__ = (
        Index("ix_plan_measure_outcomes_plan_id", "plan_id", "measure"),
        # Covers the figures, in the order of their histogram (practitioner, measure, change):
        # the clinic-wide pass reads the index alone and needs no sort.
        Index("ix_plan_measure_outcomes_figures", "practitioner_id", "measure", "change",
              "start_date", "episode_end", "status", "diagnosis_group", "baseline", "latest",
              "goal_target", "goal_met", "discharge_date", "plan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan_outcomes.plan_id", ondelete="CASCADE"))
    measure: Mapped[str] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    #: Visits with a pre-treatment value.
    points: Mapped[int]
    baseline: Mapped[float] = mapped_column(Float)
    baseline_date: Mapped[date]
    latest: Mapped[float] = mapped_column(Float)
    latest_date: Mapped[date]
    #: Change from baseline to latest, positive = better; None with fewer than two values.
    change: Mapped[float | None] = mapped_column(Float)
    #: Progress status at the latest visit (``progress.rules.STATUSES``).
    progress_status: Mapped[str] = mapped_column(String(20))
    goal_target: Mapped[float | None] = mapped_column(Float)
    goal_met: Mapped[bool | None]
    #: Median % of a within-visit gain still there at the next visit.
    retention: Mapped[float | None] = mapped_column(Float)
    # The plan's cohort columns (see PlanOutcome).
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    diagnosis_group: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))
    start_date: Mapped[date]
    episode_end: Mapped[date | None]
    discharge_date: Mapped[date | None]


class PlanFlag(db.Model):
    """A measure flag (plateau, worsening, ...) the progress engine raises on an active plan."""

    __tablename__ = "plan_flags"
    __table_args__ = (Index("ix_plan_flags_code_plan", "code", "plan_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan_outcomes.plan_id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    measure: Mapped[str | None] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    #: The situation the flag describes (code, measure, side, window, latest value): an
    #: acknowledgement holds while it is unchanged.
    fingerprint: Mapped[str] = mapped_column(String(120))


class PlanIntervention(db.Model):
    """An intervention performed at one or more visits of a plan (for "used ART" filters)."""

    __tablename__ = "plan_outcome_interventions"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan_outcomes.plan_id", ondelete="CASCADE"), primary_key=True)
    intervention: Mapped[str] = mapped_column(String(30), primary_key=True)


class FlagAcknowledgement(db.Model):
    """A clinician's acknowledgement of a flag; it hides the flag while the situation holds."""

    __tablename__ = "flag_acknowledgements"
    __table_args__ = (
        CheckConstraint(f"reason IN {ACK_REASONS!r}", name="reason"),
        Index("ix_flag_acknowledgements_plan_fingerprint", "plan_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans_of_care.id"))
    code: Mapped[str] = mapped_column(String(30))
    measure: Mapped[str | None] = mapped_column(String(30))
    side: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    #: :attr:`PlanFlag.fingerprint` of the flag when it was acknowledged.
    fingerprint: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Drafts by age, for the clinic-wide "unsigned notes older than 24 h" list: a partial index
#: holds only the few draft rows, not the whole visit history.
DRAFT_NOTES_INDEX = Index(
    "ix_visit_notes_draft_created", VisitNote.created_at,
    sqlite_where=VisitNote.status == "draft", postgresql_where=VisitNote.status == "draft")

#: Plans by version, read alone by the summaries' staleness check (``summary.stale_plan_ids``),
#: which then never touches the plan rows with their JSON columns.
PLAN_VERSIONS_INDEX = Index("ix_plans_of_care_id_version", PlanOfCare.id, PlanOfCare.version)
