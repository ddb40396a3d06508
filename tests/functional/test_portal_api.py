"""The portal's JSON API: the pain diary (patients write their own, the care team reads it,
values marked patient-reported) and invitation links for integrations."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import Api
from portal_support import make_patient, portal_account


@pytest.fixture
def found(app, practitioner):
    found = make_patient(app, practitioner)
    portal_account(app, found, "ana@portal.example")
    return found


def diary_url(found) -> str:
    return f"/api/v1/patients/{found.patient_id}/diary"


def test_patient_records_and_reads_their_diary(client, found, audit_log):
    api = Api(client, found.account)
    today = date.today().isoformat()
    response = api.post(diary_url(found), json={"entry_date": today, "pain": 3,
                                                "note": "  Walked 20 minutes.  "})
    assert response.status_code == 201, response.get_json()
    entry = response.get_json()
    assert entry["pain"] == 3 and entry["note"] == "Walked 20 minutes."
    assert entry["source"] == "patient_reported" and entry["author"]["role"] == "patient"
    assert ("diary", "create", "ok") in [(r["kind"], r["action"], r["outcome"])
                                         for r in audit_log.new()]
    listed = api.get(diary_url(found)).get_json()
    assert [e["id"] for e in listed] == [entry["id"]]


def test_diary_entries_newest_day_first(client, found):
    api = Api(client, found.account)
    for days_ago, pain in ((3, 6), (0, 4), (1, 5)):
        day = (date.today() - timedelta(days=days_ago)).isoformat()
        assert api.post(diary_url(found), json={"entry_date": day, "pain": pain}
                        ).status_code == 201
    assert [e["pain"] for e in api.get(diary_url(found)).get_json()] == [4, 5, 6]


@pytest.mark.parametrize("body, field", [
    ({"pain": 11}, "pain"), ({"pain": 2.5}, "pain"), ({"pain": "3"}, "pain"),
    ({"pain": None}, "pain"), ({"pain": 3, "note": "n" * 1001}, "note"),
    ({"pain": 3, "entry_date": "2999-01-01"}, "entry_date"),
    ({"pain": 3, "entry_date": "2000-01-01"}, "entry_date"),
    ({"pain": 3, "source": "clinic"}, "source"),
])
def test_diary_validation(client, found, body, field):
    api = Api(client, found.account)
    payload = {"entry_date": date.today().isoformat(), **body}
    response = api.post(diary_url(found), json=payload)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_care_team_reads_but_does_not_write_the_diary(client, found, practitioner, director,
                                                      other_practitioner, audit_log):
    Api(client, found.account).post(diary_url(found), json={
        "entry_date": date.today().isoformat(), "pain": 2})
    staff = Api(client, practitioner)
    assert [e["pain"] for e in staff.get(diary_url(found)).get_json()] == [2]
    assert [e["pain"] for e in Api(client, director).get(diary_url(found)).get_json()] == [2]
    assert Api(client, other_practitioner).get(diary_url(found)).status_code == 404
    audit_log.mark()
    # refused before the body is read: an invalid body still answers 403
    refused = staff.post(diary_url(found), json={"pain": "not even a number"})
    assert refused.status_code == 403
    assert [(r["kind"], r["outcome"]) for r in audit_log.new()] == [("diary", "denied")]


def test_invitation_api(client, app, practitioner, director):
    found = make_patient(app, practitioner, given="Eve", family="Eng")
    api = Api(client, practitioner)
    url = f"/api/v1/patients/{found.patient_id}/portal-invitations"
    response = api.post(url, json={})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["purpose"] == "account" and "/portal/join/" in body["url"]
    assert client.get(body["url"].split("localhost", 1)[1]).status_code == 200
    assert Api(client, director).post(url, json={}).status_code == 403
    assert api.post(url, json={"reset": "yes"}).status_code == 422
    portal_account(app, found, "eve@portal.example")
    conflict = api.post(url, json={})
    assert conflict.status_code == 409
    assert api.post(url, json={"reset": True}).get_json()["purpose"] == "reset"


def test_openapi_lists_the_portal_routes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/patients/{patient_id}/diary"])
    assert "post" in paths["/api/v1/patients/{patient_id}/portal-invitations"]
