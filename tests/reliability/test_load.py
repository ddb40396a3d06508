"""Load: the service under gunicorn on loopback, eight clients writing and signing notes at
once for a bounded time; afterwards every acknowledged write is stored exactly once, no request
failed and the audit chain is intact (SQLite and PostgreSQL)."""

from __future__ import annotations

from conftest import empty_database  # noqa: F401  (the fixture, per backend)
from reliability_support import (
    Gunicorn,
    check_acknowledged,
    prepare_database,
    run_clients,
    verify_audit,
)

CLIENTS = 8
SECONDS = 4


def test_eight_clients_write_and_sign_without_losing_anything(empty_database, tmp_path):
    tokens = prepare_database(empty_database, CLIENTS)
    server = Gunicorn(empty_database, workers=3, log=tmp_path / "gunicorn.log")
    server.start()
    try:
        logs = run_clients(server.port, tokens, SECONDS)
    finally:
        server.stop()
    errors = [e for log in logs for e in log.errors]
    assert errors == [], errors[:10]
    acknowledged = check_acknowledged(logs, empty_database)
    assert acknowledged >= 20, f"only {acknowledged} notes in {SECONDS} s"
    assert all(log.signed for log in logs)
    verify_audit(empty_database)
    print(f"{acknowledged} notes written and signed by {CLIENTS} clients in {SECONDS} s")
