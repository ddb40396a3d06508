"""Recording audit events. Events are only ever added, never changed or removed; each is
chained by hash to the one before it (:mod:`notes_service.audit.chain`)."""

from __future__ import annotations

from flask import has_request_context, request

from notes_service.audit.chain import add_pending, append_rows_on
from notes_service.db_types import utcnow
from notes_service.extensions import db


_ORIGIN_KEY = "notes_service.audit_origin"


def _origin() -> dict:
    """Where the current request comes from (empty outside a request, e.g. in the CLI): worked
    out once per request (a page audits several reads), kept in its WSGI environ."""
    if not has_request_context():
        return {}
    environ = request.environ
    origin = environ.get(_ORIGIN_KEY)
    if origin is None:
        origin = environ[_ORIGIN_KEY] = {
            "ip": request.remote_addr,
            "user_agent": (request.user_agent.string or "")[:200] or None,
            "request": f"{request.method} {request.full_path.rstrip('?')}"[:300]}
    return origin


def _row(actor, action: str, kind: str, patient_id: int | None, object_id: int | None,
         outcome: str, detail: str | None) -> dict:
    return {"user_id": getattr(actor, "id", None), "action": action, "kind": kind,
            "patient_id": patient_id, "object_id": object_id, "outcome": outcome,
            "detail": detail[:500] if detail else None, "at": utcnow(),
            "ip": None, "user_agent": None, "request": None, **_origin()}


def record(actor, action: str, kind: str, *, patient_id: int | None = None,
           object_id: int | None = None, outcome: str = "ok",
           detail: str | None = None) -> None:
    """Add an audit event to the current transaction, committed with the change it records.

    The row is written, chained and committed with the transaction's other audit rows when
    the transaction commits (:func:`notes_service.audit.chain.add_pending`); a rollback
    drops it with the change it records.
    """
    add_pending(db.session(), [_row(actor, action, kind, patient_id, object_id, outcome,
                                    detail)])


def record_on(connection, actor, action: str, kind: str, *, patient_id: int | None = None,
              object_id: int | None = None, detail: str | None = None) -> None:
    """:func:`record` for an answer made on a connection of its own, outside the ORM session
    (``api_route(shortcut=...)``): the row is written at once, and committed with the
    connection's transaction."""
    append_rows_on(connection, [_row(actor, action, kind, patient_id, object_id, "ok",
                                     detail)])


def record_many(actor, action: str, kind: str, patient_ids: list[int]) -> None:
    """Audit one event per patient (e.g. each row of a list), in a single statement."""
    if not patient_ids:
        return
    common = _row(actor, action, kind, None, None, "ok", None)
    add_pending(db.session(), [{**common, "patient_id": pid} for pid in patient_ids])


def record_denied(actor, kind: str, object_id: int | None, patient_id: int | None,
                  detail: str | None = None) -> None:
    """Record a refused request: an object the user may not see (or that does not exist), or
    an action the user may not take."""
    action = "read"
    if has_request_context() and request.method not in ("GET", "HEAD"):
        action = "write"
    record(actor, action, kind, patient_id=patient_id, object_id=object_id, outcome="denied",
           detail=detail)
