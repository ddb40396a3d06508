"""The outcomes API through HTTP: roles, validation, audit, CSV files, charts, query counts."""

import csv
import io
import json
from datetime import date

import pytest

from conftest import Api, make_account
from outcomes_support import add_visit, build_fixed_clinic, day, ok

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def fixed(app, client):
    return build_fixed_clinic(app, client)


def test_outcomes_are_for_the_director(fixed, client, app):
    assert fixed.as_director.get("/api/v1/outcomes").status_code == 200
    assert fixed.as_p.get("/api/v1/outcomes").status_code == 403
    patient = make_account(app, "pt@fixed.example", "patient", patient_id=fixed.patients[1])
    assert Api(client, patient).get("/api/v1/outcomes").status_code == 403
    assert Api(client, None).get("/api/v1/outcomes").status_code == 401
    for path in ("/api/v1/outcomes/practitioners.csv", "/api/v1/outcomes/plans.csv",
                 "/api/v1/outcomes/charts/change.png"):
        assert fixed.as_p.get(path).status_code == 403
        assert fixed.as_director.get(path).status_code == 200


@pytest.mark.parametrize("params, field", [
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_to": "yesterday"}, "date_to"),
    ({"date_from": "2026-05-01", "date_to": "2026-04-30"}, "date_to"),
    ({"practitioner_id": "999999"}, "practitioner_id"),
    ({"practitioner_id": "abc"}, "practitioner_id"),
    ({"practitioner_id": "0"}, "practitioner_id"),
    ({"diagnosis": "M5"}, "diagnosis"),
    ({"diagnosis": "M54.41"}, "diagnosis"),
    ({"intervention": "magic"}, "intervention"),
    ({"intervention_used": "false"}, "intervention_used"),
    ({"intervention": "art", "intervention_used": "perhaps"}, "intervention_used"),
    ({"status": "finished"}, "status"),
    ({"colour": "red"}, "colour"),
])
def test_bad_filters_are_422(fixed, params, field):
    response = fixed.as_director.get("/api/v1/outcomes", query_string=params)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_director_id_is_not_a_practitioner(fixed):
    response = fixed.as_director.get("/api/v1/outcomes",
                                     query_string={"practitioner_id": fixed.director.id})
    assert response.status_code == 422
    assert response.get_json()["errors"]["practitioner_id"] == ["No practitioner with this id."]


def test_a_clinic_wide_read_is_one_audit_row_with_the_filters(fixed, audit_log):
    audit_log.mark()
    ok(fixed.as_director.get("/api/v1/outcomes", query_string={
        "practitioner_id": fixed.p.id, "date_from": "2026-01-01", "intervention": "art"}))
    rows = audit_log.new()
    assert len(rows) == 1
    row = rows[0]
    assert (row["user_id"], row["action"], row["kind"], row["patient_id"], row["outcome"]) == (
        fixed.director.id, "read", "outcomes", None, "ok")
    assert json.loads(row["detail"]) == {"date_from": "2026-01-01", "intervention": "art",
                                         "intervention_used": True,
                                         "practitioner_id": fixed.p.id}
    assert row["request"].startswith("GET /api/v1/outcomes?")


def test_the_answer_echoes_the_filters(fixed):
    body = ok(fixed.as_director.get("/api/v1/outcomes", query_string={
        "date_from": "2026-01-01", "status": "active"}))
    assert body["filters"] == {"date_from": "2026-01-01", "date_to": None,
                               "practitioner_id": None, "diagnosis": None,
                               "intervention": None, "intervention_used": True,
                               "status": "active"}


def test_openapi_documents_the_routes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/v1/outcomes", "/api/v1/worklist", "/api/v1/outcomes/plans.csv",
            "/api/v1/outcomes/practitioners.csv",
            "/api/v1/plans/{plan_id}/flags/acknowledge"} <= set(paths)
    parameters = paths["/api/v1/outcomes"]["get"]["parameters"]
    assert {p["name"] for p in parameters if p["in"] == "query"} >= {
        "date_from", "date_to", "practitioner_id", "diagnosis", "intervention", "status"}


# --- CSV ----------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_practitioner_table_csv_round_trips(fixed):
    rows = read_csv(fixed.as_director.get("/api/v1/outcomes/practitioners.csv"))
    header, pat, quinn, clinic = rows
    table = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    assert header[:3] == ["practitioner", "plans", "started"]
    assert "pain_median_change" in header and "slr_mcid_share" in header
    assert [pat[0], quinn[0], clinic[0]] == ["Pat Physio", "Quinn Quest", "All practitioners"]
    assert table["All practitioners"]["plans"] == "8"
    assert table["All practitioners"]["pain_median_change"] == "4.0"
    assert table["Pat Physio"]["pain_mean_change"] == "2.5"
    assert table["Quinn Quest"]["fewer_than_min_plans"] == "yes"
    assert table["Pat Physio"]["fewer_than_min_plans"] == "no"
    assert table["Quinn Quest"]["slr_plans"] == ""  # no SLR on Quinn's plans


def test_deidentified_plan_file(fixed):
    rows = read_csv(fixed.as_director.get("/api/v1/outcomes/plans.csv"))
    header, body = rows[0], rows[1:]
    assert len(body) == 8
    text = "\n".join(",".join(r) for r in rows)
    for forbidden in ("name", "birth_date", "mrn", "patient_id", "plan_id", "start_date"):
        assert forbidden not in header
    assert "Case1" not in text and "Fixed" not in text  # no names
    assert "1951-03-04" not in text  # no birth dates
    records = [dict(zip(header, r)) for r in body]
    assert [r["record"] for r in records] == [str(i) for i in range(1, 9)]
    # Plan 6 is the oldest (started 300 days ago): first, with its month only.
    oldest = records[0]
    assert oldest["start_month"] == day(300).strftime("%Y-%m")
    assert oldest["discharge_month"] == day(286).strftime("%Y-%m")
    assert oldest["age_band"] == _band(1956, day(300))
    assert all(len(r["start_month"]) == 7 for r in records)
    assert not any(len(cell) == 10 and cell[4] == "-" and cell[7] == "-"
                   for r in body for cell in r)  # no full dates anywhere
    by_change = sorted(r["pain_change"] for r in records if r["pain_change"])
    assert by_change == ["-3.0", "1.0", "3.0", "4.0", "4.0", "5.0", "6.0"]
    assert {r["used_art"] for r in records} == {"true", "false"}


def _band(born_year: int, on: date) -> str:
    age = on.year - born_year - ((on.month, on.day) < (3, 4))
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def test_csv_cells_cannot_run_formulas(app, client):
    evil = make_account(app, "evil@fixed.example", "practitioner",
                        name='=HYPERLINK("http://x.example","click")')
    director = make_account(app, "dir@fixed.example", "director")
    as_evil = Api(client, evil)
    patient = ok(as_evil.post("/api/v1/patients", json={
        "given_name": "@SUM(A1)", "family_name": "+1", "birth_date": "1980-01-01"}), 201)
    plan = ok(as_evil.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": day(20).isoformat(), "weeks": 8, "visits_per_week": 2,
        "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}), 201)
    add_visit(as_evil, plan["id"], day(20), 4, None)
    add_visit(as_evil, plan["id"], day(10), 7, None)  # worse: a negative change
    as_director = Api(client, director)
    for path in ("/api/v1/outcomes/practitioners.csv", "/api/v1/outcomes/plans.csv"):
        rows = read_csv(as_director.get(path))
        cells = [cell for row in rows for cell in row]
        assert "'=HYPERLINK(\"http://x.example\",\"click\")" in cells
        assert not any(c.startswith(("=", "+", "@")) for c in cells)
    plans = read_csv(as_director.get("/api/v1/outcomes/plans.csv"))
    record = dict(zip(plans[0], plans[1]))
    assert record["pain_change"] == "-3.0"  # a number stays a number, unescaped


# --- Charts -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["change", "mcid_by_month", "visits"])
def test_charts_render_with_alt_text(fixed, name, audit_log):
    audit_log.mark()
    png = fixed.as_director.get(f"/api/v1/outcomes/charts/{name}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    svg = fixed.as_director.get(f"/api/v1/outcomes/charts/{name}.svg",
                                query_string={"width": 600, "height": 300})
    assert svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    assert 'role="img"' in text and "<title>" in text and "<desc>" in text
    assert [r["kind"] for r in audit_log.new()] == ["outcomes", "outcomes"]


def test_change_chart_names_each_practitioner_and_marks_small_groups(fixed):
    text = fixed.as_director.get("/api/v1/outcomes/charts/change.svg").get_data(as_text=True)
    title = text[text.index("<title>") + 7:text.index("</title>")]
    assert "Pat Physio: median 3.5 over 6 plans" in title
    assert "Quinn Quest: median 5 over 1 plan, fewer than 5 plans" in title


def test_chart_filters_are_validated(fixed):
    bad = fixed.as_director.get("/api/v1/outcomes/charts/change.png",
                                query_string={"measure": "grip"})
    assert bad.status_code == 422 and "measure" in bad.get_json()["errors"]
    assert fixed.as_director.get("/api/v1/outcomes/charts/pie.png").status_code == 404


# --- Query counts ---------------------------------------------------------------------------


def _add_plans(api, count):
    for i in range(count):
        patient = ok(api.post("/api/v1/patients", json={
            "given_name": f"Extra{i}", "family_name": "Plan", "birth_date": "1975-01-01"}), 201)
        plan = ok(api.post(f"/api/v1/patients/{patient['id']}/plans", json={
            "start_date": day(40).isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}), 201)
        for days_ago, pain in ((40, 5), (33, 6), (26, 8)):
            add_visit(api, plan["id"], day(days_ago), pain, None)


@pytest.mark.parametrize("path", ["/api/v1/outcomes", "/api/v1/worklist",
                                  "/api/v1/outcomes/practitioners.csv",
                                  "/api/v1/outcomes/plans.csv"])
def test_query_count_does_not_grow_with_the_plans(fixed, count_queries, path):
    ok(fixed.as_director.get(path))  # summaries current, caches warm
    with count_queries() as few:
        ok(fixed.as_director.get(path))
    _add_plans(fixed.as_p, 6)
    ok(fixed.as_director.get(path))
    with count_queries() as many:
        ok(fixed.as_director.get(path))
    assert many.count == few.count, many.statements
    assert not any("measurements" in s for s in many.statements)
