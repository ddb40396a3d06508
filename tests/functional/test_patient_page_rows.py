"""The patient page reads rows, not records: its plans (with their goals) are the records'
columns and properties, its visit history is one statement a row per note, and its content is
kept with its UTF-8 bytes and sent without being copied."""

from __future__ import annotations

import sys
from dataclasses import fields
from datetime import date, timedelta

from flask import g
from sqlalchemy.orm import selectinload

from web_support import chart, make_note, pending_dir, user_of, web  # noqa: F401
from notes_service.extensions import db


def page_of(account, patient_id: int):
    """The patient page's reads as ``account`` (inside a request context)."""
    from notes_service.web.queries import patient_page

    user = user_of(account)
    g.actor = user
    return patient_page(user, patient_id, today=date.today())


def test_a_plan_row_has_every_column_of_the_record():
    """A new column of a plan or a goal must join the rows (and so the page's cache key)."""
    from notes_service.plans.models import Goal, PlanOfCare
    from notes_service.web.queries import GOAL_COLUMNS, PLAN_COLUMNS, GoalRow, PlanRow

    for model, names, row in ((PlanOfCare, PLAN_COLUMNS, PlanRow), (Goal, GOAL_COLUMNS, GoalRow)):
        assert set(names) == {column.key for column in model.__mapper__.column_attrs}
        assert [item.name for item in fields(row)][:len(names)] == list(names)
    assert [item.name for item in fields(PlanRow)][len(PLAN_COLUMNS):] == ["goals"]


def test_plan_rows_read_as_the_records_do(app, practitioner, chart):
    """Columns, goals in their order, the properties the page and the progress engine read,
    and the plan's own inputs to its progress memo are those of the records."""
    from notes_service.plans.models import PlanOfCare
    from notes_service.progress import services

    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    with app.test_request_context(f"/patients/{chart.patient_id}"):
        page = page_of(practitioner, chart.patient_id)
        [row] = page.plans
        record = db.session.execute(db.select(PlanOfCare).where(PlanOfCare.id == row.id)
                                    .options(selectinload(PlanOfCare.goals))).scalar_one()
        for column in PlanOfCare.__mapper__.column_attrs:
            assert getattr(row, column.key) == getattr(record, column.key), column.key
        assert len(row.goals) == len(record.goals) == 2
        for goal, stored in zip(row.goals, record.goals, strict=True):
            for column in stored.__mapper__.column_attrs:
                assert getattr(goal, column.key) == getattr(stored, column.key), column.key
            assert goal.catalog is stored.catalog
        assert (row.end_date, row.planned_visits, row.tracked_keys) == \
            (record.end_date, record.planned_visits, record.tracked_keys)
        assert row.week_of(date.today()) == record.week_of(date.today())
        assert services._plan_key(row) == services._plan_key(record)
        assert page.owners == {row.id: user_of(practitioner).name}
        db.session.rollback()


def test_the_visit_history_is_one_statement(web, app, practitioner, chart, count_queries):
    """One statement reads the notes and their values, whatever the number of notes."""
    for day in (1, 3, 5):
        make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=day),
                  sign=day < 5)
    assert web.get(f"/patients/{chart.patient_id}").status_code == 200
    with count_queries() as counter:
        assert web.get(f"/patients/{chart.patient_id}").status_code == 200
    values = [s for s in counter.statements if "measurements" in s]
    assert len(values) == 1, values


def test_a_note_without_values_shows_none(app, practitioner, chart):
    """A note that recorded no value has no pain and adds to no goal's baseline or latest."""
    first = chart.start + timedelta(days=1)
    make_note(app, practitioner, chart.plan_id, first, sign=True)
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=2),
              measurements=[])
    with app.test_request_context(f"/patients/{chart.patient_id}"):
        history = page_of(practitioner, chart.patient_id).history
        assert [(n.pain_pre, n.pain_post) for n in history.notes] == [(None, None), (7, 5)]
        key = (chart.plan_id, "slr", "right")
        assert history.baseline[key] == history.latest[key] == (40, first)
        assert history.latest[(chart.plan_id, "pain", None)] == (7, first)
        db.session.rollback()


def test_the_page_content_is_cached_with_its_bytes(app):
    """A hit returns the cached HTML itself (not a copy) and, for a page's content, its UTF-8
    bytes made once, both counted in the cache's size."""
    from notes_service.web.fragments import CachedHTML, fragment_cache, render_fragment

    context = {"rows": (), "can_write": False}
    with app.test_request_context():
        cache = fragment_cache(app)
        cache.clear()
        first = render_fragment("patients/_visit_history.html", ("bytes",), lambda: context,
                                encoded=True)
        again = render_fragment("patients/_visit_history.html", ("bytes",), lambda: context,
                                encoded=True)
        assert again is first and isinstance(first, CachedHTML)
        assert first.utf8 == str(first).encode() and "No visits documented yet" in first
        assert cache.size == sys.getsizeof(first) + sys.getsizeof(first.utf8)
        plain = render_fragment("patients/_visit_history.html", ("plain",), lambda: context)
        assert plain.utf8 is None and plain == first
        cache.clear()


def test_the_page_from_the_caches_is_the_page_rendered(web, app, practitioner, chart):
    """From the caches (its content and layout, sent as bytes), the page is the one rendered
    on the first view, non-ASCII text included, with its length and type."""
    from notes_service.web.fragments import fragment_cache, layout_cache

    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    fragment_cache(app).clear()
    layout_cache(app).clear()
    first = web.get(f"/patients/{chart.patient_id}")
    hits = fragment_cache(app).hits, layout_cache(app).hits
    again = web.get(f"/patients/{chart.patient_id}")
    assert (fragment_cache(app).hits, layout_cache(app).hits) == (hits[0] + 1, hits[1] + 1)
    assert again.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(again.headers["Content-Length"]) == len(again.data)
    token = 'name="csrf_token" value="'

    def without_token(data: bytes) -> str:
        html = data.decode()
        start = html.index(token) + len(token)
        return html[:start] + html[html.index('"', start):]

    assert without_token(again.data) == without_token(first.data)
    assert "7/10 → 5/10" in again.data.decode()
