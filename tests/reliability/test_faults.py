"""Faults: a worker killed with SIGKILL in the middle of writes, then the whole service killed
and restarted (SQLite: the database passes PRAGMA integrity_check and every acknowledged note is
there); the database stopped mid-run (a private PostgreSQL): clear 503s with Retry-After
meanwhile, full recovery by itself afterwards, nothing acknowledged lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from reliability_support import (
    PG_BIN,
    Gunicorn,
    PrivatePostgres,
    check_acknowledged,
    prepare_database,
    request,
    run_clients,
    verify_audit,
)

CLIENTS = 6


def sign_in_page(port: int):
    """Post the sign-in form as a browser would (CSRF token and cookie from the form page):
    checking a password needs the database. Returns (status, Retry-After, page)."""
    import http.client
    import re
    from urllib.parse import urlencode

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", "/login")
        form = connection.getresponse()
        html = form.read().decode()
        cookie = form.getheader("Set-Cookie").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        connection.request("POST", "/login", body=urlencode({
            "email": "load0@example.org", "password": "load tests password",
            "csrf_token": token}), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Retry-After"), answer.read().decode()
    finally:
        connection.close()


def test_sigkill_of_a_worker_mid_write_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "faults.db"
    url = f"sqlite:///{path}"
    tokens = prepare_database(url, CLIENTS)
    server = Gunicorn(url, workers=2, log=tmp_path / "gunicorn.log")
    server.start()
    killed = []

    def kill_workers():
        for _ in range(2):
            time.sleep(1.2)
            pid = server.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)  # a worker of the gunicorn this test started
            killed.append(pid)

    try:
        # A request on the killed worker loses its connection (status 0): never acknowledged.
        logs = run_clients(server.port, tokens, 3.5, tolerate=(0,), during=kill_workers)
    finally:
        server.stop(signal.SIGKILL)  # then the whole service crashes
    assert len(killed) == 2
    assert [e for log in logs for e in log.errors] == []
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    acknowledged = check_acknowledged(logs, url)
    assert acknowledged > 10
    restarted = Gunicorn(url, workers=1, log=tmp_path / "gunicorn.log")
    restarted.start()
    try:
        status, _, notes = request(restarted.port, "GET", "/api/v1/plans/1/visits",
                                   token=tokens[0][0])
        assert status == 200
        mine = {n["id"] for n in notes}
        assert set(logs[0].created) <= mine
    finally:
        restarted.stop()
    verify_audit(url)


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="needs PostgreSQL 15's programs")
def test_database_stopped_mid_run_answers_503_and_recovers(tmp_path):
    database = PrivatePostgres()
    try:
        database.init()
        tokens = prepare_database(database.url, CLIENTS)
        server = Gunicorn(database.url, workers=2, log=tmp_path / "gunicorn.log")
        server.start()
        outage = {}

        def stop_and_start():
            time.sleep(1.0)
            database.stop()
            outage["stopped"] = time.monotonic()
            time.sleep(1.5)
            status, headers, body = request(server.port, "GET", "/api/v1/patients",
                                            token=tokens[0][0])
            outage["api"] = (status, headers.get("Retry-After"), body)
            outage["page"] = sign_in_page(server.port)
            database.start()
            outage["started"] = time.monotonic()

        try:
            logs = run_clients(server.port, tokens, 6, tolerate=(503,),
                               during=stop_and_start)
            status, _, _ = request(server.port, "GET", "/api/v1/patients", token=tokens[0][0])
        finally:
            server.stop()
        assert [e for log in logs for e in log.errors] == []
        assert outage["api"][0] == 503 and outage["api"][1] == "5"
        assert outage["api"][2]["errors"]["_request"][0].startswith(
            "The database is unavailable")
        assert outage["page"][0] == 503 and outage["page"][1] == "5"
        assert "Service unavailable" in outage["page"][2]
        refused = sum(log.statuses.get(503, 0) for log in logs)
        assert refused > 0
        assert status == 200  # recovered by itself: no restart of the service
        after = [log for log in logs if log.created]
        assert after
        acknowledged = check_acknowledged(logs, database.url)
        print(f"{acknowledged} notes acknowledged, {refused} answers were 503 during the "
              "outage")
        verify_audit(database.url)
    finally:
        database.destroy()
