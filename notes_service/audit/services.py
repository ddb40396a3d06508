"""Recording audit events. Events are only ever added, never changed or removed; each is
chained by hash to the one before it (:mod:`notes_service.audit.chain`)."""

from __future__ import annotations

from flask import has_request_context, request

from notes_service.audit.chain import append_rows
from notes_service.audit.models import AuditEvent
from notes_service.db_types import utcnow
from notes_service.extensions import db


def _origin() -> dict:
    """Where the current request comes from (empty outside a request, e.g. in the CLI)."""
    if not has_request_context():
        return {}
    return {"ip": request.remote_addr,
            "user_agent": (request.user_agent.string or "")[:200] or None,
            "request": f"{request.method} {request.full_path.rstrip('?')}"[:300]}


def record(actor, action: str, kind: str, *, patient_id: int | None = None,
           object_id: int | None = None, outcome: str = "ok",
           detail: str | None = None) -> AuditEvent:
    """Add an audit event to the current transaction, committed with the change it records.

    Its hashes are filled in when it is flushed.
    """
    event = AuditEvent(user_id=getattr(actor, "id", None), action=action, kind=kind,
                       patient_id=patient_id, object_id=object_id, outcome=outcome,
                       detail=detail[:500] if detail else None, at=utcnow(), **_origin())
    db.session.add(event)
    return event


def record_many(actor, action: str, kind: str, patient_ids: list[int]) -> None:
    """Audit one event per patient (e.g. each row of a list), in a single statement."""
    if not patient_ids:
        return
    common = {"user_id": getattr(actor, "id", None), "action": action, "kind": kind,
              "outcome": "ok", "at": utcnow(), "detail": None, "object_id": None,
              "ip": None, "user_agent": None, "request": None, **_origin()}
    append_rows(db.session, [{**common, "patient_id": pid} for pid in patient_ids])


def record_denied(actor, kind: str, object_id: int | None, patient_id: int | None,
                  detail: str | None = None) -> None:
    """Record a refused request: an object the user may not see (or that does not exist), or
    an action the user may not take."""
    action = "read"
    if has_request_context() and request.method not in ("GET", "HEAD"):
        action = "write"
    record(actor, action, kind, patient_id=patient_id, object_id=object_id, outcome="denied",
           detail=detail)
