"""The main path through the API: patient, plan, visit note, sign, addendum."""

from datetime import date, timedelta


def test_document_a_visit_end_to_end(api):
    start = date.today() - timedelta(days=10)
    patient = api.post("/api/v1/patients", json={
        "given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01"})
    assert patient.status_code == 201, patient.get_json()
    patient_id = patient.get_json()["id"]
    plan = api.post(f"/api/v1/patients/{patient_id}/plans", json={
        "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
        "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2},
                                              {"measure": "slr", "side": "right", "target": 70}]})
    assert plan.status_code == 201, plan.get_json()
    plan_json = plan.get_json()
    assert plan_json["diagnosis"] == "Lumbago with sciatica, right side"
    assert {"measure": "slr", "side": "right"} in plan_json["tracked_measures"]
    visit = api.post(f"/api/v1/plans/{plan_json['id']}/visits", json={
        "visit_date": start.isoformat(), "subjective": "Leg pain after sitting.",
        "objective": "SLR right 40°.", "assessment": "Irritable sciatic nerve.",
        "plan": "ART and nerve glides.", "interventions": ["art", "nerve_glides"],
        "measurements": [{"measure": "pain", "value": 7}, {"measure": "pain", "phase": "post",
                                                          "value": 5},
                         {"measure": "slr", "side": "right", "value": 40}],
        "questionnaires": [{"instrument": "odi", "items": [3, 2, 3, 2, 4, 2, 3, None, 2, 3]}]})
    assert visit.status_code == 201, visit.get_json()
    note = visit.get_json()
    assert note["status"] == "draft" and note["version"] == 1
    odi = [m for m in note["measurements"] if m["measure"] == "odi"]
    assert odi == [{"measure": "odi", "side": None, "phase": "pre", "value": 53.3}]
    changed = api.patch(f"/api/v1/visits/{note['id']}", json={"version": 1,
                                                              "objective": "SLR right 42°."})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["version"] == 2
    stale = api.patch(f"/api/v1/visits/{note['id']}", json={"version": 1, "objective": "x"})
    assert stale.status_code == 409
    assert stale.get_json()["current"]["objective"] == "SLR right 42°."
    signed = api.post(f"/api/v1/visits/{note['id']}/sign", json={"version": 2})
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["status"] == "signed"
    assert api.patch(f"/api/v1/visits/{note['id']}",
                     json={"version": 3, "objective": "x"}).status_code == 409
    addendum = api.post(f"/api/v1/visits/{note['id']}/addenda", json={"text": "Late entry."})
    assert addendum.status_code == 201
    assert addendum.get_json()["addenda"][0]["text"] == "Late entry."
    listing = api.get(f"/api/v1/plans/{plan_json['id']}/visits")
    assert listing.status_code == 200 and len(listing.get_json()) == 1
