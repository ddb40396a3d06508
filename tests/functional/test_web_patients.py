"""Patient pages: the list, registering a patient, the patient page, demographics, access."""

from datetime import date, timedelta

from web_support import (  # noqa: F401
    chart,
    director_web,
    make_chart,
    make_note,
    other_web,
    pending_dir,
    web,
)


def test_patient_list_searches_by_name(web, app, practitioner, chart):
    make_chart(app, practitioner, given="Bo", family="Berg")
    html = web.get("/patients/").get_data(as_text=True)
    assert "Silva, Ana" in html and "Berg, Bo" in html
    found = web.get("/patients/?q=berg").get_data(as_text=True)
    assert "Berg, Bo" in found and "Silva, Ana" not in found
    assert "No patient matches" in web.get("/patients/?q=zzz").get_data(as_text=True)


def test_register_a_patient(web, practitioner, audit_log):
    assert "<h1>New patient</h1>" in web.get("/patients/new").get_data(as_text=True)
    response = web.post("/patients/new", data={
        "given_name": "Ben", "family_name": "Okafor", "birth_date": "1971-03-04",
        "sex": "male", "mrn": "", "phone": "555-0101", "email": ""})
    assert response.status_code == 302
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ben Okafor was registered." in html
    assert "Pat Physio" in html  # the registering clinician joined the care team
    assert "No plan of care yet" in html
    assert ("patient", "create") in [(r["kind"], r["action"]) for r in audit_log.new()]


def test_invalid_patient_keeps_every_value_and_shows_errors_beside_fields(web):
    future = (date.today() + timedelta(days=3)).isoformat()
    response = web.post("/patients/new", data={
        "given_name": "Ben", "family_name": "", "birth_date": future, "sex": "male",
        "mrn": "X-1", "phone": "555-0101", "email": "not-an-email"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="Ben"' in html and 'value="X-1"' in html and 'value="555-0101"' in html
    assert 'value="not-an-email"' in html and f'value="{future}"' in html
    assert 'id="family_name-error"' in html and "Missing data for required field." in html
    assert 'id="birth_date-error"' in html
    assert "The date of birth cannot be in the future." in html
    assert 'id="email-error"' in html and "Not a valid email address." in html
    assert '<option value="male" selected>' in html


def test_duplicate_mrn_is_refused_beside_the_field(web, chart):
    response = web.post("/patients/new", data={
        "given_name": "Eve", "family_name": "Ng", "birth_date": "1990-01-01",
        "mrn": "MRN-Ana-Silva"})
    assert response.status_code == 422
    assert "Another patient already has this MRN." in response.get_data(as_text=True)


def test_patient_page_shows_plans_goals_and_visit_history(web, app, practitioner, chart,
                                                            audit_log):
    first = make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    second = make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=3),
                       measurements=[{"measure": "pain", "value": 4},
                                     {"measure": "pain", "phase": "post", "value": 2},
                                     {"measure": "slr", "side": "right", "value": 55}])
    audit_log.mark()
    response = web.get(f"/patients/{chart.patient_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Ana Silva</h1>" in html and "MRN MRN-Ana-Silva" in html
    assert "Pain now ≤ 2/10" in html and "SLR (right) ≥ 70°" in html
    assert "7/10" in html and "4/10" in html  # baseline and latest pain
    assert "55°" in html  # latest SLR
    # newest first, with status badges and links to each note
    assert html.index(f"/visits/{second}/edit") < html.index(f"/visits/{first}\"")
    assert 'badge-draft' in html and 'badge-signed' in html
    assert f'href="/plans/{chart.plan_id}/visits/new"' in html
    assert f'href="/plans/{chart.plan_id}/discharge"' in html
    assert f'href="/patients/{chart.patient_id}/plans/new"' in html
    kinds = {(r["kind"], r["action"]) for r in audit_log.new()
             if r["patient_id"] == chart.patient_id}
    assert {("patient", "read"), ("plan", "list"), ("visit", "list")} <= kinds


def test_active_plan_is_listed_before_older_ones(web, app, practitioner, chart):
    from notes_service.auth.models import User
    from notes_service.extensions import db
    from notes_service.plans.models import PlanOfCare

    with app.app_context():
        old = PlanOfCare(patient_id=chart.patient_id, practitioner=db.session.get(
            User, practitioner.id), diagnosis_code="M54.50", diagnosis_text="Old low back pain",
            start_date=chart.start - timedelta(days=120), weeks=6, visits_per_week=1,
            status="discharged", discharge_reason="goals_met",
            discharge_date=chart.start - timedelta(days=80), tracked_measures=[])
        old.goals = []
        db.session.add(old)
        db.session.commit()
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert html.index("Lumbago with sciatica") < html.index("Old low back pain")


def test_edit_demographics(web, chart):
    form = web.get(f"/patients/{chart.patient_id}/edit").get_data(as_text=True)
    assert 'value="Ana"' in form and 'value="1980-05-01"' in form
    response = web.post(f"/patients/{chart.patient_id}/edit", data={
        "given_name": "Ana", "family_name": "Silva-Reis", "birth_date": "1980-05-01",
        "sex": "female", "mrn": "MRN-Ana-Silva", "phone": "555-0199", "email": "ana@example.org"})
    assert response.status_code == 302
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "Ana Silva-Reis" in html and "555-0199" in html


def test_off_team_practitioner_gets_404_on_every_page(other_web, app, practitioner, chart,
                                                       audit_log):
    note = make_note(app, practitioner, chart.plan_id, chart.start)
    audit_log.mark()
    for url in (f"/patients/{chart.patient_id}", f"/patients/{chart.patient_id}/edit",
                f"/patients/{chart.patient_id}/plans/new", f"/plans/{chart.plan_id}",
                f"/plans/{chart.plan_id}/edit", f"/plans/{chart.plan_id}/discharge",
                f"/plans/{chart.plan_id}/visits/new", f"/visits/{note}",
                f"/visits/{note}/edit", f"/visits/{note}/sign"):
        response = other_web.get(url)
        assert response.status_code == 404, url
        assert "Silva" not in response.get_data(as_text=True)
    assert other_web.post(f"/visits/{note}/edit", data={"visit_date": "2020-01-01"}
                          ).status_code == 404
    assert other_web.post(f"/visits/{note}/addenda", data={"text": "x"}).status_code == 404
    denied = [r for r in audit_log.new() if r["outcome"] == "denied"]
    assert len(denied) >= 10 and all(r["patient_id"] == chart.patient_id for r in denied)
    assert "Silva" not in other_web.get("/").get_data(as_text=True)


def test_director_reads_but_cannot_document(director_web, chart):
    assert director_web.get(f"/patients/{chart.patient_id}").status_code == 200
    assert director_web.get(f"/plans/{chart.plan_id}/visits/new").status_code == 403
    assert director_web.get(f"/patients/{chart.patient_id}/plans/new").status_code == 403
