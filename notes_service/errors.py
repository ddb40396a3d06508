"""Domain errors and the one place that maps errors to HTTP answers."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

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


def wants_json() -> bool:
    """Whether the current request should get a JSON error."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error_page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title,
                           message=message), status


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
        return _error_page(404, "Not found", exc.message)

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

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return jsonify(errors={"_request": [exc.description]}), exc.code
        return _error_page(exc.code, exc.name, exc.description)
