"""A note saved while a plan's outcome summary is being rebuilt is never lost from it: either
the rebuild reads the note, or the note marks the rebuilt row stale (SQLite and PostgreSQL,
real commits, two connections)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from conftest import Api, ClinicBuilder, app_on, empty_database, iso_day, make_account  # noqa: F401
from notes_service.extensions import db
from notes_service.outcomes import summary

pytestmark = pytest.mark.filterwarnings("error")


@contextmanager
def clinic_on(url):
    """A migrated app with a practitioner, a plan and one note (its summary stale)."""
    with app_on(url) as application:
        with application.app_context():
            upgrade()
        api = Api(application.test_client(),
                  make_account(application, "race@example.org", "practitioner"))
        _, plan = ClinicBuilder(api).chart()
        save(api, plan["id"], 6)
        yield application, api, plan["id"]


def save(api, plan_id, pain):
    response = api.post(f"/api/v1/plans/{plan_id}/visits", json={
        "visit_date": iso_day(pain), "measurements": [{"measure": "pain", "value": pain}]})
    assert response.status_code == 201, response.get_json()


def in_other_thread(call):
    """Run ``call`` in a thread of its own (its own app context, session and connection)."""
    failures = []

    def run():
        try:
            call()
        except Exception as exc:  # reported below
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert failures == [] and not thread.is_alive(), failures


def visits_in_summary(application, plan_id):
    from notes_service.outcomes.models import PlanOutcome

    with application.app_context():
        return db.session.execute(sa.select(PlanOutcome.visits, PlanOutcome.rules_key)
                                  .where(PlanOutcome.plan_id == plan_id)).one()


def test_a_rebuild_reads_the_notes_saved_after_its_read_began(empty_database):  # noqa: F811
    """A reading request (SQLite: a plain BEGIN, its own snapshot) finds the plan stale, a note
    is saved and committed, then the request rebuilds: it reads the new note."""
    with clinic_on(empty_database) as (application, api, plan_id):
        with application.test_request_context("/api/v1/outcomes", method="GET"):
            stale = summary.stale_plan_ids()
            assert stale == [plan_id]
            in_other_thread(lambda: save(api, plan_id, 5))  # its own session, committed
            summary.refresh_summaries(stale)
            db.session.commit()
        visits, key = visits_in_summary(application, plan_id)
        assert (visits, key != summary.STALE) == (2, True)


def test_a_note_saved_during_a_rebuild_marks_the_rebuilt_row_stale(empty_database,  # noqa: F811
                                                                   monkeypatch):
    """The rebuild has read the plan's notes and not yet written its rows when a note is
    saved: the save waits for the rebuild, then marks its row stale."""
    with clinic_on(empty_database) as (application, api, plan_id):
        read, go = threading.Event(), threading.Event()
        load_snapshots = summary.load_snapshots

        def paused(plans, **kwargs):
            snapshots = load_snapshots(plans, **kwargs)
            read.set()
            assert go.wait(10)
            return snapshots

        monkeypatch.setattr(summary, "load_snapshots", paused)
        failures = []

        def rebuild():
            try:
                with application.app_context():
                    summary.refresh_summaries([plan_id])
                    db.session.commit()
            except Exception as exc:  # reported by the test below
                failures.append(exc)
                go.set()

        def write():
            try:
                save(api, plan_id, 4)
            except Exception as exc:
                failures.append(exc)

        rebuilder = threading.Thread(target=rebuild)
        rebuilder.start()
        assert read.wait(10)
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        waited = writer.is_alive()  # the save waits for the rebuild's lock
        go.set()
        rebuilder.join(10)
        writer.join(10)
        assert failures == [] and waited
        monkeypatch.undo()
        visits, key = visits_in_summary(application, plan_id)
        assert (visits, key) == (1, summary.STALE)  # built from one note, marked by the second
        with application.app_context():
            summary.ensure_current()
            db.session.commit()
        assert visits_in_summary(application, plan_id)[0] == 2
