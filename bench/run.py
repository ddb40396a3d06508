"""Benchmark the clinic outcomes and the worklist against the raw SQL they rest on.

    .venv/bin/python bench/run.py --patients 1000,10000
    .venv/bin/python bench/run.py --suite all --patients 100,1000,10000   # and the paths

``--suite paths`` (or ``all``) also runs :mod:`bench.paths` (issue 9: the everyday API and page
routes under gunicorn against a trivial route, charts against a bare Figure, the caseload
against its SQL); see ``bench/paths.py``.

For each clinic size it builds (once) a synthetic clinic in ``bench/data/clinic-<N>.sqlite``
with ``seed-scale``, then starts a fresh worker process that, against that database:

* calls each route through the application (WSGI: routing, token check, validation, the
  summaries' staleness check, the queries, marshmallow, the audit row and the commit) and, in
  the same loop, runs the route's **floor**: the very SQL statements its figures come from,
  compiled once and executed on a raw DB-API cursor with every row fetched;
* reports p50 and p95 of each, their ratio, and the worker's memory (RSS, and its peak) after.

Routes: ``/api/v1/outcomes`` (clinic-wide), the same filtered to one practitioner and one
quarter, and ``/api/v1/worklist`` (clinic-wide, first page of 100). Targets (10,000 patients,
SQLite): outcomes p50 ≤ 250 ms and ≤ 2× floor; filtered p50 ≤ 25 ms; worklist ≤ 2× floor;
RSS ≤ 300 MB. ``--markdown`` prints the table for ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"

TARGETS = {  # route: (p50 ms at 10,000 patients or None, ratio to floor or None)
    "outcomes": (250, 2.0),
    "outcomes, one practitioner, one quarter": (25, None),
    "worklist": (None, 2.0),
}
RSS_TARGET_MB = 300


def _app(url: str):
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    sys.path.insert(0, str(ROOT))
    from notes_service import create_app
    from notes_service.config import database_url

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url(url)})


def _database(patients: int, data_dir: Path, server: str | None) -> str:
    """The URL of the clinic of ``patients``: a SQLite file, or a PostgreSQL database of
    ``server`` (created when missing)."""
    if server is None:
        return f"sqlite:///{data_dir / f'clinic-{patients}.sqlite'}"
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT))
    from notes_service.config import database_url

    name = f"bench_clinic_{patients}"
    admin = sa.create_engine(database_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                    {"n": name}).scalar()
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(database_url(server)).set(database=name).render_as_string(
        hide_password=False)


def prepare(patients: int, database: str) -> None:
    """Create or upgrade the schema, and seed the clinic unless it is already there."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    app = _app(database)
    with app.app_context():
        from notes_service.extensions import db
        from notes_service.outcomes.seed import seed_scale
        from notes_service.patients.models import Patient

        upgrade()
        count = db.session.execute(select(func.count(Patient.id))).scalar()
        if count == patients:
            return
        if count:
            raise SystemExit(f"{database} holds {count} patients, not {patients}: drop it.")
        started = time.perf_counter()
        totals = seed_scale(patients)
        print(f"  seeded {totals['patients']} patients, {totals['visits']} notes, "
              f"{totals['measurements']} measurements in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)


def _rss_mb() -> tuple[float, float]:
    """Resident and peak resident memory of this process, in MB (Linux)."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _ = line.split()
                values[key] = int(amount) / 1024
    return values.get("VmRSS:", 0.0), values.get("VmHWM:", 0.0)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def work(database: str, repeat: int) -> dict:
    """In a fresh worker: time each route and its floor; return the figures."""
    app = _app(database)
    from sqlalchemy import func, select

    with app.app_context():
        from notes_service.auth.models import User
        from notes_service.auth.services import issue_token
        from notes_service.clock import clinic_today
        from notes_service.db_types import utcnow
        from notes_service.extensions import db
        from notes_service.outcomes.models import PlanOutcome
        from notes_service.outcomes.seed import SCALE_DIRECTOR
        from notes_service.outcomes.services import OutcomeFilters, outcome_statements
        from notes_service.outcomes.worklist import WorklistQuery, worklist_statements

        director = db.session.execute(select(User).where(User.email == SCALE_DIRECTOR)).scalar()
        token, _ = issue_token(director, 12)
        db.session.commit()
        # The practitioner with the most plans, and the last full quarter.
        busiest = db.session.execute(
            select(PlanOutcome.practitioner_id).group_by(PlanOutcome.practitioner_id)
            .order_by(func.count().desc()).limit(1)).scalar()
        today = clinic_today()
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        quarter_end = first - timedelta(days=1)
        quarter_start = date(quarter_end.year, quarter_end.month - 2, 1)
        filtered = OutcomeFilters(practitioner_id=busiest, date_from=quarter_start,
                                  date_to=quarter_end)
        dialect = db.engine.dialect

        def compiled(statements, params):
            # The values written into the SQL: the floor pays no parameter handling at all.
            sql = [str(s.params(**params).compile(dialect=dialect,
                                                  compile_kwargs={"literal_binds": True}))
                   for s in statements]
            if dialect.paramstyle in ("format", "pyformat"):  # sent without parameters
                sql = [text.replace("%%", "%") for text in sql]
            return sql

        worklist, worklist_params, _ = worklist_statements(director, WorklistQuery(),
                                                           today=today, now=utcnow())
        routes = {
            "outcomes": ("/api/v1/outcomes", compiled(outcome_statements(OutcomeFilters()), {})),
            "outcomes, one practitioner, one quarter": (
                "/api/v1/outcomes?practitioner_id={}&date_from={}&date_to={}".format(
                    busiest, quarter_start, quarter_end),
                compiled(outcome_statements(filtered), filtered.params())),
            "worklist": ("/api/v1/worklist", compiled(worklist, worklist_params)),
        }
        sizes = {"plans": db.session.execute(select(func.count(PlanOutcome.plan_id))).scalar()}
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    raw = None
    with app.app_context():
        raw = db.engine.raw_connection()
    cursor = raw.cursor()

    def floor(sql_list):
        for sql in sql_list:
            cursor.execute(sql)
            cursor.fetchall()

    results = {}
    for name, (url, sql) in routes.items():
        for _ in range(3):  # warm-up: caches, first statement compiles, stale summaries
            assert client.get(url, headers=headers).status_code == 200
            floor(sql)
        route_ms, floor_ms = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            route_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            started = time.perf_counter()
            floor(sql)
            floor_ms.append((time.perf_counter() - started) * 1000)
        results[name] = {
            "url": url, "statements": len(sql),
            "p50": statistics.median(route_ms), "p95": _percentile(route_ms, 0.95),
            "floor_p50": statistics.median(floor_ms), "floor_p95": _percentile(floor_ms, 0.95),
        }
        results[name]["ratio"] = results[name]["p50"] / results[name]["floor_p50"]
    raw.close()
    rss, peak = _rss_mb()
    return {"routes": results, "rss_mb": rss, "peak_rss_mb": peak, **sizes}


def _machine(backend: str) -> str:
    cores = os.cpu_count()
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=True).stdout
        memory = free.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        memory = "?"
    load = os.getloadavg()[0]
    return (f"{cores} cores (nproc), {memory} memory (free -h), Python "
            f"{platform.python_version()}, {backend}, load average {load:.1f}")


def _row(patients: int, name: str, r: dict) -> str:
    target_ms, target_ratio = TARGETS[name]
    checks = []
    if patients >= 10000 and target_ms is not None:
        checks.append(f"p50 ≤ {target_ms} ms: {'met' if r['p50'] <= target_ms else 'NOT met'}")
    if patients >= 10000 and target_ratio is not None:
        checks.append(f"≤ {target_ratio:g}× floor: "
                      f"{'met' if r['ratio'] <= target_ratio else 'NOT met'}")
    return (f"| {patients:,} | {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['floor_p50']:.1f} "
            f"| {r['floor_p95']:.1f} | {r['ratio']:.2f}× | {'; '.join(checks) or '—'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", default="1000,10000",
                        help="comma-separated clinic sizes (default 1000,10000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per route")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--postgresql", metavar="URL",
                        help="run on this PostgreSQL server instead (one database per size, "
                             "e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    parser.add_argument("--suite", choices=("outcomes", "paths", "all"), default="outcomes",
                        help="outcomes and worklist (default), the paths of bench/paths.py, "
                             "or both")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="paths: seconds of each load run (default 5)")
    parser.add_argument("--python-load", action="store_true",
                        help="paths: the Python load generator even when wrk is installed")
    # Internal: the child processes that seed a clinic, and that measure it.
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare is not None:
        prepare(args.prepare, args.database)
        return 0
    if args.measure:
        print(json.dumps(work(args.database, args.repeat)))
        return 0

    status = 0
    if args.suite in ("outcomes", "all"):
        status = outcomes(args)
    if args.suite in ("paths", "all"):
        if args.postgresql:
            raise SystemExit("The paths suite runs on SQLite only.")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import paths

        paths.main(["--patients", args.patients, "--data-dir", str(args.data_dir),
                    "--repeat", str(min(args.repeat, 20)), "--duration", str(args.duration),
                    *(["--python-load"] if args.python_load else [])])
    return status


def outcomes(args) -> int:
    """The outcomes and worklist benchmark (issue 5)."""
    args.data_dir.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.patients.split(",") if n.strip()]
    runs = {}
    for patients in sizes:
        database = _database(patients, args.data_dir, args.postgresql)
        print(f"{patients:,} patients: {database}", file=sys.stderr)
        script = [sys.executable, str(Path(__file__).resolve())]
        subprocess.run([*script, "--prepare", str(patients), "--database", database],
                       check=True)
        out = subprocess.run([*script, "--measure", "--database", database,
                              "--repeat", str(args.repeat)],
                             check=True, capture_output=True, text=True).stdout
        runs[patients] = json.loads(out.strip().splitlines()[-1])

    backend = (f"SQLite {__import__('sqlite3').sqlite_version}" if args.postgresql is None
               else "PostgreSQL")
    lines = [f"Measured {date.today().isoformat()} on {_machine(backend)}; "
             f"{args.repeat} calls per route.", "",
             "| patients | route | p50 ms | p95 ms | floor p50 ms | floor p95 ms | p50 ÷ floor "
             "| target |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    failed = False
    for patients, run in runs.items():
        for name, r in run["routes"].items():
            lines.append(_row(patients, name, r))
            failed |= "NOT met" in lines[-1]
    lines += ["", "| patients | plans | worker RSS after, MB | peak RSS, MB | target |",
              "|---:|---:|---:|---:|---|"]
    for patients, run in runs.items():
        check = "—"
        if patients >= 10000:
            check = f"≤ {RSS_TARGET_MB} MB: " + (
                "met" if run["peak_rss_mb"] <= RSS_TARGET_MB else "NOT met")
            failed |= "NOT" in check
        lines.append(f"| {patients:,} | {run['plans']:,} | {run['rss_mb']:.0f} "
                     f"| {run['peak_rss_mb']:.0f} | {check} |")
    print("\n".join(lines))
    if not args.markdown:
        print("\nratios (p50 ÷ floor p50): " + ", ".join(
            f"{p:,}/{name}: {r['ratio']:.2f}×" for p, run in runs.items()
            for name, r in run["routes"].items()))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
