"""Stored progress reports and discharge summaries."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notes_service.db_types import UTCDateTime, utcnow
from notes_service.extensions import db

REPORT_KINDS = ("progress", "discharge")


class ImmutableReport(Exception):
    """A stored report was about to be changed or deleted: reports are never edited."""


class ProgressReport(db.Model):
    """A signed progress report or discharge summary of a plan of care, with its PDF.

    Like a signed note it never changes: the PDF is generated once, from the record as it was,
    and kept byte for byte (``sha256`` lets a recipient check a copy). A corrected report is a
    new report that names the one it corrects.
    """

    __tablename__ = "progress_reports"
    __table_args__ = (
        CheckConstraint(f"kind IN {REPORT_KINDS!r}", name="kind"),
        CheckConstraint("period_start <= period_end", name="period"),
        # The progress_report_due counter reads the latest period end of each plan.
        Index("ix_progress_reports_plan_period_end", "plan_id", "period_end"),
        Index("ix_progress_reports_patient_signed_at", "patient_id", "signed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "progress" (every 10 visits, re-certification) or "discharge" (discharge summary).
    kind: Mapped[str] = mapped_column(String(10))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans_of_care.id"))
    #: Denormalised from the plan so access scopes need no join.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: First and last day the report covers; visits after ``period_end`` count towards the next.
    period_start: Mapped[date]
    period_end: Mapped[date]
    #: Signed visits inside the period, and since the plan started (up to ``period_end``).
    visits_in_period: Mapped[int]
    visits_attended: Mapped[int]
    #: Visits the plan provided for when the report was written.
    visits_planned: Mapped[int]
    #: The practitioner who wrote and signed the report (generating it is signing it).
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assessment: Mapped[str] = mapped_column(Text)
    plan_text: Mapped[str] = mapped_column(Text)
    #: Discharge summaries: the plan's discharge reason and the home programme given.
    discharge_reason: Mapped[str | None] = mapped_column(String(30))
    home_programme: Mapped[str | None] = mapped_column(Text)
    #: The earlier report this one corrects, if any.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("progress_reports.id"))
    #: The PDF as generated; deferred (and raising) so lists never drag the bytes along.
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    pdf_size: Mapped[int]
    #: SHA-256 of ``pdf``, hex.
    sha256: Mapped[str] = mapped_column(String(64))

    plan = relationship("PlanOfCare", lazy="raise")
    patient = relationship("Patient", lazy="raise")
    signed_by = relationship("User", lazy="raise")

    @property
    def title(self) -> str:
        """Document title, as printed on the PDF."""
        return "Discharge summary" if self.kind == "discharge" else "Progress report"

    @property
    def filename(self) -> str:
        """Download name: no patient name in it, so a downloads folder leaks nothing."""
        return f"{self.kind}-report-{self.id}-{self.period_end.isoformat()}.pdf"


@event.listens_for(ProgressReport, "before_update")
def _refuse_update(_mapper, _connection, report: ProgressReport) -> None:
    raise ImmutableReport(f"Report {report.id} is signed and stored: it is never changed; "
                          "write a corrected report instead.")


@event.listens_for(ProgressReport, "before_delete")
def _refuse_delete(_mapper, _connection, report: ProgressReport) -> None:
    raise ImmutableReport(f"Report {report.id} is part of the record: it is never deleted.")
