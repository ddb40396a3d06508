"""A chart's 304 or cached answer through the API comes from the validator alone (the routes'
``shortcut``): three statements, no ORM session or user object, the same audit row as the full
path; anything else (a bad or missing token, a bad query, a denied plan, a cache miss) goes the
full path, with its usual answer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import lapse_token, make_account
from notes_service import api as api_module
from notes_service.progress import chart_responses
from test_progress_api import add_visit, make_plan

AUDITED = ("user_id", "patient_id", "kind", "action", "object_id", "outcome", "ip", "request",
           "detail")


@pytest.fixture
def plan(api):
    patient_id, plan_id = make_plan(api, start=date.today() - timedelta(days=14),
                                    goals=[{"measure": "pain", "target": 2}],
                                    tracked=[{"measure": "slr", "side": "left"}])
    for days_ago, value in ((14, 7), (7, 5)):
        add_visit(api, plan_id, date.today() - timedelta(days=days_ago),
                  [{"measure": "pain", "value": value},
                   {"measure": "slr", "side": "left", "value": 40 + value}])
    return patient_id, plan_id


@pytest.fixture
def no_orm_sign_in(monkeypatch):
    """Fail any request that authenticates the full way (the ORM user of the token)."""
    def refused():
        raise AssertionError("the full path ran")

    monkeypatch.setattr(api_module, "authenticate_bearer", refused)


@pytest.mark.parametrize("url", ["charts/pain.svg", "charts/slr.png?side=left&width=640",
                                 "charts/overview.png"])
def test_304_and_cache_hit_skip_the_full_path(api, plan, url, count_queries, audit_log,
                                              monkeypatch):
    patient_id, plan_id = plan
    first = api.get(f"/api/v1/plans/{plan_id}/{url}")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    full = [row for row in audit_log.new() if row["kind"] == "chart"]
    assert len(full) == 1  # (and the progress it was drawn from)

    def refused():
        raise AssertionError("the full path ran")

    monkeypatch.setattr(api_module, "authenticate_bearer", refused)
    with count_queries() as counter:
        not_modified = api.get(f"/api/v1/plans/{plan_id}/{url}",
                               headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    assert not_modified.headers["Cache-Control"] == "private, no-cache"
    # The token, the plan's validator, the audit row (PostgreSQL adds the chain's lock).
    reads = [s for s in counter.statements if not s.startswith("SELECT pg_advisory_xact_lock")]
    assert len(reads) == 3, counter.statements
    assert not any("measurements" in s for s in counter.statements)
    hit = api.get(f"/api/v1/plans/{plan_id}/{url}")
    assert hit.status_code == 200 and hit.data == first.data
    assert hit.headers["ETag"] == etag and hit.mimetype == first.mimetype
    assert hit.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]

    # Each known answer is audited as the full path audits it.
    rows = audit_log.new()
    expected = {key: value for key, value in full[0].items() if key in AUDITED}
    assert [{key: row[key] for key in AUDITED} for row in rows] == [expected, expected]
    assert expected["patient_id"] == patient_id and expected["object_id"] == plan_id


def test_a_cache_miss_goes_the_full_path(api, plan, no_orm_sign_in):
    _, plan_id = plan
    chart_responses.CHART_CACHE.clear()
    with pytest.raises(AssertionError, match="the full path ran"):
        api.get(f"/api/v1/plans/{plan_id}/charts/pain.svg")


def test_new_data_changes_the_known_answer(api, plan):
    _, plan_id = plan
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    etag = api.get(url).headers["ETag"]
    add_visit(api, plan_id, date.today(), [{"measure": "pain", "value": 3}])
    changed = api.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize("header", [None, "Bearer not-a-real-token", "Basic dXNlcjpwYXNz"])
def test_without_a_valid_token_it_is_401(client, api, plan, header):
    _, plan_id = plan
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    etag = api.get(url).headers["ETag"]
    headers = {"If-None-Match": etag, **({"Authorization": header} if header else {})}
    response = client.get(url, headers=headers)
    assert response.status_code == 401
    assert list(response.get_json()["errors"]) == ["_request"]
    # A bad query too: 401 comes before 422, as on every route.
    assert client.get(url + "?width=abc", headers=headers).status_code == 401


@pytest.mark.parametrize("change", ["expired", "revoked", "deactivated"])
def test_a_token_that_lapsed_gets_no_known_answer(app, api, plan, practitioner, change):
    _, plan_id = plan
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    etag = api.get(url).headers["ETag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    lapse_token(app, practitioner, change)
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 401
    assert api.get(url).status_code == 401


def test_another_practitioners_etag_opens_nothing(api, plan, as_account, other_practitioner,
                                                   audit_log):
    patient_id, plan_id = plan
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    etag = api.get(url).headers["ETag"]
    outsider = as_account(other_practitioner)
    audit_log.mark()
    assert outsider.get(url, headers={"If-None-Match": etag}).status_code == 404
    assert outsider.get(url).status_code == 404  # the chart is cached: still refused
    rows = audit_log.new()
    assert [(r["user_id"], r["outcome"]) for r in rows] == [(other_practitioner.id, "denied")] * 2


def test_bad_queries_and_unknown_measures_keep_their_answers(api, plan):
    _, plan_id = plan
    base = f"/api/v1/plans/{plan_id}/charts"
    etag = api.get(f"{base}/pain.svg").headers["ETag"]
    headers = {"If-None-Match": etag}
    assert api.get(f"{base}/pain.svg?width=abc", headers=headers).status_code == 422
    assert api.get(f"{base}/pain.svg?side=left", headers=headers).status_code == 422
    assert api.get(f"{base}/grip.svg", headers=headers).status_code == 404


def test_the_patient_gets_their_own_known_answers(app, api, plan, as_account, audit_log):
    patient_id, plan_id = plan
    patient = as_account(make_account(app, "shortcut-patient@example.org", "patient",
                                      patient_id=patient_id))
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    mine = patient.get(url)
    assert mine.status_code == 200
    staff_etag = api.get(url).headers["ETag"]
    assert mine.headers["ETag"] != staff_etag  # drawn for a patient, from signed notes only
    audit_log.mark()
    assert patient.get(url, headers={"If-None-Match": mine.headers["ETag"]}).status_code == 304
    assert patient.get(url, headers={"If-None-Match": staff_etag}).status_code == 200
    add_visit(api, plan_id, date.today(), [{"measure": "pain", "value": 1}])  # a draft
    assert patient.get(url, headers={"If-None-Match": mine.headers["ETag"]}).status_code == 304
    rows = audit_log.new()
    assert {(r["kind"], r["patient_id"]) for r in rows if r["kind"] == "chart"} == {
        ("chart", patient_id)}
