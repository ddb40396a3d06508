"""POST /api/v1/auth/token and bearer-token authentication of every other route."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import PASSWORD, lapse_token, make_account
from notes_service.api import token_digest
from notes_service.auth.models import ApiToken, User
from notes_service.extensions import db


def token_for(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_good_credentials_give_a_working_token(client, practitioner):
    response = token_for(client, practitioner.email)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == timedelta(0)
    listing = client.get("/api/v1/patients",
                         headers={"Authorization": f"Bearer {body['token']}"})
    assert listing.status_code == 200


def test_email_is_matched_case_insensitively(client, practitioner):
    assert token_for(client, practitioner.email.upper()).status_code == 201


def test_only_the_token_digest_is_stored(app, client, practitioner):
    token = token_for(client, practitioner.email).get_json()["token"]
    with app.app_context():
        stored = db.session.execute(sa.select(ApiToken.token_hash)).scalars().all()
    assert token not in stored
    assert token_digest(token) in stored


def test_wrong_password_and_unknown_user_get_the_same_answer(client, practitioner):
    wrong = token_for(client, practitioner.email, "not the password")
    unknown = token_for(client, "nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["errors"]["_request"] == ["Wrong e-mail or password."]


def test_inactive_user_cannot_get_a_token(app, client, practitioner):
    with app.app_context():
        db.session.get(User, practitioner.id).active = False
        db.session.commit()
    response = token_for(client, practitioner.email)
    assert response.status_code == 401
    assert response.get_json()["errors"]["_request"] == ["Wrong e-mail or password."]


def test_token_of_a_deactivated_user_stops_working(app, api, practitioner):
    with app.app_context():
        db.session.get(User, practitioner.id).active = False
        db.session.commit()
    assert api.get("/api/v1/patients").status_code == 401


@pytest.mark.parametrize("change", ["expired", "revoked"])
def test_expired_or_revoked_token_is_refused(app, api, practitioner, change):
    lapse_token(app, practitioner, change)
    response = api.get("/api/v1/patients")
    assert response.status_code == 401
    assert response.get_json()["errors"]["_request"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
                                    "Bearer not-a-real-token"])
def test_missing_or_bad_authorization_header_is_401(client, practitioner, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/patients", headers=headers)
    assert response.status_code == 401
    assert list(response.get_json()["errors"]) == ["_request"]


def test_every_protected_route_needs_a_token(app, client):
    """No /api/v1 route but the token route answers without authentication."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.create_token":
            continue
        values = {name: sorted(getattr(rule._converters[name], "items", None) or [1])[0]
                  for name in rule.arguments}
        url = adapter.build(rule.endpoint, values)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, json={})
            assert response.status_code == 401, (method, url)


@pytest.mark.parametrize("body, field", [
    ({"password": "x"}, "email"),
    ({"email": "pat.pt@example.org"}, "password"),
    ({"email": "not-an-email", "password": "x"}, "email"),
    ({"email": "pat.pt@example.org", "password": ""}, "password"),
    ({"email": "pat.pt@example.org", "password": "x", "remember": True}, "remember"),
])
def test_token_request_is_validated(client, practitioner, body, field):
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_patient_user_gets_a_token(app, client, clinic):
    patient = clinic.patient()
    account = make_account(app, "ana@example.org", "patient", patient_id=patient["id"])
    assert token_for(client, account.email).status_code == 201
