"""Patients: create, list, search, read, change; the care team."""

import pytest

from conftest import make_account


def test_create_patient_puts_the_practitioner_on_the_care_team(api, practitioner):
    response = api.post("/api/v1/patients", json={
        "given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01",
        "sex": "female", "mrn": "RSC-1", "phone": "555-0100", "email": "ana@example.org"})
    assert response.status_code == 201, response.get_json()
    patient = response.get_json()
    assert isinstance(patient["id"], int)
    assert patient["birth_date"] == "1980-05-01" and patient["mrn"] == "RSC-1"
    assert [member["id"] for member in patient["care_team"]] == [practitioner.id]
    assert api.get(f"/api/v1/patients/{patient['id']}").get_json() == patient


def test_sex_defaults_to_unknown(clinic):
    assert clinic.patient()["sex"] == "unknown"


@pytest.mark.parametrize("body, field", [
    ({"family_name": "Silva", "birth_date": "1980-05-01"}, "given_name"),
    ({"given_name": "", "family_name": "Silva", "birth_date": "1980-05-01"}, "given_name"),
    ({"given_name": "Ana", "family_name": "Silva"}, "birth_date"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-13-01"}, "birth_date"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "2999-01-01"}, "birth_date"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1850-01-01"}, "birth_date"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01", "sex": "f"},
     "sex"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01", "mrn": ""},
     "mrn"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01",
      "email": "nope"}, "email"),
    ({"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01", "id": 7}, "id"),
    ({"given_name": 5, "family_name": "Silva", "birth_date": "1980-05-01"}, "given_name"),
])
def test_create_patient_validation(api, body, field):
    response = api.post("/api/v1/patients", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_mrn_is_unique(api, clinic):
    first = clinic.patient(mrn="RSC-7")
    again = api.post("/api/v1/patients", json={
        "given_name": "Bo", "family_name": "Berg", "birth_date": "1970-01-01", "mrn": "RSC-7"})
    assert again.status_code == 422
    assert again.get_json()["errors"]["mrn"] == ["Another patient already has this MRN."]
    other = clinic.patient(mrn="RSC-8")
    clash = api.patch(f"/api/v1/patients/{other['id']}", json={"mrn": "RSC-7"})
    assert clash.status_code == 422 and "mrn" in clash.get_json()["errors"]
    # keeping one's own MRN is no clash
    same = api.patch(f"/api/v1/patients/{first['id']}", json={"mrn": "RSC-7"})
    assert same.status_code == 200


def test_list_shows_only_the_care_teams_patients_sorted_by_name(as_account, clinic, api,
                                                                other_practitioner):
    clinic.patient(given_name="Zoe", family_name="Young")
    clinic.patient(given_name="Ana", family_name="Abbot")
    clinic.patient(by=as_account(other_practitioner), family_name="Hidden")
    listing = api.get("/api/v1/patients")
    assert listing.status_code == 200
    assert [p["family_name"] for p in listing.get_json()] == ["Abbot", "Young"]


@pytest.mark.parametrize("q, expected", [
    ("abb", ["Abbot"]), ("ZOE", ["Young"]), ("rsc-9", ["Young"]), ("nobody", []),
    ("%", []), ("_", []),
])
def test_search_by_name_or_mrn(api, clinic, q, expected):
    clinic.patient(given_name="Zoe", family_name="Young", mrn="RSC-9")
    clinic.patient(given_name="Ana", family_name="Abbot")
    listing = api.get("/api/v1/patients", query_string={"q": q})
    assert listing.status_code == 200
    assert [p["family_name"] for p in listing.get_json()] == expected


def test_list_query_is_validated(api):
    assert api.get("/api/v1/patients", query_string={"q": "x" * 81}).status_code == 422
    unknown = api.get("/api/v1/patients", query_string={"sort": "name"})
    assert unknown.status_code == 422 and "sort" in unknown.get_json()["errors"]


def test_get_unknown_patient_is_404(api):
    response = api.get("/api/v1/patients/999999")
    assert response.status_code == 404
    assert response.get_json() == {"errors": {"_request": ["Patient not found."]}}


def test_patch_changes_only_the_given_fields(api, clinic):
    patient = clinic.patient(phone="555-0100")
    response = api.patch(f"/api/v1/patients/{patient['id']}", json={"family_name": "Souza"})
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["family_name"] == "Souza"
    assert changed["given_name"] == "Ana" and changed["phone"] == "555-0100"
    assert api.get(f"/api/v1/patients/{patient['id']}").get_json()["family_name"] == "Souza"


@pytest.mark.parametrize("body, field", [
    ({"given_name": None}, "given_name"), ({"birth_date": "tomorrow"}, "birth_date"),
    ({"sex": None}, "sex"), ({"care_team": []}, "care_team"), ({"id": 3}, "id"),
])
def test_patch_validation(api, clinic, body, field):
    patient = clinic.patient()
    response = api.patch(f"/api/v1/patients/{patient['id']}", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert api.get(f"/api/v1/patients/{patient['id']}").get_json() == patient


def test_mrn_can_be_cleared(api, clinic):
    patient = clinic.patient(mrn="RSC-5")
    response = api.patch(f"/api/v1/patients/{patient['id']}", json={"mrn": None})
    assert response.status_code == 200 and response.get_json()["mrn"] is None


def test_practitioner_on_the_team_adds_a_colleague(api, clinic, as_account, other_practitioner):
    patient = clinic.patient()
    colleague = as_account(other_practitioner)
    assert colleague.get(f"/api/v1/patients/{patient['id']}").status_code == 404
    response = api.post(f"/api/v1/patients/{patient['id']}/care-team",
                        json={"user_id": other_practitioner.id})
    assert response.status_code == 200, response.get_json()
    assert {m["id"] for m in response.get_json()["care_team"]} == {
        patient["care_team"][0]["id"], other_practitioner.id}
    assert colleague.get(f"/api/v1/patients/{patient['id']}").status_code == 200
    # adding someone twice changes nothing
    again = api.post(f"/api/v1/patients/{patient['id']}/care-team",
                     json={"user_id": other_practitioner.id})
    assert len(again.get_json()["care_team"]) == 2


def test_director_manages_the_care_team(app, clinic, as_account, director, other_practitioner,
                                        practitioner):
    patient = clinic.patient()
    boss = as_account(director)
    added = boss.post(f"/api/v1/patients/{patient['id']}/care-team",
                      json={"user_id": other_practitioner.id})
    assert added.status_code == 200, added.get_json()
    removed = boss.delete(f"/api/v1/patients/{patient['id']}/care-team/{practitioner.id}")
    assert removed.status_code == 200, removed.get_json()
    assert [m["id"] for m in removed.get_json()["care_team"]] == [other_practitioner.id]
    # the removed practitioner no longer sees the patient
    assert clinic.api.get(f"/api/v1/patients/{patient['id']}").status_code == 404
    gone = boss.delete(f"/api/v1/patients/{patient['id']}/care-team/{practitioner.id}")
    assert gone.status_code == 404


def test_only_a_director_removes_care_team_members(api, clinic, other_practitioner):
    patient = clinic.patient()
    api.post(f"/api/v1/patients/{patient['id']}/care-team",
             json={"user_id": other_practitioner.id})
    response = api.delete(f"/api/v1/patients/{patient['id']}/care-team/{other_practitioner.id}")
    assert response.status_code == 403


def test_care_team_member_must_be_an_active_clinician(app, api, clinic, director):
    patient = clinic.patient()
    patient_user = make_account(app, "ana@example.org", "patient", patient_id=patient["id"])
    practising_director = make_account(app, "doc@example.org", "director", practices=True)
    for user_id in (patient_user.id, director.id, 999999, 2**40):
        response = api.post(f"/api/v1/patients/{patient['id']}/care-team",
                            json={"user_id": user_id})
        assert response.status_code == 422, user_id
        assert "user_id" in response.get_json()["errors"]
    response = api.post(f"/api/v1/patients/{patient['id']}/care-team",
                        json={"user_id": practising_director.id})
    assert response.status_code == 200


@pytest.mark.parametrize("body", [{}, {"user_id": "3"}, {"user_id": True}, {"user_id": 1.5},
                                  {"user_id": 3, "role": "x"}])
def test_care_team_body_is_validated(api, clinic, body):
    patient = clinic.patient()
    response = api.post(f"/api/v1/patients/{patient['id']}/care-team", json=body)
    assert response.status_code == 422
