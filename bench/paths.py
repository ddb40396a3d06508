"""Benchmark the everyday paths of issue 9 against their floors, measured in the same run.

    .venv/bin/python bench/paths.py --patients 100,1000,10000      # or: bench/run.py --suite all

For each clinic size it reuses (or seeds) ``bench/data/clinic-<N>.sqlite`` and works on a copy
of it, so the writes of a run never change the clinic. It then:

1. adds a bench practitioner with a token and a signed-in session (through the sign-in form
   and its CSRF token), a patient whose plan has 24 visits × 8 measures (12 measurements a
   visit, through the API), a second plan to write to, and care-team places on other patients'
   active plans up to 60 active plans;
2. in a fresh process, measures what needs the inside of the app: statements per request
   (list of 6 and of 24 visits; a chart's 304), a chart cache miss against ``savefig`` of
   the very ``matplotlib.figure.Figure`` the chart code builds (and a two-line figure), and
   the caseload's flags for the 60 plans (the stored measure flags and the live
   date-dependent ones, as the caseload page reads them), with every memo emptied (cold) and
   kept (warm), against the raw SQL of loading the same series;
3. starts gunicorn (``gunicorn.conf.py``: sync workers, ``--preload``, warm-up render) on a free
   loopback port and drives it with ``wrk`` (or, without wrk, a small Python load generator):
   each route right after its floor, at c1 for p50 and at c8 for throughput. The floor of an
   API or HTML route is ``GET /healthz``; of a chart hit or 304, the static file route.
4. checks the first chart request after start against later ones, posts notes from 8 threads
   and counts the rows written, and reads the workers' memory (RSS) at the end.

``--markdown`` prints the tables for ``bench/README.md``. The exit status is 0 whatever the
figures: CI only checks that the suite runs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
HOST = "127.0.0.1"
SECRET = "bench-secret-key-paths"
PASSWORD = "bench-practitioner-2026"
EMAIL = "bench.pt@scale.clinic"
#: The plan's tracked measures: 8 series (slr on both sides).
TRACKED = [("pain", None), ("pain_worst", None), ("pain_best", None), ("slr", "right"),
           ("slr", "left"), ("lumbar_flexion", None), ("lumbar_extension", None),
           ("hip_flexion", "right")]
CASELOAD_PLANS = 60

#: Row: (label, target text, the number the ratio is compared with, "le" or "ge").
TARGETS = {
    "list visits": ("p50 ≤ 5× trivial (c1); constant query count", 5.0, "le"),
    "plan progress": ("p50 ≤ 8× trivial (c1)", 8.0, "le"),
    "patient page": ("p50 ≤ 10× trivial (c1)", 10.0, "le"),
    "chart 304": ("≥ 0.5× static-file throughput (c8); no series query", 0.5, "ge"),
    "chart cache hit": ("≥ 0.5× static-file throughput (c8)", 0.5, "ge"),
    "chart cache miss": ("≤ 1.2× bare Figure render of the same chart; no pyplot", 1.2, "le"),
    "save visit note": ("p50 ≤ 10× trivial (c1); zero lost writes at c8", 10.0, "le"),
    "caseload flags": ("≤ 2× raw SQL of loading the same series", 2.0, "le"),
    "first request": ("pays no matplotlib import or font cache", 1.5, "le"),
    "worker RSS": ("≤ 300 MB after all of the above (10,000 patients)", 300.0, "le"),
}


def _app(database: str):
    os.environ["SECRET_KEY"] = SECRET
    sys.path.insert(0, str(ROOT))
    from notes_service import create_app
    from notes_service.config import database_url

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url(database)})


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------------------------
# 1. The bench's own practitioner, patient, plans and session (in a child process)
# --------------------------------------------------------------------------------------------

def _measurements(i: int) -> list[dict]:
    """12 measurements of visit ``i``: 8 measures before treatment, 4 of them after too."""
    pain = max(0.0, 8 - i * 0.25)
    return [
        {"measure": "pain", "value": pain}, {"measure": "pain", "phase": "post",
                                             "value": max(0.0, pain - 2)},
        {"measure": "pain_worst", "value": min(10.0, pain + 2)},
        {"measure": "pain_best", "value": max(0.0, pain - 2)},
        {"measure": "slr", "side": "right", "value": 35 + i},
        {"measure": "slr", "side": "right", "phase": "post", "value": 41 + i},
        {"measure": "slr", "side": "left", "value": 70},
        {"measure": "lumbar_flexion", "value": 30 + i}, {"measure": "lumbar_flexion",
                                                         "phase": "post", "value": 33 + i},
        {"measure": "lumbar_extension", "value": 10 + i // 3},
        {"measure": "lumbar_extension", "phase": "post", "value": 12 + i // 3},
        {"measure": "hip_flexion", "side": "right", "value": 90 + i},
    ]


def visit_body(day: date, i: int) -> dict:
    return {"visit_date": day.isoformat(), "subjective": "Leg pain after sitting.",
            "objective": "Measured as recorded.", "assessment": "Irritable sciatic nerve.",
            "plan": "ART and nerve glides.", "interventions": ["art", "nerve_glides"],
            "measurements": _measurements(i)}


def setup(database: str) -> dict:
    """Add the bench's practitioner, plans, token and session; return what the runs need."""
    from sqlalchemy import func, insert, select

    app = _app(database)
    with app.app_context():
        from notes_service.auth.services import create_user, issue_token
        from notes_service.clock import clinic_today
        from notes_service.db_types import utcnow
        from notes_service.extensions import db
        from notes_service.patients.models import care_team
        from notes_service.plans.models import PlanOfCare

        user = create_user({"email": EMAIL, "name": "Bench Practitioner", "role": "practitioner",
                            "credentials": "PT, DPT", "password": PASSWORD})
        token, _ = issue_token(user, 12)
        db.session.commit()
        user_id = user.id
        today = clinic_today()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, url, body=None, expect=(200, 201)):
        response = client.open(url, method=method, json=body, headers=headers)
        assert response.status_code in expect, (url, response.status_code, response.get_json())
        return response.get_json()

    plans = {}
    for name, visits in (("read", 24), ("write", 6)):
        patient = call("POST", "/api/v1/patients", {
            "given_name": "Bench", "family_name": f"Patient {name}", "birth_date": "1975-04-02"})
        start = today - timedelta(days=7 * 12 - 1)
        plan = call("POST", f"/api/v1/patients/{patient['id']}/plans", {
            "start_date": start.isoformat(), "weeks": 12, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "side": "right",
            "tracked_measures": [{"measure": m, "side": s} for m, s in TRACKED],
            "goals": [{"measure": "pain", "target": 2},
                      {"measure": "slr", "side": "right", "target": 70}]})
        for i in range(visits):
            day = start + timedelta(days=i * 7 * 12 // 24)
            note = call("POST", f"/api/v1/plans/{plan['id']}/visits", visit_body(day, i))
            call("POST", f"/api/v1/visits/{note['id']}/sign", {"version": note["version"]})
        plans[name] = {"patient_id": patient["id"], "plan_id": plan["id"], "visits": visits}

    with app.app_context():
        # Care-team places on other patients' active plans, up to 60 active plans in all.
        from notes_service.extensions import db

        taken = {plans["read"]["patient_id"], plans["write"]["patient_id"]}
        single = (select(PlanOfCare.patient_id).where(PlanOfCare.status == "active")
                  .group_by(PlanOfCare.patient_id).having(func.count() == 1)
                  .order_by(PlanOfCare.patient_id).limit(CASELOAD_PLANS - len(taken)))
        others = [pid for pid in db.session.execute(single).scalars() if pid not in taken]
        if others:
            db.session.execute(insert(care_team), [
                {"patient_id": pid, "user_id": user_id, "added_at": utcnow()}
                for pid in others])
        db.session.commit()
        active = db.session.execute(
            select(func.count(PlanOfCare.id)).join(
                care_team, care_team.c.patient_id == PlanOfCare.patient_id)
            .where(care_team.c.user_id == user_id, PlanOfCare.status == "active")).scalar()

    # A signed-in browser session: the sign-in form with its CSRF token, as a browser does.
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    signed_in = browser.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                                   "csrf_token": csrf.group(1)})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:500]
    cookie = browser.get_cookie("session").value
    assert browser.get(f"/patients/{plans['read']['patient_id']}").status_code == 200
    return {"token": token, "cookie": cookie, "user_id": user_id, "plans": plans,
            "caseload_plans": active}


# --------------------------------------------------------------------------------------------
# 2. Inside the app (a fresh process): statements, chart miss, caseload flags
# --------------------------------------------------------------------------------------------

class Statements:
    """Record the SQL statements the engine runs while active."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.items: list[tuple[str, object]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.items.append((statement, parameters))

    def __enter__(self):
        self.items, self.on = [], True
        return self

    def __exit__(self, *exc):
        self.on = False


def inside(database: str, fixture: dict, repeat: int) -> dict:
    """Statements per request, chart miss vs bare Figure, caseload flags vs its raw SQL."""
    app = _app(database)
    from notes_service.extensions import db

    client = app.test_client()
    headers = {"Authorization": f"Bearer {fixture['token']}"}
    read, write = fixture["plans"]["read"], fixture["plans"]["write"]
    with app.app_context():
        statements = Statements(db.engine)
    out: dict = {}

    # Statements per request: the list of 6 and of 24 notes, a chart's 304.
    for plan in (write, read):
        url = f"/api/v1/plans/{plan['plan_id']}/visits"
        assert client.get(url, headers=headers).status_code == 200
        with statements:
            response = client.get(url, headers=headers)
        assert len(response.get_json()) == plan["visits"]
        out[f"list_statements_{plan['visits']}"] = len(statements.items)
    chart = f"/api/v1/plans/{read['plan_id']}/charts/pain.svg"
    etag = client.get(chart, headers=headers).headers["ETag"]
    with statements:
        response = client.get(chart, headers={**headers, "If-None-Match": etag})
    assert response.status_code == 304
    out["statements_304"] = len(statements.items)
    out["statements_304_read_series"] = sum(
        1 for sql, _ in statements.items if "measurements" in sql.lower())

    # Chart cache miss: the whole request vs the bare render of the same chart.
    for fmt in ("png", "svg"):
        out[f"chart_miss_{fmt}"] = chart_miss(app, client, headers, fixture, fmt, repeat)
    out["pyplot_imported"] = "matplotlib.pyplot" in sys.modules

    out["caseload"] = caseload(app, fixture, repeat, statements)
    return out


def chart_miss(app, client, headers: dict, fixture: dict, fmt: str, repeat: int) -> dict:
    """A chart cache miss (the pain chart, 800×400) against the bare render of the same chart.

    - **path**: the whole request with the chart cache emptied (the plan's progress kept, as
      after the patient page that links the chart or another chart of the plan; ``cold_p50``
      empties the progress memos too);
    - **floor**: ``Figure.savefig`` (draw and encode, through :func:`charts.save_figure`, the
      call the chart code makes) of the very figure :func:`charts.measure_figure` builds from
      the same already-loaded series, band, plan dates, size and format: no request, database,
      progress engine, audit, cache or SVG annotation. The inputs are checked to give the
      request's bytes exactly;
    - also reported: the chart code alone (``render_p50``: build, savefig, SVG annotation),
      building the figure alone, and a bare ``Figure`` of two plain lines of the same values,
      built and saved with matplotlib's defaults (what the decoration costs).

    Each iteration times all of them in a shuffled order (wall clock, and the process's CPU
    time, which a busy shared machine disturbs less); the first two warm up and are not kept.
    """
    import io

    from matplotlib.figure import Figure

    from notes_service.extensions import db
    from notes_service.progress import chart_responses, charts

    read = fixture["plans"]["read"]
    url = f"/api/v1/plans/{read['plan_id']}/charts/pain.{fmt}?width=800&height=400"
    with app.app_context():
        from notes_service.auth.models import User
        from notes_service.progress import services

        # What the request's render closure draws: the pain series and its worst/least band.
        actor = db.session.get(User, fixture["user_id"])
        plan, progress = services.plan_progress_for(actor, read["plan_id"])
        by_key = {(m.measure, m.side): m for m in progress.measures}
        args = {"plan_start": plan.start_date, "plan_end": plan.end_date, "fmt": fmt,
                "width": 800, "height": 400, "band": chart_responses.pain_band(by_key)}
        mp = by_key[("pain", None)]
        memos = [getattr(services, name) for name in ("PROGRESS_MEMO", "CHART_SOURCES")
                 if hasattr(services, name)]
        db.session.rollback()
    chart_responses.CHART_CACHE.clear()
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.data == charts.measure_chart(mp, **args), "the floor draws another chart"

    def two_lines():
        fig = Figure(figsize=(8, 4), dpi=100)
        ax = fig.subplots()
        ax.plot([p.day for p in mp.points], [p.pre for p in mp.points], marker="o")
        ax.plot([p.day for p in mp.points], [p.post for p in mp.points], marker="o",
                linestyle="--")
        fig.savefig(io.BytesIO(), format=fmt)

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def ms(started: tuple[float, float]) -> tuple[float, float]:
        return ((time.perf_counter() - started[0]) * 1000,
                (time.process_time() - started[1]) * 1000)

    def request(lap: dict, name: str, cold: bool = False) -> None:
        chart_responses.CHART_CACHE.clear()
        if cold:
            for memo in memos:
                memo.clear()
        started = clock()
        assert client.get(url, headers=headers).status_code == 200
        lap[name] = ms(started)

    def bare(lap: dict) -> None:
        started = clock()
        fig = charts.measure_figure(mp, **args)
        lap["build_p50"] = ms(started)
        started = clock()
        charts.save_figure(fig, fmt)
        lap["floor_p50"] = ms(started)

    def timed(name: str, call):
        def step(lap: dict) -> None:
            started = clock()
            call()
            lap[name] = ms(started)
        return step

    steps = [lambda lap: request(lap, "p50"), bare,
             timed("render_p50", lambda: charts.measure_chart(mp, **args)),
             timed("two_lines_p50", two_lines), lambda lap: request(lap, "cold_p50", cold=True)]
    names = ("p50", "floor_p50", "render_p50", "build_p50", "two_lines_p50", "cold_p50")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    # A fixed order lets the garbage collections, which recur with the same allocations, fall
    # on the same step every time; a shuffled one spreads them.
    shuffle = random.Random(9).shuffle
    for i in range(repeat + 2):
        lap: dict = {}
        shuffle(steps)
        for step in steps:
            step(lap)
        if i >= 2:
            for name, value in lap.items():
                times[name].append(value)
    result = {name: statistics.median(wall for wall, _ in values)
              for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}
    result["cpu"] = cpu
    result["ratio"] = result["p50"] / result["floor_p50"]
    result["cpu_ratio"] = cpu["p50"] / cpu["floor_p50"]
    result["ratio_two_lines"] = result["p50"] / result["two_lines_p50"]
    result["ratio_cold"] = result["cold_p50"] / result["floor_p50"]
    return result


#: The raw SQL of loading the caseload's series: the practitioner's active plans (care team or
#: break-glass grant, as ``patient_scope``), then their goals, notes, measurements and latest
#: progress report, by plan id. ``{ids}`` is one placeholder per plan.
CASELOAD_FLOOR = (
    "SELECT p.id, p.patient_id, p.start_date, p.weeks, p.status, p.maintenance_since,"
    " p.tracked_measures FROM plans_of_care p WHERE p.status = 'active' AND p.patient_id IN"
    " (SELECT patient_id FROM care_team WHERE user_id = ? UNION"
    " SELECT patient_id FROM break_glass_grants WHERE user_id = ? AND expires_at > ?)",
    "SELECT plan_id, measure, side, target, target_date FROM goals WHERE plan_id IN ({ids})",
    "SELECT id, plan_id, visit_date, status, created_at FROM visit_notes"
    " WHERE plan_id IN ({ids}) ORDER BY visit_date, id",
    "SELECT m.plan_id, m.visit_id, m.measure, m.side, m.phase, m.value FROM measurements m"
    " JOIN visit_notes n ON n.id = m.visit_id WHERE n.plan_id IN ({ids})",
    "SELECT plan_id, max(period_end) FROM progress_reports WHERE plan_id IN ({ids})"
    " GROUP BY plan_id",
)


def caseload(app, fixture: dict, repeat: int, statements: Statements) -> dict:
    """Caseload flags of the practitioner's active plans, cold and warm, vs loading the series.

    The path is what the caseload page calls: ``active_plans_for`` + ``caseload_flags`` (the
    measure flags stored in the outcome summaries, the date-dependent flags from one aggregate
    of the notes; no series read). **Cold**: every per-process memo emptied before each call
    and nothing else precomputed per process (a new worker, or the first view of the day); the
    stored summaries are current, as they are whenever a reader of them (this page, the
    worklist, the outcome figures) has run since the last change: one such read is made and
    committed before timing. **Warm**: the memos kept; the path keeps nothing per process, so
    it does the same work. For reference, the progress engine's own path (``caseload_progress``
    from the series, memo emptied) is timed in the same rounds. The floor is
    :data:`CASELOAD_FLOOR` on a raw DB-API cursor, every row fetched: what the engine must read.
    Each call of a path is followed by one of the floor. The path's flags are checked once,
    outside the timing, against the engine's.
    """
    from datetime import UTC, datetime

    from notes_service.extensions import db

    with app.app_context():
        from notes_service.auth.models import User
        from notes_service.memo import clear_all
        from notes_service.outcomes.caseload import caseload_flags
        from notes_service.progress import services

        def path(cold: bool, record: bool = False) -> tuple[float, tuple]:
            actor = db.session.get(User, fixture["user_id"])
            if cold:
                clear_all()
            with statements if record else contextlib.nullcontext():
                started = time.perf_counter()
                plans = services.active_plans_for(actor)
                flags = caseload_flags(actor, plans)
                elapsed = (time.perf_counter() - started) * 1000
            seen = (sorted(p.id for p in plans), sum(len(f) for f in flags.values()))
            db.session.rollback()
            db.session.expunge_all()
            return elapsed, seen

        def engine() -> tuple[float, dict]:
            actor = db.session.get(User, fixture["user_id"])
            clear_all()
            started = time.perf_counter()
            progress = services.caseload_progress(actor, services.active_plans_for(actor))
            elapsed = (time.perf_counter() - started) * 1000
            db.session.rollback()
            db.session.expunge_all()
            return elapsed, progress

        def reads(items) -> int:  # BEGIN (IMMEDIATE, on SQLite) is no part of reading
            return sum(1 for sql, _ in items
                       if sql.lstrip().upper().startswith(("SELECT", "WITH")))

        # A reader has run: the summaries are current (rebuilt here if the setup's writes left
        # them stale), and committed, so every timed call finds them so.
        actor = db.session.get(User, fixture["user_id"])
        plans = services.active_plans_for(actor)
        first = caseload_flags(actor, plans)
        db.session.commit()
        db.session.expunge_all()
        # The same flags as the engine's, computed from the series (outside the timing).
        _, progress = engine()
        assert first == {plan_id: p.flags for plan_id, p in progress.items()}, \
            "the stored flags differ from the engine's"
        series = sum(len(p.measures) for p in progress.values())
        path(cold=True)
        _, (plan_ids, flag_count) = path(cold=True, record=True)
        cold_statements = reads(statements.items)
        read_series = sum(1 for sql, _ in statements.items if "measurements" in sql.lower())
        path(cold=False)
        _, warm_seen = path(cold=False, record=True)
        warm_statements = reads(statements.items)
        assert warm_seen == (plan_ids, flag_count), "the memos changed the result"
        assert plan_ids == sorted(progress), "the engine read other plans"
        assert flag_count == sum(len(p.flags) for p in progress.values())

        raw = db.engine.raw_connection()
        cursor = raw.cursor()
        mark = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
        now = datetime.now(UTC).replace(tzinfo=None)
        if db.engine.dialect.name == "sqlite":
            now = now.strftime("%Y-%m-%d %H:%M:%S.%f")

        def floor() -> tuple[float, list[list]]:
            started = time.perf_counter()
            cursor.execute(CASELOAD_FLOOR[0].replace("?", mark),
                           (fixture["user_id"], fixture["user_id"], now))
            plans = cursor.fetchall()
            ids = [row[0] for row in plans]
            marks = ", ".join([mark] * len(ids))
            rows = [plans]
            for sql in CASELOAD_FLOOR[1:]:
                cursor.execute(sql.format(ids=marks), ids)
                rows.append(cursor.fetchall())
            return (time.perf_counter() - started) * 1000, rows

        _, rows = floor()
        # The same series: the same plans, and as many notes as the engine reads.
        assert sorted(row[0] for row in rows[0]) == plan_ids, "the floor reads other plans"
        measurement_rows = len(rows[3])
        timings: dict[str, list[float]] = {"cold": [], "warm": [], "engine": [], "floor": []}
        order = ["cold", "warm", "engine"]
        for _ in range(repeat):
            random.shuffle(order)  # so that garbage collections fall on none in particular
            for state in order:
                elapsed = engine()[0] if state == "engine" else path(cold=state == "cold")[0]
                timings[state].append(elapsed)
                timings["floor"].append(floor()[0])
        cursor.close()
        raw.close()
    p50 = {name: statistics.median(values) for name, values in timings.items()}
    return {"plans": len(plan_ids), "flags": flag_count, "series": series,
            "measurement_rows": measurement_rows, "statements_cold": cold_statements,
            "statements_warm": warm_statements, "statements_read_series": read_series,
            "floor_statements": len(CASELOAD_FLOOR), "cold_p50": p50["cold"],
            "warm_p50": p50["warm"], "engine_p50": p50["engine"], "floor_p50": p50["floor"],
            "ratio_cold": p50["cold"] / p50["floor"], "ratio_warm": p50["warm"] / p50["floor"],
            "ratio_engine": p50["engine"] / p50["floor"]}


# --------------------------------------------------------------------------------------------
# 3. Over HTTP: gunicorn, wrk or the Python load generator
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict, bytes]:
    """One request on its own connection (sync workers close it after each answer)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class Target:
    """A request to load the server with."""

    def __init__(self, path: str, headers: dict | None = None, method: str = "GET",
                 body: bytes | None = None):
        self.path, self.headers, self.method, self.body = path, headers or {}, method, body


_WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %d %f %f %f\\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50), latency:percentile(95), latency.mean))
end
"""


def wrk(port: int, target: Target, connections: int, duration: float) -> dict:
    """Drive ``target`` with wrk: requests/s, p50 and p95 in ms, non-2xx/3xx answers."""
    script = _WRK_DONE
    if target.method != "GET":
        script = (f"wrk.method = {json.dumps(target.method)}\n"
                  f"wrk.body = {json.dumps(target.body.decode())}\n") + script
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections),
                "-d", f"{max(1, round(duration))}s", "--timeout", "30s", "-s", lua.name]
        for key, value in target.headers.items():
            args += ["-H", f"{key}: {value}"]
        out = subprocess.run([*args, f"http://{HOST}:{port}{target.path}"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(lua.name)
    fields = next(line for line in out.splitlines() if line.startswith("BENCH ")).split()[1:]
    count, micros, bad_status, socket_errors = (int(v) for v in fields[:4])
    p50, p95, mean = (float(v) / 1000 for v in fields[4:])
    return {"requests": count, "rps": count / (micros / 1e6), "p50": p50, "p95": p95,
            "errors": bad_status + socket_errors}


def pyload(port: int, target: Target, connections: int, duration: float = 0.0,
           count: int | None = None) -> dict:
    """The same figures from Python threads (when wrk is absent; and for exact write counts).

    Runs for ``duration`` seconds, or until ``count`` requests per thread when given.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker():
        done = 0
        while (done < count) if count is not None else (time.perf_counter() < deadline):
            started = time.perf_counter()
            try:
                status, _, _ = request(port, target.method, target.path, target.headers,
                                       target.body)
            except OSError:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            done += 1
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ok = sum(n for s, n in statuses.items() if 200 <= s < 400)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50": statistics.median(latencies), "p95": _p(latencies, 0.95),
            "errors": len(latencies) - ok, "statuses": statuses}


class Server:
    """gunicorn with the project's ``gunicorn.conf.py`` on a free loopback port."""

    def __init__(self, database: str, workers: int, configured: bool = True):
        self.port = free_port()
        config = ["-c", str(ROOT / "gunicorn.conf.py")] if configured else []
        env = {**os.environ, "DATABASE_URL": database, "SECRET_KEY": SECRET}
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), *config, "--bind", f"{HOST}:{self.port}", "--workers", str(workers), "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        started = time.perf_counter()
        while True:
            try:
                if request(self.port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.perf_counter() - started > 120:
                self.log.seek(0)
                raise SystemExit("gunicorn did not start:\n" + self.log.read()[-3000:])
            time.sleep(0.05)
        self.boot_seconds = time.perf_counter() - started
        # Every worker up (each answers /healthz from its own pid only after it forked).
        time.sleep(0.5)

    def workers(self) -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(entry.name))
        return children

    def rss_mb(self) -> list[float]:
        values = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    values.append(int(line.split()[1]) / 1024)
        return values

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        os.unlink(self.log.name)


def first_request(database: str, read: dict, token: dict) -> dict:
    """What the first chart render of a fresh one-worker server costs against later renders.

    The first request (plan progress as JSON) opens the worker's database connection and
    compiles its statements; then each chart asked for is one never rendered before (a new
    width): without preloading and the warm-up, the first of them pays matplotlib's import,
    its font cache and the fonts' loading. Measured with ``gunicorn.conf.py`` and, for
    comparison, with a bare ``gunicorn wsgi:app`` (no preload, no warm-up).
    """
    out = {}
    for name, configured in (("configured", True), ("bare", False)):
        server = Server(database, 1, configured=configured)
        try:
            started = time.perf_counter()
            status, _, _ = request(server.port, "GET",
                                   f"/api/v1/plans/{read['plan_id']}/progress", token)
            first_any = (time.perf_counter() - started) * 1000
            assert status == 200, status
            times = []
            for i in range(6):
                url = (f"/api/v1/plans/{read['plan_id']}/charts/pain.svg?width={700 + i}"
                       "&height=350")
                started = time.perf_counter()
                status, _, _ = request(server.port, "GET", url, token)
                times.append((time.perf_counter() - started) * 1000)
                assert status == 200, status
        finally:
            server.stop()
        steady = statistics.median(times[1:])
        out[name] = {"first_request_ms": first_any, "first_ms": times[0], "steady_ms": steady,
                     "ratio": times[0] / steady}
    return {**out["configured"], "bare": out["bare"]}


#: Alternations of a row's floor and path (see :func:`paired`).
PAIRS = 5


def paired(load, port: int, base: Target, target: Target, connections: int, duration: float,
           by_rps: bool) -> tuple[dict, dict, float, list[float]]:
    """The floor and the path in alternation, :data:`PAIRS` times, each run a share of
    ``duration``: the pair whose ratio (path p50 ÷ floor p50, or path ÷ floor req/s when
    ``by_rps``) is the median, that ratio, and every pair's ratio. The machine is shared: a slow
    or a fast moment then moves one pair's ratio, not the row's."""
    pairs = []
    for _ in range(PAIRS):
        floor = load(port, base, connections, duration / PAIRS)
        path = load(port, target, connections, duration / PAIRS)
        ratio = path["rps"] / floor["rps"] if by_rps else path["p50"] / floor["p50"]
        pairs.append((ratio, floor, path))
    pairs.sort(key=lambda pair: pair[0])
    ratio, floor, path = pairs[len(pairs) // 2]
    return floor, path, ratio, [pair[0] for pair in pairs]


def over_http(database: str, fixture: dict, duration: float, use_wrk: bool,
              workers: int) -> dict:
    """Every HTTP row against its floor, the first request, the lost writes and the RSS."""
    load = wrk if use_wrk else pyload
    token = {"Authorization": f"Bearer {fixture['token']}"}
    read, write = fixture["plans"]["read"], fixture["plans"]["write"]
    out: dict = {"workers": workers, "first_request": first_request(database, read, token)}
    server = Server(database, workers)
    port = server.port
    out["boot_seconds"] = server.boot_seconds
    try:
        floor, static = Target("/healthz"), Target("/static/app.css")
        chart = f"/api/v1/plans/{read['plan_id']}/charts/pain.svg"
        _, headers, _ = request(port, "GET", chart, token)
        etag = headers["ETag"]
        rows = {
            "list visits": Target(f"/api/v1/plans/{read['plan_id']}/visits", token),
            "plan progress": Target(f"/api/v1/plans/{read['plan_id']}/progress", token),
            "patient page": Target(f"/patients/{read['patient_id']}",
                                   {"Cookie": f"session={fixture['cookie']}"}),
            "chart 304": Target(chart, {**token, "If-None-Match": etag}),
            "chart cache hit": Target(chart, token),
        }
        expected = {"list visits": 200, "plan progress": 200, "patient page": 200,
                    "chart 304": 304, "chart cache hit": 200}
        for name, target in rows.items():
            status, _, _ = request(port, target.method, target.path, target.headers)
            assert status == expected[name], (name, status)
            is_chart = name.startswith("chart")
            base = static if is_chart else floor
            results = {}
            for connections in (1, 8):
                load(port, base, connections, min(1.0, duration))  # settle
                floor_run, path_run, ratio, ratios = paired(
                    load, port, base, target, connections, duration, by_rps=is_chart)
                results[f"floor_c{connections}"], results[f"c{connections}"] = floor_run, path_run
                results[f"ratios_c{connections}"] = ratios
                # Charts: throughput at c8; the others: p50 at c1.
                if connections == (8 if is_chart else 1):
                    results["ratio"], results["ratios"] = ratio, ratios
            status, _, _ = request(port, target.method, target.path, target.headers)
            results["status_after"] = status  # a session that lapsed would answer 302
            out[name] = results

        # Saving a note: p50 at c1 against the floor; then 8 threads, every write counted.
        body = json.dumps(visit_body(date.today() - timedelta(days=1), 3)).encode()
        post = Target(f"/api/v1/plans/{write['plan_id']}/visits",
                      {**token, "Content-Type": "application/json"}, "POST", body)
        before = _count_notes(database, write["plan_id"])
        floor_run, path_run, ratio, ratios = paired(load, port, floor, post, 1, duration,
                                                    by_rps=False)
        results = {"floor_c1": floor_run, "c1": path_run, "ratio": ratio, "ratios": ratios}
        per_thread = max(3, round(duration * 4))
        middle = _settled_count(database, write["plan_id"])
        c8 = pyload(port, post, 8, count=per_thread)
        after = _settled_count(database, write["plan_id"])
        created = c8["statuses"].get(201, 0)
        results["c8"] = c8
        results["writes"] = {"sent": c8["requests"], "created_201": created,
                             "rows_added": after - middle,
                             "lost": created - (after - middle),
                             "other_statuses": {s: n for s, n in c8["statuses"].items()
                                                if s != 201},
                             "c1_rows_added": middle - before}
        out["save visit note"] = results
        out["rss_mb"] = server.rss_mb()
    finally:
        server.stop()
    return out


def _settled_count(database: str, plan_id: int) -> int:
    """The plan's note count once the requests still in flight when the load stopped landed."""
    count = _count_notes(database, plan_id)
    while True:
        time.sleep(0.5)
        again = _count_notes(database, plan_id)
        if again == count:
            return count
        count = again


def _count_notes(database: str, plan_id: int) -> int:
    import sqlite3

    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM visit_notes WHERE plan_id = ?",
                                  (plan_id,)).fetchone()[0]


# --------------------------------------------------------------------------------------------
# One clinic size, and the report
# --------------------------------------------------------------------------------------------

def measure(patients: int, data_dir: Path, duration: float, repeat: int, use_wrk: bool,
            workers: int) -> dict:
    source = data_dir / f"clinic-{patients}.sqlite"
    script = [sys.executable, str(ROOT / "bench" / "run.py")]
    subprocess.run([*script, "--prepare", str(patients), "--database", f"sqlite:///{source}"],
                   check=True)
    work = data_dir / f"clinic-{patients}-paths.sqlite"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, work)
    database = f"sqlite:///{work}"
    me = [sys.executable, str(Path(__file__).resolve()), "--database", database]
    fixture = json.loads(subprocess.run([*me, "--setup"], check=True, stdout=subprocess.PIPE,
                                        text=True).stdout.strip().splitlines()[-1])
    load_before = os.getloadavg()[0]
    inner = json.loads(subprocess.run(
        [*me, "--inside", json.dumps(fixture), "--repeat", str(repeat)], check=True,
        stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1])
    outer = over_http(database, fixture, duration, use_wrk, workers)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    return {"patients": patients, "inside": inner, "http": outer,
            "caseload_plans": fixture["caseload_plans"],
            "load": [load_before, os.getloadavg()[0]]}


def _verdict(name: str, value: float, patients: int, extra_ok: bool = True) -> str:
    _, bound, sense = TARGETS[name]
    ok = (value <= bound if sense == "le" else value >= bound) and extra_ok
    return "met" if ok else "NOT met"


def _spread(r: dict) -> str:
    """The ratios of a row's alternations of floor and path, when it has them."""
    ratios = r.get("ratios")
    return f" (pairs {ratios[0]:.2f}–{ratios[-1]:.2f})" if ratios and len(ratios) > 1 else ""


def rows_of(run: dict) -> list[tuple[str, str, str, str, str]]:
    """(row, path figure, floor figure, ratio, verdict) of one clinic size."""
    h, i, n = run["http"], run["inside"], run["patients"]
    rows = []
    for name in ("list visits", "plan progress", "patient page"):
        r = h[name]
        extra = True
        note = ""
        if name == "list visits":
            extra = i["list_statements_6"] == i["list_statements_24"]
            note = f"; statements 6 notes: {i['list_statements_6']}, 24: {i['list_statements_24']}"
        bad = r["c1"]["errors"] + r["c8"]["errors"]
        rows.append((name,
                     f"p50 {r['c1']['p50']:.2f} ms c1, {r['c8']['rps']:.0f} req/s c8"
                     + (f", {bad} errors" if bad else ""),
                     f"p50 {r['floor_c1']['p50']:.2f} ms, {r['floor_c8']['rps']:.0f} req/s",
                     f"{r['ratio']:.2f}×{_spread(r)}{note}",
                     _verdict(name, r["ratio"], n, extra and not bad)))
    for name in ("chart 304", "chart cache hit"):
        r = h[name]
        extra = name != "chart 304" or i["statements_304_read_series"] == 0
        note = (f"; {i['statements_304']} statements, "
                f"{i['statements_304_read_series']} read measurements") if name == "chart 304" \
            else ""
        rows.append((name, f"{r['c8']['rps']:.0f} req/s c8, p50 {r['c1']['p50']:.2f} ms c1",
                     f"static {r['floor_c8']['rps']:.0f} req/s c8",
                     f"{r['ratio']:.2f}×{_spread(r)}{note}", _verdict(name, r["ratio"], n, extra)))
    for fmt in ("png", "svg"):
        r = i[f"chart_miss_{fmt}"]
        rows.append((f"chart cache miss ({fmt.upper()}, 800×400)",
                     f"p50 {r['p50']:.1f} ms; chart code alone {r['render_p50']:.1f} ms; "
                     f"progress memo emptied too {r['cold_p50']:.1f} ms "
                     f"({r['ratio_cold']:.2f}×)",
                     f"savefig of the same chart {r['floor_p50']:.1f} ms; two plain lines "
                     f"{r['two_lines_p50']:.1f} ms ({r['ratio_two_lines']:.2f}×)",
                     f"{r['ratio']:.2f}×; CPU time {r['cpu_ratio']:.2f}×",
                     _verdict("chart cache miss", r["ratio"], n,
                              not i["pyplot_imported"])))
    r = h["save visit note"]
    w = r["writes"]
    rows.append(("save visit note (12 measurements)",
                 f"p50 {r['c1']['p50']:.2f} ms c1; c8: {w['created_201']}/{w['sent']} created, "
                 f"{w['rows_added']} rows added, lost {w['lost']}"
                 + (f", other answers {w['other_statuses']}" if w["other_statuses"] else ""),
                 f"p50 {r['floor_c1']['p50']:.2f} ms", f"{r['ratio']:.2f}×{_spread(r)}",
                 _verdict("save visit note", r["ratio"], n,
                          w["lost"] == 0 and not w["other_statuses"])))
    r = i["caseload"]
    for state in ("cold", "warm"):
        memo = ("memos emptied before each call, summaries current" if state == "cold"
                else "memos kept: the path keeps nothing per process")
        engine = (f"; the engine from the series, memo emptied: {r['engine_p50']:.1f} ms, "
                  f"{r['ratio_engine']:.2f}×") if state == "cold" else ""
        rows.append((f"caseload flags, {state} ({r['plans']} active plans, {r['series']} series)",
                     f"p50 {r[f'{state}_p50']:.1f} ms ({memo}; {r['flags']} flags; "
                     f"{r[f'statements_{state}']} statements, "
                     f"{r['statements_read_series']} read measurements)",
                     f"raw SQL {r['floor_p50']:.1f} ms ({r['floor_statements']} statements, "
                     f"{r['measurement_rows']} measurement rows)",
                     f"{r[f'ratio_{state}']:.2f}×{engine}",
                     _verdict("caseload flags", r[f"ratio_{state}"], n,
                              r["statements_read_series"] == 0)
                     + ("" if r["plans"] >= CASELOAD_PLANS else f" (only {r['plans']} plans)")))
    r = h["first_request"]
    b = r["bare"]
    rows.append(("first request after start (chart render)",
                 f"first chart {r['first_ms']:.1f} ms (first request {r['first_request_ms']:.1f}"
                 f" ms); without gunicorn.conf.py: first chart {b['first_ms']:.1f} ms, "
                 f"{b['ratio']:.2f}× later", f"later renders {r['steady_ms']:.1f} ms",
                 f"{r['ratio']:.2f}×", _verdict("first request", r["ratio"], n)))
    rss = max(h["rss_mb"] or [0])
    rows.append(("worker RSS after all of the above",
                 ", ".join(f"{v:.0f}" for v in h["rss_mb"]) + " MB", "—", f"{rss:.0f} MB",
                 _verdict("worker RSS", rss, n) if n >= 10000 else "—"))
    return rows


def report(runs: list[dict], use_wrk: bool, duration: float) -> str:
    from run import _machine  # noqa: PLC0415 (bench/run.py, next to this file)

    lines = []
    for run in runs:
        lo, hi = run["load"]
        lines += [f"### {run['patients']:,} patients",
                  f"Measured {date.today().isoformat()} on "
                  f"{_machine('SQLite ' + __import__('sqlite3').sqlite_version)}; load average "
                  f"{lo:.1f} before, {hi:.1f} after; "
                  f"{'wrk' if use_wrk else 'Python load generator'}, {duration:g} s a run, "
                  f"gunicorn {run['http']['workers']} sync workers (--preload, warm-up).", "",
                  "| row | path | floor | ratio | target |", "|---|---|---|---|---|"]
        for name, path, floor, ratio, verdict in rows_of(run):
            label = name.split(" (")[0]
            target = TARGETS.get(label, TARGETS.get(name, ("",)))[0]
            if label.startswith("chart cache miss"):
                target = TARGETS["chart cache miss"][0]
            if label.startswith("caseload"):
                target = TARGETS["caseload flags"][0]
            if label.startswith("first request"):
                target = TARGETS["first request"][0] + " (first ≤ 1.5× later)"
            if label.startswith("worker RSS"):
                target = TARGETS["worker RSS"][0]
            if label.startswith("save visit note"):
                target = TARGETS["save visit note"][0]
            lines.append(f"| {name} | {path} | {floor} | {ratio} | {target}: {verdict} |")
        lines.append("")
    if len(runs) > 1:
        names = [r[0] for r in rows_of(runs[0])][:-1]
        lines += ["### Growth (ratio to the floor, and the path's own figure)", "",
                  "| row | " + " | ".join(f"{r['patients']:,} patients" for r in runs) + " |",
                  "|---|" + "---:|" * len(runs)]
        def short(name):  # the two chart-miss rows keep their format
            return name if name.startswith("chart cache miss") else name.split(" (")[0]

        per_size = [{short(row[0]): row for row in rows_of(r)} for r in runs]
        for name in names:
            key = short(name)
            cells = []
            for table in per_size:
                row = table.get(key)
                cells.append(f"{row[3].split(';')[0]} ({row[1].split(';')[0].split(',')[0]})"
                             if row else "—")
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", default="100,1000,10000",
                        help="comma-separated clinic sizes (default 100,1000,10000)")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds of each load run (default 5)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="timed calls of each in-process measurement (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even when wrk is installed")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.setup:
        print(json.dumps(setup(args.database)))
        return 0
    if args.inside:
        print(json.dumps(inside(args.database, json.loads(args.inside), args.repeat)))
        return 0

    use_wrk = shutil.which("wrk") is not None and not args.python_load
    args.data_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for patients in (int(n) for n in args.patients.split(",") if n.strip()):
        print(f"{patients:,} patients: paths", file=sys.stderr)
        runs.append(measure(patients, args.data_dir, args.duration, args.repeat, use_wrk,
                            args.workers))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    print(report(runs, use_wrk, args.duration))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
