"""Listing costs a constant number of queries, whatever the number of rows."""

import pytest

from conftest import ClinicBuilder, make_account


def document(clinic: ClinicBuilder, plan_id: int, visits: int) -> None:
    """``visits`` signed notes, each with measurements, special tests, a questionnaire and an
    addendum (so every eager load has something to load)."""
    for index in range(visits):
        note = clinic.signed_visit(
            plan_id, days_ago=1 + index,
            measurements=[{"measure": "pain", "value": 6}, {"measure": "pain", "phase": "post",
                                                            "value": 4},
                          {"measure": "slr", "side": "right", "value": 40 + index}],
            special_tests=[{"test": "slr_test", "side": "right", "result": "positive",
                            "angle": 40}],
            questionnaires=[{"instrument": "odi", "items": [2] * 10},
                            {"instrument": "psfs",
                             "activities": [{"activity": "Sitting", "score": 5}]}])
        response = clinic.api.post(f"/api/v1/visits/{note['id']}/addenda",
                                   json={"text": f"Addendum {index}."})
        assert response.status_code == 201


def count_listing(api, count_queries, url, expected_rows):
    with count_queries() as counter:
        response = api.get(url)
    assert response.status_code == 200
    assert len(response.get_json()) == expected_rows
    return counter.count


@pytest.mark.parametrize("viewer", ["practitioner", "patient"])
def test_listing_a_plans_visits_costs_a_constant_number_of_queries(
        app, api, clinic, count_queries, as_account, viewer):
    counts = []
    for visits in (1, 12):
        patient, plan = clinic.chart(start_days_ago=20)
        document(clinic, plan["id"], visits)
        clinic.visit(plan["id"], days_ago=0)  # a draft: patients do not see it
        reader = api
        if viewer == "patient":
            reader = as_account(make_account(app, f"p{visits}@example.org", "patient",
                                             patient_id=patient["id"]))
        rows = visits + (1 if viewer == "practitioner" else 0)
        url = f"/api/v1/plans/{plan['id']}/visits"
        counts.append((count_listing(reader, count_queries, url, rows),
                       count_listing(reader, count_queries, url, rows)))
    assert counts[0] == counts[1], counts
    # First read: the plan's validator, then the notes (the same statements for 1 or 12).
    # Again with nothing changed: the validator only (token, plan, audit tail and row).
    assert counts[0][0] <= 11 and counts[0][1] <= 6, counts


def test_listing_patients_costs_a_constant_number_of_queries(api, clinic, count_queries,
                                                             other_practitioner):
    counts = []
    for patients in (1, 10):
        for index in range(patients):
            patient = clinic.patient(family_name=f"Batch{patients}x{index}")
            api.post(f"/api/v1/patients/{patient['id']}/care-team",
                     json={"user_id": other_practitioner.id})
        with count_queries() as counter:
            response = api.get("/api/v1/patients", query_string={"q": f"batch{patients}x"})
        assert len(response.get_json()) == patients
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_listing_a_patients_plans_costs_a_constant_number_of_queries(api, clinic,
                                                                     count_queries):
    counts = []
    for plans in (1, 6):
        patient = clinic.patient()
        for index in range(plans):
            clinic.plan(patient["id"], start_days_ago=10 + index,
                        goals=[{"measure": "pain", "target": 2},
                               {"measure": "slr", "side": "left", "target": 70}])
        counts.append(count_listing(api, count_queries,
                                    f"/api/v1/patients/{patient['id']}/plans", plans))
    assert counts[0] == counts[1], counts


def test_reading_a_note_needs_no_lazy_load(api, clinic, count_queries):
    _, plan = clinic.chart(start_days_ago=20)
    document(clinic, plan["id"], 1)
    note_id = api.get(f"/api/v1/plans/{plan['id']}/visits").get_json()[0]["id"]
    with count_queries() as counter:
        assert api.get(f"/api/v1/visits/{note_id}").status_code == 200
    assert counter.count <= 10, counter.statements
