"""Access rules per role: off the care team → 404; patient users read only their own signed
notes and write nothing clinical; directors read everything and document only when they
practise and are on the care team."""

from dataclasses import dataclass

import pytest

from conftest import ClinicBuilder, iso_day, make_account


@dataclass
class Chart:
    patient: dict
    plan: dict
    signed: dict
    draft: dict


def make_chart(clinic: ClinicBuilder, by=None) -> Chart:
    patient = clinic.patient(by=by, family_name="Charted")
    plan = clinic.plan(patient["id"], by=by, start_days_ago=30)
    signed = clinic.signed_visit(plan["id"], by=by, days_ago=10)
    draft = clinic.visit(plan["id"], by=by, days_ago=3)
    return Chart(patient, plan, signed, draft)


@pytest.fixture
def chart(clinic) -> Chart:
    """The practitioner's patient with a plan, a signed note and a draft."""
    return make_chart(clinic)


def writes(chart: Chart, member_id: int) -> list[tuple[str, str, dict | None]]:
    """Every clinical write on the chart, each with a body that is valid for its owner."""
    p, plan, signed, draft = (chart.patient["id"], chart.plan["id"], chart.signed["id"],
                              chart.draft["id"])
    return [
        ("patch", f"/api/v1/patients/{p}", {"phone": "555-0199"}),
        ("post", f"/api/v1/patients/{p}/care-team", {"user_id": member_id}),
        ("delete", f"/api/v1/patients/{p}/care-team/{member_id}", None),
        ("post", f"/api/v1/patients/{p}/plans", {
            "start_date": iso_day(1), "weeks": 6, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}),
        ("patch", f"/api/v1/plans/{plan}", {"weeks": 7}),
        ("post", f"/api/v1/plans/{plan}/visits", {"visit_date": iso_day(1),
                                                  "subjective": "Better."}),
        ("patch", f"/api/v1/visits/{draft}", {"version": 1, "objective": "x"}),
        ("post", f"/api/v1/visits/{draft}/sign", {}),
        ("post", f"/api/v1/visits/{signed}/addenda", {"text": "Late entry."}),
        ("post", f"/api/v1/plans/{plan}/discharge", {"reason": "goals_met"}),
    ]


def reads(chart: Chart) -> list[str]:
    p, plan = chart.patient["id"], chart.plan["id"]
    return [f"/api/v1/patients/{p}", f"/api/v1/patients/{p}/plans", f"/api/v1/plans/{plan}",
            f"/api/v1/plans/{plan}/visits", f"/api/v1/visits/{chart.signed['id']}",
            f"/api/v1/visits/{chart.draft['id']}"]


def call(api, method, url, body):
    return getattr(api, method)(url) if body is None else getattr(api, method)(url, json=body)


def test_owner_may_do_every_write(api, chart, other_practitioner):
    """The baseline: the bodies used below are valid for the care team."""
    for method, url, body in writes(chart, other_practitioner.id):
        response = call(api, method, url, body)
        if method == "delete":  # only directors remove care-team members
            assert response.status_code == 403
        else:
            assert response.status_code in (200, 201), (method, url, response.get_json())


def test_practitioner_off_the_care_team_gets_404_everywhere(api, chart, as_account,
                                                            other_practitioner, practitioner):
    outsider = as_account(other_practitioner)
    assert outsider.get("/api/v1/patients").get_json() == []
    for url in reads(chart):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert list(response.get_json()["errors"]) == ["_request"]
    for method, url, body in writes(chart, practitioner.id):
        response = call(outsider, method, url, body)
        assert response.status_code == 404, (method, url, response.get_json())
    # nothing changed
    assert api.get(f"/api/v1/plans/{chart.plan['id']}").get_json() == chart.plan
    assert api.get(f"/api/v1/visits/{chart.draft['id']}").get_json() == chart.draft


def test_a_denied_object_and_a_missing_one_look_the_same(api, chart, as_account,
                                                         other_practitioner):
    outsider = as_account(other_practitioner)
    for kind, hidden in (("patients", chart.patient["id"]), ("plans", chart.plan["id"]),
                         ("visits", chart.signed["id"])):
        denied = outsider.get(f"/api/v1/{kind}/{hidden}")
        missing = outsider.get(f"/api/v1/{kind}/999999")
        assert denied.status_code == missing.status_code == 404
        assert denied.get_json() == missing.get_json()


@pytest.fixture
def portal(app, chart, clinic, as_account):
    """A patient user of the chart's patient, and another patient's chart."""
    account = make_account(app, "ana.portal@example.org", "patient",
                           patient_id=chart.patient["id"])
    return as_account(account), make_chart(clinic)


def test_patient_user_reads_their_own_record(portal, chart):
    me, _ = portal
    assert me.get(f"/api/v1/patients/{chart.patient['id']}").status_code == 200
    assert [p["id"] for p in me.get("/api/v1/patients").get_json()] == [chart.patient["id"]]
    assert [p["id"] for p in me.get(f"/api/v1/patients/{chart.patient['id']}/plans")
            .get_json()] == [chart.plan["id"]]
    assert me.get(f"/api/v1/plans/{chart.plan['id']}").get_json() == chart.plan
    # the assessment stays with clinicians unless the clinic sets PORTAL_SHOWS_ASSESSMENT
    assert me.get(f"/api/v1/visits/{chart.signed['id']}").get_json() == {
        **chart.signed, "assessment": None}


def test_patient_user_sees_only_signed_notes(portal, chart):
    me, _ = portal
    listing = me.get(f"/api/v1/plans/{chart.plan['id']}/visits").get_json()
    assert [n["id"] for n in listing] == [chart.signed["id"]]
    assert me.get(f"/api/v1/visits/{chart.draft['id']}").status_code == 404


def test_patient_user_cannot_reach_another_patient(portal):
    me, other = portal
    for url in reads(other):
        assert me.get(url).status_code == 404, url
    for method, url, body in writes(other, other.signed["author"]["id"]):
        assert call(me, method, url, body).status_code == 404, (method, url)


def test_patient_user_writes_nothing_clinical(api, portal, chart, other_practitioner):
    me, _ = portal
    for method, url, body in writes(chart, other_practitioner.id):
        response = call(me, method, url, body)
        if url.endswith(f"/visits/{chart.draft['id']}") or "/sign" in url:
            assert response.status_code == 404, (method, url)  # drafts are invisible to them
        else:
            assert response.status_code == 403, (method, url, response.get_json())
    assert me.post("/api/v1/patients", json={
        "given_name": "Eve", "family_name": "Self", "birth_date": "1990-01-01"}).status_code == 403
    assert api.get(f"/api/v1/visits/{chart.signed['id']}").get_json() == chart.signed


@pytest.mark.parametrize("method, url, body", [
    ("post", "/api/v1/plans/{plan}/visits", {}),
    ("post", "/api/v1/plans/{plan}/visits", {"visit_date": "2999-01-01"}),
    ("patch", "/api/v1/plans/{plan}", {"weeks": 0}),
    ("patch", "/api/v1/visits/{signed}", {"version": 2, "visit_date": "2999-01-01"}),
    ("patch", "/api/v1/visits/{signed}", {}),
])
def test_patient_user_is_refused_before_their_body_is_read(portal, chart, method, url, body):
    me, _ = portal
    url = url.format(plan=chart.plan["id"], signed=chart.signed["id"])
    assert call(me, method, url, body).status_code == 403


def test_signed_note_is_409_before_the_body_is_read(api, chart):
    response = api.patch(f"/api/v1/visits/{chart.signed['id']}",
                         json={"version": 2, "visit_date": "2999-01-01"})
    assert response.status_code == 409


def test_closed_plan_is_409_before_the_body_is_read(api, chart):
    api.post(f"/api/v1/plans/{chart.plan['id']}/discharge", json={"reason": "goals_met"})
    assert api.post(f"/api/v1/plans/{chart.plan['id']}/visits", json={}).status_code == 409
    assert api.patch(f"/api/v1/plans/{chart.plan['id']}",
                     json={"weeks": 0}).status_code == 409


def test_director_reads_everything(chart, clinic, as_account, director, other_practitioner):
    boss = as_account(director)
    other = make_chart(clinic, by=as_account(other_practitioner))
    for url in reads(chart) + reads(other):
        assert boss.get(url).status_code == 200, url
    assert {p["id"] for p in boss.get("/api/v1/patients").get_json()} >= {
        chart.patient["id"], other.patient["id"]}
    drafts = boss.get(f"/api/v1/plans/{chart.plan['id']}/visits").get_json()
    assert {n["status"] for n in drafts} == {"draft", "signed"}


def test_director_writes_no_notes(chart, as_account, director, other_practitioner):
    boss = as_account(director)
    for method, url, body in writes(chart, other_practitioner.id):
        response = call(boss, method, url, body)
        if "/care-team" in url or method == "patch" and "/patients/" in url:
            assert response.status_code == 200, (method, url, response.get_json())
        else:
            assert response.status_code == 403, (method, url, response.get_json())


def test_director_registers_patients_without_joining_the_care_team(as_account, director):
    boss = as_account(director)
    response = boss.post("/api/v1/patients", json={
        "given_name": "Kim", "family_name": "Lo", "birth_date": "1975-03-03"})
    assert response.status_code == 201 and response.get_json()["care_team"] == []


def test_practising_director_documents_on_their_care_teams(app, api, chart, clinic,
                                                           as_account):
    account = make_account(app, "doc.director@example.org", "director", practices=True)
    doc = as_account(account)
    # not on the care team: may read, may not write
    refused = doc.post(f"/api/v1/plans/{chart.plan['id']}/visits",
                       json={"visit_date": iso_day(1), "subjective": "x"})
    assert refused.status_code == 403
    api.post(f"/api/v1/patients/{chart.patient['id']}/care-team", json={"user_id": account.id})
    note = clinic.signed_visit(chart.plan["id"], by=doc, days_ago=1)
    assert note["author"]["id"] == account.id and note["status"] == "signed"
    # a practising director who registers a patient joins its care team
    patient = clinic.patient(by=doc)
    assert [m["id"] for m in patient["care_team"]] == [account.id]


def test_removed_from_the_care_team_means_404_again(api, chart, as_account, director,
                                                    other_practitioner):
    colleague = as_account(other_practitioner)
    api.post(f"/api/v1/patients/{chart.patient['id']}/care-team",
             json={"user_id": other_practitioner.id})
    assert colleague.get(f"/api/v1/visits/{chart.draft['id']}").status_code == 200
    as_account(director).delete(
        f"/api/v1/patients/{chart.patient['id']}/care-team/{other_practitioner.id}")
    assert colleague.get(f"/api/v1/visits/{chart.draft['id']}").status_code == 404


def test_ids_in_bodies_are_checked_within_the_users_scope(api, chart, clinic, as_account,
                                                          other_practitioner):
    outsider = as_account(other_practitioner)
    theirs = make_chart(clinic, by=outsider)
    # a note the user cannot see is as unknown as a missing one
    hidden = api.post(f"/api/v1/plans/{chart.plan['id']}/visits", json={
        "visit_date": iso_day(1), "copied_from_id": theirs.signed["id"]})
    missing = api.post(f"/api/v1/plans/{chart.plan['id']}/visits", json={
        "visit_date": iso_day(1), "copied_from_id": 999999})
    assert hidden.status_code == missing.status_code == 422
    assert hidden.get_json() == missing.get_json()
    # an owner off the care team is refused, even though the user exists
    owner = api.patch(f"/api/v1/plans/{chart.plan['id']}",
                      json={"practitioner_id": other_practitioner.id})
    assert owner.status_code == 422 and "practitioner_id" in owner.get_json()["errors"]
