"""The hash chain of the audit log, and the lock that keeps it a chain under concurrent writers.

Rows are written at the end of their transaction: :func:`add_pending` keeps them on the
session, and ``before_commit`` inserts them (:func:`write_pending`) after the transaction's other
writes, so the write lock is taken and the chain's tail read only for that one insert.

Every row stores ``prev_hash`` (the ``row_hash`` of the row before it, by id) and ``row_hash``,
the SHA-256 of ``prev_hash`` and the row's content. Hashes are filled in as rows are flushed
(:func:`_chain_new_events`) or bulk-inserted (:func:`append_rows`), after reading the tail of
the chain:

- SQLite: a transaction holds the one write lock (``BEGIN IMMEDIATE``, see ``extensions.py``)
  before it reads the tail, so one writer at a time reads the tail and appends.
- PostgreSQL: a transaction takes the transaction-level advisory lock :data:`CHAIN_LOCK_KEY`
  at its *first write* of any kind (flush, DML or ``SELECT ... FOR UPDATE``), then holds it
  until it commits or rolls back. Writers are therefore serialised as on SQLite, ids are
  allocated in chain order, and since every row lock is taken after the one advisory lock no
  deadlock between them is possible.

:func:`verify_chain` recomputes the chain; ``flask verify-audit`` runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import String, bindparam, event, func, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.functions import FunctionElement

from notes_service.prepared import Prepared

GENESIS = "0" * 64
#: Key of ``pg_advisory_xact_lock`` taken by every writing transaction on PostgreSQL.
CHAIN_LOCK_KEY = 0x4E4F544553  # "NOTES"
#: Columns whose values are hashed, in this order. Changing it invalidates existing chains.
CONTENT_COLUMNS = ("at", "user_id", "patient_id", "kind", "action", "object_id", "outcome",
                   "ip", "user_agent", "request", "detail")
_LOCKED = "audit_chain_locked"
#: ``session.info`` key of the audit rows waiting for the transaction's commit.
_PENDING = "audit_pending"


def _canonical(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if value.year < 1000:  # strftime does not pad the year; isoformat (below) does
            return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return value.isoformat(timespec="microseconds")  # the same text, in a third the time
    return value


#: One encoder for every row (``json.dumps`` with options builds one per call).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def content_of(row) -> str:
    """The hashed text of ``row`` (a mapping or an object) after its ``prev_hash``: a newline,
    then the JSON of its :data:`CONTENT_COLUMNS`."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return "\n" + _ENCODE([_canonical(get(name)) for name in CONTENT_COLUMNS])


def row_hash(prev_hash: str, row) -> str:
    """SHA-256 (hex) of ``prev_hash`` and the content of ``row`` (a mapping or an object)."""
    return chain_hash(prev_hash, content_of(row))


def chain_hash(prev_hash: str, content: str) -> str:
    """SHA-256 (hex) of ``prev_hash`` followed by ``content`` (see :func:`content_of`); also
    the SQL function ``notes_chain_hash`` of SQLite connections (``extensions.py``)."""
    return hashlib.sha256(f"{prev_hash}{content}".encode()).hexdigest()


class _ChainHash(FunctionElement):
    """``row_hash`` computed by the database from the previous hash and the row's content:
    the SQL function :func:`chain_hash` on SQLite, ``sha256`` on PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(_ChainHash)
def _chain_hash_sqlite(element, compiler, **kw):
    return f"notes_chain_hash({compiler.process(element.clauses, **kw)})"


@compiles(_ChainHash, "postgresql")
def _chain_hash_postgresql(element, compiler, **kw):
    prev, content = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"encode(sha256(convert_to({prev} || {content}, 'UTF8')), 'hex')"


def take_write_lock(session: Session, *, audit: bool = False) -> None:
    """Take the write lock for the rest of the transaction: SQLite's (a reading transaction
    begins again with ``BEGIN IMMEDIATE``, see :func:`notes_service.extensions.take_write_lock`)
    or, on PostgreSQL, the chain's advisory lock. ``audit``: the write is audit rows only."""
    if session.info.get(_LOCKED):
        return
    lock_connection(session.connection(), audit=audit)
    session.info[_LOCKED] = True


def lock_connection(connection, *, audit: bool = False) -> None:
    """:func:`take_write_lock` on a connection of its own (outside any ORM session)."""
    from notes_service.extensions import take_write_lock as lock_database

    lock_database(connection, audit=audit)
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


@cache
def _statements():
    """The tail query, and the insert that chains each row to the tail it reads itself (one
    statement a row), built once (their compiled forms are then cached)."""
    from notes_service.audit.models import AuditEvent

    tail = select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
    prev = func.coalesce(tail.scalar_subquery(), GENESIS)
    return tail, AuditEvent.__table__.insert().values(
        prev_hash=prev, row_hash=_ChainHash(prev, bindparam("chain_content", type_=String())))


def chain_tail(session: Session) -> str:
    """The ``row_hash`` of the last audit row (call with the write lock held)."""
    last = session.connection().execute(_statements()[0]).scalar()
    return last or GENESIS


def link(rows: Iterable, prev: str) -> str:
    """Fill ``prev_hash``/``row_hash`` of ``rows`` (mappings or objects) in order; return the
    new tail."""
    for row in rows:
        digest = row_hash(prev, row)
        if isinstance(row, dict):
            row["prev_hash"], row["row_hash"] = prev, digest
        else:
            row.prev_hash, row.row_hash = prev, digest
        prev = digest
    return prev


def append_rows(session: Session, rows: list[dict]) -> None:
    """Insert audit rows (dicts of every content column) at the end of the chain, at once.

    Each row's hashes are computed by the insert itself from the tail it reads (with the
    write lock held): no statement reads the tail first."""
    if not rows:
        return
    session.flush()  # earlier events of this transaction come first in the chain
    take_write_lock(session, audit=True)
    _insert_chained(session.connection(), rows)


def append_rows_on(connection, rows: list[dict]) -> None:
    """:func:`append_rows` on a connection of its own, whose transaction writes nothing else
    (the caller commits it)."""
    lock_connection(connection, audit=True)
    _insert_chained(connection, rows)


def _insert_chained(connection, rows: list[dict]) -> None:
    for row in rows:
        row["chain_content"] = content_of(row)
    _INSERT.write(connection, rows)


#: The chaining insert, run on the driver's cursor (:mod:`notes_service.prepared`): every
#: request that reads patient data writes one.
_INSERT = Prepared(lambda: _statements()[1])


def add_pending(session: Session, rows: list[dict]) -> None:
    """Keep audit rows on ``session`` until its transaction commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).extend(rows)


def write_pending(session: Session) -> None:
    """``before_commit``: insert the transaction's pending audit rows, in one statement."""
    rows = session.info.pop(_PENDING, None)
    if rows:
        append_rows(session, rows)


def _chain_new_events(session: Session, _context, _instances) -> None:
    """``before_flush``: take the write lock, then chain the audit events about to be inserted."""
    from notes_service.audit.models import AuditEvent

    if not (session.new or session.dirty or session.deleted):
        return
    take_write_lock(session)
    events = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not events:
        return
    # The unit of work inserts objects of one class in the order they were added.
    from sqlalchemy import inspect

    events.sort(key=lambda obj: inspect(obj).insert_order)
    link(events, chain_tail(session))


def _lock_before_writes(orm_execute_state) -> None:
    """``do_orm_execute``: DML and ``SELECT ... FOR UPDATE`` take the write lock first."""
    statement = orm_execute_state.statement
    if isinstance(statement, UpdateBase) or getattr(statement, "_for_update_arg", None) is not None:
        take_write_lock(orm_execute_state.session)


def _forget_lock(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_LOCKED, None)
        session.info.pop(_PENDING, None)  # rolled back: the rows go with what they record


def install() -> None:
    """Listen on every ORM session (Flask-SQLAlchemy's and the tests' own)."""
    if not event.contains(Session, "before_flush", _chain_new_events):
        event.listen(Session, "before_flush", _chain_new_events)
        event.listen(Session, "do_orm_execute", _lock_before_writes)
        event.listen(Session, "after_transaction_end", _forget_lock)
        event.listen(Session, "before_commit", write_pending)


@dataclass
class ChainReport:
    """The result of :func:`verify_chain`."""

    rows: int
    head: str
    #: (id, problem) of the first row that does not fit, or None.
    first_bad: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _rows(connection, batch: int = 5000) -> Iterator:
    from notes_service.audit.models import AuditEvent

    columns = [AuditEvent.__table__.c[name] for name in
               ("id", *CONTENT_COLUMNS, "prev_hash", "row_hash")]
    last = 0
    while True:
        found = connection.execute(select(*columns).where(AuditEvent.id > last)
                                   .order_by(AuditEvent.id).limit(batch)).mappings().all()
        if not found:
            return
        yield from found
        last = found[-1]["id"]


def verify_chain(connection) -> ChainReport:
    """Recompute the chain in id order and name the first row that does not fit.

    An edited row no longer matches its own hash; a deleted row leaves the next row pointing
    at a hash that is not the one before it; an inserted row has a hash that was never
    chained. Deleting rows at the *end* leaves a shorter valid chain: compare the head with a
    previously recorded one (``--expect-head``) to catch that.
    """
    prev, count = GENESIS, 0
    for row in _rows(connection):
        count += 1
        if row["prev_hash"] != prev:
            return ChainReport(count, prev, (row["id"], "does not follow the row before it "
                                             "(a row was deleted or inserted before it)"))
        if row["row_hash"] != row_hash(prev, row):
            return ChainReport(count, prev, (row["id"], "content does not match its hash "
                                             "(the row was edited or inserted)"))
        prev = row["row_hash"]
    return ChainReport(count, prev)


install()
