"""Backups: ``flask backup PATH`` (SQLite online backup API, pg_dump on PostgreSQL) and
``flask restore PATH`` (SQLite; checked first, needs --yes), and a restored copy that matches the
original table by table (row counts and content hashes)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from conftest import Api, ClinicBuilder, app_on, make_account
from notes_service.extensions import db
from notes_service.security.backup import table_digests


def _fill(application) -> None:
    with application.app_context():
        upgrade()
    client = application.test_client()
    account = make_account(application, "backup.pt@example.org", "practitioner")
    clinic = ClinicBuilder(Api(client, account))
    for _ in range(2):
        _, plan = clinic.chart()
        clinic.signed_visit(plan["id"], days_ago=3)
        clinic.visit(plan["id"])


def _digests(application):
    with application.app_context():
        with db.engine.connect() as connection:
            return table_digests(connection)


def _run(application, *args):
    return application.test_cli_runner().invoke(args=list(args))


def test_sqlite_backup_and_restore_give_back_the_same_data(tmp_path):
    live = tmp_path / "live.db"
    with app_on(f"sqlite:///{live}") as application:
        _fill(application)
        original = _digests(application)
        assert original["visit_notes"].rows == 4 and original["audit_events"].rows >= 10
        backup = tmp_path / "backups" / "notes.db"
        result = _run(application, "backup", str(backup))
        assert result.exit_code == 0, result.output
        with sqlite3.connect(backup) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # The copy on its own matches the original, table by table.
        with app_on(f"sqlite:///{backup}") as copy_app:
            assert _digests(copy_app) == original
        # Change the live database, then restore the backup over it.
        ClinicBuilder(Api(application.test_client(), make_account(
            application, "later@example.org", "practitioner"))).patient()
        assert _digests(application) != original
        refused = _run(application, "restore", str(backup))
        assert refused.exit_code == 1 and "--yes" in refused.stderr
        assert _digests(application) != original
        restored = _run(application, "restore", str(backup), "--yes")
        assert restored.exit_code == 0, restored.output
        assert _digests(application) == original
        assert (tmp_path / "live.db.before-restore").exists()
        assert _run(application, "verify-audit").exit_code == 0
        # The running app carries on with the restored data.
        token = application.test_client().post("/api/v1/auth/token", json={
            "email": "backup.pt@example.org", "password": "correct horse battery"})
        assert token.status_code == 201


def test_backup_refuses_to_overwrite(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'live.db'}") as application:
        _fill(application)
        target = tmp_path / "exists.db"
        target.write_text("keep me")
        result = _run(application, "backup", str(target))
    assert result.exit_code == 1 and "exists already" in result.stderr
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("make_file, message", [
    (lambda p: p.write_text("not a database at all"), "file is not a database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(),
     "not a notes_service database"),
])
def test_restore_refuses_what_is_not_a_sound_backup(tmp_path, make_file, message):
    with app_on(f"sqlite:///{tmp_path / 'live.db'}") as application:
        _fill(application)
        before = _digests(application)
        bad = tmp_path / "bad.db"
        make_file(bad)
        result = _run(application, "restore", str(bad), "--yes")
        assert result.exit_code == 1 and message in result.stderr, result.stderr
        assert _digests(application) == before


def _damage_page(path, index_name: str) -> None:
    """Overwrite the cells of one index page: the schema still reads, the index is broken."""
    with sqlite3.connect(path) as copy:
        page_size = copy.execute("PRAGMA page_size").fetchone()[0]
        root = copy.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (index_name,)).fetchone()[0]
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start + 16:start + page_size] = b"\xa5" * (page_size - 16)
    path.write_bytes(bytes(data))


def test_restore_refuses_a_corrupted_backup(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'live.db'}") as application:
        _fill(application)
        backup = tmp_path / "b.db"
        assert _run(application, "backup", str(backup)).exit_code == 0
        corrupt = tmp_path / "corrupt.db"
        corrupt.write_bytes(backup.read_bytes())
        _damage_page(corrupt, "ix_audit_events_patient_at")
        before = _digests(application)
        result = _run(application, "restore", str(corrupt), "--yes")
        assert result.exit_code == 1, result.output
        assert "integrity check failed" in result.stderr
        assert _digests(application) == before
        # A file damaged anywhere else is refused too.
        data = bytearray(backup.read_bytes())
        for offset in range(2 * 4096 + 100, len(data) - 4096, 4096 * 3):
            data[offset:offset + 64] = b"\xff" * 64
        corrupt.write_bytes(bytes(data))
        result = _run(application, "restore", str(corrupt), "--yes")
        assert result.exit_code == 1 and "Refusing to restore" in result.stderr
        assert _digests(application) == before


def test_restore_refuses_a_backup_of_another_schema_version(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'live.db'}") as application:
        _fill(application)
        backup = tmp_path / "old.db"
        assert _run(application, "backup", str(backup)).exit_code == 0
        with sqlite3.connect(backup) as copy:
            copy.execute("UPDATE alembic_version SET version_num = '0001'")
        result = _run(application, "restore", str(backup), "--yes")
    assert result.exit_code == 1 and "schema version 0001" in result.stderr


def test_postgresql_backup_uses_pg_dump(empty_database, tmp_path):
    if not empty_database.startswith("postgresql"):
        pytest.skip("PostgreSQL")
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with app_on(empty_database) as application:
        _fill(application)
        target = tmp_path / "notes.dump"
        result = _run(application, "backup", str(target))
        assert result.exit_code == 0, result.stderr
        assert target.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        listing = __import__("subprocess").run(["pg_restore", "--list", str(target)],
                                               capture_output=True, text=True, check=True)
        assert "TABLE DATA public visit_notes" in listing.stdout
        assert "audit_events_append_only" in listing.stdout
        guidance = _run(application, "restore", str(target), "--yes")
        assert guidance.exit_code == 2 and "pg_restore --clean" in guidance.stderr


def test_table_digests_see_a_changed_row(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'live.db'}") as application:
        _fill(application)
        before = _digests(application)
        with application.app_context():
            with db.engine.begin() as connection:
                connection.execute(sa.text("UPDATE visit_notes SET subjective = 'x' "
                                           "WHERE id = 1"))
        after = _digests(application)
    assert after["visit_notes"].rows == before["visit_notes"].rows
    assert after["visit_notes"].sha256 != before["visit_notes"].sha256
    assert {k: v for k, v in after.items() if k != "visit_notes"} == {
        k: v for k, v in before.items() if k != "visit_notes"}
