"""Progress and charts through the API: the worked cases, ETags, access."""

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import make_account

CASES = json.loads((Path(__file__).parent.parent / "data" / "progress-cases.json").read_text())
ADMIN_FLAGS = {"progress_report_due", "plan_ending", "plan_expired", "unsigned_note",
               "no_recent_visit"}


def make_plan(api, *, start: date, goals, weeks=8, tracked=()):
    patient = api.post("/api/v1/patients", json={
        "given_name": "Case", "family_name": "Patient", "birth_date": "1975-03-04"})
    assert patient.status_code == 201, patient.get_json()
    plan = api.post(f"/api/v1/patients/{patient.get_json()['id']}/plans", json={
        "start_date": start.isoformat(), "weeks": weeks, "visits_per_week": 2,
        "diagnosis_code": "M54.42", "goals": goals,
        "tracked_measures": [dict(t) for t in tracked]})
    assert plan.status_code == 201, plan.get_json()
    return patient.get_json()["id"], plan.get_json()["id"]


def add_visit(api, plan_id, day: date, measurements):
    response = api.post(f"/api/v1/plans/{plan_id}/visits", json={
        "visit_date": day.isoformat(), "subjective": "Reports.", "objective": "Measured.",
        "assessment": "Assessed.", "plan": "Continue.", "measurements": measurements})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def build_case(api, case):
    last_day = case["points"][-1][0]
    start = date.today() - timedelta(days=last_day)
    goal = {"measure": case["measure"], "target": case["goal"]}
    if case["side"]:
        goal["side"] = case["side"]
    _, plan_id = make_plan(api, start=start, goals=[goal])
    for point in case["points"]:
        values = [{"measure": case["measure"], "value": point[1]}]
        if len(point) > 2:
            values.append({"measure": case["measure"], "phase": "post", "value": point[2]})
        for value in values:
            if case["side"]:
                value["side"] = case["side"]
        add_visit(api, plan_id, start + timedelta(days=point[0]), values)
    return plan_id


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_worked_case_through_the_api(api, case):
    plan_id = build_case(api, case)
    response = api.get(f"/api/v1/plans/{plan_id}/progress")
    assert response.status_code == 200
    body = response.get_json()
    measure = next(m for m in body["measures"]
                   if m["measure"] == case["measure"] and m["side"] == case["side"])
    assert measure["status"] == case["expected_status"], measure["explanation"]
    codes = {f["code"] for f in body["flags"]} - ADMIN_FLAGS
    assert set(case["expected_flags"]) <= codes
    assert not set(case["forbidden_flags"]) & codes
    assert measure["points"][0]["date"] == (
        date.today() - timedelta(days=case["points"][-1][0])).isoformat()
    assert measure["explanation"]


def test_progress_answer_has_the_contract_fields(api):
    plan_id = build_case(api, CASES["cases"][1])  # pain plateau
    body = api.get(f"/api/v1/plans/{plan_id}/progress").get_json()
    assert body["plan_id"] == plan_id
    pain = next(m for m in body["measures"] if m["measure"] == "pain")
    for key in ("measure", "side", "unit", "better", "threshold", "status", "baseline", "latest",
                "change", "goal", "goal_met", "within_visit_change", "retention", "points",
                "explanation"):
        assert key in pain
    assert pain["baseline"] == 7 and pain["latest"] == 5 and pain["goal"] == 2
    assert pain["unit"] == "score" and pain["better"] == "lower" and pain["threshold"] == 2
    plateau = next(f for f in body["flags"] if f["code"] == "plateau")
    assert set(plateau) == {"code", "severity", "measure", "side", "message"}
    assert "5" in plateau["message"] and "2" in plateau["message"]


def test_maintenance_plan_stops_the_plateau_flag(api):
    plan_id = build_case(api, CASES["cases"][1])
    assert "plateau" in {f["code"] for f in
                         api.get(f"/api/v1/plans/{plan_id}/progress").get_json()["flags"]}
    moved = api.post(f"/api/v1/plans/{plan_id}/maintenance",
                     json={"reason": "Function maintained; skilled care to keep it."})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["maintenance_since"] == date.today().isoformat()
    flags = api.get(f"/api/v1/plans/{plan_id}/progress").get_json()["flags"]
    assert "plateau" not in {f["code"] for f in flags}
    again = api.post(f"/api/v1/plans/{plan_id}/maintenance", json={"reason": "again"})
    assert again.status_code == 409


def test_chart_png_and_svg_with_etag_and_304(api, monkeypatch, count_queries):
    from notes_service.progress import charts

    plan_id = build_case(api, CASES["cases"][5])  # slr left, relief that does not last
    calls = []
    real = charts.measure_chart
    monkeypatch.setattr(charts, "measure_chart", lambda *a, **k: calls.append(1) or real(*a, **k))
    png = api.get(f"/api/v1/plans/{plan_id}/charts/slr.png?side=left")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    etag = png.headers["ETag"]
    with count_queries() as counter:
        cached = api.get(f"/api/v1/plans/{plan_id}/charts/slr.png?side=left",
                         headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["ETag"] == etag
    assert not any("measurements" in s for s in counter.statements)
    assert len(calls) == 1
    svg = api.get(f"/api/v1/plans/{plan_id}/charts/slr.svg?side=left")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert svg.headers["ETag"] != etag
    # New data changes the ETag.
    add_visit(api, plan_id, date.today(), [{"measure": "slr", "side": "left", "value": 44}])
    changed = api.get(f"/api/v1/plans/{plan_id}/charts/slr.png?side=left",
                      headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    overview = api.get(f"/api/v1/plans/{plan_id}/charts/overview.png")
    assert overview.status_code == 200 and overview.data.startswith(b"\x89PNG")


def test_chart_errors(api):
    plan_id = build_case(api, CASES["cases"][0])
    assert api.get(f"/api/v1/plans/{plan_id}/charts/grip.png").status_code == 404
    assert api.get(f"/api/v1/plans/{plan_id}/charts/pain.png?side=left").status_code == 422
    assert api.get(f"/api/v1/plans/{plan_id}/charts/pain.gif").status_code == 404
    assert api.get(f"/api/v1/plans/{plan_id}/charts/pain.png?width=5").status_code == 422


def test_progress_and_charts_are_scoped(app, api, as_account, other_practitioner):
    patient_id, plan_id = make_plan(api, start=date.today() - timedelta(days=7),
                                    goals=[{"measure": "pain", "target": 2}])
    add_visit(api, plan_id, date.today() - timedelta(days=7), [{"measure": "pain", "value": 6}])
    outsider = as_account(other_practitioner)
    for url in (f"/api/v1/plans/{plan_id}/progress", f"/api/v1/plans/{plan_id}/charts/pain.png",
                f"/api/v1/plans/{plan_id}/charts/overview.svg"):
        assert outsider.get(url).status_code == 404
    patient_user = as_account(make_account(app, "case@example.org", "patient",
                                           patient_id=patient_id))
    # The patient's only note is a draft: the patient's progress has no values yet.
    body = patient_user.get(f"/api/v1/plans/{plan_id}/progress").get_json()
    pain = next(m for m in body["measures"] if m["measure"] == "pain")
    assert pain["points"] == []
    assert patient_user.get(f"/api/v1/plans/{plan_id}/charts/pain.svg").status_code == 200


def test_progress_reads_are_audited(app, api):
    from sqlalchemy import select

    from notes_service.audit.models import AuditEvent
    from notes_service.extensions import db

    patient_id, plan_id = make_plan(api, start=date.today(),
                                    goals=[{"measure": "pain", "target": 2}])
    api.get(f"/api/v1/plans/{plan_id}/progress")
    api.get(f"/api/v1/plans/{plan_id}/charts/pain.png")
    with app.app_context():
        kinds = [(e.kind, e.action, e.patient_id) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.kind.in_(("progress", "chart")))).scalars()]
    assert ("progress", "read", patient_id) in kinds and ("chart", "read", patient_id) in kinds
