"""Progress reports and discharge summaries through the API: the PDF and what it says, storage
and immutability, the progress_report_due counter, access and audit."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from conftest import make_account

pytestmark = pytest.mark.filterwarnings("error")

ASSESSMENT = "Leg pain settling; SLR gaining range. Neuro screen normal."
PLAN = "Continue ART and nerve sliders twice weekly; progress hip-hinge loading."

#: (days after the plan start, pain before, pain after, right SLR before, right SLR after)
VISITS = ((0, 8, 6, 35, 42), (4, 7, None, 40, None), (7, 6, None, 45, None),
          (11, 5, 3, 50, 58), (14, 4, None, 60, None))


def day(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def build_plan(api, *, start_days_ago=30, visits=VISITS, sign=True, mrn="RSC-7001"):
    """A patient on a sciatica plan (goals pain ≤ 2, right SLR ≥ 70) with signed visits."""
    patient = api.post("/api/v1/patients", json={
        "given_name": "Ana", "family_name": "Sørensen", "birth_date": "1980-05-01",
        "sex": "female", "mrn": mrn})
    assert patient.status_code == 201, patient.get_json()
    patient_id = patient.get_json()["id"]
    plan = api.post(f"/api/v1/patients/{patient_id}/plans", json={
        "start_date": day(start_days_ago), "weeks": 8, "visits_per_week": 2,
        "diagnosis_code": "M54.41", "body_region": "lumbar", "side": "right",
        "planned_interventions": ["art", "nerve_glides"],
        "goals": [{"measure": "pain", "target": 2},
                  {"measure": "slr", "side": "right", "target": 70}]})
    assert plan.status_code == 201, plan.get_json()
    plan_id = plan.get_json()["id"]
    notes = [add_visit(api, plan_id, start_days_ago - offset, pain, pain_post, slr, slr_post,
                       sign=sign)
             for offset, pain, pain_post, slr, slr_post in visits]
    return patient_id, plan_id, notes


def add_visit(api, plan_id, days_ago, pain, pain_post=None, slr=None, slr_post=None, *,
              sign=True, home="Nerve sliders 2×10 daily."):
    values = [{"measure": "pain", "value": pain}]
    if pain_post is not None:
        values.append({"measure": "pain", "phase": "post", "value": pain_post})
    if slr is not None:
        values.append({"measure": "slr", "side": "right", "value": slr})
    if slr_post is not None:
        values.append({"measure": "slr", "side": "right", "phase": "post", "value": slr_post})
    note = api.post(f"/api/v1/plans/{plan_id}/visits", json={
        "visit_date": day(days_ago), "subjective": f"Pain {pain}/10 after sitting.",
        "objective": "Measured.", "assessment": f"Assessment at pain {pain}.",
        "plan": f"Plan at pain {pain}.", "interventions": ["art", "nerve_glides"],
        "home_programme": home, "measurements": values})
    assert note.status_code == 201, note.get_json()
    body = note.get_json()
    if sign:
        signed = api.post(f"/api/v1/visits/{body['id']}/sign", json={})
        assert signed.status_code == 200, signed.get_json()
        body = signed.get_json()
    return body


def create_report(api, plan_id, **fields):
    return api.post(f"/api/v1/plans/{plan_id}/reports",
                    json={"kind": "progress", "assessment": ASSESSMENT, "plan": PLAN, **fields})


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def flag_codes(api, plan_id) -> set[str]:
    body = api.get(f"/api/v1/plans/{plan_id}/progress").get_json()
    return {f["code"] for f in body["flags"]}


# --------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------


def test_progress_report_pdf_has_the_goal_rows_with_the_right_numbers(api):
    patient_id, plan_id, _ = build_plan(api)
    response = create_report(api, plan_id)
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["kind"] == "progress" and report["title"] == "Progress report"
    assert report["period_start"] == day(30) and report["period_end"] == day(0)
    assert (report["visits_in_period"], report["visits_attended"],
            report["visits_planned"]) == (5, 5, 16)
    assert report["assessment"] == ASSESSMENT and report["plan"] == PLAN
    assert report["signed_by"]["name"] == "Pat Physio"

    pdf = api.get(report["pdf_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")
    reader, text = pdf_text(pdf.data)
    # Page 1 (header, goals, measures, assessment, signature); page 2 the two charts.
    assert len(reader.pages) == 2
    assert "PROGRESS REPORT" in reader.pages[0].extract_text()
    assert len(reader.pages[1].images) == 2 and "Progress charts" in reader.pages[1].extract_text()

    # Pain: 8 → 4, a change of −4 since the baseline; over the 14-day window (all five
    # visits) 8 → 4 is 4 points better, beyond the minimal important change of 2: progressing.
    assert re.search(r"Pain now 8/10 4/10 ≤ 2/10 −4 points \(better\) 2 points Progressing",
                     text), text
    # Right SLR: 35° → 60° (+25°, beyond the 10° minimal important change), goal ≥ 70°.
    assert re.search(r"Right SLR 35° 60° ≥ 70° \+25° \(better\) 10° Progressing", text), text
    assert "Ana Sørensen" in text and "RSC-7001" in text and "1 May 1980" in text
    assert "M54.41" in text and "Lumbago with sciatica, right side" in text
    assert "5 attended of 16 planned; 5 in this period" in text
    assert ASSESSMENT in text and PLAN.split(";")[0] in text
    assert "Pat Physio" in text and "ELECTRONICALLY SIGNED" in text
    assert "Active Release Technique (5 visits, CPT 97140)" in text
    # The measures table: baseline and latest with their dates, and the within-visit change.
    assert re.search(r"Pain now 8/10 +\(\d+ \w+\) 4/10 +\(\d+ \w+\) −4 points \(better\) −2",
                     text), text
    assert pdf.headers["ETag"] == f'"{report["sha256"]}"'
    assert hashlib.sha256(pdf.data).hexdigest() == report["sha256"]
    assert report["pdf_size"] == len(pdf.data)
    assert f'filename="progress-report-{report["id"]}-{day(0)}.pdf"' in \
        pdf.headers["Content-Disposition"]


def test_report_uses_signed_notes_only_and_refuses_drafts_in_the_period(api):
    _, plan_id, _ = build_plan(api)
    draft = add_visit(api, plan_id, 1, 3, sign=False)
    response = create_report(api, plan_id)
    assert response.status_code == 409
    body = response.get_json()
    assert body["drafts"] == [draft["id"]] and "Sign the draft note" in \
        body["errors"]["_request"][0]
    # A period that ends before the draft is fine.
    response = create_report(api, plan_id, period_end=day(2))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["visits_in_period"] == 5


def test_prefill_comes_from_the_latest_signed_note(api):
    _, plan_id, notes = build_plan(api)
    add_visit(api, plan_id, 1, 3, sign=False)
    form = api.get(f"/api/v1/plans/{plan_id}/reports/prefill").get_json()
    assert form["kind"] == "progress" and form["plan_id"] == plan_id
    assert form["assessment"] == "Assessment at pain 4." and form["plan"] == "Plan at pain 4."
    assert form["period_start"] == day(30) and form["period_end"] == day(0)
    assert form["visits_in_period"] == 5 and form["drafts_in_period"] == [day(1)]
    assert form["home_programme"] is None and form["last_report_id"] is None


def test_second_report_starts_after_the_first(api):
    _, plan_id, _ = build_plan(api)
    # Visits 30, 26, 23, 19 and 16 days ago: the first report covers three of them.
    first = create_report(api, plan_id, period_end=day(20)).get_json()
    assert first["visits_in_period"] == 3
    form = api.get(f"/api/v1/plans/{plan_id}/reports/prefill").get_json()
    assert form["period_start"] == day(19) and form["last_report_id"] == first["id"]
    second = create_report(api, plan_id).get_json()
    assert second["period_start"] == day(19) and second["visits_in_period"] == 2
    assert second["visits_attended"] == 5


def test_discharge_summary(api):
    _, plan_id, _ = build_plan(api)
    add_visit(api, plan_id, 2, 2, slr=72, home="Walk 30 minutes daily; sliders as needed.")
    early = create_report(api, plan_id, kind="discharge")
    assert early.status_code == 409 and "Discharge the plan" in \
        early.get_json()["errors"]["_request"][0]
    discharged = api.post(f"/api/v1/plans/{plan_id}/discharge", json={
        "reason": "goals_met", "discharge_date": day(1), "note": "Back to full duties."})
    assert discharged.status_code == 200, discharged.get_json()
    form = api.get(f"/api/v1/plans/{plan_id}/reports/prefill",
                   query_string={"kind": "discharge"}).get_json()
    assert form["home_programme"] == "Walk 30 minutes daily; sliders as needed."
    assert form["discharge_reason"] == "goals_met" and form["period_end"] == day(1)
    response = create_report(api, plan_id, kind="discharge", plan="Self-management.")
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["title"] == "Discharge summary" and report["discharge_reason"] == "goals_met"
    assert report["home_programme"] == "Walk 30 minutes daily; sliders as needed."
    _, text = pdf_text(api.get(report["pdf_url"]).data)
    assert "DISCHARGE SUMMARY" in text and "Reason: Goals met" in text
    assert "Back to full duties." in text and "Home programme" in text
    assert "Walk 30 minutes daily; sliders as needed." in text
    assert re.search(r"Pain now 8/10 2/10 ≤ 2/10 −6 points \(better\) 2 points Met", text)
    assert re.search(r"Right SLR 35° 72° ≥ 70° \+37° \(better\) 10° Met", text)
    # Once discharged, a progress report is the wrong document.
    assert create_report(api, plan_id).status_code == 409


def test_corrected_report_is_a_new_report(api):
    patient_id, plan_id, _ = build_plan(api)
    first = create_report(api, plan_id).get_json()
    fixed = create_report(api, plan_id, assessment="Corrected: SLR right, not left.",
                          corrects_id=first["id"], period_start=first["period_start"])
    assert fixed.status_code == 201, fixed.get_json()
    fixed = fixed.get_json()
    assert fixed["corrects_id"] == first["id"] and fixed["id"] != first["id"]
    _, text = pdf_text(api.get(fixed["pdf_url"]).data)
    assert f"Corrected report. It corrects the progress report no. {first['id']}" in text
    listed = api.get(f"/api/v1/patients/{patient_id}/reports").get_json()
    assert [r["id"] for r in listed] == [fixed["id"], first["id"]]
    # The original is untouched.
    assert api.get(f"/api/v1/reports/{first['id']}").get_json() == first


INVALID = [
    ({"period_end": day(-1)}, "period_end"),
    ({"period_start": day(40)}, "period_start"),
    ({"period_start": day(3), "period_end": day(5)}, "period_end"),
    ({"kind": "summary"}, "kind"),
    ({"assessment": ""}, "assessment"),
    ({"home_programme": "Walk."}, "home_programme"),
    ({"corrects_id": 2**31}, "corrects_id"),
    ({"corrects_id": 999999}, "corrects_id"),
    ({"signed_at": "2026-01-01T00:00:00Z"}, "signed_at"),
]


def test_invalid_report_input(api, audit_log):
    _, plan_id, _ = build_plan(api)
    audit_log.mark()
    for fields, field in INVALID:
        response = create_report(api, plan_id, **fields)
        assert response.status_code == 422, (fields, response.get_json())
        assert field in response.get_json()["errors"], fields
    assert audit_log.new() == []  # nothing was created


def test_missing_assessment_and_plan(api):
    _, plan_id, _ = build_plan(api)
    response = api.post(f"/api/v1/plans/{plan_id}/reports", json={"kind": "progress"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"assessment", "plan"}


# --------------------------------------------------------------------------------------
# Storage, listing, immutability
# --------------------------------------------------------------------------------------


def test_reports_are_listed_per_patient_newest_first(api):
    patient_id, plan_id, _ = build_plan(api)
    other_patient, other_plan, _ = build_plan(api, mrn="RSC-7002")
    first = create_report(api, plan_id, period_end=day(20)).get_json()
    second = create_report(api, plan_id).get_json()
    create_report(api, other_plan)
    listed = api.get(f"/api/v1/patients/{patient_id}/reports")
    assert listed.status_code == 200
    body = listed.get_json()
    assert [r["id"] for r in body] == [second["id"], first["id"]]
    assert all("pdf" not in r for r in body)
    assert body[1]["pdf_url"] == f"/api/v1/reports/{first['id']}.pdf"
    assert api.get(f"/api/v1/reports/{first['id']}").get_json() == first


def test_no_route_changes_or_deletes_a_report(app, api, client, practitioner):
    _, plan_id, _ = build_plan(api)
    report = create_report(api, plan_id).get_json()
    before = api.get(f"/api/v1/reports/{report['id']}.pdf").data
    for method in ("patch", "put", "delete", "post"):
        for suffix in ("", ".pdf"):
            response = getattr(client, method)(f"/api/v1/reports/{report['id']}{suffix}",
                                               json={"assessment": "changed"},
                                               headers=practitioner.headers)
            assert response.status_code == 405, (method, suffix)
    assert api.get(f"/api/v1/reports/{report['id']}.pdf").data == before
    assert api.get(f"/api/v1/reports/{report['id']}").get_json() == report
    # Nor does any route under /api/v1/reports/ accept a write.
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/reports"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_the_model_refuses_updates_and_deletes(app, api):
    from notes_service.extensions import db
    from notes_service.reports.models import ImmutableReport, ProgressReport

    _, plan_id, _ = build_plan(api)
    report_id = create_report(api, plan_id).get_json()["id"]
    with app.app_context():
        report = db.session.get(ProgressReport, report_id)
        report.assessment = "rewritten"
        with pytest.raises(ImmutableReport):
            db.session.flush()
        db.session.rollback()
        report = db.session.get(ProgressReport, report_id)
        db.session.delete(report)
        with pytest.raises(ImmutableReport):
            db.session.flush()
        db.session.rollback()


# --------------------------------------------------------------------------------------
# The progress_report_due counter
# --------------------------------------------------------------------------------------


def test_a_report_resets_the_progress_report_due_counter(api):
    visits = [(i * 3, 6, None, 45, None) for i in range(10)]
    _, plan_id, _ = build_plan(api, start_days_ago=31, visits=visits)
    assert "progress_report_due" in flag_codes(api, plan_id)
    assert create_report(api, plan_id).status_code == 201
    assert "progress_report_due" not in flag_codes(api, plan_id)


def test_visits_after_the_report_period_count_towards_the_next(api):
    visits = [(i * 3, 6, None, 45, None) for i in range(10)]
    _, plan_id, _ = build_plan(api, start_days_ago=31, visits=visits)
    # Visits 31, 28, ... 4 days ago; reporting up to 10 days ago covers eight of them and
    # leaves two (7 and 4 days ago) for the next report.
    create_report(api, plan_id, period_end=day(10))
    assert "progress_report_due" not in flag_codes(api, plan_id)
    for days_ago in (3, 3, 2, 2, 1, 1, 0):
        add_visit(api, plan_id, days_ago, 5)
    # 2 + 7 = 9 visits since the report: not due yet; the tenth makes it due.
    assert "progress_report_due" not in flag_codes(api, plan_id)
    add_visit(api, plan_id, 0, 5)
    due = [f for f in api.get(f"/api/v1/plans/{plan_id}/progress").get_json()["flags"]
           if f["code"] == "progress_report_due"]
    assert len(due) == 1 and due[0]["message"].startswith("10 visits since")


# --------------------------------------------------------------------------------------
# Access and audit
# --------------------------------------------------------------------------------------


def test_access_rules(app, api, as_account, other_practitioner, director):
    patient_id, plan_id, _ = build_plan(api)
    report = create_report(api, plan_id).get_json()
    rid = report["id"]
    off_team = as_account(other_practitioner)
    assert create_report(off_team, plan_id).status_code == 404
    assert off_team.get(f"/api/v1/plans/{plan_id}/reports/prefill").status_code == 404
    assert off_team.get(f"/api/v1/patients/{patient_id}/reports").status_code == 404
    assert off_team.get(f"/api/v1/reports/{rid}").status_code == 404
    assert off_team.get(f"/api/v1/reports/{rid}.pdf").status_code == 404

    boss = as_account(director)
    assert create_report(boss, plan_id).status_code == 403
    assert boss.get(f"/api/v1/patients/{patient_id}/reports").status_code == 200
    assert boss.get(f"/api/v1/reports/{rid}.pdf").status_code == 200

    own = as_account(make_account(app, "ana@example.org", "patient", patient_id=patient_id))
    assert create_report(own, plan_id).status_code == 403
    assert own.get(f"/api/v1/plans/{plan_id}/reports/prefill").status_code == 403
    assert [r["id"] for r in own.get(f"/api/v1/patients/{patient_id}/reports").get_json()] \
        == [rid]
    # The PDF holds the assessment: a patient downloads it only where the clinic shares that.
    assert own.get(f"/api/v1/reports/{rid}.pdf").status_code == 403
    app.config["PORTAL_SHOWS_ASSESSMENT"] = True
    try:
        assert own.get(f"/api/v1/reports/{rid}.pdf").status_code == 200
    finally:
        app.config["PORTAL_SHOWS_ASSESSMENT"] = False

    other_patient, other_plan, _ = build_plan(api, mrn="RSC-7003")
    other_report = create_report(api, other_plan).get_json()
    assert own.get(f"/api/v1/patients/{other_patient}/reports").status_code == 404
    assert own.get(f"/api/v1/reports/{other_report['id']}.pdf").status_code == 404
    assert own.get("/api/v1/reports/999999.pdf").status_code == 404
    assert api.get("/api/v1/reports/2147483648.pdf").status_code == 404


def test_unauthenticated(client):
    assert client.get("/api/v1/reports/1.pdf").status_code == 401
    assert client.post("/api/v1/plans/1/reports", json={}).status_code == 401


def test_audit_rows(api, audit_log, practitioner, as_account, other_practitioner):
    patient_id, plan_id, _ = build_plan(api)
    audit_log.mark()
    report = create_report(api, plan_id).get_json()
    rows = [r for r in audit_log.new() if r["kind"] == "report"]
    assert [(r["action"], r["patient_id"], r["object_id"], r["user_id"]) for r in rows] == [
        ("create", patient_id, report["id"], practitioner.id)]
    assert rows[0]["request"] == f"POST /api/v1/plans/{plan_id}/reports"

    api.get(report["pdf_url"])
    [row] = audit_log.new()
    assert (row["action"], row["kind"], row["object_id"]) == ("export", "report", report["id"])
    assert row["detail"].startswith("progress report PDF, sha256 " + report["sha256"][:16])

    api.get(f"/api/v1/patients/{patient_id}/reports")
    assert [(r["action"], r["kind"]) for r in audit_log.new()] == [("list", "report")]

    as_account(other_practitioner).get(report["pdf_url"])
    [row] = audit_log.new()
    assert (row["action"], row["kind"], row["outcome"], row["patient_id"]) == (
        "read", "report", "denied", patient_id)


def test_openapi_documents_the_report_routes(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert paths["/api/v1/plans/{plan_id}/reports"]["post"]["responses"]["201"]
    pdf = paths["/api/v1/reports/{report_id}.pdf"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]
    assert "/api/v1/patients/{patient_id}/reports" in paths
    assert "/api/v1/plans/{plan_id}/reports/prefill" in paths

