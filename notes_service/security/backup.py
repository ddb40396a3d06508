"""Backups and restores of the service's database.

SQLite: :func:`backup_sqlite` copies the live database with SQLite's online backup API
(consistent while the service runs; WAL content included). :func:`restore_sqlite` first
checks that the file is a notes_service database (``PRAGMA integrity_check``, the schema
version, the core tables), keeps a copy of the current database beside it, then copies the
backup *into* the live database through the same API, so connections of a running service see
the restored content instead of a file swapped under them.

PostgreSQL: ``pg_dump --format=custom`` when ``pg_dump`` is installed (restore with
``pg_restore --clean --if-exists --no-owner -d DATABASE PATH`` while the service is stopped).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

#: Tables a file must have to be taken for a notes_service database.
REQUIRED_TABLES = {"alembic_version", "users", "patients", "visit_notes", "audit_events"}


class BackupError(Exception):
    """A backup or restore that cannot be done safely; the message says why."""


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    return Path(database)


def backup_sqlite(url: str, target: Path) -> None:
    """Copy the SQLite database at ``url`` to ``target`` (which must not exist)."""
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"No database at {source}.")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 5000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()
    problem = check_sqlite_file(target)
    if problem:
        target.unlink(missing_ok=True)
        raise BackupError(f"The copy failed its check: {problem}")


def check_sqlite_file(path: Path, expected_revision: str | None = None) -> str | None:
    """Why ``path`` is not a sound notes_service database, or None if it is."""
    if not path.is_file():
        return f"{path} is not a file."
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"cannot open {path}: {exc}"
    try:
        try:
            result = connection.execute("PRAGMA integrity_check").fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            result = [(f"{exc}"[:200],)]
        if result != [("ok",)]:
            return "integrity check failed: " + "; ".join(str(r[0]) for r in result[:5])
        tables = {r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = REQUIRED_TABLES - tables
        if missing:
            return f"not a notes_service database (no {', '.join(sorted(missing))} table)"
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if expected_revision and (revision is None or revision[0] != expected_revision):
            found = revision[0] if revision else "none"
            return (f"schema version {found}, this service is at {expected_revision}: restore "
                    "it with the version of the service that wrote it, then upgrade")
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        # A damaged schema page can make even SQLite's error message undecodable.
        return f"not a SQLite database, or a damaged one: {str(exc)[:200]!r}"
    finally:
        connection.close()
    return None


def restore_sqlite(url: str, source: Path, expected_revision: str | None) -> Path:
    """Replace the content of the database at ``url`` with the backup ``source``.

    Returns the path of the copy of the database as it was before (the way back).
    """
    problem = check_sqlite_file(source, expected_revision)
    if problem:
        raise BackupError(f"Refusing to restore {source}: {problem}")
    live = sqlite_path(url)
    saved = live.with_name(f"{live.name}.before-restore")
    if live.exists():
        saved.unlink(missing_ok=True)
        backup_sqlite(url, saved)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(live)
    try:
        dst.execute("PRAGMA busy_timeout = 10000")
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return saved


def pg_dump(url: str, target: Path) -> None:
    """Dump the PostgreSQL database at ``url`` to ``target`` with ``pg_dump``."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError("pg_dump is not installed: install the PostgreSQL client tools, or "
                          "run pg_dump --format=custom on the database server.")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file.")
    parsed = make_url(url).set(drivername="postgresql")
    command = [program, "--format=custom", "--no-owner", f"--file={target}",
               f"--dbname={parsed.render_as_string(hide_password=False)}"]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {finished.stderr.strip()}")


@dataclass(frozen=True)
class TableDigest:
    """Row count and content hash of one table."""

    rows: int
    sha256: str


def table_digests(connection) -> dict[str, TableDigest]:
    """Row count and SHA-256 of every table's rows (in primary-key order), for comparing a
    database with its restored copy. ``connection`` is a SQLAlchemy connection."""
    from sqlalchemy import MetaData, select

    metadata = MetaData()
    metadata.reflect(connection)
    found = {}
    for name, table in sorted(metadata.tables.items()):
        order = list(table.primary_key.columns) or list(table.columns)
        digest = hashlib.sha256()
        count = 0
        for row in connection.execute(select(table).order_by(*order)):
            digest.update(repr(tuple(row)).encode())
            count += 1
        found[name] = TableDigest(count, digest.hexdigest())
    return found
