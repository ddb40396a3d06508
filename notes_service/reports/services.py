"""Report operations: pre-fill the form, generate and sign a report, list and download them.

A report is generated from the signed notes of its period, rendered to PDF once and stored;
nothing here ever changes or deletes a stored report.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload, undefer

from notes_service.access import get_patient, get_plan, patient_scope, require_clinical_write
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import INTERVENTIONS
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, Forbidden, NotFound
from notes_service.extensions import db
from notes_service.portal.rules import assessment_visible_to
from notes_service.plans.models import PlanOfCare
from notes_service.progress import charts
from notes_service.progress.rules import PlanProgress, PlanSnapshot, format_day, plan_progress
from notes_service.progress.services import load_snapshots
from notes_service.reports.document import Chart, ReportDocument, goal_rows, measure_rows
from notes_service.reports.models import ProgressReport
from notes_service.reports.pdf import CHART_ASPECT, render_report
from notes_service.visits.models import VisitNote

#: Most charts a report embeds (goal measures first).
MAX_CHARTS = 8

_PLAN_LOADS = (selectinload(PlanOfCare.goals), joinedload(PlanOfCare.practitioner),
               joinedload(PlanOfCare.patient))
_REPORT_LOADS = (joinedload(ProgressReport.signed_by),)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def get_report(actor: User, report_id: int, *options) -> ProgressReport:
    """Load a report ``actor`` may see (reports are signed: patients see their own)."""
    report = db.session.execute(
        select(ProgressReport).where(ProgressReport.id == report_id,
                                     patient_scope(actor, ProgressReport.patient_id))
        .options(*_REPORT_LOADS, *options)).scalar_one_or_none()
    if report is None:
        owner = db.session.execute(
            select(ProgressReport.patient_id).where(ProgressReport.id == report_id)).scalar()
        raise NotFound("report", report_id, patient_id=owner)
    return report


def list_reports(actor: User, patient_id: int) -> list[ProgressReport]:
    """A patient's reports, newest first (without their PDF bytes), audited."""
    patient = get_patient(actor, patient_id)
    reports = list(db.session.execute(
        select(ProgressReport).where(ProgressReport.patient_id == patient.id)
        .options(*_REPORT_LOADS)
        .order_by(ProgressReport.signed_at.desc(), ProgressReport.id.desc())).scalars())
    record(actor, "list", "report", patient_id=patient.id,
           detail=f"{len(reports)} reports")
    return reports


def read_report(actor: User, report_id: int) -> ProgressReport:
    """A report's details (not its PDF), audited."""
    report = get_report(actor, report_id)
    record(actor, "read", "report", patient_id=report.patient_id, object_id=report.id)
    return report


def report_pdf(actor: User, report_id: int) -> ProgressReport:
    """A report with its stored PDF, for download: audited as an export of patient data.

    The PDF holds the clinician's assessment, and a stored report is never altered: a patient
    downloads it only where the clinic shares assessments with patients.
    """
    report = get_report(actor, report_id, undefer(ProgressReport.pdf))
    if not assessment_visible_to(actor):
        raise Forbidden("Your clinic shares progress reports on request: ask your practitioner.",
                        kind="report", patient_id=report.patient_id, object_id=report.id)
    record(actor, "export", "report", patient_id=report.patient_id, object_id=report.id,
           detail=f"{report.kind} report PDF, sha256 {report.sha256[:16]}")
    return report


# --------------------------------------------------------------------------------------
# The form
# --------------------------------------------------------------------------------------


def _last_report(plan_id: int) -> ProgressReport | None:
    return db.session.execute(
        select(ProgressReport).where(ProgressReport.plan_id == plan_id)
        .order_by(ProgressReport.period_end.desc(), ProgressReport.id.desc()).limit(1)
    ).scalar_one_or_none()


def _check_kind(plan: PlanOfCare, kind: str) -> None:
    if plan.status == "cancelled":
        raise Conflict("The plan of care was cancelled: there is nothing to report.")
    if kind == "discharge" and plan.status != "discharged":
        raise Conflict("Discharge the plan of care first; the discharge summary reports the "
                       "discharge date and reason.")
    if kind == "progress" and plan.status == "discharged":
        raise Conflict("The plan of care is discharged: write a discharge summary instead.")


def _default_period(plan: PlanOfCare, kind: str) -> tuple[date, date]:
    """From the day after the last report's period (else the plan start) to today.

    When the last report already reaches today, the default is its own period: the report
    being written is a correction of it. A discharge summary ends on the discharge date.
    """
    last = _last_report(plan.id)
    today = clinic_today()
    start = plan.start_date
    if last is not None:
        start = last.period_end + timedelta(days=1) if last.period_end < today \
            else last.period_start
    end = plan.discharge_date if kind == "discharge" and plan.discharge_date else today
    return start, max(start, end)


def _notes_until(plan_id: int, day: date) -> list:
    """Every note of the plan up to ``day``: (id, date, status, texts, interventions)."""
    return list(db.session.execute(
        select(VisitNote.id, VisitNote.visit_date, VisitNote.status, VisitNote.assessment,
               VisitNote.plan_text, VisitNote.home_programme, VisitNote.interventions)
        .where(VisitNote.plan_id == plan_id, VisitNote.visit_date <= day)
        .order_by(VisitNote.visit_date, VisitNote.id)).all())


def _latest_text(notes: list, attribute: str) -> str:
    for note in reversed(notes):
        if note.status == "signed" and (getattr(note, attribute) or "").strip():
            return getattr(note, attribute).strip()
    return ""


def prefill(actor: User, plan_id: int, kind: str) -> dict:
    """The report form, pre-filled from the latest signed notes of the plan.

    Lists the drafts in the period too: they have to be signed before the report is written.
    """
    plan = get_plan(actor, plan_id, *_PLAN_LOADS)
    require_clinical_write(actor, plan.patient_id)
    _check_kind(plan, kind)
    start, end = _default_period(plan, kind)
    notes = _notes_until(plan.id, end)
    in_period = [n for n in notes if n.visit_date >= start]
    record(actor, "read", "report", patient_id=plan.patient_id, object_id=plan.id,
           detail=f"{kind} report form")
    return {
        "kind": kind, "plan_id": plan.id, "period_start": start, "period_end": end,
        "assessment": _latest_text(notes, "assessment"),
        "plan": _latest_text(notes, "plan_text"),
        "home_programme": _latest_text(notes, "home_programme") if kind == "discharge" else None,
        "discharge_reason": plan.discharge_reason if kind == "discharge" else None,
        "visits_in_period": sum(1 for n in in_period if n.status == "signed"),
        "drafts_in_period": [n.visit_date for n in in_period if n.status == "draft"],
        "last_report_id": getattr(_last_report(plan.id), "id", None),
    }


# --------------------------------------------------------------------------------------
# Generating
# --------------------------------------------------------------------------------------


def _resolve_period(plan: PlanOfCare, kind: str, data: dict) -> tuple[date, date]:
    start, end = _default_period(plan, kind)
    start = data.get("period_start") or start
    end = data.get("period_end") or end
    errors: dict = {}
    if start < plan.start_date:
        errors["period_start"] = [
            f"The period cannot start before the plan of care ({plan.start_date})."]
    if end > clinic_today():
        errors["period_end"] = ["The period cannot end in the future."]
    elif end < start:
        errors["period_end"] = ["The period cannot end before it starts."]
    if errors:
        raise ValidationError(errors)
    return start, end


def _as_of(snapshot: PlanSnapshot, day: date) -> PlanSnapshot:
    """The snapshot as it stood at the end of ``day``: later visits left out."""
    return replace(
        snapshot,
        series={key: [p for p in points if p.day <= day] for key, points in
                snapshot.series.items()},
        visit_dates=[d for d in snapshot.visit_dates if d <= day],
        draft_notes=(), last_visit_date=None)


def progress_as_of(plan: PlanOfCare, day: date) -> PlanProgress:
    """The plan's progress from its signed notes up to ``day``, with the clinic's thresholds."""
    snapshot = _as_of(load_snapshots([plan], signed_only=True)[plan.id], day)
    config = current_app.config
    return plan_progress(snapshot, day, config["PROGRESS_THRESHOLDS"],
                         config["PROGRESS_SETTINGS"])


def _charts(plan: PlanOfCare, progress: PlanProgress) -> list[Chart]:
    """Print-resolution PNG charts: goal measures first, then the other measures with data."""
    by_key = {(m.measure, m.side): m for m in progress.measures}
    with_data = [m for m in progress.measures if m.series]
    with_data.sort(key=lambda m: m.goal_target is None)  # stable: catalog order within
    band_source = (by_key.get(("pain_worst", None)), by_key.get(("pain_best", None)))
    made = []
    for mp in with_data[:MAX_CHARTS]:
        if mp.measure in ("pain_worst", "pain_best") and ("pain", None) in by_key:
            continue  # drawn as the band of the pain chart
        band = None
        if mp.measure == "pain" and all(band_source):
            band = (band_source[0].points, band_source[1].points)
        # 7 inches at 200 dpi: printed at its own size across the page, fonts true to size.
        png = charts.measure_chart(mp, plan_start=plan.start_date, plan_end=plan.end_date,
                                   fmt="png", width=1400, height=round(1400 * CHART_ASPECT),
                                   dpi=200, band=band)
        made.append(Chart(title=mp.catalog.label + (f" — {mp.side}" if mp.side else ""),
                          png=png, alt_text=charts.chart_alt_text(mp)))
    return made


def _interventions(notes: list) -> list[tuple[str, str | None, int]]:
    counts = {code: 0 for code in INTERVENTIONS}
    for note in notes:
        for code in set(note.interventions or []):
            if code in counts:
                counts[code] += 1
    return [(INTERVENTIONS[code][0], INTERVENTIONS[code][1], n)
            for code, n in counts.items() if n]


def local_moment(moment: datetime) -> str:
    """A UTC moment in the clinic's time zone, with the zone: "14 Apr 2026, 16:05 EDT"."""
    zone = current_app.config.get("CLINIC_TIMEZONE")
    local = moment.astimezone(ZoneInfo(zone)) if zone else moment.astimezone()
    return f"{format_day(local.date())}, {local:%H:%M} {local.tzname()}"


def _body_site(plan: PlanOfCare) -> str | None:
    parts = []
    if plan.body_region:
        parts.append(plan.body_region.replace("_", " / ").capitalize() + " region")
    if plan.side:
        parts.append("bilateral" if plan.side == "bilateral" else f"{plan.side} side")
    return ", ".join(parts) or None


def create_report(actor: User, plan_id: int, data: dict) -> ProgressReport:
    """Generate, sign and store a progress report or discharge summary of a plan of care.

    Built from the signed notes of the period only, so drafts in the period must be signed
    first (409). The report's period end resets the plan's ``progress_report_due`` counter.
    """
    plan = get_plan(actor, plan_id, *_PLAN_LOADS)
    require_clinical_write(actor, plan.patient_id)
    kind = data["kind"]
    _check_kind(plan, kind)
    start, end = _resolve_period(plan, kind, data)
    if kind == "progress" and data.get("home_programme"):
        raise ValidationError({"home_programme": [
            "Only a discharge summary carries a home programme."]})
    corrects = None
    if data.get("corrects_id") is not None:
        corrects = db.session.execute(select(ProgressReport).where(
            ProgressReport.id == data["corrects_id"], ProgressReport.plan_id == plan.id)
        ).scalar_one_or_none()
        if corrects is None:
            raise ValidationError({"corrects_id": ["No such report of this plan of care."]})
    notes = _notes_until(plan.id, end)
    in_period = [n for n in notes if n.visit_date >= start]
    drafts = [n for n in in_period if n.status == "draft"]
    if drafts:
        days = ", ".join(format_day(n.visit_date) for n in drafts)
        raise Conflict(f"Sign the draft note{'s' if len(drafts) > 1 else ''} of {days} first: "
                       "a report is written from signed notes only.",
                       drafts=[n.id for n in drafts])
    signed = [n for n in notes if n.status == "signed"]
    signed_in_period = [n for n in in_period if n.status == "signed"]
    progress = progress_as_of(plan, end)
    maintenance = plan.maintenance_since is not None and plan.maintenance_since <= end
    signed_at = utcnow()
    home_programme = None
    if kind == "discharge":
        home_programme = (data.get("home_programme") or "").strip() or \
            _latest_text(signed, "home_programme") or None
    patient = plan.patient
    document = ReportDocument(
        kind=kind, clinic_name=current_app.config["CLINIC_NAME"],
        clinic_details=current_app.config.get("CLINIC_DETAILS"),
        patient_name=patient.full_name, birth_date=patient.birth_date, sex=patient.sex,
        mrn=patient.mrn, diagnosis_code=plan.diagnosis_code, diagnosis_text=plan.diagnosis_text,
        body_site=_body_site(plan), plan_start=plan.start_date, plan_end=plan.end_date,
        weeks=plan.weeks, visits_per_week=plan.visits_per_week,
        visits_attended=len(signed), visits_planned=plan.planned_visits,
        visits_in_period=len(signed_in_period), period_start=start, period_end=end,
        practitioner=plan.practitioner.display_name,
        assessment=data["assessment"].strip(), plan_text=data["plan"].strip(),
        signer=actor.display_name, signed_at=signed_at, signed_at_text=local_moment(signed_at),
        goals=goal_rows(progress.measures, maintenance=maintenance),
        measures=measure_rows(progress.measures, maintenance=maintenance),
        findings=[m.explanation for m in progress.measures if m.series],
        interventions=_interventions(signed_in_period),
        charts=_charts(plan, progress),
        maintenance_since=plan.maintenance_since if maintenance else None,
        discharge_date=plan.discharge_date if kind == "discharge" else None,
        discharge_reason=plan.discharge_reason if kind == "discharge" else None,
        discharge_note=plan.discharge_note if kind == "discharge" else None,
        home_programme=home_programme,
        corrects=(f"It corrects the {corrects.title.lower()} no. {corrects.id} signed "
                  f"{format_day(corrects.signed_at.date())}" if corrects else None),
    )
    pdf = render_report(document, page_format=current_app.config.get("REPORT_PAGE_FORMAT",
                                                                      "Letter"))
    report = ProgressReport(
        kind=kind, plan_id=plan.id, patient_id=plan.patient_id, period_start=start,
        period_end=end, visits_in_period=len(signed_in_period), visits_attended=len(signed),
        visits_planned=plan.planned_visits, signed_by_id=actor.id, signed_at=signed_at,
        assessment=document.assessment, plan_text=document.plan_text,
        discharge_reason=document.discharge_reason, home_programme=home_programme,
        corrects_id=corrects.id if corrects else None, pdf=pdf, pdf_size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest())
    db.session.add(report)
    db.session.flush()
    record(actor, "create", "report", patient_id=plan.patient_id, object_id=report.id,
           detail=f"{kind} report of plan {plan.id}, {start} to {end}")
    return get_report(actor, report.id)
