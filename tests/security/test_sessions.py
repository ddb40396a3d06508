"""Sessions: server-side records that sign-out, password changes, idleness and age end; a new
session at sign-in; cookie flags; API tokens that expire and can be revoked."""

import time
from datetime import timedelta

import sqlalchemy as sa

from conftest import PASSWORD
from notes_service.extensions import db
from security_support import (  # noqa: F401
    client_with_cookie,
    csrf_token,
    director_web,
    pending_dir,
    session_cookie,
    shift_sessions,
    sign_in,
    signed_in,
    web,
)


def test_logout_ends_every_session_of_the_user(app, web, practitioner, pending_dir):
    laptop = web
    tablet = app.test_client()
    assert sign_in(tablet, practitioner.email).status_code == 302
    assert signed_in(laptop) and signed_in(tablet)
    laptop.post("/logout")
    assert not signed_in(tablet)  # the other device is signed out too


def test_a_copied_cookie_stops_working_after_logout(app, web):
    copied = session_cookie(web)
    assert signed_in(client_with_cookie(app, copied))
    web.post("/logout")
    replay = client_with_cookie(app, copied)
    response = replay.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_idle_timeout_is_enforced_on_the_server(app, web, practitioner):
    """The cookie still says 'active just now'; the server record says 16 minutes idle."""
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=16))
    response = web.get("/patients/")
    assert response.headers["Location"].startswith("/login")
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 15 minutes without activity" in page


def test_a_replayed_cookie_after_the_idle_timeout_is_refused(app, web, practitioner):
    copied = session_cookie(web)
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=16))
    assert not signed_in(client_with_cookie(app, copied))
    assert not signed_in(web)  # and the session is over for the original too


def test_activity_keeps_the_session_and_the_idle_minutes_are_configurable(app, web, practitioner,
                                                                           monkeypatch):
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=14))
    assert signed_in(web)  # 14 idle minutes: still in, and the visit counts as activity
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=6))
    assert not signed_in(web)


def test_absolute_lifetime_of_twelve_hours(app, web, practitioner):
    assert app.config["SESSION_MAX_HOURS"] == 12
    shift_sessions(app, practitioner.id, created_at=timedelta(hours=12, minutes=1))
    response = web.get("/patients/")  # active a moment ago, but signed in 12 hours ago
    assert response.headers["Location"].startswith("/login")
    assert "12 hours after signing in" in web.get("/login").get_data(as_text=True)


def test_sign_in_starts_a_new_session(app, practitioner, pending_dir):
    """Session fixation: an id planted before sign-in is never the id after it."""
    from notes_service.security.sessions import SID_KEY

    client = app.test_client()
    with client.session_transaction() as session:
        session[SID_KEY] = "planted-by-an-attacker"
        session["csrf_token"] = "planted-token"
    sign_in(client, practitioner.email)
    with client.session_transaction() as session:
        assert session[SID_KEY] != "planted-by-an-attacker"
        assert session.get("csrf_token") != "planted-token"
        first = session[SID_KEY]
    client.post("/logout")
    sign_in(client, practitioner.email)
    with client.session_transaction() as session:
        assert session[SID_KEY] != first


def test_only_a_hash_of_the_session_id_is_stored(app, web):
    from notes_service.security.models import UserSession
    from notes_service.security.sessions import SID_KEY, digest

    with web.session_transaction() as session:
        sid = session[SID_KEY]
    with app.app_context():
        hashes = db.session.execute(sa.select(UserSession.id_hash)).scalars().all()
    assert sid not in hashes and digest(sid) in hashes


def test_session_cookie_flags(app, practitioner, pending_dir, monkeypatch):
    client = app.test_client()
    header = sign_in(client, practitioner.email).headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP in development
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    header = sign_in(app.test_client(), practitioner.email).headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header


def test_https_configuration_turns_on_secure_cookies(monkeypatch, tmp_path):
    from notes_service import create_app

    monkeypatch.setenv("HTTPS", "1")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert application.config["SESSION_COOKIE_SECURE"] is True
    assert application.config["SESSION_COOKIE_HTTPONLY"] is True
    assert application.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_idle_minutes_come_from_one_setting(monkeypatch):
    from notes_service import create_app

    monkeypatch.setenv("SESSION_IDLE_MINUTES", "10")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert application.config["SESSION_IDLE_MINUTES"] == 10


def test_password_change_ends_every_session_and_token(app, web, practitioner, pending_dir,
                                                      client):
    tablet = app.test_client()
    sign_in(tablet, practitioner.email)
    copied = session_cookie(web)
    new = "a brand new passphrase"
    page = web.get("/account/password")
    assert page.status_code == 200
    response = web.post("/account/password", data={
        "current_password": PASSWORD, "new_password": new, "confirm_password": new})
    assert response.status_code == 302
    assert signed_in(web)  # this browser continues, in a new session
    assert not signed_in(tablet)
    assert not signed_in(client_with_cookie(app, copied))
    assert client.get("/api/v1/patients", headers=practitioner.headers).status_code == 401
    assert sign_in(app.test_client(), practitioner.email).status_code == 422
    assert sign_in(app.test_client(), practitioner.email, new).status_code == 302


def test_password_change_form_errors(web):
    wrong = web.post("/account/password", data={
        "current_password": "not it", "new_password": "long enough 123",
        "confirm_password": "long enough 123"})
    assert wrong.status_code == 422 and "Wrong password." in wrong.get_data(as_text=True)
    short = web.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "short", "confirm_password": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    differ = web.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "long enough 123",
        "confirm_password": "long enough 124"})
    assert differ.status_code == 422 and "differ" in differ.get_data(as_text=True)


def test_password_change_through_the_api(app, client, practitioner, audit_log):
    response = client.post("/api/v1/auth/password", headers=practitioner.headers,
                           json={"current_password": PASSWORD,
                                 "new_password": "another long secret"})
    assert response.status_code == 200, response.get_json()
    new_token = response.get_json()["token"]
    assert client.get("/api/v1/patients", headers=practitioner.headers).status_code == 401
    assert client.get("/api/v1/patients",
                      headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    assert ("password_change", "auth") in [(r["action"], r["kind"]) for r in audit_log.new()]


def test_password_change_through_the_api_needs_the_current_password(client, practitioner):
    response = client.post("/api/v1/auth/password", headers=practitioner.headers,
                           json={"current_password": "wrong", "new_password": "x" * 12})
    assert response.status_code == 422
    assert "current_password" in response.get_json()["errors"]
    assert client.get("/api/v1/patients", headers=practitioner.headers).status_code == 200


def test_a_token_can_be_revoked(app, client, practitioner):
    other = client.post("/api/v1/auth/token",
                        json={"email": practitioner.email, "password": PASSWORD}).get_json()
    other_headers = {"Authorization": f"Bearer {other['token']}"}
    response = client.post("/api/v1/auth/token/revoke", headers=practitioner.headers, json={})
    assert response.status_code == 200 and response.get_json() == {"revoked": 1}
    assert client.get("/api/v1/patients", headers=practitioner.headers).status_code == 401
    assert client.get("/api/v1/patients", headers=other_headers).status_code == 200
    everything = client.post("/api/v1/auth/token/revoke", headers=other_headers,
                             json={"all": True})
    assert everything.get_json() == {"revoked": 1}
    assert client.get("/api/v1/patients", headers=other_headers).status_code == 401


def test_tokens_expire_after_the_configured_hours(app, client, practitioner, monkeypatch):
    from datetime import datetime

    monkeypatch.setitem(app.config, "API_TOKEN_HOURS", 2)
    body = client.post("/api/v1/auth/token",
                       json={"email": practitioner.email, "password": PASSWORD}).get_json()
    expires = datetime.fromisoformat(body["expires_at"])
    from notes_service.db_types import utcnow

    assert timedelta(hours=1, minutes=59) < expires - utcnow() <= timedelta(hours=2)
    import notes_service.api as api_module

    monkeypatch.setattr(api_module, "utcnow", lambda: expires + timedelta(seconds=1))
    assert client.get("/api/v1/patients",
                      headers={"Authorization": f"Bearer {body['token']}"}).status_code == 401


def test_revoked_cookie_use_is_audited(app, web, practitioner, audit_log):
    copied = session_cookie(web)
    web.post("/logout")
    audit_log.mark()
    client_with_cookie(app, copied).get("/patients/")
    assert [(r["action"], r["user_id"]) for r in audit_log.new()] == [
        ("session_refused", practitioner.id)]


def test_ping_keeps_a_session_alive(app, web, practitioner):
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=10))
    with web.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 600
    assert web.post("/session/ping").status_code == 200
    shift_sessions(app, practitioner.id, last_seen_at=timedelta(minutes=10))
    assert signed_in(web)  # ten minutes after the ping: still within 15


def test_every_page_links_to_the_password_change(web, director_web):
    assert 'href="/account/password"' in web.get("/patients/").get_data(as_text=True)
    page = director_web.get("/").get_data(as_text=True)
    assert 'href="/audit/"' in page and 'href="/account/password"' in page
