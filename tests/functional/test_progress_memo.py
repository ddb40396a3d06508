"""The progress memo and the cached progress JSON: after every kind of change, the answer is the
one computed from scratch, and the change shows.

Each test reads progress once (filling the memo), changes one input, then compares the next
answer with a fresh computation (every memo emptied).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import make_account
from notes_service.db_types import utcnow
from notes_service.memo import clear_all
from notes_service.progress import api as progress_api
from notes_service.progress import services
from test_reports_api import add_visit, build_plan, create_report, day


def progress(api, plan_id) -> dict:
    response = api.get(f"/api/v1/plans/{plan_id}/progress")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def fresh(api, plan_id) -> dict:
    clear_all()
    return progress(api, plan_id)


def pain(body) -> dict:
    return next(m for m in body["measures"] if m["measure"] == "pain")


def codes(body) -> set[str]:
    return {f["code"] for f in body["flags"]}


def test_a_repeated_read_is_served_from_the_memo(api):
    _, plan_id, _ = build_plan(api)
    first = progress(api, plan_id)
    assert len(services.PROGRESS_MEMO) == 1
    calls = []
    original = services.load_snapshots
    services.load_snapshots = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        assert progress(api, plan_id) == first
    finally:
        services.load_snapshots = original
    assert calls == []  # nothing recomputed


def test_a_new_note_shows(api):
    _, plan_id, _ = build_plan(api)
    before = progress(api, plan_id)
    add_visit(api, plan_id, 1, 1, sign=False)
    after = progress(api, plan_id)
    assert after == fresh(api, plan_id)
    assert len(pain(after)["points"]) == len(pain(before)["points"]) + 1


def test_a_changed_draft_shows(api):
    _, plan_id, _ = build_plan(api)
    note = add_visit(api, plan_id, 1, 3, sign=False)
    before = progress(api, plan_id)
    changed = api.patch(f"/api/v1/visits/{note['id']}", json={
        "version": note["version"], "measurements": [{"measure": "pain", "value": 9}]})
    assert changed.status_code == 200, changed.get_json()
    after = progress(api, plan_id)
    assert after == fresh(api, plan_id) and after != before
    assert pain(after)["latest"] == 9


def test_signing_a_note_shows_to_the_patient(app, api):
    patient_id, plan_id, _ = build_plan(api)
    note = add_visit(api, plan_id, 1, 1, sign=False)
    portal = api.__class__(api.client, make_account(app, "memo.patient@example.org", "patient",
                                                     patient_id=patient_id))
    before = progress(portal, plan_id)
    assert progress(api, plan_id) != before  # the clinician sees the draft, the patient not
    signed = api.post(f"/api/v1/visits/{note['id']}/sign", json={})
    assert signed.status_code == 200, signed.get_json()
    after = progress(portal, plan_id)
    assert after == fresh(portal, plan_id)
    assert len(pain(after)["points"]) == len(pain(before)["points"]) + 1


def test_a_changed_goal_shows(api):
    _, plan_id, _ = build_plan(api)
    before = progress(api, plan_id)
    plan = api.get(f"/api/v1/plans/{plan_id}").get_json()
    changed = api.patch(f"/api/v1/plans/{plan_id}", json={
        "version": plan["version"], "goals": [{"measure": "pain", "target": 4}]})
    assert changed.status_code == 200, changed.get_json()
    after = progress(api, plan_id)
    assert after == fresh(api, plan_id) and after != before
    assert pain(after)["goal"] == 4


def test_a_report_clears_its_flag(app, api, monkeypatch):
    monkeypatch.setitem(app.config["PROGRESS_SETTINGS"], "report_every_visits", 3)
    _, plan_id, _ = build_plan(api)
    assert "progress_report_due" in codes(progress(api, plan_id))
    assert create_report(api, plan_id, period_end=day(0)).status_code == 201
    after = progress(api, plan_id)
    assert after == fresh(api, plan_id)
    assert "progress_report_due" not in codes(after)


def test_changed_rule_settings_recompute(app, api, monkeypatch):
    _, plan_id, _ = build_plan(api)
    assert "progress_report_due" not in codes(progress(api, plan_id))
    monkeypatch.setitem(app.config["PROGRESS_SETTINGS"], "report_every_visits", 3)
    assert "progress_report_due" in codes(progress(api, plan_id))


def test_a_draft_turns_overdue_without_any_change(api, monkeypatch):
    _, plan_id, _ = build_plan(api)
    add_visit(api, plan_id, 0, 3, sign=False)
    assert "unsigned_note" not in codes(progress(api, plan_id))
    later = utcnow() + timedelta(hours=25)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    monkeypatch.setattr(progress_api, "utcnow", lambda: later)
    after = progress(api, plan_id)
    assert "unsigned_note" in codes(after)
    assert after == fresh(api, plan_id)


def test_a_new_clinic_day_recomputes(api, monkeypatch):
    _, plan_id, _ = build_plan(api)
    before = progress(api, plan_id)
    tomorrow = services.clinic_today() + timedelta(days=60)  # past the plan's end
    monkeypatch.setattr(services, "clinic_today", lambda: tomorrow)
    monkeypatch.setattr(progress_api, "clinic_today", lambda: tomorrow)
    after = progress(api, plan_id)
    assert after != before and "plan_expired" in codes(after)


@pytest.mark.parametrize("step", ["discharge", "hold"])
def test_a_plan_status_change_shows(api, step):
    _, plan_id, _ = build_plan(api)
    before = progress(api, plan_id)
    plan = api.get(f"/api/v1/plans/{plan_id}").get_json()
    if step == "discharge":
        changed = api.post(f"/api/v1/plans/{plan_id}/discharge", json={
            "reason": "goals_met", "discharge_date": day(0), "note": "Done."})
    else:
        changed = api.patch(f"/api/v1/plans/{plan_id}",
                            json={"version": plan["version"], "status": "on_hold"})
    assert changed.status_code == 200, changed.get_json()
    after = progress(api, plan_id)
    assert after == fresh(api, plan_id)
    assert codes(after) != codes(before) or after != before


def test_a_changed_goal_changes_the_charts_etag(api):
    """A goal's line is drawn on the chart: changing only a goal's target is a new chart."""
    _, plan_id, _ = build_plan(api)
    url = f"/api/v1/plans/{plan_id}/charts/pain.svg"
    first = api.get(url)
    etag = first.headers["ETag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    plan = api.get(f"/api/v1/plans/{plan_id}").get_json()
    targets = [{"measure": g["measure"], "side": g.get("side"), "target": g["target"]}
               for g in plan["goals"]]
    changed = [dict(g, target=g["target"] + 1) if g["measure"] == "pain" else g for g in targets]
    response = api.patch(f"/api/v1/plans/{plan_id}",
                         json={"version": plan["version"], "goals": changed})
    assert response.status_code == 200, response.get_json()
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert again.data != first.data


def test_a_new_addendum_and_a_signature_change_the_visit_list_validator(app, api):
    from notes_service.access import plan_version
    from notes_service.auth.models import User
    from notes_service.extensions import db

    _, plan_id, _ = build_plan(api)
    note = add_visit(api, plan_id, 1, 3, sign=False)

    def validator():
        with app.app_context():
            actor = db.session.get(User, api.account.id)
            found = plan_version(actor, plan_id)
            db.session.rollback()
            return found.notes, found.addenda

    before = validator()
    assert api.post(f"/api/v1/visits/{note['id']}/sign", json={}).status_code == 200
    signed = validator()
    assert signed[0] != before[0]
    assert api.post(f"/api/v1/visits/{note['id']}/addenda",
                    json={"text": "Late entry: pain eased after the session."}).status_code == 201
    assert validator()[1] != signed[1]


def visit_list(api, plan_id):
    response = api.get(f"/api/v1/plans/{plan_id}/visits")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def fresh_list(api, plan_id):
    clear_all()
    return visit_list(api, plan_id)


def test_the_visit_list_follows_every_kind_of_write(app, api, audit_log):
    """Listed from the cache, yet always what a fresh read gives: after a new draft, a
    change, a signature and an addendum; each read audited either way."""
    patient_id, plan_id, _ = build_plan(api)
    portal = api.__class__(api.client, make_account(app, "list.patient@example.org", "patient",
                                                     patient_id=patient_id))
    first = visit_list(api, plan_id)
    audit_log.mark()
    assert visit_list(api, plan_id) == first  # a hit
    (row,) = audit_log.new()
    assert (row["action"], row["kind"], row["object_id"], row["detail"]) == (
        "list", "visit", plan_id, f"{len(first)} notes of plan {plan_id}")
    patient_view = visit_list(portal, plan_id)
    assert all(n["assessment"] is None for n in patient_view)
    note = add_visit(api, plan_id, 1, 3, sign=False)
    assert visit_list(api, plan_id) == fresh_list(api, plan_id) != first
    assert visit_list(portal, plan_id) == patient_view  # a draft is not the patient's to see
    changed = api.patch(f"/api/v1/visits/{note['id']}", json={
        "version": note["version"], "subjective": "Changed after a call."})
    assert changed.status_code == 200
    assert visit_list(api, plan_id)[-1]["subjective"] == "Changed after a call."
    assert api.post(f"/api/v1/visits/{note['id']}/sign", json={}).status_code == 200
    assert visit_list(api, plan_id)[-1]["status"] == "signed"
    assert len(visit_list(portal, plan_id)) == len(patient_view) + 1
    assert api.post(f"/api/v1/visits/{note['id']}/addenda",
                    json={"text": "Late entry."}).status_code == 201
    listed = visit_list(api, plan_id)
    assert [a["text"] for a in listed[-1]["addenda"]] == ["Late entry."]
    assert listed == fresh_list(api, plan_id)
    assert visit_list(portal, plan_id) == fresh_list(portal, plan_id)


def test_the_visit_list_shows_assessments_to_patients_only_where_the_clinic_shares_them(
        app, api, monkeypatch):
    patient_id, plan_id, _ = build_plan(api)
    portal = api.__class__(api.client, make_account(app, "share.patient@example.org", "patient",
                                                     patient_id=patient_id))
    assert all(n["assessment"] is None for n in visit_list(portal, plan_id))
    monkeypatch.setitem(app.config, "PORTAL_SHOWS_ASSESSMENT", True)
    assert all(n["assessment"] for n in visit_list(portal, plan_id))
    monkeypatch.setitem(app.config, "PORTAL_SHOWS_ASSESSMENT", False)
    assert all(n["assessment"] is None for n in visit_list(portal, plan_id))


def _chart(who, plan_id) -> bytes:
    from notes_service.progress import chart_responses

    chart_responses.CHART_CACHE.clear()  # drawn again, from the progress kept if any
    response = who.get(f"/api/v1/plans/{plan_id}/charts/pain.svg")
    assert response.status_code == 200
    return response.data


@pytest.mark.parametrize("change", ["new draft", "changed draft", "signed", "goal", "hold",
                                    "clinic day", "overdue"])
def test_a_chart_drawn_from_kept_progress_follows_every_change(app, api, monkeypatch, change):
    """A chart a cache miss draws from the progress kept by the plan's validator is, after
    every kind of change, the chart drawn from scratch, for the clinician and the patient."""
    patient_id, plan_id, _ = build_plan(api)
    portal = api.__class__(api.client, make_account(app, "chart.patient@example.org", "patient",
                                                     patient_id=patient_id))
    note = add_visit(api, plan_id, 1, 3, sign=False)
    before = {who: _chart(who, plan_id) for who in (api, portal)}  # keeps their progress
    if change == "new draft":
        add_visit(api, plan_id, 0, 8, sign=False)
    elif change == "changed draft":
        assert api.patch(f"/api/v1/visits/{note['id']}", json={
            "version": note["version"],
            "measurements": [{"measure": "pain", "value": 9}]}).status_code == 200
    elif change == "signed":
        assert api.post(f"/api/v1/visits/{note['id']}/sign", json={}).status_code == 200
    elif change in ("goal", "hold"):
        plan = api.get(f"/api/v1/plans/{plan_id}").get_json()
        body = ({"goals": [{"measure": "pain", "target": 4}]} if change == "goal"
                else {"status": "on_hold"})
        assert api.patch(f"/api/v1/plans/{plan_id}",
                         json={"version": plan["version"], **body}).status_code == 200
    elif change == "clinic day":
        later = services.clinic_today() + timedelta(days=60)
        monkeypatch.setattr(services, "clinic_today", lambda: later)
    else:
        later = utcnow() + timedelta(hours=25)
        monkeypatch.setattr(services, "utcnow", lambda: later)
    after = {who: _chart(who, plan_id) for who in (api, portal)}
    for who in (api, portal):
        clear_all()
        assert after[who] == _chart(who, plan_id)
    if change in ("new draft", "changed draft", "goal"):
        assert after[api] != before[api]
    if change == "signed":
        assert after[portal] != before[portal]
