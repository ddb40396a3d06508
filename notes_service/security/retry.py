"""Retry a request once when PostgreSQL reports a retryable error and nothing was committed.

What is retried, exactly: the view function (not the ``before_request`` hooks), once, when

- the error is a serialization failure (SQLSTATE ``40001``) or a detected deadlock
  (``40P01``): the server rolled the transaction back, so running it again is safe even when
  the error came from ``COMMIT``; or
- the connection was lost (SQLAlchemy invalidated it) *before* the request tried to commit:
  nothing can have been written. A connection lost *during* ``COMMIT`` is never retried: the
  commit may have happened, and a second run could write twice;

and, in every case, the request has committed nothing so far (one commit per request, at the
edge: a view that already committed part of its work is not run again). Anything else (and
a second failure) reaches the error handlers: a 503 with ``Retry-After`` when the database is
unavailable (:func:`notes_service.errors.database_unavailable`), else a 500. On SQLite writers
queue on ``BEGIN IMMEDIATE`` within ``busy_timeout``, so none of these errors arise there.
"""

from __future__ import annotations

import functools
import logging

from flask import Flask, g, has_request_context
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from notes_service.extensions import db

RETRYABLE_SQLSTATES = {"40001", "40P01"}
_COMMITTING = "committing"
log = logging.getLogger(__name__)


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a driver error (psycopg), if any."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None)


def retryable(exc: BaseException, *, during_commit: bool) -> bool:
    """Whether ``exc`` left nothing written, so the work may run again."""
    if not isinstance(exc, DBAPIError):
        return False
    if sqlstate(exc) in RETRYABLE_SQLSTATES:
        return True
    return bool(exc.connection_invalidated) and not during_commit


def _before_commit(session):
    session.info[_COMMITTING] = True


def _after_commit(session):
    session.info.pop(_COMMITTING, None)
    if has_request_context():
        g.db_committed = True


def _after_rollback(session):
    session.info.pop(_COMMITTING, None)


def install_listeners() -> None:
    """Track, per session, whether a commit was under way and whether one succeeded."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback",
                     lambda session, _previous: _after_rollback(session))


def retry_once(view):
    """Wrap a view: on a retryable error with nothing committed, roll back and run it again."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.db_committed = False  # commits of before_request hooks (a session touch) are theirs
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            session = db.session()
            during_commit = bool(session.info.get(_COMMITTING))
            if g.get("db_committed") or g.get("db_retried") or not retryable(
                    exc, during_commit=during_commit):
                raise
            log.warning("retrying %s once after %s", view.__name__, exc.__class__.__name__)
            g.db_retried = True
            try:
                db.session.rollback()
            except DBAPIError:
                pass
            session.info.pop(_COMMITTING, None)
            return view(*args, **kwargs)

    wrapper.retries_once = True
    return wrapper


def register_retry(app: Flask) -> None:
    """Wrap every view function registered so far (call after all blueprints)."""
    install_listeners()
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static" and not getattr(view, "retries_once", False):
            app.view_functions[endpoint] = retry_once(view)
