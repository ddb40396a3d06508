"""Report pages: the progress report and discharge summary forms pre-filled from the signed notes,
the drafts that block a report, validation beside the fields, signing, the list with its PDF
download, access and audit."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from web_support import (  # noqa: F401
    director_web,
    make_chart,
    make_note,
    other_web,
    page_problems,
    pending_dir,
    web,
)

ASSESSMENT = "Leg pain centralising; SLR right 55°, up from 40°."
PLAN_TEXT = "Continue ART twice weekly; progress hip-hinge loading."


def documented_chart(app, account, *, family="Report", draft=False):
    """A plan with three signed notes (the latest carries the texts) and maybe a draft."""
    chart = make_chart(app, account, family=family, days_ago=14)
    for day in (0, 4):
        make_note(app, account, chart.plan_id, chart.start + timedelta(days=day), sign=True,
                  assessment="Earlier assessment.", plan="Earlier plan.")
    make_note(app, account, chart.plan_id, chart.start + timedelta(days=8), sign=True,
              assessment=ASSESSMENT, plan=PLAN_TEXT, home_programme="Nerve sliders 2×10.",
              measurements=[{"measure": "pain", "value": 4},
                            {"measure": "slr", "side": "right", "value": 55}])
    if draft:
        chart.draft_id = make_note(app, account, chart.plan_id,
                                   chart.start + timedelta(days=11))
    return chart


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name}"
    return match.group(1)


def textarea_text(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return match.group(1)


def test_progress_report_form_is_prefilled_from_the_latest_signed_note(web, app, practitioner,
                                                                      audit_log):
    from notes_service.clock import clinic_today

    chart = documented_chart(app, practitioner)
    audit_log.mark()
    response = web.get(f"/plans/{chart.plan_id}/reports/new?kind=progress")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    assert "<h1>Progress report</h1>" in html
    assert textarea_text(html, "assessment") == "Leg pain centralising; SLR right 55°, up from 40°."
    assert textarea_text(html, "plan") == PLAN_TEXT
    assert 'name="home_programme"' not in html  # discharge summaries only
    assert field_value(html, "period_start") == chart.start.isoformat()
    with app.app_context():
        assert field_value(html, "period_end") == clinic_today().isoformat()
    assert "Writing the report signs it as Pat Physio" in html
    assert "can never be changed or deleted" in html
    assert "unsigned" not in html
    assert ("read", "report") in [(r["action"], r["kind"]) for r in audit_log.new()]


def test_unsigned_notes_of_the_period_block_the_report(web, app, practitioner):
    chart = documented_chart(app, practitioner, draft=True)
    html = web.get(f"/plans/{chart.plan_id}/reports/new").get_data(as_text=True)
    assert "1 unsigned note in this period blocks the report" in html
    assert f'href="/visits/{chart.draft_id}/edit"' in html
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=progress", data={
        "assessment": ASSESSMENT, "plan": PLAN_TEXT})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Sign the draft note of" in page and "first: a report is written from signed" in page
    assert textarea_text(page, "assessment") == "Leg pain centralising; SLR right 55°, up from 40°."
    assert "No reports yet" in web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)


def test_invalid_report_keeps_the_text_and_shows_errors_beside_fields(web, app, practitioner):
    chart = documented_chart(app, practitioner)
    future = (chart.start + timedelta(days=60)).isoformat()
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=progress", data={
        "assessment": "", "plan": PLAN_TEXT, "period_start": chart.start.isoformat(),
        "period_end": future})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    assert 'id="assessment-error"' in html
    assert textarea_text(html, "plan") == PLAN_TEXT
    assert field_value(html, "period_end") == future
    before = (chart.start - timedelta(days=1)).isoformat()
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=progress", data={
        "assessment": ASSESSMENT, "plan": PLAN_TEXT, "period_start": before})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="period_start-error"' in html and "cannot start before the plan" in html
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=progress", data={
        "assessment": ASSESSMENT, "plan": PLAN_TEXT, "period_end": "not a date"})
    assert response.status_code == 422 and 'id="period_end-error"' in response.get_data(
        as_text=True)


def test_writing_a_report_signs_stores_and_lists_it_with_its_pdf(web, app, practitioner,
                                                                 audit_log):
    chart = documented_chart(app, practitioner)
    audit_log.mark()
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=progress", data={
        "assessment": ASSESSMENT + "\r\nGoal SLR 70° on track.", "plan": PLAN_TEXT})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{chart.patient_id}#reports-title"
    created = [r for r in audit_log.new() if (r["action"], r["kind"]) == ("create", "report")]
    assert len(created) == 1
    report_id = created[0]["object_id"]

    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Progress report no. {report_id} signed and stored as a PDF" in html
    assert "It can no longer be changed" in html
    assert f'href="/reports/{report_id}.pdf"' in html and "No reports yet" not in html
    plan_page = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert f'href="/reports/{report_id}.pdf"' in plan_page

    from notes_service.extensions import db
    from notes_service.reports.models import ProgressReport

    with app.app_context():
        stored = db.session.get(ProgressReport, report_id)
        assert stored.assessment == ASSESSMENT + "\nGoal SLR 70° on track."
        assert stored.signed_by_id == practitioner.id
        digest = stored.sha256
    audit_log.mark()
    download = web.get(f"/reports/{report_id}.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert hashlib.sha256(download.data).hexdigest() == digest
    rows = [r for r in audit_log.new() if r["kind"] == "report"]
    assert [(r["action"], r["user_id"], r["patient_id"], r["object_id"]) for r in rows] == [
        ("export", practitioner.id, chart.patient_id, report_id)]

    # the next report's period starts after this one; a correction can name it
    again = web.get(f"/plans/{chart.plan_id}/reports/new").get_data(as_text=True)
    assert f"This report corrects report no. {report_id}" in again


def test_a_correction_names_the_report_it_corrects(web, app, practitioner):
    chart = documented_chart(app, practitioner)
    first = web.post(f"/plans/{chart.plan_id}/reports/new", data={
        "assessment": ASSESSMENT, "plan": PLAN_TEXT})
    assert first.status_code == 302
    html = web.get(f"/plans/{chart.plan_id}/reports/new").get_data(as_text=True)
    report_id = int(re.search(r'name="corrects_id" value="(\d+)"', html).group(1))
    fixed = web.post(f"/plans/{chart.plan_id}/reports/new", data={
        "assessment": ASSESSMENT + " Corrected.", "plan": PLAN_TEXT,
        "corrects_id": str(report_id)})
    assert fixed.status_code == 302
    page = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert f"Corrects no. {report_id}" in page


def test_discharge_summary_after_discharge(web, app, practitioner):
    chart = documented_chart(app, practitioner)
    assert web.get(f"/plans/{chart.plan_id}/reports/new?kind=discharge").status_code == 409
    day = (chart.start + timedelta(days=8)).isoformat()
    assert web.post(f"/plans/{chart.plan_id}/discharge", data={
        "reason": "goals_met", "discharge_date": day}).status_code == 302
    patient_page = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert (f'href="/plans/{chart.plan_id}/reports/new?kind=discharge"' in patient_page
            and "Write discharge summary" in patient_page)
    assert web.get(f"/plans/{chart.plan_id}/reports/new").status_code == 409  # progress
    html = web.get(f"/plans/{chart.plan_id}/reports/new?kind=discharge").get_data(as_text=True)
    assert "<h1>Discharge summary</h1>" in html and page_problems(html) == []
    assert textarea_text(html, "home_programme") == "Nerve sliders 2×10."
    assert field_value(html, "period_end") == day
    response = web.post(f"/plans/{chart.plan_id}/reports/new?kind=discharge", data={
        "assessment": ASSESSMENT, "plan": "Discharged to the home programme.",
        "home_programme": "Walk 30 minutes daily."})
    assert response.status_code == 302
    page = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "Discharge summary" in page and "Write discharge summary" not in page
    assert web.get(f"/plans/{chart.plan_id}/reports/new?kind=nonsense").status_code == 422


def test_report_pages_respect_the_care_team(web, other_web, director_web, app, practitioner,
                                           audit_log):
    chart = documented_chart(app, practitioner)
    assert web.post(f"/plans/{chart.plan_id}/reports/new", data={
        "assessment": ASSESSMENT, "plan": PLAN_TEXT}).status_code == 302
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    pdf_url = re.search(r'href="(/reports/\d+\.pdf)"', html).group(1)
    audit_log.mark()
    assert other_web.get(f"/plans/{chart.plan_id}/reports/new").status_code == 404
    assert other_web.post(f"/plans/{chart.plan_id}/reports/new", data={
        "assessment": "x", "plan": "y"}).status_code == 404
    assert other_web.get(pdf_url).status_code == 404
    assert {r["outcome"] for r in audit_log.new()} == {"denied"}
    # the director reads (and downloads) but does not write reports
    assert director_web.get(f"/plans/{chart.plan_id}/reports/new").status_code == 403
    assert director_web.get(pdf_url).status_code == 200
    page = director_web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert pdf_url in page and "Write progress report" not in page


def test_patient_and_plan_pages_offer_the_report_form(web, app, practitioner):
    chart = documented_chart(app, practitioner)
    url = f'href="/plans/{chart.plan_id}/reports/new?kind=progress"'
    assert url in web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert url in web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
