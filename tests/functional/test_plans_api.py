"""Plans of care: create with goals, read, list, change with a version, discharge."""

import pytest

from conftest import iso_day, make_account


def test_create_plan_with_goals(api, clinic, practitioner):
    patient = clinic.patient()
    response = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": iso_day(10), "weeks": 6, "visits_per_week": 2,
        "diagnosis_code": "M54.42", "body_region": "lumbar", "side": "left",
        "planned_interventions": ["art", "nerve_glides"],
        "tracked_measures": [{"measure": "lumbar_flexion"}],
        "goals": [{"measure": "pain", "target": 2, "term": "long"},
                  {"measure": "slr", "side": "left", "target": 70, "term": "short",
                   "target_date": iso_day(0)}]})
    assert response.status_code == 201, response.get_json()
    plan = response.get_json()
    assert plan["patient_id"] == patient["id"]
    assert plan["practitioner"]["id"] == practitioner.id
    assert plan["status"] == "active" and plan["version"] == 1
    assert plan["diagnosis"] == "Lumbago with sciatica, left side"
    assert plan["planned_visits"] == 12
    assert plan["end_date"] == iso_day(10 - 6 * 7 + 1)
    # every goal's measure is tracked, in catalog order, without repeats
    assert plan["tracked_measures"] == [{"measure": "pain", "side": None},
                                        {"measure": "slr", "side": "left"},
                                        {"measure": "lumbar_flexion", "side": None}]
    goals = {g["measure"]: g for g in plan["goals"]}
    assert goals["pain"]["comparator"] == "≤" and goals["slr"]["comparator"] == "≥"
    assert goals["slr"]["unit"] == "deg" and goals["slr"]["target_date"] == iso_day(0)
    assert api.get(f"/api/v1/plans/{plan['id']}").get_json() == plan


def test_free_diagnosis_code_needs_a_text(api, clinic):
    patient = clinic.patient()
    body = {"start_date": iso_day(3), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.16", "goals": [{"measure": "pain", "target": 2}]}
    missing = api.post(f"/api/v1/patients/{patient['id']}/plans", json=body)
    assert missing.status_code == 422 and "diagnosis" in missing.get_json()["errors"]
    given = api.post(f"/api/v1/patients/{patient['id']}/plans",
                     json={**body, "diagnosis": "Radiculopathy, lumbar region"})
    assert given.status_code == 201
    assert given.get_json()["diagnosis"] == "Radiculopathy, lumbar region"


def _plan_body(**changes):
    body = {"start_date": iso_day(3), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize("body, path", [
    (_plan_body(start_date=None), ["start_date"]),
    (_plan_body(start_date=iso_day(400)), ["start_date"]),
    (_plan_body(start_date=iso_day(-120)), ["start_date"]),
    (_plan_body(weeks=0), ["weeks"]), (_plan_body(weeks=27), ["weeks"]),
    (_plan_body(weeks=8.5), ["weeks"]), (_plan_body(weeks="8"), ["weeks"]),
    (_plan_body(weeks=True), ["weeks"]),
    (_plan_body(visits_per_week=0), ["visits_per_week"]),
    (_plan_body(visits_per_week=8), ["visits_per_week"]),
    (_plan_body(diagnosis_code="sciatica"), ["diagnosis_code"]),
    (_plan_body(body_region="elbow"), ["body_region"]),
    (_plan_body(side="both"), ["side"]),
    (_plan_body(planned_interventions=["reiki"]), ["planned_interventions", "0"]),
    (_plan_body(goals=[]), ["tracked_measures"]),
    (_plan_body(goals=[{"measure": "grip", "target": 30}]), ["goals", "0", "measure"]),
    (_plan_body(goals=[{"measure": "slr", "target": 70}]), ["goals", "0", "side"]),
    (_plan_body(goals=[{"measure": "pain", "side": "left", "target": 2}]),
     ["goals", "0", "side"]),
    (_plan_body(goals=[{"measure": "pain", "target": 11}]), ["goals", "0", "target"]),
    (_plan_body(goals=[{"measure": "pain", "target": "2"}]), ["goals", "0", "target"]),
    (_plan_body(goals=[{"measure": "pain"}]), ["goals", "0", "target"]),
    (_plan_body(goals=[{"measure": "pain", "target": 2, "term": "medium"}]),
     ["goals", "0", "term"]),
    (_plan_body(goals=[{"measure": "pain", "target": 2, "target_date": iso_day(-100)}]),
     ["goals", "0", "target_date"]),
    (_plan_body(goals=[{"measure": "pain", "target": 2}, {"measure": "pain", "target": 1}]),
     ["goals"]),
    (_plan_body(tracked_measures=[{"measure": "hip_ir"}]), ["tracked_measures", "0", "side"]),
    (_plan_body(tracked_measures=[{"measure": "pain", "phase": "pre"}]),
     ["tracked_measures", "0", "phase"]),
    (_plan_body(status="discharged"), ["status"]),
    (_plan_body(version=1), ["version"]),
])
def test_create_plan_validation(api, clinic, body, path):
    patient = clinic.patient()
    response = api.post(f"/api/v1/patients/{patient['id']}/plans", json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    for key in path:
        errors = errors[key]
    assert errors


def test_plan_owner_must_be_a_clinician_on_the_care_team(app, api, clinic, as_account,
                                                         other_practitioner, director):
    patient = clinic.patient()
    practising = make_account(app, "doc@example.org", "director", practices=True)
    for owner in (other_practitioner.id, director.id, practising.id, 999999):
        response = api.post(f"/api/v1/patients/{patient['id']}/plans",
                            json=_plan_body(practitioner_id=owner))
        assert response.status_code == 422, owner
        assert "practitioner_id" in response.get_json()["errors"]
    for colleague in (other_practitioner, practising):
        api.post(f"/api/v1/patients/{patient['id']}/care-team", json={"user_id": colleague.id})
        created = api.post(f"/api/v1/patients/{patient['id']}/plans",
                           json=_plan_body(practitioner_id=colleague.id))
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["practitioner"]["id"] == colleague.id


def test_list_plans_of_a_patient(api, clinic):
    patient, plan = clinic.chart()
    older = clinic.plan(patient["id"], start_days_ago=200, weeks=4)
    api.post(f"/api/v1/plans/{older['id']}/discharge",
             json={"reason": "goals_met", "discharge_date": iso_day(180)})
    listing = api.get(f"/api/v1/patients/{patient['id']}/plans")
    assert listing.status_code == 200
    assert [p["id"] for p in listing.get_json()] == [plan["id"], older["id"]]
    assert api.get("/api/v1/patients/999999/plans").status_code == 404


def test_get_unknown_plan_is_404(api):
    response = api.get("/api/v1/plans/999999")
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"_request": ["Plan not found."]}}


def test_patch_plan_with_version(api, clinic):
    _, plan = clinic.chart()
    url = f"/api/v1/plans/{plan['id']}"
    response = api.patch(url, json={"version": 1, "weeks": 6, "visits_per_week": 3,
                                    "planned_interventions": ["dry_needling"]})
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["version"] == 2 and changed["weeks"] == 6 and changed["planned_visits"] == 18
    assert changed["planned_interventions"] == ["dry_needling"]
    # without a version, the change is applied to the current state
    assert api.patch(url, json={"status": "on_hold"}).get_json()["version"] == 3


def test_patch_goals_replaces_them_and_keeps_them_tracked(api, clinic):
    _, plan = clinic.chart(tracked_measures=[{"measure": "lumbar_flexion"}])
    response = api.patch(f"/api/v1/plans/{plan['id']}", json={
        "goals": [{"measure": "hip_ir", "side": "right", "target": 35}]})
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert [(g["measure"], g["side"]) for g in changed["goals"]] == [("hip_ir", "right")]
    assert {"measure": "hip_ir", "side": "right"} in changed["tracked_measures"]
    # re-declaring the tracked measures keeps the goals' measures
    again = api.patch(f"/api/v1/plans/{plan['id']}",
                      json={"tracked_measures": [{"measure": "pain"}]})
    assert again.get_json()["tracked_measures"] == [{"measure": "pain", "side": None},
                                                    {"measure": "hip_ir", "side": "right"}]


def test_stale_plan_version_is_409_with_the_current_plan(api, clinic):
    _, plan = clinic.chart()
    url = f"/api/v1/plans/{plan['id']}"
    assert api.patch(url, json={"version": 1, "weeks": 7}).status_code == 200
    stale = api.patch(url, json={"version": 1, "weeks": 5})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["version"] == 2
    assert body["current"]["weeks"] == 7 and body["current"]["version"] == 2
    assert "_request" in body["errors"]
    assert api.get(url).get_json()["weeks"] == 7


@pytest.mark.parametrize("body, field", [
    ({"weeks": 0}, "weeks"), ({"version": "1"}, "version"), ({"status": "discharged"}, "status"),
    ({"start_date": iso_day(500)}, "start_date"), ({"owner": 3}, "owner"),
    ({"goals": [{"measure": "pain", "target": -1}]}, "goals"),
])
def test_patch_plan_validation(api, clinic, body, field):
    _, plan = clinic.chart()
    response = api.patch(f"/api/v1/plans/{plan['id']}", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert api.get(f"/api/v1/plans/{plan['id']}").get_json() == plan


def test_patch_cannot_leave_recorded_visits_outside_the_plan(api, clinic):
    _, plan = clinic.chart(start_days_ago=30)
    clinic.visit(plan["id"], days_ago=20)
    url = f"/api/v1/plans/{plan['id']}"
    later_start = api.patch(url, json={"start_date": iso_day(15)})
    assert later_start.status_code == 422
    assert "start_date" in later_start.get_json()["errors"]
    shorter = api.patch(url, json={"weeks": 1})
    assert shorter.status_code == 422 and "weeks" in shorter.get_json()["errors"]
    assert api.get(url).get_json() == {**plan}
    assert api.patch(url, json={"start_date": iso_day(20), "weeks": 2}).status_code == 200


def test_patch_cannot_leave_goal_target_dates_outside_the_plan(api, clinic):
    _, plan = clinic.chart(start_days_ago=30, goals=[
        {"measure": "pain", "target": 2, "target_date": iso_day(5)}])
    url = f"/api/v1/plans/{plan['id']}"
    shorter = api.patch(url, json={"weeks": 3})
    assert shorter.status_code == 422 and "weeks" in shorter.get_json()["errors"]
    later = api.patch(url, json={"start_date": iso_day(4)})
    assert later.status_code == 422 and "start_date" in later.get_json()["errors"]
    both = api.patch(url, json={"weeks": 3, "goals": [{"measure": "pain", "target": 2,
                                                       "target_date": iso_day(15)}]})
    assert both.status_code == 200, both.get_json()


def test_discharge(api, clinic):
    _, plan = clinic.chart(start_days_ago=30)
    clinic.signed_visit(plan["id"], days_ago=10)
    url = f"/api/v1/plans/{plan['id']}/discharge"
    response = api.post(url, json={"reason": "goals_met", "note": "Independent.",
                                   "discharge_date": iso_day(2)})
    assert response.status_code == 200, response.get_json()
    discharged = response.get_json()
    assert discharged["status"] == "discharged" and discharged["discharge_date"] == iso_day(2)
    assert discharged["discharge_reason"] == "goals_met"
    assert discharged["discharge_note"] == "Independent."
    again = api.post(url, json={"reason": "goals_met"})
    assert again.status_code == 409
    changed = api.patch(f"/api/v1/plans/{plan['id']}", json={"weeks": 6})
    assert changed.status_code == 409
    refused = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "subjective": "Fine."})
    assert refused.status_code == 409


def test_discharge_date_defaults_to_today(api, clinic):
    _, plan = clinic.chart()
    response = api.post(f"/api/v1/plans/{plan['id']}/discharge", json={"reason": "plateau"})
    assert response.status_code == 200 and response.get_json()["discharge_date"] == iso_day(0)


@pytest.mark.parametrize("day, reason", [
    (-1, "goals_met"),   # in the future
    (31, "goals_met"),   # before the plan started
    (15, "goals_met"),   # before the last visit
])
def test_discharge_date_rules(api, clinic, day, reason):
    _, plan = clinic.chart(start_days_ago=30)
    clinic.visit(plan["id"], days_ago=10)
    response = api.post(f"/api/v1/plans/{plan['id']}/discharge",
                        json={"reason": reason, "discharge_date": iso_day(day)})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["discharge_date"]
    assert api.get(f"/api/v1/plans/{plan['id']}").get_json()["status"] == "active"


@pytest.mark.parametrize("body, field", [
    ({}, "reason"), ({"reason": "bored"}, "reason"),
    ({"reason": "plateau", "discharge_date": "soon"}, "discharge_date"),
    ({"reason": "plateau", "status": "discharged"}, "status"),
])
def test_discharge_body_validation(api, clinic, body, field):
    _, plan = clinic.chart()
    response = api.post(f"/api/v1/plans/{plan['id']}/discharge", json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"]


@pytest.mark.parametrize("status", ["on_hold", "cancelled"])
def test_visits_are_refused_unless_the_plan_is_active(api, clinic, status):
    _, plan = clinic.chart()
    assert api.patch(f"/api/v1/plans/{plan['id']}", json={"status": status}).status_code == 200
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "subjective": "Fine."})
    assert response.status_code == 409


def test_cancelled_plan_cannot_be_changed_or_discharged(api, clinic):
    _, plan = clinic.chart()
    api.patch(f"/api/v1/plans/{plan['id']}", json={"status": "cancelled"})
    assert api.patch(f"/api/v1/plans/{plan['id']}", json={"status": "active"}).status_code == 409
    assert api.post(f"/api/v1/plans/{plan['id']}/discharge",
                    json={"reason": "other"}).status_code == 409


def test_changing_the_diagnosis_code_changes_its_text(api, clinic):
    _, plan = clinic.chart()
    url = f"/api/v1/plans/{plan['id']}"
    listed = api.patch(url, json={"diagnosis_code": "M54.42"})
    assert listed.status_code == 200, listed.get_json()
    assert listed.get_json()["diagnosis"] == "Lumbago with sciatica, left side"
    free = api.patch(url, json={"diagnosis_code": "M54.16"})
    assert free.status_code == 422 and "diagnosis" in free.get_json()["errors"]
    described = api.patch(url, json={"diagnosis_code": "M54.16", "diagnosis": "Radiculopathy"})
    assert described.get_json()["diagnosis"] == "Radiculopathy"
    text_only = api.patch(url, json={"diagnosis": "Radiculopathy, L5"})
    assert text_only.get_json()["diagnosis_code"] == "M54.16"
