"""A chart's 304, cached answer or cache miss whose progress is kept comes through the API from
the validator alone (the routes' ``shortcut``): three statements, no ORM session or user object,
the same audit row and bytes as the full path; anything else (a bad or missing token, a bad
query, a denied plan, a miss with nothing kept) goes the full path, with its usual answer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import lapse_token, make_account
from notes_service import api as api_module
from notes_service.memo import clear_all
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


def _refused():
    raise AssertionError("the full path ran")


@pytest.fixture
def no_orm_sign_in(monkeypatch):
    """Fail any request that authenticates the full way (the ORM user of the token)."""
    monkeypatch.setattr(api_module, "authenticate_bearer", _refused)


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
    monkeypatch.setattr(api_module, "authenticate_bearer", _refused)
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


def test_a_miss_with_nothing_kept_goes_the_full_path(api, plan, no_orm_sign_in):
    _, plan_id = plan
    clear_all()
    with pytest.raises(AssertionError, match="the full path ran"):
        api.get(f"/api/v1/plans/{plan_id}/charts/pain.svg")


def _chart_row(rows: list[dict]) -> dict:
    (row,) = [row for row in rows if row["kind"] == "chart"]
    return {key: row[key] for key in AUDITED}


@pytest.mark.parametrize("url", ["charts/pain.svg", "charts/slr.png?side=left&width=640",
                                 "charts/overview.svg"])
@pytest.mark.parametrize("kept_by", ["another chart", "progress"])
def test_a_miss_is_drawn_from_the_kept_progress(api, plan, url, kept_by, count_queries,
                                                audit_log, monkeypatch):
    """Once a plan's progress is computed (for any chart of it, or its progress), a chart it
    has not drawn yet comes from the validator alone: the bytes and audit row of the full
    path, and no series read."""
    _, plan_id = plan
    clear_all()  # the full path, from nothing kept
    audit_log.mark()
    reference = api.get(f"/api/v1/plans/{plan_id}/{url}")
    assert reference.status_code == 200
    expected = _chart_row(audit_log.new())
    clear_all()
    filler = "charts/pain.png?width=480" if kept_by == "another chart" else "progress"
    assert api.get(f"/api/v1/plans/{plan_id}/{filler}").status_code == 200
    monkeypatch.setattr(api_module, "authenticate_bearer", _refused)
    audit_log.mark()
    with count_queries() as counter:
        drawn = api.get(f"/api/v1/plans/{plan_id}/{url}")
    assert drawn.status_code == 200 and drawn.data == reference.data
    assert drawn.headers["ETag"] == reference.headers["ETag"]
    assert drawn.mimetype == reference.mimetype
    reads = [s for s in counter.statements if not s.startswith("SELECT pg_advisory_xact_lock")]
    assert len(reads) == 3, counter.statements
    assert not any("measurements" in s for s in counter.statements)
    assert [{key: row[key] for key in AUDITED} for row in audit_log.new()] == [expected]
    # Kept for the next request: a cache hit.
    assert api.get(f"/api/v1/plans/{plan_id}/{url}").data == reference.data


def test_the_patient_is_never_drawn_the_clinicians_progress(app, api, plan, as_account):
    """Progress kept for a clinician (drafts included) is not what a patient's chart is drawn
    from, nor the other way round: each is drawn what a fresh render gives them."""
    patient_id, plan_id = plan
    patient = as_account(make_account(app, "kept.patient@example.org", "patient",
                                      patient_id=patient_id))
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    add_visit(api, plan_id, date.today(), [{"measure": "pain", "value": 1}])  # a draft

    def fresh(who):
        clear_all()
        return who.get(url).data

    staff, own = fresh(api), fresh(patient)
    assert staff != own
    for first, then, expected in ((api, patient, own), (patient, api, staff)):
        clear_all()
        assert first.get(url.replace("svg", "png")).status_code == 200  # keeps its progress
        chart_responses.CHART_CACHE.clear()
        assert then.get(url).data == expected


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
