"""Signing in and out, the role-aware start pages and the automatic sign-out after inactivity."""

import time
from datetime import timedelta

from conftest import make_account
from notes_service.extensions import db
from web_support import chart, director_web, make_chart, make_note, pending_dir, sign_in, web  # noqa: F401


def test_login_page_renders_a_labelled_form(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">' in html and '<label for="password">' in html
    assert 'name="csrf_token"' in html


def test_wrong_password_keeps_the_email_and_never_echoes_the_password(client, practitioner,
                                                                      audit_log):
    response = sign_in(client, practitioner.email, "wrong password 123")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Wrong e-mail or password." in html
    assert f'value="{practitioner.email}"' in html
    assert "wrong password 123" not in html
    assert [(r["kind"], r["action"]) for r in audit_log.new()] == [("auth", "login_failed")]


def test_invalid_email_shows_the_schema_message_beside_the_field(client):
    html = sign_in(client, "not-an-email").get_data(as_text=True)
    assert 'id="email-error"' in html and "Not a valid email address." in html
    assert 'aria-invalid="true"' in html


def test_pages_require_sign_in_and_return_to_the_page_after(client, practitioner, chart):
    response = client.get(f"/patients/{chart.patient_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    after = sign_in(client, practitioner.email, next=f"/patients/{chart.patient_id}")
    assert after.headers["Location"] == f"/patients/{chart.patient_id}"


def test_sign_in_refuses_to_redirect_off_site(client, practitioner):
    response = sign_in(client, practitioner.email, next="https://evil.example/phish")
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = sign_in(client, practitioner.email, next="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_practitioner_lands_on_the_caseload(web, chart, app, practitioner, audit_log):
    make_note(app, practitioner, chart.plan_id, chart.start)
    audit_log.mark()
    html = web.get("/").get_data(as_text=True)
    assert "<h1>Caseload</h1>" in html
    assert "Silva, Ana" in html and "M54.41" in html
    assert "1 / 16" in html  # visits documented vs planned
    # the progress engine's flags: the only visit was 20 days ago
    assert "No recent visit" in html and "No open flags" not in html
    assert "Drafts to sign" in html and "/visits/" in html
    rows = [{k: r[k] for k in ("kind", "action", "patient_id")} for r in audit_log.new()]
    assert {"kind": "patient", "action": "list", "patient_id": chart.patient_id} in rows
    assert {"kind": "progress", "action": "read", "patient_id": chart.patient_id} in rows


def test_caseload_shows_an_empty_flag_state(web, app, practitioner):
    from datetime import date

    chart = make_chart(app, practitioner, days_ago=1)
    make_note(app, practitioner, chart.plan_id, date.today(), sign=True)
    html = web.get("/").get_data(as_text=True)
    assert "No open flags" in html


def test_caseload_shows_the_next_expected_visit_and_overdue(web, app, practitioner):
    chart = make_chart(app, practitioner, days_ago=20)
    make_note(app, practitioner, chart.plan_id, chart.start)  # 20 days ago, 2×/week
    html = web.get("/").get_data(as_text=True)
    assert "Overdue" in html
    assert "Week 3 of 8" in html


def test_caseload_renders_flags_from_the_progress_engine(web, app, chart):
    from types import SimpleNamespace

    flag = SimpleNamespace(code="plateau", severity="medium",
                           message="Pain has stayed at 5/10 for 14 days: re-assess.")
    app.extensions["notes_service.plan_flags"] = lambda plans: {
        p.id: [flag] for p in plans}
    try:
        html = web.get("/").get_data(as_text=True)
    finally:
        del app.extensions["notes_service.plan_flags"]
    assert "Pain has stayed at 5/10 for 14 days" in html
    assert "badge-medium" in html and "No open flags" not in html


def test_director_lands_on_the_read_only_clinic_list(director_web, chart):
    html = director_web.get("/").get_data(as_text=True)
    assert "Clinic patients" in html and "Silva, Ana" in html
    assert "New visit note" not in html and "New patient" not in html
    page = director_web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "Read-only" in page and "New visit note" not in page


def test_patient_lands_on_their_plan_and_signed_home_programme(app, client, practitioner,
                                                                 chart, pending_dir):
    make_note(app, practitioner, chart.plan_id, chart.start, sign=True,
              home_programme="Walk 15 minutes daily.")
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(3),
              home_programme="Draft instructions not yet signed.")
    make_account(app, "ana@example.org", "patient", patient_id=chart.patient_id)
    assert sign_in(client, "ana@example.org").status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Hello, Ana" in html
    assert "Walk 15 minutes daily." in html
    assert "Draft instructions" not in html
    assert "Pain at most 2 out of 10" in html  # the pain goal in plain language
    assert client.get(f"/patients/{chart.patient_id}").status_code == 403


def test_logout_forgets_the_session(web, audit_log):
    response = web.post("/logout")
    assert response.headers["Location"] == "/login"
    assert ("auth", "logout") in [(r["kind"], r["action"]) for r in audit_log.new()]
    assert web.get("/patients/").status_code == 302


def test_idle_session_is_signed_out(web, app):
    with web.session_transaction() as session:
        session["last_seen"] = int(time.time()) - (app.config["SESSION_IDLE_MINUTES"] * 60 + 5)
    response = web.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 15 minutes without activity" in page


def test_inactive_user_is_signed_out(web, app, practitioner):
    from notes_service.auth.models import User

    with app.app_context():
        db.session.get(User, practitioner.id).active = False
        db.session.commit()
    assert web.get("/").headers["Location"] == "/login"
