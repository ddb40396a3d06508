"""Break-glass access (a reason, a time limit, read-only, audited, flagged, on the director's
list) and the directors' audit report (filters, whitelisted sorting, pages, CSV)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import make_account
from notes_service.extensions import db
from security_support import director_web, other_web, pending_dir, web  # noqa: F401

REASON = "Covering for Pat: patient arrived in acute pain."


def expire_grants(app, by=timedelta(hours=5)):
    from notes_service.security.models import BreakGlassGrant

    with app.app_context():
        for grant in db.session.execute(sa.select(BreakGlassGrant)).scalars():
            grant.expires_at -= by
            grant.granted_at -= by
        db.session.commit()


def test_break_glass_through_the_api(app, clinic, as_account, other_practitioner, audit_log):
    patient, plan = clinic.chart()
    note = clinic.signed_visit(plan["id"])
    me = as_account(other_practitioner)
    assert me.get(f"/api/v1/patients/{patient['id']}").status_code == 404
    short = me.post(f"/api/v1/patients/{patient['id']}/break-glass", json={"reason": "need"})
    assert short.status_code == 422 and "reason" in short.get_json()["errors"]
    assert me.post(f"/api/v1/patients/{patient['id']}/break-glass", json={}).status_code == 422
    audit_log.mark()
    granted = me.post(f"/api/v1/patients/{patient['id']}/break-glass", json={"reason": REASON})
    assert granted.status_code == 201, granted.get_json()
    body = granted.get_json()
    assert body["reason"] == REASON and body["patient_id"] == patient["id"]
    [row] = audit_log.new()
    assert (row["action"], row["patient_id"], row["user_id"]) == (
        "break_glass", patient["id"], other_practitioner.id)
    assert REASON in row["detail"]
    # Read access for the window ...
    assert me.get(f"/api/v1/patients/{patient['id']}").status_code == 200
    assert me.get(f"/api/v1/visits/{note['id']}").status_code == 200
    assert patient["id"] in [p["id"] for p in me.get("/api/v1/patients").get_json()]
    # ... never write access: documenting care needs a place on the care team.
    write = me.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": "2026-01-01"})
    assert write.status_code == 403
    assert me.post(f"/api/v1/visits/{note['id']}/addenda",
                   json={"text": "x"}).status_code == 403
    expire_grants(app)
    assert me.get(f"/api/v1/patients/{patient['id']}").status_code == 404


def test_break_glass_window_is_configurable(app, clinic, as_account, other_practitioner,
                                            monkeypatch):
    monkeypatch.setitem(app.config, "BREAK_GLASS_HOURS", 1)
    patient = clinic.patient()
    me = as_account(other_practitioner)
    body = me.post(f"/api/v1/patients/{patient['id']}/break-glass",
                   json={"reason": REASON}).get_json()
    from datetime import datetime

    span = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["granted_at"])
    assert span == timedelta(hours=1)
    expire_grants(app, by=timedelta(minutes=61))
    assert me.get(f"/api/v1/patients/{patient['id']}").status_code == 404


def test_who_may_break_the_glass(app, clinic, as_account, director, practitioner):
    patient = clinic.patient()
    portal = make_account(app, "ana@example.org", "patient", patient_id=patient["id"])
    for account, status in ((director, 403), (portal, 403), (practitioner, 409)):
        response = as_account(account).post(f"/api/v1/patients/{patient['id']}/break-glass",
                                             json={"reason": REASON})
        assert response.status_code == status, account.role
    missing = as_account(make_account(app, "x@example.org", "practitioner")).post(
        "/api/v1/patients/999999/break-glass", json={"reason": REASON})
    assert missing.status_code == 404


def test_break_glass_through_the_pages(app, clinic, other_web, director_web):
    patient, plan = clinic.chart()
    refused = other_web.get(f"/patients/{patient['id']}")
    assert refused.status_code == 404
    assert f"/patients/{patient['id']}/break-glass" in refused.get_data(as_text=True)
    form = other_web.get(f"/patients/{patient['id']}/break-glass")
    assert form.status_code == 200 and "Silva" not in form.get_data(as_text=True)
    empty = other_web.post(f"/patients/{patient['id']}/break-glass", data={"reason": ""})
    assert empty.status_code == 422
    opened = other_web.post(f"/patients/{patient['id']}/break-glass", data={"reason": REASON})
    assert opened.headers["Location"] == f"/patients/{patient['id']}"
    page = other_web.get(f"/patients/{patient['id']}").get_data(as_text=True)
    assert "Silva" in page and "Emergency access granted" in page
    assert "New visit note" not in page  # read-only
    report = director_web.get("/audit/?break_glass=1").get_data(as_text=True)
    assert "Break-glass" in report and "break_glass" in report and REASON in report


def test_active_break_glass_lists_open_grants_for_the_worklist(app, clinic, as_account,
                                                               other_practitioner):
    from notes_service.security.break_glass import active_break_glass

    patient = clinic.patient()
    as_account(other_practitioner).post(f"/api/v1/patients/{patient['id']}/break-glass",
                                        json={"reason": REASON})
    with app.app_context():
        [grant] = active_break_glass()
        assert (grant.user.name, grant.patient.family_name, grant.reason) == (
            "Olly Other", "Silva", REASON)
    expire_grants(app)
    with app.app_context():
        assert active_break_glass() == []


@pytest.fixture
def logged(app, clinic, as_account, other_practitioner, director):
    """A log with reads by two users on two patients, one under break-glass."""
    first, plan = clinic.chart()
    second = clinic.patient(given_name="Ben", family_name="Okafor")
    clinic.visit(plan["id"])
    off = as_account(other_practitioner)
    off.post(f"/api/v1/patients/{first['id']}/break-glass", json={"reason": REASON})
    off.get(f"/api/v1/patients/{first['id']}")
    as_account(director).get(f"/api/v1/patients/{second['id']}")
    return first["id"], second["id"]


def test_the_report_filters_by_user_patient_action_and_dates(app, director_web, logged,
                                                            other_practitioner, practitioner):
    first, second = logged
    everything = director_web.get("/audit/?per_page=500").get_data(as_text=True)
    assert "Olly Other" in everything and "Pat Physio" in everything
    by_user = director_web.get(f"/audit/?user_id={other_practitioner.id}&per_page=500")
    text = by_user.get_data(as_text=True)
    assert "Olly Other" in text and "Pat Physio" not in text
    by_patient = director_web.get(f"/audit/export.csv?patient_id={second}")
    rows = list(csv.DictReader(io.StringIO(by_patient.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows and {r["patient_id"] for r in rows} == {str(second)}
    by_action = director_web.get("/audit/export.csv?action=create&kind=visit")
    rows = list(csv.DictReader(io.StringIO(by_action.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["action"], r["kind"]) for r in rows] == [("create", "visit")]
    future = director_web.get("/audit/export.csv?date_from=2999-01-01").get_data(as_text=True)
    assert len(future.strip().splitlines()) == 1  # the header only
    from datetime import date

    today = date.today().isoformat()
    past = director_web.get(f"/audit/export.csv?date_to=2000-01-01").get_data(as_text=True)
    assert len(past.strip().splitlines()) == 1
    window = director_web.get(f"/audit/export.csv?date_from=2000-01-01&date_to={today}")
    assert len(window.get_data(as_text=True).strip().splitlines()) > 5
    assert director_web.get("/audit/?date_from=2026-02-01&date_to=2026-01-01").status_code == 422


def test_break_glass_reads_are_flagged(director_web, logged, other_practitioner):
    first, _ = logged
    data = director_web.get(f"/audit/export.csv?user_id={other_practitioner.id}")
    rows = list(csv.DictReader(io.StringIO(data.get_data(as_text=True).lstrip("\ufeff"))))
    flagged = {(r["action"], r["kind"]) for r in rows if r["break_glass"] == "yes"}
    assert ("read", "patient") in flagged and ("break_glass", "patient") in flagged
    only = director_web.get("/audit/export.csv?break_glass=1").get_data(as_text=True)
    assert all(r["break_glass"] == "yes" for r in csv.DictReader(io.StringIO(
        only.lstrip("\ufeff"))))


@pytest.mark.parametrize("sort", ["at", "-at", "user", "-user", "patient", "action", "kind",
                                  "-outcome"])
def test_the_report_sorts_by_whitelisted_keys(director_web, logged, sort):
    data = director_web.get(f"/audit/export.csv?sort={sort}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(data.lstrip("\ufeff"))))
    column = {"at": "at_utc", "user": "user", "patient": "patient_id", "action": "action",
              "kind": "kind", "outcome": "outcome"}[sort.lstrip("-")]
    def key(r):
        value = r[column]
        return (value == "", int(value) if column == "patient_id" and value else value)
    values = [r[column] for r in rows if r[column]]
    if column == "patient_id":
        values = [int(v) for v in values]
    assert values == sorted(values, reverse=sort.startswith("-"))
    assert director_web.get(f"/audit/?sort={sort}").status_code == 200


@pytest.mark.parametrize("sort", ["id; DROP TABLE users", "password_hash", "at desc", "-",
                                  "audit_events.at"])
def test_other_sort_keys_are_refused(director_web, sort):
    assert director_web.get("/audit/", query_string={"sort": sort}).status_code == 422


def test_the_report_is_paginated(director_web, logged):
    first = director_web.get("/audit/?per_page=2&sort=at").get_data(as_text=True)
    second = director_web.get("/audit/?per_page=2&sort=at&page=2").get_data(as_text=True)
    assert "page 1 of" in first and "page 2 of" in second and "Next" in first
    assert director_web.get("/audit/?page=0").status_code == 422
    assert director_web.get("/audit/?per_page=100000").status_code == 422


def test_only_directors_read_the_report(web, director_web, audit_log):
    assert web.get("/audit/").status_code == 403
    assert web.get("/audit/export.csv").status_code == 403
    audit_log.mark()
    assert director_web.get("/audit/?action=login").status_code == 200
    rows = audit_log.new()
    assert ("read", "audit") in [(r["action"], r["kind"]) for r in rows]
    director_web.get("/audit/export.csv")
    assert ("export", "audit") in [(r["action"], r["kind"]) for r in audit_log.new()]


def test_the_csv_is_spreadsheet_safe(app, client, director_web):
    client.post("/api/v1/auth/token", json={"email": "=cmd@example.org", "password": "x"})
    client.post("/api/v1/auth/token", json={"email": "a@example.org", "password": "x"},
                headers={"User-Agent": "=HYPERLINK(1)"})
    text = director_web.get("/audit/export.csv?action=login_failed").get_data(as_text=True)
    assert "unknown account =cmd@example.org" in text
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        assert not any(cell.startswith(("=", "+", "@")) for cell in row)


def test_open_grants_are_on_the_directors_worklist(app, clinic, as_account, other_practitioner,
                                                  director, director_web, practitioner):
    patient = clinic.patient(given_name="Wanda", family_name="Worklist")
    as_account(other_practitioner).post(f"/api/v1/patients/{patient['id']}/break-glass",
                                        json={"reason": REASON})
    body = as_account(director).get("/api/v1/worklist").get_json()
    [item] = body["break_glass"]
    assert (item["practitioner"]["name"], item["patient"]["id"], item["reason"]) == (
        "Olly Other", patient["id"], REASON)
    page = director_web.get("/worklist").get_data(as_text=True)
    assert "Emergency (break-glass) access open now" in page and REASON in page
    assert as_account(practitioner).get("/api/v1/worklist").get_json()["break_glass"] == []
    expire_grants(app)
    assert as_account(director).get("/api/v1/worklist").get_json()["break_glass"] == []
