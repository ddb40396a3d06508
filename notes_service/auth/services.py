"""Account operations: creating users, checking passwords (throttled), changing them, issuing
and revoking API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from marshmallow import ValidationError
from sqlalchemy import func, select, update

from notes_service.audit.services import record
from notes_service.auth.models import ApiToken, User
from notes_service.db_types import utcnow
from notes_service.extensions import db
from notes_service.patients.models import Patient

#: A hash to check against when the account does not exist, so both paths cost the same.
_DUMMY_HASH: str | None = None


def find_user(email: str) -> User | None:
    """Return the user with ``email`` (case-insensitive), if any."""
    return db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()


def authenticate(email: str, password: str, ip: str | None = None) -> User | None:
    """Return the active user whose credentials these are, else None (audited either way).

    Raises :class:`~notes_service.security.throttle.TooManyAttempts` (429, audited) without
    looking at the password while this account or address has failed too often; the caller
    commits so the audit row and the attempt are kept.
    """
    from notes_service.security import throttle

    global _DUMMY_HASH
    user = find_user(email)
    try:
        throttle.check(email, ip)
    except throttle.TooManyAttempts as exc:
        record(user, "login_throttled", "auth", detail=None if user else
               f"unknown account {email[:80]}; retry after {exc.retry_after} s")
        raise
    if user is None:
        if _DUMMY_HASH is None:
            probe = User()
            probe.set_password(secrets.token_hex(8))
            _DUMMY_HASH = probe.password_hash
        User(password_hash=_DUMMY_HASH).check_password(password)
        record(None, "login_failed", "auth", detail=f"unknown account {email[:80]}")
        throttle.note(email, ip, succeeded=False)
        return None
    if not user.check_password(password) or not user.active:
        record(user, "login_failed", "auth")
        throttle.note(email, ip, succeeded=False)
        return None
    record(user, "login", "auth")
    throttle.note(email, ip, succeeded=True)
    return user


def change_password(user: User, current: str, new: str, ip: str | None = None) -> None:
    """Replace ``user``'s password and end every session and API token of theirs.

    The current password is checked like a sign-in (throttled, a failure counts); a wrong one
    is a :class:`ValidationError` on ``current_password``.
    """
    from notes_service.security import sessions, throttle

    throttle.check(user.email, ip)
    if not user.check_password(current):
        throttle.note(user.email, ip, succeeded=False)
        record(user, "password_change", "auth", outcome="denied",
               detail="wrong current password")
        raise ValidationError({"current_password": ["Wrong password."]})
    if new == current:
        raise ValidationError({"new_password": ["Choose a password you have not used here."]})
    user.set_password(new)
    ended = sessions.end_all_sessions(user.id, "password_change")
    tokens = revoke_tokens(user)
    record(user, "password_change", "auth",
           detail=f"ended {ended} session(s), revoked {tokens} API token(s)")


def revoke_tokens(user: User, token_hash: str | None = None) -> int:
    """Revoke one API token of ``user`` (by digest) or all of them; return how many."""
    condition = [ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)]
    if token_hash is not None:
        condition.append(ApiToken.token_hash == token_hash)
    result = db.session.execute(update(ApiToken).where(*condition).values(revoked_at=utcnow())
                                .execution_options(synchronize_session="fetch"))
    return result.rowcount


def create_user(data: dict) -> User:
    """Create a user from validated ``UserCreateSchema`` data."""
    email = data["email"].strip().lower()
    if find_user(email) is not None:
        raise ValidationError({"email": ["A user with this e-mail already exists."]})
    if data["role"] == "patient":
        patient_id = data.get("patient_id")
        if patient_id is None or db.session.get(Patient, patient_id) is None:
            raise ValidationError({"patient_id": ["A patient user needs an existing patient."]})
    elif data.get("patient_id") is not None:
        raise ValidationError({"patient_id": ["Only patient users are linked to a patient."]})
    user = User(email=email, name=data["name"], role=data["role"],
                credentials=data.get("credentials"), practices=data.get("practices", False),
                patient_id=data.get("patient_id"))
    user.set_password(data["password"])
    db.session.add(user)
    db.session.flush()
    return user


def issue_token(user: User, hours: int) -> tuple[str, datetime]:
    """Create an API token for ``user``; return the token (shown once) and its expiry."""
    token = secrets.token_urlsafe(32)
    from notes_service.api import token_digest

    expires_at = utcnow() + timedelta(hours=hours)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token),
                            expires_at=expires_at))
    return token, expires_at
