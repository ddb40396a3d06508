"""Writing a visit note: the answer is the note as it is read back afterwards (the service
dumps what the session holds instead of reading the note again), a save costs the same
statements however many notes the plan has, and the input schemas, built once, check every
request against its own plan."""

from datetime import date, timedelta

import pytest
from marshmallow import ValidationError

from conftest import iso_day

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def plan(clinic):
    """An active plan that started 30 days ago, on the practitioner's patient."""
    return clinic.chart(start_days_ago=30)[1]


def read_back(api, note):
    response = api.get(f"/api/v1/visits/{note['id']}")
    assert response.status_code == 200
    return response.get_json()


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


#: Measurements in no particular order: sided and unsided, before and after treatment.
SCRAMBLED = [
    {"measure": "slr", "side": "right", "phase": "post", "value": 55},
    {"measure": "pain", "phase": "post", "value": 3},
    {"measure": "slr", "side": "left", "value": 70},
    {"measure": "lumbar_flexion", "value": 30},
    {"measure": "slr", "side": "right", "value": 48.5},
    {"measure": "pain", "value": 6},
    {"measure": "slr", "side": "left", "phase": "post", "value": 72},
    {"measure": "hip_flexion", "side": "right", "value": 90},
]


def test_every_write_answers_the_note_as_it_is_read_back(api, plan):
    note = ok(api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(3), "subjective": "Better.", "objective": "Tested.",
        "assessment": "Improving.", "plan": "Continue.", "interventions": ["art"],
        "measurements": SCRAMBLED,
        "special_tests": [{"test": "slump", "side": "right", "result": "negative"},
                          {"test": "slr_test", "side": "right", "result": "positive",
                           "angle": 45}],
        "questionnaires": [{"instrument": "psfs",
                            "activities": [{"activity": "Sitting", "score": 4}]},
                           {"instrument": "odi", "items": [2] * 10}]}), 201)
    assert [q["instrument"] for q in note["questionnaires"]] == ["odi", "psfs"]
    assert [(m["measure"], m["side"], m["phase"]) for m in note["measurements"]][:3] == [
        ("hip_flexion", "right", "pre"), ("lumbar_flexion", None, "pre"), ("odi", None, "pre")]
    assert note == read_back(api, note)
    url = f"/api/v1/visits/{note['id']}"
    # New measurements only; then new questionnaires only (typed values kept, scores
    # re-derived); then text only (the collections as loaded).
    note = ok(api.patch(url, json={"version": note["version"],
                                   "measurements": SCRAMBLED[::-1][:5]}))
    assert note == read_back(api, note)
    note = ok(api.patch(url, json={"version": note["version"], "questionnaires": [
        {"instrument": "lefs", "items": [3] * 20}, {"instrument": "odi", "items": [1] * 10}]}))
    assert [q["instrument"] for q in note["questionnaires"]] == ["lefs", "odi"]
    assert note == read_back(api, note)
    note = ok(api.patch(url, json={"version": note["version"], "objective": "Retested.",
                                   "special_tests": [{"test": "slump", "side": "left",
                                                      "result": "positive"}]}))
    assert note["version"] == 4 and note == read_back(api, note)
    signed = ok(api.post(f"{url}/sign", json={"version": note["version"]}))
    assert signed["status"] == "signed" and signed["signed_by"] == note["author"]
    assert signed["signed_at"] is not None and signed["version"] == 5
    assert signed == read_back(api, signed)
    added = ok(api.post(f"{url}/addenda", json={"text": "Called the GP."}), 201)
    assert added == read_back(api, added)


def test_a_note_without_values_or_with_scores_only_answers_as_read_back(api, plan):
    note = ok(api.post(f"/api/v1/plans/{plan['id']}/visits",
                       json={"visit_date": iso_day(1)}), 201)
    assert note["measurements"] == note["special_tests"] == note["questionnaires"] == []
    assert note == read_back(api, note)
    scored = ok(api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": iso_day(2), "questionnaires": [{"instrument": "odi", "items": [2] * 10}]}),
        201)
    assert [(m["measure"], m["value"]) for m in scored["measurements"]] == [("odi", 40)]
    assert scored == read_back(api, scored)


def _count(count_queries, call):
    with count_queries() as counter:
        response = call()
    assert response.status_code in (200, 201), response.get_json()
    return counter.count, response.get_json()


def test_a_save_costs_the_same_statements_whatever_the_plan_holds(api, clinic,
                                                                  count_queries):
    """The outcome summary is marked stale, not rebuilt from every note of the plan."""
    counts = []
    for notes in (1, 12):
        _, plan = clinic.chart(start_days_ago=30)
        for index in range(notes):
            clinic.signed_visit(plan["id"], days_ago=2 + index,
                                measurements=SCRAMBLED[:3 + index % 5])
        body = {"visit_date": iso_day(1), "subjective": "S.", "objective": "O.",
                "assessment": "A.", "plan": "P.", "measurements": SCRAMBLED}
        saved, note = _count(count_queries, lambda: api.post(
            f"/api/v1/plans/{plan['id']}/visits", json=body))
        changed, note = _count(count_queries, lambda: api.patch(
            f"/api/v1/visits/{note['id']}",
            json={"version": note["version"], "measurements": SCRAMBLED[2:]}))
        signed, _ = _count(count_queries, lambda: api.post(
            f"/api/v1/visits/{note['id']}/sign", json={"version": note["version"]}))
        counts.append((saved, changed, signed))
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 12, counts


def test_the_schemas_built_once_check_each_request_against_its_own_plan(api, clinic):
    _, long_ago = clinic.chart(start_days_ago=30)
    _, recent = clinic.chart(start_days_ago=5)
    body = {"visit_date": iso_day(10)}
    for _ in range(2):
        refused = api.post(f"/api/v1/plans/{recent['id']}/visits", json=body)
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {"visit_date": [
            f"The visit date is before the plan of care starts ({iso_day(5)})."]}
        note = ok(api.post(f"/api/v1/plans/{long_ago['id']}/visits", json=body), 201)
    moved = api.patch(f"/api/v1/visits/{note['id']}",
                      json={"version": note["version"], "visit_date": iso_day(31)})
    assert moved.get_json()["errors"] == {"visit_date": [
        f"The visit date is before the plan of care starts ({iso_day(30)})."]}


def test_a_visit_schema_without_a_plan_refuses_to_load():
    from notes_service.visits.schemas import VisitInputSchema, checked_against

    class Plan:
        start_date = date.today() - timedelta(days=3)
        end_date = date.today() + timedelta(days=30)

    schema = VisitInputSchema()
    with pytest.raises(ValidationError) as refused:
        schema.load({"visit_date": iso_day(1)})
    assert refused.value.messages == {"_schema": [
        "A visit note is checked against its plan of care."]}
    with checked_against(Plan()):
        assert schema.load({"visit_date": iso_day(1)})["visit_date"] == (
            date.today() - timedelta(days=1))
    with pytest.raises(ValidationError):  # the plan was for that block only
        schema.load({"visit_date": iso_day(1)})


def test_a_save_reads_the_plan_with_the_care_team_check_in_one_statement(api, plan,
                                                                        count_queries):
    with count_queries() as counter:
        ok(api.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": iso_day(1)}), 201)
    [check] = [s for s in counter.statements if "care_team" in s]
    assert "FROM plans_of_care" in check


#: Who asks to document under the practitioner's plan: status, message, audit row's kind.
NOT_ON_THE_TEAM = (403, "You are not on this patient's care team.", "clinical")
NOT_A_CLINICIAN = (403, "Only practitioners on the patient's care team may document care.",
                   "clinical")
HIDDEN = (404, "Plan not found.", "plan")


@pytest.mark.parametrize("who, refused", [
    ("outsider", HIDDEN),
    ("break_glass", NOT_ON_THE_TEAM),
    ("break_glass_on_another_team", NOT_ON_THE_TEAM),
    ("practising_director", NOT_ON_THE_TEAM),
    ("director", NOT_A_CLINICIAN),
    ("patient", NOT_A_CLINICIAN),
    ("care_team_member", None),
])
def test_only_a_clinician_on_the_care_team_documents_under_a_plan(
        app, api, clinic, as_account, other_practitioner, audit_log, who, refused):
    """A break-glass grant opens the record for reading only: documenting needs a place on the
    care team (of this patient: the check is on the plan's patient, not on any team)."""
    from conftest import make_account

    patient, plan = clinic.chart(start_days_ago=30)
    account = {
        "practising_director": lambda: make_account(app, "doc@example.org", "director",
                                                    practices=True),
        "director": lambda: make_account(app, "boss@example.org", "director"),
        "patient": lambda: make_account(app, "ana@example.org", "patient",
                                        patient_id=patient["id"]),
    }.get(who, lambda: other_practitioner)()
    someone = as_account(account)
    if who == "care_team_member":
        ok(api.post(f"/api/v1/patients/{patient['id']}/care-team",
                    json={"user_id": account.id}))
    if who == "break_glass_on_another_team":
        clinic.chart(by=someone)  # on the care team of a patient of their own
    if who.startswith("break_glass"):
        ok(someone.post(f"/api/v1/patients/{patient['id']}/break-glass",
                        json={"reason": "Covering for Pat: patient arrived in acute pain."}),
           201)
    seen = someone.get(f"/api/v1/plans/{plan['id']}").status_code
    assert seen == (404 if refused is HIDDEN else 200)  # a 403 is for a plan they may read
    audit_log.mark()
    response = someone.post(f"/api/v1/plans/{plan['id']}/visits",
                            json={"visit_date": iso_day(1), "subjective": "Seen."})
    if refused is None:
        assert ok(response, 201)["author"]["id"] == account.id
        return
    status, message, kind = refused
    assert response.status_code == status
    assert response.get_json() == {"errors": {"_request": [message]}}
    [row] = audit_log.new()
    assert (row["user_id"], row["action"], row["kind"], row["patient_id"], row["object_id"],
            row["outcome"]) == (account.id, "write", kind, patient["id"],
                                plan["id"] if kind == "plan" else None, "denied")
    assert [n["subjective"] for n in api.get(f"/api/v1/plans/{plan['id']}/visits")
            .get_json()] == []


def test_a_plan_that_does_not_exist_is_hidden_as_one_the_user_may_not_see(api, audit_log):
    audit_log.mark()
    response = api.post("/api/v1/plans/999999/visits", json={"visit_date": iso_day(1)})
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"_request": ["Plan not found."]}}
    assert [(r["action"], r["kind"], r["patient_id"], r["object_id"], r["outcome"])
            for r in audit_log.new()] == [("write", "plan", None, 999999, "denied")]
