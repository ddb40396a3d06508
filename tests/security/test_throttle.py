"""Sign-in throttling: failures per account and per address answer 429 for a while, the same
for unknown accounts; the counts live in the database (every worker sees them); every sign-in
success, failure and refusal is audited."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import PASSWORD, make_app
from notes_service.extensions import db
from security_support import pending_dir, sign_in  # noqa: F401

WRONG = "not the password"


def token(client, email, password=PASSWORD, ip="192.0.2.10"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def age_attempts(app, delta: timedelta):
    from notes_service.security.models import LoginAttempt

    with app.app_context():
        for attempt in db.session.execute(sa.select(LoginAttempt)).scalars():
            attempt.at -= delta
        db.session.commit()


def test_account_is_throttled_after_five_failures(app, client, practitioner):
    for _ in range(5):
        assert token(client, practitioner.email, WRONG).status_code == 401
    refused = token(client, practitioner.email)  # even the right password now
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert refused.get_json() == {"errors": {"_request": [
        "Too many failed sign-ins. Try again in 15 minutes."]}}
    assert token(client, practitioner.email, ip="198.51.100.7").status_code == 429  # any address
    age_attempts(app, timedelta(minutes=16))
    assert token(client, practitioner.email).status_code == 201  # the window has passed


def test_unknown_accounts_answer_exactly_like_known_ones(client, practitioner):
    answers = {}
    for email in (practitioner.email, "nobody@example.org"):
        first = [token(client, email, WRONG) for _ in range(5)]
        answers[email] = ([(r.status_code, r.get_json()) for r in first],
                          (lambda r: (r.status_code, r.get_json()))(token(client, email, WRONG)))
    assert answers[practitioner.email] == answers["nobody@example.org"]
    assert answers["nobody@example.org"][1][0] == 429


def test_an_address_is_throttled_across_accounts(client, practitioner, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 6)
    for n in range(6):
        assert token(client, f"guess{n}@example.org", WRONG, ip="203.0.113.9").status_code == 401
    assert token(client, practitioner.email, ip="203.0.113.9").status_code == 429
    assert token(client, practitioner.email, ip="203.0.113.10").status_code == 201


def test_success_starts_the_account_count_again(client, practitioner):
    for _ in range(4):
        token(client, practitioner.email, WRONG)
    assert token(client, practitioner.email).status_code == 201
    for _ in range(4):
        assert token(client, practitioner.email, WRONG).status_code == 401
    assert token(client, practitioner.email).status_code == 201


def test_limits_are_configurable(app, client, practitioner, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 2)
    monkeypatch.setitem(app.config, "LOGIN_THROTTLE_MINUTES", 1)
    token(client, practitioner.email, WRONG)
    token(client, practitioner.email, WRONG)
    response = token(client, practitioner.email)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 60
    assert "1 minute." in response.get_json()["errors"]["_request"][0]


def test_the_count_is_shared_by_every_worker(app, database_url, practitioner):
    """Two application instances (as two gunicorn workers) see the same failures."""
    second = make_app(database_url)
    first_client, second_client = app.test_client(), second.test_client()
    for n in range(5):
        worker = first_client if n % 2 else second_client
        assert token(worker, practitioner.email, WRONG).status_code == 401
    assert token(first_client, practitioner.email).status_code == 429
    assert token(second_client, practitioner.email).status_code == 429


def test_the_sign_in_page_is_throttled_too(app, practitioner, pending_dir):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, practitioner.email, WRONG).status_code == 422
    page = sign_in(client, practitioner.email)
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Too many failed sign-ins" in page.get_data(as_text=True)
    assert client.get("/patients/").status_code == 302  # not signed in


def test_every_sign_in_outcome_is_audited(app, client, practitioner, audit_log, pending_dir):
    token(client, practitioner.email)
    token(client, practitioner.email, WRONG)
    token(client, "nobody@example.org", WRONG)
    sign_in(app.test_client(), practitioner.email)
    sign_in(app.test_client(), practitioner.email, WRONG)
    rows = [(r["action"], r["user_id"], r["outcome"]) for r in audit_log.new()]
    assert rows == [("login", practitioner.id, "ok"), ("login_failed", practitioner.id, "ok"),
                    ("login_failed", None, "ok"), ("login", practitioner.id, "ok"),
                    ("login_failed", practitioner.id, "ok")]
    for _ in range(4):  # the web sign-in succeeded after one failure: 1 + 4 = 5
        token(client, practitioner.email, WRONG)
    audit_log.mark()
    token(client, practitioner.email)
    [row] = audit_log.new()
    assert (row["action"], row["user_id"], row["ip"]) == ("login_throttled", practitioner.id,
                                                          "192.0.2.10")


@pytest.mark.parametrize("password", [PASSWORD, WRONG])
def test_throttled_answer_does_not_depend_on_the_password(client, practitioner, password):
    for _ in range(5):
        token(client, practitioner.email, WRONG)
    response = token(client, practitioner.email, password)
    assert response.status_code == 429
