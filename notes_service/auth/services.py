"""Account operations: creating users, checking passwords, issuing API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from marshmallow import ValidationError
from sqlalchemy import func, select

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


def authenticate(email: str, password: str) -> User | None:
    """Return the active user whose credentials these are, else None (audited either way)."""
    global _DUMMY_HASH
    user = find_user(email)
    if user is None:
        if _DUMMY_HASH is None:
            probe = User()
            probe.set_password(secrets.token_hex(8))
            _DUMMY_HASH = probe.password_hash
        User(password_hash=_DUMMY_HASH).check_password(password)
        record(None, "login_failed", "auth", detail=f"unknown account {email[:80]}")
        return None
    if not user.check_password(password) or not user.active:
        record(user, "login_failed", "auth")
        return None
    record(user, "login", "auth")
    return user


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
