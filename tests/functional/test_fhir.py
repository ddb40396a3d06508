"""The FHIR R4 export: every resource validates with the fhir.resources models (R4B, whose
resources used here are R4's), references resolve inside the bundle, the codes are right, and
the export follows the record's access rules and is audited."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from datetime import date, timedelta

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from conftest import make_account

BASE = "https://notes-service.invalid/fhir"


def day(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def build_record(api, *, sign_last=False, mrn="RSC-9001"):
    """A patient with one plan (goals pain ≤ 2, right SLR ≥ 70) and four visits; the last is a
    draft unless ``sign_last``. The first visit has an ODI questionnaire and special tests."""
    patient = api.post("/api/v1/patients", json={
        "given_name": "José", "family_name": "Núñez", "birth_date": "1971-02-03",
        "sex": "male", "mrn": mrn, "phone": "555-0199"}).get_json()
    plan = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": day(20), "weeks": 6, "visits_per_week": 2, "diagnosis_code": "M54.41",
        "body_region": "lumbar", "side": "right", "planned_interventions": ["art", "e_stim"],
        "tracked_measures": [{"measure": "lumbar_flexion"}],
        "goals": [{"measure": "pain", "target": 2},
                  {"measure": "slr", "side": "right", "target": 70, "term": "short"}]}
    ).get_json()
    notes = []
    series = ((20, 8, 6, 35), (16, 7, None, 40), (12, 6, None, 45), (6, 4, 3, 55))
    for index, (days_ago, pain, post, slr) in enumerate(series):
        body = {"visit_date": day(days_ago), "subjective": f"Pain {pain}/10.",
                "objective": "SLR measured.", "assessment": "Improving.", "plan": "Continue.",
                "interventions": ["art"],
                "measurements": [{"measure": "pain", "value": pain},
                                 {"measure": "slr", "side": "right", "value": slr},
                                 {"measure": "lumbar_flexion", "value": 30 + index}]}
        if post is not None:
            body["measurements"].append({"measure": "pain", "phase": "post", "value": post})
        if index == 0:
            body["questionnaires"] = [{"instrument": "odi",
                                       "items": [3, 2, 3, 2, None, 3, 2, 1, 2, 3]}]
            body["special_tests"] = [
                {"test": "slr_test", "side": "right", "result": "positive", "angle": 35},
                {"test": "slr_test", "side": "right", "result": "positive", "angle": 42,
                 "phase": "post"}]
        note = api.post(f"/api/v1/plans/{plan['id']}/visits", json=body).get_json()
        if index < 3 or sign_last:
            note = api.post(f"/api/v1/visits/{note['id']}/sign", json={}).get_json()
        notes.append(note)
    return patient, plan, notes


def resources(bundle, resource_type=None):
    return [e["resource"] for e in bundle["entry"]
            if resource_type is None or e["resource"]["resourceType"] == resource_type]


def references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def validate(bundle) -> None:
    """Validate the bundle and each resource with its own model, and every reference."""
    Bundle.model_validate(bundle)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls)), "duplicate fullUrl"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    for reference in references(bundle):
        assert reference in urls, f"dangling reference {reference}"


@pytest.fixture
def record(api):
    return build_record(api)


def export(api, patient_id):
    response = api.get(f"/api/v1/patients/{patient_id}/fhir")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


def test_bundle_validates_and_references_resolve(api, record):
    patient, plan, notes = record
    bundle = export(api, patient["id"])
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    validate(bundle)
    counts = Counter(r["resourceType"] for r in resources(bundle))
    # 4 visits: 15 measurements (4 pain, 2 pain retests, 4 SLR, 4 flexion, the ODI score) and
    # 2 special tests are 17 observations; 3 of the 4 notes are signed.
    assert counts["Patient"] == 1 and counts["Practitioner"] == 1
    assert counts["Condition"] == 1 and counts["CarePlan"] == 1 and counts["Goal"] == 2
    assert counts["Encounter"] == 4
    assert counts["Observation"] == 4 + 2 + 4 + 4 + 1 + 2
    assert counts["QuestionnaireResponse"] == 1
    assert counts["DocumentReference"] == 3  # signed notes only


def test_resource_contents(api, record):
    patient, plan, notes = record
    bundle = export(api, patient["id"])
    [p] = resources(bundle, "Patient")
    assert p["name"] == [{"use": "official", "family": "Núñez", "given": ["José"]}]
    assert p["birthDate"] == "1971-02-03" and p["gender"] == "male"
    assert p["identifier"][0]["value"] == "RSC-9001"
    assert p["identifier"][0]["type"]["coding"][0]["code"] == "MR"

    [condition] = resources(bundle, "Condition")
    assert condition["code"]["coding"] == [{
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.41",
        "display": "Lumbago with sciatica, right side"}]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "active"

    [careplan] = resources(bundle, "CarePlan")
    assert careplan["status"] == "active" and careplan["intent"] == "plan"
    assert careplan["period"] == {"start": day(20), "end": plan["end_date"]}
    codes = [a["detail"]["code"]["coding"] for a in careplan["activity"]]
    assert {"system": "http://www.ama-assn.org/go/cpt", "code": "97140"} in codes[0]
    assert len(careplan["goal"]) == 2

    goals = {g["target"][0]["measure"]["coding"][-1]["code"]: g
             for g in resources(bundle, "Goal")}
    pain_goal = goals["pain"]
    assert pain_goal["lifecycleStatus"] == "active"
    # Pain 8 → 7 → 6 → 4 over 14 days: 4 points better, the minimal important change is 2.
    assert pain_goal["achievementStatus"]["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
        "code": "improving", "display": "Improving"}]
    assert pain_goal["target"][0]["detailRange"] == {"high": {
        "value": 2, "unit": "{score}", "system": "http://unitsofmeasure.org",
        "code": "{score}"}}
    assert goals["slr"]["target"][0]["detailRange"]["low"]["value"] == 70
    assert goals["slr"]["target"][0]["detailRange"]["low"]["code"] == "deg"
    # The goal points at the latest before-treatment value, a draft for a clinician.
    latest = pain_goal["outcomeReference"][0]["reference"]
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert by_url[latest]["valueQuantity"]["value"] == 4

    observations = resources(bundle, "Observation")
    pain = [o for o in observations if o["code"]["coding"][0]["code"] == "72514-3"]
    assert len(pain) == 6
    assert all(o["code"]["coding"][0]["system"] == "http://loinc.org" for o in pain)
    assert all(o["valueQuantity"]["code"] == "{score}" and
               o["valueQuantity"]["system"] == "http://unitsofmeasure.org" for o in pain)
    phases = Counter(o["extension"][0]["valueCoding"]["code"] for o in pain)
    assert phases == {"pre": 4, "post": 2}
    assert all(o["extension"][0]["url"] == f"{BASE}/StructureDefinition/treatment-phase"
               for o in pain)
    retest = next(o for o in pain if o["extension"][0]["valueCoding"]["code"] == "post")
    assert retest["code"]["text"].endswith("(after treatment)")
    assert {o["status"] for o in pain} == {"final", "preliminary"}  # the last note is a draft

    slr = [o for o in observations if o["code"]["coding"][0] == {
        "system": f"{BASE}/CodeSystem/measure", "code": "slr",
        "display": "Straight-leg raise, angle at symptom onset"}]
    assert [o["valueQuantity"]["value"] for o in slr] == [35, 40, 45, 55]
    assert slr[0]["bodySite"]["coding"][0]["code"] == "24028007"  # right
    assert slr[0]["valueQuantity"]["unit"] == "deg"

    odi = next(o for o in observations if o["code"]["coding"][0]["code"] == "odi")
    [response] = resources(bundle, "QuestionnaireResponse")
    assert odi["derivedFrom"][0]["reference"] == f"urn:uuid:{response['id']}"
    # ODI with one item unanswered: 21 / 45 × 100 = 46.7 %.
    assert odi["valueQuantity"] == {"value": 46.7, "unit": "%",
                                    "system": "http://unitsofmeasure.org", "code": "%"}
    assert response["item"][4] == {"linkId": "odi-5", "text": "Sitting"}
    assert response["item"][0]["answer"] == [{"valueInteger": 3}]

    tests = [o for o in observations
             if o["code"]["coding"][0]["system"] == f"{BASE}/CodeSystem/special-test"]
    assert [t["valueCodeableConcept"]["coding"][0]["code"] for t in tests] == \
        ["10828004", "10828004"]
    assert [t["component"][0]["valueQuantity"]["value"] for t in tests] == [35, 42]
    assert [t["extension"][0]["valueCoding"]["code"] for t in tests] == ["pre", "post"]

    documents = resources(bundle, "DocumentReference")
    assert all(d["type"]["coding"][0]["code"] == "11506-3" for d in documents)
    text = base64.b64decode(documents[0]["content"][0]["attachment"]["data"]).decode()
    assert "Pain 8/10." in text and "Straight-leg raise, angle at symptom onset, right: 35°" \
        in text
    assert "Straight-leg raise, right: positive at 35°" in text
    encounters = {e["fullUrl"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Encounter"}
    assert documents[0]["context"]["encounter"][0]["reference"] in encounters


def test_only_signed_notes_become_documents_and_addenda_are_kept(api, record):
    patient, plan, notes = record
    added = api.post(f"/api/v1/visits/{notes[0]['id']}/addenda",
                     json={"text": "Late entry: relief lasted two hours."})
    assert added.status_code == 201
    bundle = export(api, patient["id"])
    documents = resources(bundle, "DocumentReference")
    assert len(documents) == 3
    first = next(d for d in documents if d["context"]["period"]["start"] == day(20))
    assert first["docStatus"] == "amended"
    text = base64.b64decode(first["content"][0]["attachment"]["data"]).decode()
    assert "Addendum by Pat Physio" in text and "Late entry: relief lasted two hours." in text


def test_patient_gets_their_own_signed_record_only(app, api, as_account, record):
    patient, plan, notes = record
    own = as_account(make_account(app, "jose@example.org", "patient", patient_id=patient["id"]))
    bundle = export(own, patient["id"])
    validate(bundle)
    counts = Counter(r["resourceType"] for r in resources(bundle))
    assert counts["Encounter"] == 3 and counts["DocumentReference"] == 3
    assert {o["status"] for o in resources(bundle, "Observation")} == {"final"}
    other, _, _ = build_record(api, mrn="RSC-9002")
    assert own.get(f"/api/v1/patients/{other['id']}/fhir").status_code == 404


def test_patient_export_leaves_out_the_assessment_unless_the_clinic_shares_it(
        app, api, as_account, record):
    import base64

    patient, _, _ = record
    own = as_account(make_account(app, "rosa@example.org", "patient", patient_id=patient["id"]))

    def note_texts(account):
        return [base64.b64decode(d["content"][0]["attachment"]["data"]).decode()
                for d in resources(export(account, patient["id"]), "DocumentReference")
                if d["content"][0]["attachment"].get("contentType", "").startswith("text")]

    assert note_texts(api) and all("Improving." in t for t in note_texts(api))
    hidden = note_texts(own)
    assert hidden and not any("Assessment" in t or "Improving." in t for t in hidden)
    assert all("Continue." in t for t in hidden)  # the plan stays
    app.config["PORTAL_SHOWS_ASSESSMENT"] = True
    try:
        assert all("Improving." in t for t in note_texts(own))
    finally:
        app.config["PORTAL_SHOWS_ASSESSMENT"] = False


def test_off_team_and_unauthenticated(client, api, as_account, other_practitioner, record):
    patient, _, _ = record
    assert as_account(other_practitioner).get(
        f"/api/v1/patients/{patient['id']}/fhir").status_code == 404
    assert client.get(f"/api/v1/patients/{patient['id']}/fhir").status_code == 401
    assert api.get("/api/v1/patients/999999/fhir").status_code == 404


def test_export_is_audited(api, audit_log, practitioner, as_account, other_practitioner,
                           record):
    patient, _, _ = record
    audit_log.mark()
    bundle = export(api, patient["id"])
    [row] = audit_log.new()
    assert (row["action"], row["kind"], row["patient_id"], row["user_id"], row["outcome"]) == (
        "export", "fhir", patient["id"], practitioner.id, "ok")
    assert row["detail"] == f"FHIR R4 bundle, {len(bundle['entry'])} resources"
    as_account(other_practitioner).get(f"/api/v1/patients/{patient['id']}/fhir")
    [row] = audit_log.new()
    assert row["outcome"] == "denied" and row["patient_id"] == patient["id"]


def test_ids_are_stable_between_exports(api, record):
    patient, _, _ = record
    first = export(api, patient["id"])
    second = export(api, patient["id"])
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_goal_met_discharge_and_reports(api):
    patient, plan, notes = build_record(api, sign_last=True)
    later = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
        "visit_date": day(2), "subjective": "Much better.", "objective": "SLR 72.",
        "assessment": "Goals met.", "plan": "Discharge.", "home_programme": "Walk daily.",
        "measurements": [{"measure": "pain", "value": 2},
                         {"measure": "slr", "side": "right", "value": 72}]}).get_json()
    api.post(f"/api/v1/visits/{later['id']}/sign", json={})
    api.post(f"/api/v1/plans/{plan['id']}/discharge",
             json={"reason": "goals_met", "discharge_date": day(1)})
    report = api.post(f"/api/v1/plans/{plan['id']}/reports", json={
        "kind": "discharge", "assessment": "Goals met.", "plan": "Self-management."})
    assert report.status_code == 201, report.get_json()
    report = report.get_json()
    corrected = api.post(f"/api/v1/plans/{plan['id']}/reports", json={
        "kind": "discharge", "assessment": "Goals met; ODI 12%.", "plan": "Self-management.",
        "corrects_id": report["id"]}).get_json()
    bundle = export(api, patient["id"])
    validate(bundle)
    goals = resources(bundle, "Goal")
    assert {g["lifecycleStatus"] for g in goals} == {"completed"}
    assert {g["achievementStatus"]["coding"][0]["code"] for g in goals} == {"achieved"}
    [condition] = resources(bundle, "Condition")
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert condition["abatementDateTime"] == day(1)
    [careplan] = resources(bundle, "CarePlan")
    assert careplan["status"] == "completed" and careplan["period"]["end"] == day(1)

    summaries = [d for d in resources(bundle, "DocumentReference")
                 if d["type"]["coding"][0]["code"] == "18842-5"]
    assert [d["status"] for d in summaries] == ["superseded", "current"]
    attachment = summaries[0]["content"][0]["attachment"]
    pdf = base64.b64decode(attachment["data"])
    assert attachment["contentType"] == "application/pdf" and pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == report["sha256"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    assert summaries[1]["relatesTo"][0]["code"] == "replaces"
    assert summaries[1]["relatesTo"][0]["target"]["reference"] == \
        next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is summaries[0])
    assert corrected["corrects_id"] == report["id"]


def test_maintenance_plan_goals_are_sustaining(api):
    patient = api.post("/api/v1/patients", json={
        "given_name": "Mo", "family_name": "Plateau", "birth_date": "1960-01-01"}).get_json()
    plan = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": day(28), "weeks": 8, "visits_per_week": 2, "diagnosis_code": "M54.42",
        "goals": [{"measure": "pain", "target": 2}]}).get_json()
    # 5/10 over the last 14 days: a plateau.
    for days_ago, pain in ((28, 6), (21, 5), (14, 5), (7, 5), (0, 5)):
        response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={
            "visit_date": day(days_ago), "measurements": [{"measure": "pain", "value": pain}]})
        assert response.status_code == 201, response.get_json()
    [goal] = resources(export(api, patient["id"]), "Goal")
    assert goal["achievementStatus"]["coding"][0]["code"] == "no-change"
    api.post(f"/api/v1/plans/{plan['id']}/maintenance",
             json={"reason": "Function maintained with skilled care."})
    bundle = export(api, patient["id"])
    validate(bundle)
    [goal] = resources(bundle, "Goal")
    assert goal["achievementStatus"]["coding"][0]["code"] == "sustaining"


def test_export_costs_a_constant_number_of_queries(api, count_queries):
    small, plan, _ = build_record(api)
    with count_queries() as few:
        export(api, small["id"])
    big, plan, _ = build_record(api, mrn="RSC-9002")
    for days_ago in range(5, 0, -1):
        api.post(f"/api/v1/plans/{plan['id']}/visits", json={
            "visit_date": day(days_ago), "measurements": [{"measure": "pain", "value": 4}],
            "special_tests": [{"test": "slump", "side": "right", "result": "negative"}]})
    with count_queries() as many:
        export(api, big["id"])
    assert many.count == few.count
