"""Housekeeping: sign-in attempts and ended browser sessions are deleted once past their
retention, never an attempt the throttle still counts or a session that can still sign someone
in; each run is audited; ``flask prune-security-records`` with ``--dry-run``; bad settings."""

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import PASSWORD
from notes_service.config import ConfigError
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.security.models import LoginAttempt, UserSession
from notes_service.security.retention import Pruned, prune_security_records
from security_support import pending_dir, shift_sessions, signed_in, web  # noqa: F401

MINUTE = timedelta(minutes=1)
RETENTION = timedelta(days=90)  # both settings' default
IDLE = timedelta(minutes=15)  # SESSION_IDLE_MINUTES
LIFETIME = timedelta(hours=12)  # SESSION_MAX_HOURS
SETTINGS = ("LOGIN_ATTEMPT_RETENTION_DAYS", "SESSION_RETENTION_DAYS")


def add_attempt(app, ago: timedelta, email: str = "someone@example.org") -> int:
    """A failed sign-in made ``ago``; its id."""
    with app.app_context():
        attempt = LoginAttempt(email=email, ip="192.0.2.10", succeeded=False, at=utcnow() - ago)
        db.session.add(attempt)
        db.session.commit()
        return attempt.id


def add_session(app, user_id: int, *, created: timedelta, last_seen: timedelta,
                revoked: timedelta | None = None) -> int:
    """A session of ``user_id`` started ``created`` ago, last used ``last_seen`` ago and,
    when given, revoked ``revoked`` ago; its id."""
    now = utcnow()
    with app.app_context():
        record = UserSession(id_hash=secrets.token_hex(32), user_id=user_id,
                             created_at=now - created, last_seen_at=now - last_seen,
                             revoked_at=None if revoked is None else now - revoked,
                             revoked_reason=None if revoked is None else "logout")
        db.session.add(record)
        db.session.commit()
        return record.id


def ended(app, user_id: int, how: str, ago: timedelta) -> int:
    """A session that ended ``ago``: revoked, idle, past its lifetime, or idle and only
    revoked (at the user's next visit) a day ago."""
    shapes = {
        "revoked": {"created": ago + timedelta(hours=1), "last_seen": ago, "revoked": ago},
        "idle": {"created": ago + IDLE + timedelta(hours=1), "last_seen": ago + IDLE},
        "expired": {"created": ago + LIFETIME, "last_seen": ago + 5 * MINUTE},
        "idle_revoked_later": {"created": ago + IDLE + timedelta(hours=1),
                               "last_seen": ago + IDLE, "revoked": timedelta(days=1)},
    }
    return add_session(app, user_id, **shapes[how])


def ids(app, model) -> set[int]:
    with app.app_context():
        return set(db.session.execute(sa.select(model.id)).scalars())


def prune(app, **kwargs) -> Pruned:
    """Run the housekeeping and commit it, as the command does."""
    with app.app_context():
        pruned = prune_security_records(**kwargs)
        db.session.commit()
        return pruned


def token(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": "192.0.2.10"})


def test_attempts_older_than_the_retention_are_deleted(app):
    add_attempt(app, RETENTION + MINUTE)
    recent = add_attempt(app, RETENTION - MINUTE)
    assert prune(app) == Pruned(login_attempts=1, sessions=0)
    assert ids(app, LoginAttempt) == {recent}


def test_attempts_the_throttle_still_counts_are_kept_whatever_the_retention(
        app, client, practitioner, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ATTEMPT_RETENTION_DAYS", 1)
    monkeypatch.setitem(app.config, "LOGIN_THROTTLE_MINUTES", 3 * 24 * 60)
    for _ in range(5):
        assert token(client, practitioner.email, "not the password").status_code == 401
    with app.app_context():
        for attempt in db.session.execute(sa.select(LoginAttempt)).scalars():
            attempt.at -= timedelta(days=2)  # past the retention, inside the window
        db.session.commit()
    counted = ids(app, LoginAttempt)
    past_the_window = add_attempt(app, timedelta(days=3) + MINUTE)
    assert prune(app) == Pruned(login_attempts=1, sessions=0)
    assert ids(app, LoginAttempt) == counted  # past_the_window is gone
    assert token(client, practitioner.email).status_code == 429  # still throttled


@pytest.mark.parametrize("how", ["revoked", "idle", "expired", "idle_revoked_later"])
def test_sessions_ended_more_than_the_retention_ago_are_deleted(app, practitioner, how):
    gone = ended(app, practitioner.id, how, RETENTION + MINUTE)
    kept = ended(app, practitioner.id, how, RETENTION - MINUTE)
    active = add_session(app, practitioner.id, created=timedelta(hours=1), last_seen=MINUTE)
    assert prune(app) == Pruned(login_attempts=0, sessions=1)
    assert ids(app, UserSession) == {kept, active}


def test_a_session_that_can_still_sign_in_is_kept_whatever_the_retention(
        app, web, practitioner, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_RETENTION_DAYS", 1)
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 2 * 24 * 60)
    monkeypatch.setitem(app.config, "SESSION_MAX_HOURS", 3 * 24)
    # Started and last used longer ago than the retention, yet neither idle nor expired.
    shift_sessions(app, practitioner.id, created_at=timedelta(hours=71),
                   last_seen_at=timedelta(hours=47))
    assert prune(app) == Pruned(login_attempts=0, sessions=0)
    assert signed_in(web)


def test_a_dry_run_counts_and_changes_nothing(app, practitioner, audit_log):
    attempts = {add_attempt(app, RETENTION + MINUTE), add_attempt(app, MINUTE)}
    sessions = {ended(app, practitioner.id, "idle", RETENTION + MINUTE)}
    audit_log.mark()
    assert prune(app, dry_run=True) == Pruned(login_attempts=1, sessions=1)
    assert ids(app, LoginAttempt) == attempts and ids(app, UserSession) == sessions
    assert audit_log.new() == []


def test_a_run_is_audited_once_with_its_counts(app, practitioner, audit_log):
    add_attempt(app, RETENTION + MINUTE)
    add_attempt(app, RETENTION + timedelta(days=30))
    ended(app, practitioner.id, "expired", RETENTION + MINUTE)
    audit_log.mark()
    prune(app)
    [event] = audit_log.new()
    assert {key: event[key] for key in ("user_id", "kind", "action", "outcome", "detail")} == {
        "user_id": None, "kind": "security", "action": "prune", "outcome": "ok",
        "detail": "deleted 2 sign-in attempt(s) older than 90 days and 1 session(s) ended "
                  "over 90 days ago"}
    prune(app)  # nothing left to delete: the run is still recorded
    assert [event["detail"] for event in audit_log.new()] == [
        "deleted 0 sign-in attempt(s) older than 90 days and 0 session(s) ended over 90 days "
        "ago"]


def test_the_deletes_and_the_audit_event_commit_together(app, practitioner, audit_log):
    attempts = {add_attempt(app, RETENTION + MINUTE)}
    sessions = {ended(app, practitioner.id, "revoked", RETENTION + MINUTE)}
    audit_log.mark()
    with app.app_context():
        prune_security_records()
        db.session.rollback()
    assert ids(app, LoginAttempt) == attempts and ids(app, UserSession) == sessions
    assert audit_log.new() == []


def test_the_command_deletes_and_says_what(app, runner, practitioner, audit_log):
    recent = add_attempt(app, MINUTE)
    add_attempt(app, RETENTION + MINUTE)
    ended(app, practitioner.id, "idle", RETENTION + MINUTE)
    audit_log.mark()
    result = runner.invoke(args=["prune-security-records"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted 1 sign-in attempt(s) and 1 ended browser session(s).\n"
    assert ids(app, LoginAttempt) == {recent} and ids(app, UserSession) == set()
    assert [(e["kind"], e["action"]) for e in audit_log.new()] == [("security", "prune")]


def test_the_command_dry_run_deletes_nothing(app, runner, practitioner, audit_log):
    attempts = {add_attempt(app, RETENTION + MINUTE)}
    sessions = {ended(app, practitioner.id, "expired", RETENTION + MINUTE)}
    audit_log.mark()
    result = runner.invoke(args=["prune-security-records", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Would delete 1 sign-in attempt(s) and 1 ended browser "
                             "session(s); nothing deleted (dry run).\n")
    assert ids(app, LoginAttempt) == attempts and ids(app, UserSession) == sessions
    assert audit_log.new() == []


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("value", [0, -7, 1.5, True, None, "ninety", "9O", "", 36_501,
                                   10**7])
def test_a_bad_retention_stops_the_run_before_anything_is_deleted(
        app, runner, practitioner, audit_log, monkeypatch, setting, value):
    monkeypatch.setitem(app.config, setting, value)
    attempts = {add_attempt(app, RETENTION + MINUTE)}
    sessions = {ended(app, practitioner.id, "revoked", RETENTION + MINUTE)}
    audit_log.mark()
    with app.app_context(), pytest.raises(ConfigError, match=f"^{setting} must be a whole"):
        prune_security_records()
    result = runner.invoke(args=["prune-security-records"])
    assert result.exit_code == 1
    assert result.stderr == (f"{setting} must be a whole number from 1 to 36500 "
                             f"(got {value!r}).\n")
    assert ids(app, LoginAttempt) == attempts and ids(app, UserSession) == sessions
    assert audit_log.new() == []


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_retentions_come_from_the_environment_and_are_checked_at_start(monkeypatch,
                                                                          setting):
    from notes_service import create_app

    def configured():
        return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config

    monkeypatch.delenv(setting, raising=False)
    assert configured()[setting] == 90
    monkeypatch.setenv(setting, " 30 ")
    assert configured()[setting] == 30
    for bad in ("0", "-1", "30d", "1.5", "36501"):
        monkeypatch.setenv(setting, bad)
        with pytest.raises(ConfigError, match=f"^{setting} must be a whole number from 1 to "
                                               f"36500 \\(got '{bad}'\\)"):
            configured()
