"""gunicorn settings of the service: ``gunicorn -c gunicorn.conf.py --bind HOST:PORT wsgi:app``.

Sync workers, two per core: each request is short and waits on the database (and SQLite
serialises writes anyway), so threads or an event loop would add no throughput; a worker that
renders a chart holds the GIL for tens of milliseconds, which separate processes do not share.
``preload_app`` imports the application (and matplotlib) once in the master before forking,
and :func:`when_ready` then renders one chart of each kind there, so the workers inherit the
imported modules, the font cache and the loaded fonts: no request pays for them. The master
then moves every object it made into the garbage collector's permanent generation
(``gc.freeze``): a full collection in a worker no longer walks the ~200,000 objects of the
imported app and matplotlib (30–40 ms each time), and their pages stay shared with the master
instead of being copied into every worker when the collector touches them.
Command-line options (``--workers``, ``--bind``) override these; so does ``WEB_CONCURRENCY``.
"""

import gc
import multiprocessing
import os

worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
preload_app = True
#: A chart render or a clinic-wide dashboard takes well under a second; 30 s means stuck.
timeout = 30


def warm_up() -> None:
    """Render a measure chart (PNG and SVG) and an overview chart of made-up values, and
    configure the ORM's mappers (else the first query of each worker does it)."""
    from datetime import date, timedelta

    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    from notes_service.progress import charts
    from notes_service.progress.rules import Point, measure_progress

    start = date(2026, 1, 5)
    points = [Point(start + timedelta(days=3 * i), 8 - i * 0.5, 6 - i * 0.5) for i in range(8)]
    end = start + timedelta(days=55)
    pain = measure_progress("pain", None, points, 2.0, plan_end=end)
    slr = measure_progress("slr", "right", [Point(p.day, 40 + 3 * i, 46 + 3 * i)
                                            for i, p in enumerate(points)], 70.0, plan_end=end)
    for fmt in ("png", "svg"):
        charts.measure_chart(pain, plan_start=start, plan_end=end, fmt=fmt,
                             band=(points, points))
        charts.overview_chart([pain, slr], plan_start=start, plan_end=end, fmt=fmt)


def when_ready(server):
    """Warm up in the master once the preloaded app is imported, before any worker forks."""
    if server.cfg.preload_app:
        warm_up()
        gc.collect()
        gc.freeze()


def post_worker_init(worker):
    """Without preloading, each worker warms up itself before it takes a request."""
    if not worker.cfg.preload_app:
        warm_up()
        gc.collect()
        gc.freeze()
