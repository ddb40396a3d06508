"""Run the real service under gunicorn on loopback, drive it with concurrent clients, and run a
private PostgreSQL that a test may stop and start (never the shared server other tests use).

Every loop here is bounded in time and in count; every process started here is stopped by its
own id.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET = "reliability-tests-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(url: str, clients: int) -> list[tuple[str, int]]:
    """Migrate ``url`` and create one practitioner (with an API token) per client."""
    from flask_migrate import upgrade

    from conftest import app_on
    from notes_service.auth.services import create_user, issue_token
    from notes_service.extensions import db

    tokens = []
    with app_on(url) as application:
        with application.app_context():
            upgrade()
            for n in range(clients):
                user = create_user({"email": f"load{n}@example.org", "name": f"Load {n}",
                                    "role": "practitioner", "password": "load tests password",
                                    "patient_id": None})
                token, _ = issue_token(user, 2)
                tokens.append((token, user.id))
            db.session.commit()
    return tokens


class Gunicorn:
    """``gunicorn wsgi:app`` on 127.0.0.1 with ``workers`` processes, on database ``url``."""

    def __init__(self, url: str, workers: int = 3, log: Path | None = None):
        self.url = url
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = log

    def start(self, timeout: float = 30) -> None:
        env = {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": SECRET,
               "PYTHONUNBUFFERED": "1"}
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                # --preload: the app is imported once and the workers fork from it (create_app
                # opens no connection, so none is shared); it also makes starting quicker.
                [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
                 "--bind", f"127.0.0.1:{self.port}", "--timeout", "30", "--preload",
                 "--graceful-timeout", "3", "wsgi:app"],
                cwd=ROOT, env=env, stdout=output, stderr=output)
        finally:
            if self.log:
                output.close()  # the child has its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, _, _ = request(self.port, "GET", "/login", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def worker_pids(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                               text=True, check=False)
        return [int(pid) for pid in found.stdout.split()]

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids() if sig == signal.SIGKILL else []
        self.process.send_signal(sig)
        for pid in workers:  # a killed master leaves its workers: they are ours to end
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def request(port: int, method: str, path: str, body=None, token: str | None = None,
            timeout: float = 15):
    """One HTTP request on loopback: (status, headers, decoded JSON or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers=headers)
        response = connection.getresponse()
        data = response.read().decode()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return response.status, dict(response.getheaders()), data
    finally:
        connection.close()


@dataclass
class ClientLog:
    """What one client was told."""

    name: str
    created: dict[int, str] = field(default_factory=dict)  # visit id → marker
    signed: set[int] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def setup_chart(port: int, token: str, name: str) -> int:
    """Register a patient and a plan through the API; return the plan id."""
    status, _, patient = request(port, "POST", "/api/v1/patients", {
        "given_name": name, "family_name": "Load", "birth_date": "1980-05-01"}, token)
    assert status == 201, patient
    status, _, plan = request(port, "POST", f"/api/v1/patients/{patient['id']}/plans", {
        "start_date": (date.today() - timedelta(days=30)).isoformat(), "weeks": 8,
        "visits_per_week": 2, "diagnosis_code": "M54.41",
        "goals": [{"measure": "pain", "target": 2}]}, token)
    assert status == 201, plan
    return plan["id"]


def write_and_sign(port: int, token: str, plan_id: int, log: ClientLog, until: float,
                   tolerate: tuple[int, ...] = (), max_requests: int = 5000) -> None:
    """Write and sign notes until ``until`` (monotonic); record what was acknowledged.

    A status in ``tolerate`` (e.g. 503 while the database is down) is counted, not an error;
    a connection error is an error unless 0 is tolerated (a worker killed mid-request).
    """
    n = 0
    visit_day = (date.today() - timedelta(days=1)).isoformat()
    while time.monotonic() < until and n < max_requests:
        n += 1
        marker = f"{log.name}-{n}"
        try:
            status, headers, body = request(port, "POST", f"/api/v1/plans/{plan_id}/visits", {
                "visit_date": visit_day, "subjective": marker, "objective": "SLR 40°.",
                "assessment": "Irritable nerve.", "plan": "ART.", "interventions": ["art"],
                "measurements": [{"measure": "pain", "value": 5}]}, token)
        except OSError as exc:
            log.count(0)
            if 0 not in tolerate:
                log.errors.append(f"create {marker}: {exc!r}")
            time.sleep(0.05)
            continue
        log.count(status)
        if status != 201:
            if status not in tolerate:
                log.errors.append(f"create {marker}: {status} {body}")
            elif status == 503 and "Retry-After" not in headers:
                log.errors.append(f"503 without Retry-After: {body}")
            time.sleep(0.05)
            continue
        log.created[body["id"]] = marker
        try:
            status, _, body = request(port, "POST", f"/api/v1/visits/{body['id']}/sign", {},
                                      token)
        except OSError as exc:
            log.count(0)
            if 0 not in tolerate:
                log.errors.append(f"sign {marker}: {exc!r}")
            continue
        log.count(status)
        if status == 200:
            log.signed.add(body["id"])
        elif status not in tolerate:
            log.errors.append(f"sign {marker}: {status} {body}")


def run_clients(port: int, tokens: list[tuple[str, int]], seconds: float,
                tolerate: tuple[int, ...] = (), during=None) -> list[ClientLog]:
    """Each token's client writes and signs notes concurrently for ``seconds``.

    ``during(elapsed_logs)`` runs in the calling thread while the clients write.
    """
    plans = [setup_chart(port, token, f"Client{n}") for n, (token, _) in enumerate(tokens)]
    logs = [ClientLog(f"c{n}") for n in range(len(tokens))]
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=write_and_sign,
                                args=(port, token, plan, log, until, tolerate))
               for (token, _), plan, log in zip(tokens, plans, logs)]
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    for thread in threads:
        thread.join(seconds + 60)
    return logs


def stored_notes(url: str) -> dict[int, tuple[str, str, int]]:
    """Every visit note in the database: id → (subjective, status, how many with that text)."""
    engine = sa.create_engine(_sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, subjective, status FROM visit_notes")).all()
    finally:
        engine.dispose()
    texts: dict[str, int] = {}
    for _, subjective, _ in rows:
        texts[subjective] = texts.get(subjective, 0) + 1
    return {id_: (subjective, status, texts[subjective]) for id_, subjective, status in rows}


def _sqlalchemy_url(url: str) -> str:
    from notes_service.config import database_url

    return database_url(url)


def check_acknowledged(logs: list[ClientLog], url: str) -> int:
    """Every acknowledged write is stored exactly once; signed notes are signed."""
    stored = stored_notes(url)
    problems, acknowledged = [], 0
    for log in logs:
        for visit_id, marker in log.created.items():
            acknowledged += 1
            found = stored.get(visit_id)
            if found is None or found[0] != marker:
                problems.append(f"acknowledged note {visit_id} ({marker}) missing")
            elif found[2] != 1:
                problems.append(f"note {marker} stored {found[2]} times")
        for visit_id in log.signed:
            if stored.get(visit_id, (None, None))[1] != "signed":
                problems.append(f"acknowledged signature of {visit_id} missing")
    assert problems == [], problems[:20]
    return acknowledged


def verify_audit(url: str) -> None:
    from notes_service.audit.chain import verify_chain

    engine = sa.create_engine(_sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            report = verify_chain(connection)
    finally:
        engine.dispose()
    assert report.ok, report.first_bad


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster on a free port with its socket in a temp folder.

    Run as the ``postgres`` system user when the tests run as root (PostgreSQL refuses root).
    """

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="notes-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/notes"

    def _run(self, *command: str, check: bool = True):
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True,
                              check=check, timeout=120)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "notes")

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", "-l",
                  str(self.folder / "server.log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                  check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
