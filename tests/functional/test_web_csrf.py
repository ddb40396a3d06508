"""With CSRF protection on (the other suites switch it off), every form needs its token; a note
form whose token no longer matches is kept rather than refused."""

import pytest

from web_support import csrf_app, csrf_token, make_chart, make_note, pending_dir  # noqa: F401


@pytest.fixture
def browser(csrf_app, app, pending_dir, monkeypatch):
    monkeypatch.setitem(csrf_app.config, "PENDING_FORM_DIR", str(pending_dir))
    return csrf_app.test_client()


def sign_in_with_token(client, email):
    from conftest import PASSWORD

    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": token})


def test_sign_in_without_the_token_is_refused(browser, practitioner):
    from conftest import PASSWORD

    response = browser.post("/login", data={"email": practitioner.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.get_data(as_text=True)
    assert sign_in_with_token(browser, practitioner.email).status_code == 302


def test_forms_without_the_token_are_refused(browser, app, practitioner):
    assert sign_in_with_token(browser, practitioner.email).status_code == 302
    data = {"given_name": "Ben", "family_name": "Okafor", "birth_date": "1971-03-04"}
    refused = browser.post("/patients/new", data=data)
    assert refused.status_code == 400
    assert browser.post("/logout").status_code == 400  # still signed in afterwards
    page = browser.get("/patients/new").get_data(as_text=True)
    assert browser.post("/patients/new", data={**data, "csrf_token": csrf_token(page)}
                        ).status_code == 302


def test_a_forged_token_is_refused(browser, practitioner, app):
    sign_in_with_token(browser, practitioner.email)
    chart = make_chart(app, practitioner)
    response = browser.post(f"/plans/{chart.plan_id}/discharge",
                            data={"reason": "other", "csrf_token": "forged"})
    assert response.status_code == 400


def test_note_form_with_a_stale_token_is_kept_not_refused(browser, app, practitioner):
    sign_in_with_token(browser, practitioner.email)
    chart = make_chart(app, practitioner)
    response = browser.post(f"/plans/{chart.plan_id}/visits/new", data={
        "visit_date": chart.start.isoformat(), "subjective": "Kept despite the token.",
        "csrf_token": "from-an-old-session"})
    assert response.headers["Location"] == f"/plans/{chart.plan_id}/visits/new"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kept despite the token." in page and "review it and save again" in page
    token = csrf_token(page)
    saved = browser.post(f"/plans/{chart.plan_id}/visits/new", data={
        "visit_date": chart.start.isoformat(), "subjective": "Kept despite the token.",
        "csrf_token": token, "action": "save"})
    assert saved.status_code == 302 and "/edit" in saved.headers["Location"]


def test_note_posted_after_the_session_was_lost_is_restored_after_sign_in(
        csrf_app, app, practitioner, pending_dir, monkeypatch):
    monkeypatch.setitem(csrf_app.config, "PENDING_FORM_DIR", str(pending_dir))
    chart = make_chart(app, practitioner)
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    old_tab = csrf_app.test_client()
    sign_in_with_token(old_tab, practitioner.email)
    token = csrf_token(old_tab.get(f"/visits/{note_id}/edit").get_data(as_text=True))
    fresh = csrf_app.test_client()  # the browser lost its session cookie
    response = fresh.post(f"/visits/{note_id}/edit", data={
        "visit_date": chart.start.isoformat(), "subjective": "Typed before the cookie expired.",
        "version": "1", "csrf_token": token})
    assert response.headers["Location"] == f"/login?next=/visits/{note_id}/edit"
    assert sign_in_with_token(fresh, practitioner.email).status_code == 302
    page = fresh.get(f"/visits/{note_id}/edit").get_data(as_text=True)
    assert "Typed before the cookie expired." in page and "Restored the note" in page


def test_a_note_form_posted_from_another_site_is_refused_not_kept(browser, app, practitioner,
                                                                   pending_dir):
    sign_in_with_token(browser, practitioner.email)
    chart = make_chart(app, practitioner)
    response = browser.post(f"/plans/{chart.plan_id}/visits/new", data={
        "visit_date": chart.start.isoformat(), "subjective": "Planted by another site."},
        headers={"Origin": "https://evil.example"})
    assert response.status_code == 400
    assert list(pending_dir.glob("*.json")) == []
    page = browser.get(f"/plans/{chart.plan_id}/visits/new").get_data(as_text=True)
    assert "Planted by another site." not in page


def test_session_ping_needs_the_token_in_its_header(browser, practitioner):
    sign_in_with_token(browser, practitioner.email)
    assert browser.post("/session/ping").status_code == 400
    token = csrf_token(browser.get("/patients/new").get_data(as_text=True))
    assert browser.post("/session/ping", headers={"X-CSRFToken": token}).status_code == 200
