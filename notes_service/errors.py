"""Domain errors and the one place that maps errors to HTTP answers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, render_template, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from notes_service.extensions import db


class DomainError(Exception):
    """Base of the errors services raise; each maps to one HTTP status."""

    status = 400

    def __init__(self, message: str = "", **payload):
        super().__init__(message)
        self.message = message
        self.payload = payload


class NotFound(DomainError):
    """The object does not exist, or the user may not see it (indistinguishable on purpose)."""

    status = 404

    def __init__(self, kind: str, object_id: int | None, patient_id: int | None = None):
        super().__init__(f"{kind.replace('_', ' ').capitalize()} not found.")
        self.kind = kind
        self.object_id = object_id
        self.patient_id = patient_id


class Forbidden(DomainError):
    """The user may see the object but not do this to it (audited as a denied request)."""

    status = 403

    def __init__(self, message: str, *, kind: str = "request", patient_id: int | None = None,
                 object_id: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.patient_id = patient_id
        self.object_id = object_id


class Conflict(DomainError):
    """The change conflicts with the object's state (stale version, signed note, ...)."""

    status = 409


class RefusedConflict(Conflict):
    """A 409 that refuses the actor's change of patient data, so it is audited as denied like
    a 403 (after the rollback of what the request did): a locked diary entry, say."""

    def __init__(self, message: str, *, kind: str, patient_id: int | None,
                 object_id: int | None, detail: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.patient_id = patient_id
        self.object_id = object_id
        self.detail = detail

    def record(self, actor) -> None:
        """Audit the refusal, of a change whatever the request's method (the caller commits)."""
        from notes_service.audit.services import record

        record(actor, "write", self.kind, patient_id=self.patient_id, object_id=self.object_id,
               outcome="denied", detail=self.detail)


def wants_json() -> bool:
    """Whether the current request should get a JSON error."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error_page(status: int, title: str, message: str, **context):
    return render_template("errors/error.html", status=status, title=title,
                           message=message, **context), status


#: Errors that mean the database cannot be reached or used right now (down, restarting,
#: connection dropped, SQLite locked past its busy timeout, connection pool exhausted).
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
UNAVAILABLE_MESSAGE = ("The database is unavailable right now; nothing was saved. "
                       "Try again in a few seconds.")
log = logging.getLogger(__name__)


def database_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` means the database is unreachable, locked or out of connections."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE)


def _unavailable_answer(exc: Exception):
    """503 with Retry-After; the transaction is rolled back and the connection let go.

    A connection the error broke was invalidated by SQLAlchemy already; ``remove`` returns the
    session's connection to the pool (where ``pool_pre_ping`` tests it before reuse), so the
    service recovers by itself once the database is back.
    """
    from flask_login import AnonymousUserMixin

    log.warning("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (the connection may be gone; nothing to keep)
        pass
    db.session.remove()
    retry_after = str(current_app.config.get("DATABASE_RETRY_AFTER", 5))
    if wants_json():
        return (jsonify(errors={"_request": [UNAVAILABLE_MESSAGE]}), 503,
                {"Retry-After": retry_after})
    g._login_user = AnonymousUserMixin()  # the page must not ask the database who is signed in
    html, status = _error_page(503, "Service unavailable", UNAVAILABLE_MESSAGE)
    return html, status, {"Retry-After": retry_after}


def register_error_handlers(app: Flask) -> None:
    """Map validation, domain and HTTP errors to JSON (API) or pages (HTML)."""

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError):
        db.session.rollback()
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        if wants_json():
            return jsonify(errors=messages), 422
        return _error_page(422, "Invalid input", "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in messages.items()))

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        from notes_service.audit.services import record_denied

        db.session.rollback()
        record_denied(getattr(g, "actor", None), exc.kind, exc.object_id, exc.patient_id)
        db.session.commit()
        if wants_json():
            return jsonify(errors={"_request": [exc.message]}), 404
        actor = getattr(g, "actor", None)
        emergency = (exc.kind == "patient" and exc.object_id is not None
                     and getattr(actor, "role", None) == "practitioner")
        return _error_page(404, "Not found", exc.message,
                           break_glass_patient=exc.object_id if emergency else None)

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden):
        from notes_service.audit.services import record_denied

        db.session.rollback()
        record_denied(getattr(g, "actor", None), exc.kind, exc.object_id, exc.patient_id,
                      detail=exc.message)
        db.session.commit()
        if wants_json():
            return jsonify(errors={"_request": [exc.message]}), 403
        return _error_page(403, "Not allowed", exc.message)

    @app.errorhandler(Conflict)
    def conflict(exc: Conflict):
        db.session.rollback()
        if isinstance(exc, RefusedConflict):
            exc.record(getattr(g, "actor", None))
            db.session.commit()
        if wants_json():
            return jsonify(errors={"_request": [exc.message]}, **exc.payload), 409
        return _error_page(409, "Conflict", exc.message)

    @app.errorhandler(StaleDataError)
    def stale(exc: StaleDataError):
        db.session.rollback()
        message = "Someone else changed this record at the same time; reload and try again."
        if wants_json():
            return jsonify(errors={"version": [message]}), 409
        return _error_page(409, "Conflict", message)

    from notes_service.security.throttle import TooManyAttempts

    @app.errorhandler(TooManyAttempts)
    def too_many_attempts(exc: TooManyAttempts):
        db.session.commit()  # keep the audit record of the refused attempt
        headers = {"Retry-After": str(exc.retry_after)}
        if wants_json():
            return jsonify(errors={"_request": [exc.message]}), 429, headers
        html, status = _error_page(429, "Too many attempts", exc.message)
        return html, status, headers

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(exc: Exception):
        if database_unavailable(exc):
            return _unavailable_answer(exc)
        raise exc  # a bug (integrity, data): Flask answers 500

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        original = getattr(exc, "original_exception", None)
        if isinstance(exc, InternalServerError) and original is not None \
                and database_unavailable(original):
            return _unavailable_answer(original)  # e.g. raised while answering another error
        if wants_json():
            return jsonify(errors={"_request": [exc.description]}), exc.code
        return _error_page(exc.code, exc.name, exc.description)
