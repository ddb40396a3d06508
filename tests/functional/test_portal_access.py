"""What a patient user may reach: their own record only (another patient's page, chart, note,
plan, diary or API object by changing an id is a 404 with a ``denied`` audit row), signed notes
only, no assessment unless the clinic shares it, and no practitioner or director page (403/404),
checked for every route the application has."""

from __future__ import annotations

import pytest

from conftest import Api
from portal_support import draft_note, make_patient, portal_account, signed_in
from web_support import pending_dir  # noqa: F401

#: Routes a patient user may use (each still scoped to their own record); every other HTML
#: route of the application must refuse them.
PATIENT_ROUTES = {
    "static", "web.home", "auth.login", "auth.logout", "auth.ping", "auth.password",
    "portal.home", "portal.plan", "portal.visits", "portal.visit", "portal.diary",
    "portal.diary_edit", "portal.diary_withdraw",  # their own entries, tested on their own
    "portal.accept",  # a signed-in browser is told to sign out first (409)
    "progress.measure_chart", "progress.overview_chart",  # their own plan's charts
    "reports.download",  # their own signed progress reports
}


@pytest.fixture
def two(app, practitioner):
    """Ana (with a portal account) and Ben, both patients of the practitioner."""
    ana = make_patient(app, practitioner, given="Ana", family="Silva")
    ben = make_patient(app, practitioner, given="Ben", family="Okafor", pains=(7, 7, 6))
    portal_account(app, ana, "ana@portal.example")
    portal_account(app, ben, "ben@portal.example")
    return ana, ben


@pytest.fixture
def ana_web(app, two, pending_dir):  # noqa: F811
    return signed_in(app, "ana@portal.example")


def denied_rows(audit_log):
    return [(r["kind"], r["patient_id"], r["outcome"]) for r in audit_log.new()
            if r["outcome"] == "denied"]


def test_another_patients_pages_and_charts_are_not_found(ana_web, two, audit_log):
    ana, ben = two
    for url, kind in (
        (f"/portal/plans/{ben.plan_id}", "plan"),
        (f"/portal/visits/{ben.note_ids[0]}", "visit"),
        (f"/plans/{ben.plan_id}/charts/pain.svg", "plan"),
        (f"/plans/{ben.plan_id}/charts/pain.png", "plan"),
        (f"/plans/{ben.plan_id}/charts/overview.svg", "plan"),
    ):
        audit_log.mark()
        response = ana_web.get(url)
        assert response.status_code == 404, url
        assert "Ben" not in response.get_data(as_text=True)
        assert denied_rows(audit_log) == [(kind, ben.patient_id, "denied")], url
    # the same addresses with Ana's own ids work
    assert ana_web.get(f"/portal/plans/{ana.plan_id}").status_code == 200
    assert ana_web.get(f"/portal/visits/{ana.note_ids[0]}").status_code == 200
    assert ana_web.get(f"/plans/{ana.plan_id}/charts/pain.svg").status_code == 200


def test_another_patients_api_objects_are_not_found(client, two, audit_log):
    ana, ben = two
    api = Api(client, ana.account)
    for method, url, kind in (
        ("get", f"/api/v1/patients/{ben.patient_id}", "patient"),
        ("get", f"/api/v1/plans/{ben.plan_id}", "plan"),
        ("get", f"/api/v1/plans/{ben.plan_id}/visits", "plan"),
        ("get", f"/api/v1/visits/{ben.note_ids[0]}", "visit"),
        ("get", f"/api/v1/plans/{ben.plan_id}/progress", "plan"),
        ("get", f"/api/v1/plans/{ben.plan_id}/charts/pain.svg", "plan"),
        ("get", f"/api/v1/patients/{ben.patient_id}/diary", "patient"),
        ("post", f"/api/v1/patients/{ben.patient_id}/diary", "patient"),
    ):
        audit_log.mark()
        response = getattr(api, method)(url, **({"json": {}} if method == "post" else {}))
        assert response.status_code == 404, (url, response.get_json())
        assert denied_rows(audit_log) == [(kind, ben.patient_id, "denied")], url
    listed = api.get("/api/v1/patients").get_json()
    assert [p["id"] for p in listed] == [ana.patient_id]


def test_another_patients_diary_page_cannot_be_reached(app, ana_web, two):
    ana, ben = two
    # the diary page takes no id: it is always the signed-in patient's own
    from portal_support import diary_entry

    diary_entry(app, ben.account, ben, pain=9, note="Ben's private note")
    assert "Ben's private note" not in ana_web.get("/portal/diary").get_data(as_text=True)
    assert "Ben's private note" not in ana_web.get("/").get_data(as_text=True)


def test_drafts_are_invisible_to_the_patient_everywhere(app, practitioner, client, ana_web,
                                                        two, audit_log):
    ana, _ = two
    draft = draft_note(app, practitioner, ana)
    api = Api(client, ana.account)
    assert api.get(f"/api/v1/visits/{draft}").status_code == 404
    assert draft not in [v["id"] for v in api.get(f"/api/v1/plans/{ana.plan_id}/visits")
                         .get_json()]
    assert ana_web.get(f"/portal/visits/{draft}").status_code == 404
    progress = api.get(f"/api/v1/plans/{ana.plan_id}/progress").get_json()
    pain = next(m for m in progress["measures"] if m["measure"] == "pain")
    assert pain["latest"] == 4  # the draft's 9 is not counted


def test_api_hides_the_assessment_from_patients_unless_enabled(app, client, practitioner, two,
                                                              monkeypatch):
    ana, _ = two
    api = Api(client, ana.account)
    note = api.get(f"/api/v1/visits/{ana.note_ids[0]}").get_json()
    assert "assessment" in note and note["assessment"] is None  # the field stays, as null
    assert note["home_programme"] and note["subjective"]  # the rest is unchanged
    listed = api.get(f"/api/v1/plans/{ana.plan_id}/visits").get_json()
    assert len(listed) == 5 and all(v["assessment"] is None for v in listed)
    # the practitioner still reads it
    staff = Api(client, practitioner).get(f"/api/v1/visits/{ana.note_ids[0]}").get_json()
    assert staff["assessment"] == "Irritable L5 radiculopathy; centralising."
    monkeypatch.setitem(app.config, "PORTAL_SHOWS_ASSESSMENT", True)
    shared = api.get(f"/api/v1/visits/{ana.note_ids[0]}").get_json()
    assert shared["assessment"] == "Irritable L5 radiculopathy; centralising."
    assert api.get(f"/api/v1/plans/{ana.plan_id}/visits").get_json()[0]["assessment"] == (
        "Irritable L5 radiculopathy; centralising.")


def test_openapi_documents_assessment_as_nullable(client):
    spec = client.get("/api/openapi.json").get_json()
    visit = spec["components"]["schemas"]["Visit"]["properties"]["assessment"]
    assert visit.get("nullable") is True


def _url_for_rule(rule, two) -> str:
    ana, _ = two
    values = {"patient_id": ana.patient_id, "plan_id": ana.plan_id,
              "visit_id": ana.note_ids[0], "report_id": 1, "user_id": 1, "token": "x" * 43,
              "measure": "pain", "fmt": "svg", "name": "change", "filename": "app.css"}
    url = rule.rule
    import re

    for converter, name in re.findall(r"<(?:([^<>:]+):)?(\w+)>", rule.rule):
        token = f"<{converter + ':' if converter else ''}{name}>"
        url = url.replace(token, str(values.get(name, 1)))
    return url


def test_no_practitioner_or_director_page_for_a_patient(app, ana_web, two):
    """Every HTML route not meant for patients refuses one, even for their own record.

    Public routes (answered without signing in, such as a health check) are no one's pages.
    """
    checked = []
    anonymous = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint in PATIENT_ROUTES:
            continue
        url = _url_for_rule(rule, two)
        if "GET" in rule.methods and anonymous.get(url).status_code == 200:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = ana_web.open(url, method=method, data={})
            assert response.status_code in (403, 404), (method, url, response.status_code)
            checked.append((method, rule.endpoint))
    endpoints = {endpoint for _, endpoint in checked}
    assert {"patients.index", "patients.detail", "plans.detail", "visits.detail",
            "visits.create", "web.caseload_page", "portal.invite"} <= endpoints
    # the director's pages, whatever they are called
    assert any(e.startswith(("outcomes.", "audit.")) for e in endpoints)


def test_no_staff_api_writes_for_a_patient(client, two):
    ana, _ = two
    api = Api(client, ana.account)
    for url, body in (
        ("/api/v1/patients", {"given_name": "X", "family_name": "Y", "birth_date": "1990-01-01"}),
        (f"/api/v1/patients/{ana.patient_id}/plans", {
            "start_date": ana.start.isoformat(), "weeks": 6, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "diagnosis": "Sciatica",
            "goals": [{"measure": "pain", "target": 2}]}),
        (f"/api/v1/plans/{ana.plan_id}/visits", {"visit_date": ana.start.isoformat()}),
        (f"/api/v1/visits/{ana.note_ids[0]}/addenda", {"text": "mine"}),
        (f"/api/v1/patients/{ana.patient_id}/portal-invitations", {}),
    ):
        assert api.post(url, json=body).status_code == 403, url
