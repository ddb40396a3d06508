"""Unbound extension objects, bound to the application in :func:`notes_service.create_app`."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context, has_request_context, request
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

#: Stable constraint names, so Alembic migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


class OwnConnections:
    """Connections outside the ORM session, for answers that need no ORM object (a chart's 304,
    ``api_route(shortcut=...)``): creating, committing and closing a Session costs more than
    such an answer's statements do.

    :meth:`begin` yields a connection in a transaction, committed when the block ends (rolled
    back on an exception) and then returned to the pool. ``factory``, when set, replaces the
    engine's connections: the tests point it at their own rolled-back connection, so that
    these answers see, and write into, the test's transaction as the session does.
    """

    def __init__(self):
        self.factory = None

    @contextmanager
    def begin(self) -> Iterator:
        if self.factory is not None:
            with self.factory() as connection:
                yield connection
            return
        with db.engine.begin() as connection:
            yield connection


own_connections = OwnConnections()


#: Longest time, in seconds, a read's audit row may wait for an fsync (see :func:`_begin`).
READ_AUDIT_SYNC_SECONDS = 1.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_AUDIT_INSERT = "INSERT INTO audit_events"
_TX = "notes_service_tx"
#: Pauses, in seconds, between quick tries of a contended ``BEGIN IMMEDIATE`` (then the last
#: one, repeated): another connection's write transaction here lasts a fraction of a
#: millisecond (an audit row, a note), while SQLite's own busy handler sleeps 1 ms, then 2, 5,
#: 10 ms… before it looks again — several times the wait, and the worker idle meanwhile.
_QUICK_WAITS = (0.00005, 0.0001, 0.0002, 0.0005)
#: How long the quick tries go on before SQLite's busy handler takes over (``busy_timeout``).
_QUICK_TRIES_FOR = 0.05
_BUSY_TIMEOUT_MS = 5000
_pause = time.sleep
_last_full_commit = [0.0]


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record):
    """Turn on WAL, foreign keys, full sync and a busy timeout for every SQLite connection, and
    add the audit chain's hash function (:func:`notes_service.audit.chain.chain_hash`).

    pysqlite's own transaction handling is switched off (``isolation_level = None``) so that
    SQLAlchemy emits ``BEGIN`` itself (see :func:`_begin`), and SAVEPOINTs work as documented.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    from notes_service.audit.chain import chain_hash

    dbapi_connection.create_function("notes_chain_hash", 2, chain_hash, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _reading_request() -> bool:
    """Whether the current request only reads (GET or HEAD; its writes are audit rows)."""
    return has_request_context() and request.method in ("GET", "HEAD")


def _run(connection, sql: str) -> None:
    """Run ``sql`` on the driver's connection (no cursor events: it is our own transaction
    control), raising the driver's errors as SQLAlchemy's, as a statement would."""
    try:
        connection.connection.dbapi_connection.execute(sql)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(sql, (), error, sqlite3.Error,
                                      dialect=connection.dialect) from error


def _begin_immediate(connection) -> None:
    """``BEGIN IMMEDIATE``, taking SQLite's write lock as soon as another connection releases
    it: quick tries for :data:`_QUICK_TRIES_FOR` seconds, then SQLite's busy handler for the
    rest of ``busy_timeout`` (after which the usual "database is locked" error)."""
    raw = connection.connection.dbapi_connection
    _run(connection, "PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + _QUICK_TRIES_FOR
        for attempt in itertools.count():
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    break
            _pause(_QUICK_WAITS[min(attempt, len(_QUICK_WAITS) - 1)])
    finally:
        _run(connection, f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    _run(connection, "BEGIN IMMEDIATE")


def _set_sync(connection, level: str) -> None:
    if connection.info.get("sync") != level:
        _run(connection, f"PRAGMA synchronous = {level}")
        connection.info["sync"] = level


@event.listens_for(Engine, "begin")
def _begin(connection):
    """Start each transaction, and on SQLite choose its lock and its durability.

    - A request that changes data (POST, PATCH, the CLI, tests) begins ``BEGIN IMMEDIATE``:
      it takes SQLite's one write lock up front, so it never fails to upgrade a read lock,
      and commits with ``synchronous = FULL`` (an fsync before the answer).
    - A reading request (GET, HEAD) begins a plain ``BEGIN``: readers run side by side (WAL)
      without queueing for the write lock. Its one write is its audit rows, at commit: then
      (:func:`take_write_lock`) its reads end and a short ``BEGIN IMMEDIATE`` transaction
      appends them. Those commits use ``synchronous = NORMAL``: durable when the process dies
      (the WAL is written before the answer), and on the disk at the next fsync, which the
      first such commit after :data:`READ_AUDIT_SYNC_SECONDS` without one makes itself — so
      a power cut loses at most the last second of read-audit rows, never a clinical write
      (``AUDIT_READS_DURABLE = True`` makes every commit FULL).

    On PostgreSQL, a transaction whose only writes are audit rows commits with
    ``synchronous_commit = off`` (:func:`_commit`), the same bounded window (the WAL writer
    flushes within three ``wal_writer_delay``, 600 ms by default).
    """
    info = connection.info
    reading = _reading_request() and not current_app.config.get("AUDIT_READS_DURABLE")
    info[_TX] = {"deferred": reading, "data": False, "audit": False}
    if connection.dialect.name != "sqlite":
        return
    if reading:
        recent = time.monotonic() - _last_full_commit[0] < READ_AUDIT_SYNC_SECONDS
        _set_sync(connection, "NORMAL" if recent else "FULL")
        _run(connection, "BEGIN")
    else:
        _set_sync(connection, "FULL")
        _begin_immediate(connection)


def take_write_lock(connection, *, audit: bool = False) -> None:
    """Before a transaction's first write: a reading SQLite transaction ends its reads and
    begins again with the write lock (``BEGIN IMMEDIATE``), as a clinical write with FULL
    sync unless ``audit``. Writes then never fail to upgrade a read snapshot."""
    tx = connection.info.get(_TX)
    if tx is None:
        return
    tx["data" if not audit else "audit"] = True
    if not tx["deferred"]:
        return
    tx["deferred"] = False
    if connection.dialect.name != "sqlite":
        return
    _run(connection, "COMMIT")
    if not audit:
        _set_sync(connection, "FULL")
    _begin_immediate(connection)


@event.listens_for(Engine, "before_cursor_execute")
def _before_write(connection, _cursor, statement, _parameters, _context, _executemany):
    """A write statement that did not announce itself takes the write lock here."""
    tx = connection.info.get(_TX)
    if tx is None or not statement.lstrip()[:7].upper().startswith(_WRITES):
        return
    take_write_lock(connection, audit=statement.startswith(_AUDIT_INSERT))


@event.listens_for(Engine, "commit")
def _commit(connection):
    """Relax the durability of a PostgreSQL transaction that wrote only audit rows; note the
    time of each fsynced SQLite commit."""
    tx = connection.info.pop(_TX, None)
    if connection.dialect.name == "sqlite":
        if connection.info.get("sync") == "FULL":
            _last_full_commit[0] = time.monotonic()
        return
    if tx is not None and tx["audit"] and not tx["data"] and \
            (not has_app_context() or not current_app.config.get("AUDIT_READS_DURABLE")):
        _relax_commit(connection.connection.dbapi_connection)


def _relax_commit(dbapi_connection) -> None:
    """Let PostgreSQL answer this commit before its WAL record is flushed."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET LOCAL synchronous_commit = off")
    cursor.close()


@event.listens_for(Engine, "rollback")
def _rollback(connection):
    if not connection.invalidated:  # its info would reconnect first
        connection.info.pop(_TX, None)
