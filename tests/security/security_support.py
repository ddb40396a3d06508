"""Helpers and fixtures of the security suite (imported by its test modules; not a conftest so
the top-level ``conftest`` stays importable by name)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import PASSWORD, Api, ClinicBuilder, make_account, make_app  # noqa: F401
from functional.web_support import (  # noqa: F401  the web suite's sign-in helpers and clients
    csrf_token,
    director_web,
    pending_dir,
    sign_in,
    web,
)
from notes_service.extensions import db

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def session_cookie(client) -> str:
    """The value of the client's session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def client_with_cookie(app, value: str):
    """A fresh client (another browser) holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def signed_in(client) -> bool:
    """Whether the client is signed in (a page answers instead of sending to sign-in)."""
    response = client.get("/patients/")
    return response.status_code == 200


def shift_sessions(app, user_id: int, **deltas: timedelta) -> None:
    """Move the user's session timestamps back (``created_at=...``, ``last_seen_at=...``)."""
    from notes_service.security.models import UserSession

    with app.app_context():
        for record in db.session.execute(sa.select(UserSession).where(
                UserSession.user_id == user_id)).scalars():
            for name, delta in deltas.items():
                setattr(record, name, getattr(record, name) - delta)
        db.session.commit()


def audit_actions(app, since_id: int = 0) -> list[tuple]:
    """(action, kind, user_id, outcome) of the audit rows after ``since_id``."""
    from notes_service.audit.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent).where(AuditEvent.id > since_id)
                                  .order_by(AuditEvent.id)).scalars().all()
        return [(r.action, r.kind, r.user_id, r.outcome) for r in rows]


@pytest.fixture
def other_web(app, other_practitioner, pending_dir):
    client = app.test_client()
    assert sign_in(client, other_practitioner.email).status_code == 302
    return client
