"""Visit notes: record, list, read, change with a version, sign, addenda, questionnaires."""

import pytest

from conftest import iso_day


@pytest.fixture
def plan(clinic):
    """An active plan that started 30 days ago, on the practitioner's patient."""
    return clinic.chart(start_days_ago=30)[1]


def test_record_a_draft_note(api, plan, practitioner):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(3), "subjective": "Better.", "objective": "SLR 50°.",
        "assessment": "Improving.", "plan": "Continue.", "home_programme": "Sliders 2×10.",
        "interventions": ["art", "dry_needling"],
        "measurements": [{"measure": "slr", "side": "right", "phase": "post", "value": 55},
                         {"measure": "slr", "side": "right", "value": 48.5},
                         {"measure": "pain", "value": 0}],
        "special_tests": [{"test": "slr_test", "side": "right", "result": "positive",
                           "angle": 45},
                          {"test": "slump", "side": "right", "result": "negative",
                           "phase": "post"}]})
    assert response.status_code == 201, response.get_json()
    note = response.get_json()
    assert note["status"] == "draft" and note["version"] == 1
    assert note["plan_id"] == plan["id"] and note["patient_id"] == plan["patient_id"]
    assert note["author"]["id"] == practitioner.id
    assert note["signed_by"] is None and note["signed_at"] is None and note["addenda"] == []
    assert note["plan"] == "Continue." and note["home_programme"] == "Sliders 2×10."
    assert note["interventions"] == ["art", "dry_needling"]
    assert {(m["measure"], m["side"], m["phase"], m["value"]) for m in note["measurements"]} == {
        ("slr", "right", "pre", 48.5), ("slr", "right", "post", 55), ("pain", None, "pre", 0)}
    assert note["special_tests"] == [
        {"test": "slr_test", "side": "right", "result": "positive", "angle": 45, "phase": "pre"},
        {"test": "slump", "side": "right", "result": "negative", "angle": None,
         "phase": "post"}]
    assert api.get(f"/api/v1/visits/{note['id']}").get_json() == note


def test_list_a_plans_notes_by_date(api, clinic, plan):
    later = clinic.visit(plan["id"], days_ago=2)
    earlier = clinic.signed_visit(plan["id"], days_ago=9)
    listing = api.get(f"/api/v1/plans/{plan['id']}/visits")
    assert listing.status_code == 200
    assert [n["id"] for n in listing.get_json()] == [earlier["id"], later["id"]]
    assert listing.get_json()[0] == api.get(f"/api/v1/visits/{earlier['id']}").get_json()
    assert api.get("/api/v1/plans/999999/visits").status_code == 404


def test_get_unknown_visit_is_404(api):
    response = api.get("/api/v1/visits/999999")
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"_request": ["Visit not found."]}}


def test_patch_a_draft_with_its_version(api, clinic, plan):
    note = clinic.visit(plan["id"])
    response = api.patch(f"/api/v1/visits/{note['id']}", json={
        "version": 1, "assessment": "Nerve less irritable.",
        "measurements": [{"measure": "pain", "value": 4}]})
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["version"] == 2 and changed["assessment"] == "Nerve less irritable."
    assert changed["subjective"] == note["subjective"]
    assert [(m["measure"], m["value"]) for m in changed["measurements"]] == [("pain", 4)]


def test_patch_needs_the_version(api, clinic, plan):
    note = clinic.visit(plan["id"])
    response = api.patch(f"/api/v1/visits/{note['id']}", json={"assessment": "x"})
    assert response.status_code == 422 and "version" in response.get_json()["errors"]


def test_stale_patch_is_409_and_leaves_the_note_untouched(api, clinic, plan):
    note = clinic.visit(plan["id"])
    url = f"/api/v1/visits/{note['id']}"
    first = api.patch(url, json={"version": 1, "objective": "SLR right 44°."}).get_json()
    stale = api.patch(url, json={"version": 1, "objective": "Overwritten?",
                                 "measurements": [{"measure": "pain", "value": 1}],
                                 "questionnaires": [{"instrument": "odi", "items": [1] * 10}]})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["version"] == 2 and body["current"] == first
    assert "_request" in body["errors"]
    assert api.get(url).get_json() == first


def test_patch_checks_the_visit_date_against_the_plan(api, clinic, plan):
    note = clinic.visit(plan["id"])
    response = api.patch(f"/api/v1/visits/{note['id']}",
                         json={"version": 1, "visit_date": iso_day(31)})
    assert response.status_code == 422 and "visit_date" in response.get_json()["errors"]


def test_sign_a_complete_note(api, clinic, plan, practitioner):
    note = clinic.visit(plan["id"])
    response = api.post(f"/api/v1/visits/{note['id']}/sign", json={"version": 1})
    assert response.status_code == 200, response.get_json()
    signed = response.get_json()
    assert signed["status"] == "signed" and signed["signed_by"]["id"] == practitioner.id
    assert signed["signed_at"] is not None and signed["version"] == 2
    again = api.post(f"/api/v1/visits/{note['id']}/sign", json={})
    assert again.status_code == 409


def test_sign_with_a_stale_version_is_409(api, clinic, plan):
    note = clinic.visit(plan["id"])
    api.patch(f"/api/v1/visits/{note['id']}", json={"version": 1, "plan": "Progress loading."})
    response = api.post(f"/api/v1/visits/{note['id']}/sign", json={"version": 1})
    assert response.status_code == 409 and response.get_json()["version"] == 2
    assert api.get(f"/api/v1/visits/{note['id']}").get_json()["status"] == "draft"


def test_signing_an_incomplete_note_names_what_is_missing(api, plan):
    created = api.post(f"/api/v1/plans/{plan['id']}/visits",
                       json={"visit_date": iso_day(1), "subjective": "Sore."})
    assert created.status_code == 201, created.get_json()
    note = created.get_json()
    response = api.post(f"/api/v1/visits/{note['id']}/sign", json={})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"objective", "assessment", "plan"}
    # a measure counts as objective findings
    api.patch(f"/api/v1/visits/{note['id']}", json={
        "version": 1, "subjective": "   ", "measurements": [{"measure": "pain", "value": 5}]})
    response = api.post(f"/api/v1/visits/{note['id']}/sign", json={})
    assert set(response.get_json()["errors"]) == {"subjective", "assessment", "plan"}
    assert api.get(f"/api/v1/visits/{note['id']}").get_json()["status"] == "draft"


def test_only_the_author_signs(api, clinic, plan, as_account, other_practitioner):
    note = clinic.visit(plan["id"])
    api.post(f"/api/v1/patients/{plan['patient_id']}/care-team",
             json={"user_id": other_practitioner.id})
    response = as_account(other_practitioner).post(f"/api/v1/visits/{note['id']}/sign", json={})
    assert response.status_code == 403
    assert api.get(f"/api/v1/visits/{note['id']}").get_json()["status"] == "draft"


def test_signed_note_is_immutable(api, clinic, plan):
    note = clinic.signed_visit(plan["id"])
    url = f"/api/v1/visits/{note['id']}"
    for body in ({"version": note["version"], "objective": "changed"},
                 {"version": note["version"]},
                 {"version": note["version"], "measurements": []}):
        response = api.patch(url, json=body)
        assert response.status_code == 409, body
    assert api.get(url).get_json() == note


def test_addenda_only_on_signed_notes(api, clinic, plan, practitioner):
    draft = clinic.visit(plan["id"], days_ago=6)
    refused = api.post(f"/api/v1/visits/{draft['id']}/addenda", json={"text": "Late entry."})
    assert refused.status_code == 409
    note = clinic.signed_visit(plan["id"], days_ago=3)
    url = f"/api/v1/visits/{note['id']}/addenda"
    first = api.post(url, json={"text": "Late entry: called to report relief."})
    assert first.status_code == 201, first.get_json()
    second = api.post(url, json={"text": "Correction: SLR was on the right."}).get_json()
    assert [a["text"] for a in second["addenda"]] == [
        "Late entry: called to report relief.", "Correction: SLR was on the right."]
    assert second["addenda"][0]["author"]["id"] == practitioner.id
    assert second["addenda"][0]["created_at"]
    # the note itself is as signed
    unchanged = {k: v for k, v in second.items() if k != "addenda"}
    assert unchanged == {k: v for k, v in note.items() if k != "addenda"}


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 5001},
                                  {"text": 5}, {"text": "ok", "author_id": 1}])
def test_addendum_validation(api, clinic, plan, body):
    note = clinic.signed_visit(plan["id"])
    response = api.post(f"/api/v1/visits/{note['id']}/addenda", json=body)
    assert response.status_code == 422
    assert api.get(f"/api/v1/visits/{note['id']}").get_json()["addenda"] == []


def _scores(note):
    return {m["measure"]: m["value"] for m in note["measurements"] if m["phase"] == "pre"}


@pytest.mark.parametrize("items, score", [
    ([0] * 10, 0), ([5] * 10, 100), ([3, 2, 3, 2, 4, 2, 3, 1, 2, 3], 50),
    ([3, 2, 3, 2, 4, 2, 3, None, 2, 3], 53.3),   # one missing: sum / 45 × 100
    ([None, 5, 5, 5, 5, 5, 5, 5, 5, 5], 100),
])
def test_odi_is_computed_from_its_items(clinic, plan, items, score):
    note = clinic.visit(plan["id"], questionnaires=[{"instrument": "odi", "items": items}])
    assert note["questionnaires"] == [{"instrument": "odi", "items": items, "activities": None,
                                       "score": score}]
    assert _scores(note)["odi"] == score


@pytest.mark.parametrize("items", [
    [3, 2, 3, 2, 4, 2, 3, None, None, 3], [None] * 10, [1] * 9, [1] * 11, [1] * 9 + [6],
    [1] * 9 + [-1], [1] * 9 + ["1"], [1] * 9 + [True], [1] * 9 + [1.5], None,
])
def test_odi_items_are_validated(api, plan, items):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "questionnaires": [{"instrument": "odi", "items": items}]})
    assert response.status_code == 422
    assert "items" in response.get_json()["errors"]["questionnaires"]["0"]


def test_lefs_is_the_sum_of_its_items(clinic, plan):
    items = [4] * 10 + [2] * 10
    note = clinic.visit(plan["id"], questionnaires=[{"instrument": "lefs", "items": items}])
    assert note["questionnaires"][0]["score"] == 60 and _scores(note)["lefs"] == 60


@pytest.mark.parametrize("items", [[4] * 19, [4] * 19 + [5], [4] * 19 + [None]])
def test_lefs_items_are_validated(api, plan, items):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "questionnaires": [{"instrument": "lefs", "items": items}]})
    assert response.status_code == 422
    assert "items" in response.get_json()["errors"]["questionnaires"]["0"]


def test_psfs_is_the_mean_of_its_activities(clinic, plan):
    activities = [{"activity": "Sitting 1 h", "score": 4},
                  {"activity": "Driving", "score": 7},
                  {"activity": "Lifting a child", "score": 2.5}]
    note = clinic.visit(plan["id"], questionnaires=[{"instrument": "psfs",
                                                      "activities": activities}])
    assert note["questionnaires"] == [{"instrument": "psfs", "items": None,
                                       "activities": activities, "score": 4.5}]
    assert _scores(note)["psfs"] == 4.5


@pytest.mark.parametrize("questionnaire, field", [
    ({"instrument": "psfs"}, "activities"),
    ({"instrument": "psfs", "activities": []}, "activities"),
    ({"instrument": "psfs", "activities": [{"activity": "Run", "score": 11}]}, "activities"),
    ({"instrument": "psfs", "activities": [{"activity": "Run", "score": 3}] * 6}, "activities"),
    ({"instrument": "psfs", "activities": [{"activity": "Run", "score": 3}], "items": [3]},
     "items"),
    ({"instrument": "odi", "items": [1] * 10, "activities": [{"activity": "Run", "score": 3}]},
     "activities"),
    ({"instrument": "sf36", "items": [1]}, "instrument"),
    ({"instrument": "odi", "items": [1] * 10, "score": 20}, "score"),
])
def test_questionnaire_validation(api, plan, questionnaire, field):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "questionnaires": [questionnaire]})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["questionnaires"]["0"]


def test_a_scored_measure_is_not_also_typed(api, plan):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "measurements": [{"measure": "odi", "value": 40}],
        "questionnaires": [{"instrument": "odi", "items": [2] * 10}]})
    assert response.status_code == 422 and "measurements" in response.get_json()["errors"]
    twice = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "questionnaires": [{"instrument": "odi", "items": [2] * 10}] * 2})
    assert twice.status_code == 422 and "questionnaires" in twice.get_json()["errors"]


def test_same_measure_twice_is_refused(api, plan):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(1), "measurements": [{"measure": "pain", "value": 4},
                                                   {"measure": "pain", "value": 5}]})
    assert response.status_code == 422 and "measurements" in response.get_json()["errors"]


def test_changing_the_questionnaire_rescores_and_keeps_typed_values(api, clinic, plan):
    note = clinic.visit(plan["id"], questionnaires=[{"instrument": "odi", "items": [2] * 10}])
    url = f"/api/v1/visits/{note['id']}"
    changed = api.patch(url, json={"version": 1, "questionnaires": [
        {"instrument": "odi", "items": [1] * 10}]}).get_json()
    assert _scores(changed) == {"pain": 6, "odi": 20}
    removed = api.patch(url, json={"version": 2, "questionnaires": []})
    assert removed.status_code == 200, removed.get_json()
    assert removed.get_json()["questionnaires"] == []
    assert _scores(removed.get_json()) == {"pain": 6}


def test_a_typed_value_cannot_join_a_scored_one_in_a_later_change(api, clinic, plan):
    note = clinic.visit(plan["id"], questionnaires=[{"instrument": "odi", "items": [2] * 10}])
    response = api.patch(f"/api/v1/visits/{note['id']}", json={
        "version": 1, "measurements": [{"measure": "odi", "value": 70}]})
    assert response.status_code == 422, response.get_json()
    assert "measurements" in response.get_json()["errors"]
    assert _scores(api.get(f"/api/v1/visits/{note['id']}").get_json())["odi"] == 40


def test_copied_from_must_be_a_note_of_the_same_patient(api, clinic, plan):
    earlier = clinic.signed_visit(plan["id"], days_ago=10)
    copied = clinic.visit(plan["id"], days_ago=3, copied_from_id=earlier["id"])
    assert copied["copied_from_id"] == earlier["id"]
    _, other_plan = clinic.chart()
    elsewhere = clinic.signed_visit(other_plan["id"])
    for source in (elsewhere["id"], 999999, 2**31, 0):
        response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
            "visit_date": iso_day(2), "copied_from_id": source})
        assert response.status_code == 422, source
        assert "copied_from_id" in response.get_json()["errors"]
        patched = api.patch(f"/api/v1/visits/{copied['id']}",
                            json={"version": 1, "copied_from_id": source})
        assert patched.status_code == 422, source
    itself = api.patch(f"/api/v1/visits/{copied['id']}",
                       json={"version": 1, "copied_from_id": copied["id"]})
    assert itself.status_code == 422
