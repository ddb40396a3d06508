"""The audit rows each request writes, and that no route changes or deletes them."""

from datetime import timedelta

import pytest

from conftest import iso_day


def brief(rows):
    """(action, kind, patient_id, object_id, outcome) of each row."""
    return [(r["action"], r["kind"], r["patient_id"], r["object_id"], r["outcome"])
            for r in rows]


@pytest.fixture
def chart(clinic):
    patient, plan = clinic.chart(start_days_ago=30)
    return patient, plan


def test_patient_routes(api, clinic, audit_log, practitioner, other_practitioner):
    audit_log.mark()
    patient = clinic.patient()
    p = patient["id"]
    rows = audit_log.new()
    assert brief(rows) == [("create", "patient", p, p, "ok")]
    row = rows[0]
    assert row["user_id"] == practitioner.id and row["ip"] == "127.0.0.1"
    assert row["request"] == "POST /api/v1/patients"
    assert row["at"].utcoffset() == timedelta(0)

    api.get(f"/api/v1/patients/{p}")
    assert brief(audit_log.new()) == [("read", "patient", p, p, "ok")]

    api.patch(f"/api/v1/patients/{p}", json={"phone": "555-0101", "mrn": "RSC-3"})
    [row] = audit_log.new()
    assert brief([row]) == [("update", "patient", p, p, "ok")]
    assert row["detail"] == "fields: mrn, phone"

    api.post(f"/api/v1/patients/{p}/care-team", json={"user_id": other_practitioner.id})
    assert brief(audit_log.new()) == [("update", "care_team", p, other_practitioner.id, "ok")]


def test_listing_patients_writes_one_row_per_patient_listed(api, clinic, audit_log):
    ids = [clinic.patient(family_name=name)["id"] for name in ("Abbot", "Berg", "Cole")]
    audit_log.mark()
    api.get("/api/v1/patients")
    rows = audit_log.new()
    assert sorted(brief(rows)) == [("list", "patient", pid, None, "ok") for pid in ids]
    assert {r["request"] for r in rows} == {"GET /api/v1/patients"}
    api.get("/api/v1/patients", query_string={"q": "berg"})
    assert brief(audit_log.new()) == [("list", "patient", ids[1], None, "ok")]
    api.get("/api/v1/patients", query_string={"q": "nobody"})
    assert audit_log.new() == []


def test_care_team_removal(clinic, as_account, director, practitioner, audit_log):
    patient = clinic.patient()
    audit_log.mark()
    as_account(director).delete(f"/api/v1/patients/{patient['id']}/care-team/{practitioner.id}")
    [row] = audit_log.new()
    assert brief([row]) == [("update", "care_team", patient["id"], practitioner.id, "ok")]
    assert row["user_id"] == director.id


def test_plan_routes(api, clinic, audit_log):
    patient = clinic.patient()
    p = patient["id"]
    audit_log.mark()
    plan = clinic.plan(p)
    assert brief(audit_log.new()) == [("create", "plan", p, plan["id"], "ok")]
    api.get(f"/api/v1/plans/{plan['id']}")
    assert brief(audit_log.new()) == [("read", "plan", p, plan["id"], "ok")]
    api.get(f"/api/v1/patients/{p}/plans")
    assert brief(audit_log.new()) == [("list", "plan", p, None, "ok")]
    api.patch(f"/api/v1/plans/{plan['id']}", json={"weeks": 6})
    [row] = audit_log.new()
    assert brief([row]) == [("update", "plan", p, plan["id"], "ok")]
    assert "weeks" in row["detail"]
    api.post(f"/api/v1/plans/{plan['id']}/discharge", json={"reason": "goals_met"})
    [row] = audit_log.new()
    assert brief([row]) == [("discharge", "plan", p, plan["id"], "ok")]
    assert row["detail"] == "goals_met"


def test_visit_routes(api, clinic, chart, audit_log):
    patient, plan = chart
    p = patient["id"]
    audit_log.mark()
    note = clinic.visit(plan["id"])
    v = note["id"]
    assert brief(audit_log.new()) == [("create", "visit", p, v, "ok")]
    api.get(f"/api/v1/visits/{v}")
    assert brief(audit_log.new()) == [("read", "visit", p, v, "ok")]
    api.get(f"/api/v1/plans/{plan['id']}/visits")
    assert brief(audit_log.new()) == [("list", "visit", p, plan["id"], "ok")]
    api.patch(f"/api/v1/visits/{v}", json={"version": 1, "objective": "SLR 45°."})
    assert brief(audit_log.new()) == [("update", "visit", p, v, "ok")]
    api.post(f"/api/v1/visits/{v}/sign", json={})
    assert brief(audit_log.new()) == [("sign", "visit", p, v, "ok")]
    api.post(f"/api/v1/visits/{v}/addenda", json={"text": "Late entry."})
    [row] = audit_log.new()
    assert brief([row]) == [("addendum", "visit", p, v, "ok")]
    assert row["detail"].startswith("addendum ")


def test_login_and_failed_logins(client, practitioner, audit_log):
    audit_log.mark()
    client.post("/api/v1/auth/token", json={"email": practitioner.email,
                                            "password": "correct horse battery"})
    [row] = audit_log.new()
    assert (row["action"], row["kind"], row["user_id"], row["patient_id"]) == (
        "login", "auth", practitioner.id, None)
    client.post("/api/v1/auth/token", json={"email": practitioner.email, "password": "wrong"})
    [row] = audit_log.new()
    assert (row["action"], row["user_id"]) == ("login_failed", practitioner.id)
    client.post("/api/v1/auth/token", json={"email": "ghost@example.org", "password": "x"})
    [row] = audit_log.new()
    assert (row["action"], row["user_id"]) == ("login_failed", None)
    assert "ghost@example.org" in row["detail"]


def test_a_404_caused_by_scoping_writes_a_denied_row_with_the_patient(
        clinic, chart, as_account, other_practitioner, audit_log):
    patient, plan = chart
    p = patient["id"]
    note = clinic.visit(plan["id"])
    outsider = as_account(other_practitioner)
    audit_log.mark()
    for url, kind, object_id in ((f"/api/v1/patients/{p}", "patient", p),
                                 (f"/api/v1/patients/{p}/plans", "patient", p),
                                 (f"/api/v1/plans/{plan['id']}", "plan", plan["id"]),
                                 (f"/api/v1/plans/{plan['id']}/visits", "plan", plan["id"]),
                                 (f"/api/v1/visits/{note['id']}", "visit", note["id"])):
        assert outsider.get(url).status_code == 404
        [row] = audit_log.new()
        assert brief([row]) == [("read", kind, p, object_id, "denied")], url
        assert row["user_id"] == other_practitioner.id
        assert row["request"] == f"GET {url}"
    outsider.patch(f"/api/v1/visits/{note['id']}", json={"version": 1, "objective": "x"})
    assert brief(audit_log.new()) == [("write", "visit", p, note["id"], "denied")]
    outsider.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": iso_day(1)})
    assert brief(audit_log.new()) == [("write", "plan", p, plan["id"], "denied")]


def test_a_missing_object_is_recorded_as_denied_without_a_patient(api, audit_log, practitioner):
    audit_log.mark()
    api.get("/api/v1/plans/999999")
    api.get("/api/v1/visits/999999")
    assert brief(audit_log.new()) == [("read", "plan", None, 999999, "denied"),
                                      ("read", "visit", None, 999999, "denied")]


def test_patient_user_reading_a_draft_is_denied(app, clinic, chart, as_account, audit_log):
    from conftest import make_account

    patient, plan = chart
    note = clinic.visit(plan["id"])
    me = as_account(make_account(app, "ana.portal@example.org", "patient",
                                 patient_id=patient["id"]))
    audit_log.mark()
    assert me.get(f"/api/v1/visits/{note['id']}").status_code == 404
    assert brief(audit_log.new()) == [("read", "visit", patient["id"], note["id"], "denied")]


def test_refused_changes_leave_no_row_of_a_change(api, clinic, chart, audit_log):
    _, plan = chart
    note = clinic.visit(plan["id"])
    api.patch(f"/api/v1/visits/{note['id']}", json={"version": 1, "objective": "v2"})
    audit_log.mark()
    assert api.patch(f"/api/v1/visits/{note['id']}",
                     json={"version": 1, "objective": "x"}).status_code == 409
    assert api.patch(f"/api/v1/plans/{plan['id']}", json={"weeks": 99}).status_code == 422
    assert audit_log.new() == []


def test_no_route_changes_or_deletes_audit_rows(app):
    """The API offers no way to write the audit log directly, nor to change or delete it."""
    for rule in app.url_map.iter_rules():
        assert "audit" not in rule.rule.lower() or rule.methods <= {"GET", "HEAD", "OPTIONS"}, \
            rule
    deletes = {r.endpoint for r in app.url_map.iter_rules() if "DELETE" in r.methods
               and r.rule.startswith("/api/")}
    # Neither touches the audit log: a care-team place ends, a diary entry is withdrawn (its
    # row kept, withdrawn_at set).
    assert deletes == {"api.remove_care_team_member", "api.withdraw_diary_entry"}


def test_a_refused_write_is_recorded_as_denied(app, clinic, chart, as_account, director,
                                               audit_log):
    patient, plan = chart
    audit_log.mark()
    response = as_account(director).post(f"/api/v1/plans/{plan['id']}/visits",
                                         json={"visit_date": iso_day(1)})
    assert response.status_code == 403
    [row] = audit_log.new()
    assert brief([row]) == [("write", "clinical", patient["id"], None, "denied")]
    assert row["user_id"] == director.id and "document" in row["detail"]
