"""Saving, changing and signing a note only marks its plan's outcome summary stale; every
reader of the summaries rebuilds it first, so the director's figures and the worklists show each
write at once (issue 5's figures, read through ``/api/v1/outcomes`` and ``/api/v1/worklist``)."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from notes_service.extensions import db
from outcomes_support import add_visit, build_fixed_clinic, day, ok

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def fixed(app, client):
    return build_fixed_clinic(app, client)


def pain_of_q(clinic):
    """Quinn's pain figures (plans 7 and 8), as the director reads them."""
    body = ok(clinic.as_director.get("/api/v1/outcomes",
                                     query_string={"practitioner_id": clinic.q.id}))
    return next(m for m in body["clinic"]["measures"] if m["measure"] == "pain")


def worklist(api, plan_id):
    """The open items of one plan in ``api``'s worklist, as (type, measure)."""
    body = ok(api.get("/api/v1/worklist"))
    return sorted((i["type"], i["measure"] or "") for i in body["items"]
                  if i["plan_id"] == plan_id)


def summary_key(app, plan_id):
    from notes_service.outcomes.models import PlanOutcome

    with app.app_context():
        return db.session.execute(sa.select(PlanOutcome.rules_key)
                                  .where(PlanOutcome.plan_id == plan_id)).scalar_one()


def test_each_write_to_a_note_shows_in_the_figures_and_the_worklists(app, fixed):
    """Plan 8 (Quinn): pain 7 on T-20 (goal ≤ 2), summaries read and current before each write."""
    plan = fixed.plans[8]
    before = pain_of_q(fixed)
    assert (before["plans"], before["mean_change"]) == (1, 5.0)  # plan 7 alone: 6 → 1
    assert worklist(fixed.as_q, plan) == [("no_recent_visit", "")]

    # Saving: pain 8 on T-15, then 9 on T-6 — worse by 2 over 14 days, and seen recently.
    add_visit(fixed.as_q, plan, day(15), 8, None)
    figures = pain_of_q(fixed)
    assert (figures["plans"], figures["mean_change"]) == (2, 2.0)  # (5 + (7 − 8)) / 2
    latest = add_visit(fixed.as_q, plan, day(6), 9, None)
    assert worklist(fixed.as_q, plan) == [("worsening", "pain")]
    assert worklist(fixed.as_director, plan) == [("worsening", "pain")]
    assert pain_of_q(fixed)["mean_change"] == 1.5  # (5 + (7 − 9)) / 2

    # Changing the draft: pain 4 instead of 9 — improving, no longer worsening.
    changed = ok(fixed.as_q.patch(f"/api/v1/visits/{latest['id']}", json={
        "version": latest["version"], "measurements": [{"measure": "pain", "value": 4}]}))
    assert worklist(fixed.as_director, plan) == []
    assert worklist(fixed.as_q, plan) == []
    assert pain_of_q(fixed)["mean_change"] == 4.0  # (5 + (7 − 4)) / 2

    # Moving its date back to T-17: the latest visit is T-15's again, over a fortnight ago.
    changed = ok(fixed.as_q.patch(f"/api/v1/visits/{latest['id']}", json={
        "version": changed["version"], "visit_date": day(17).isoformat()}))
    assert worklist(fixed.as_q, plan) == [("no_recent_visit", "")]
    assert pain_of_q(fixed)["mean_change"] == 2.0  # latest is T-15's 8 again

    # Signing: an old draft leaves the worklist; the summary is rebuilt and the figures hold.
    with app.app_context():
        from notes_service.visits.models import VisitNote

        db.session.execute(sa.update(VisitNote).where(VisitNote.id == latest["id"]).values(
            created_at=datetime.now(UTC) - timedelta(hours=30)))
        db.session.commit()
    assert worklist(fixed.as_q, plan) == [("no_recent_visit", ""), ("unsigned_note", "")]
    ok(fixed.as_q.post(f"/api/v1/visits/{latest['id']}/sign",
                       json={"version": changed["version"]}))
    assert summary_key(app, plan) == ""  # marked stale by the signature, not yet rebuilt
    assert worklist(fixed.as_q, plan) == [("no_recent_visit", "")]
    assert summary_key(app, plan) != ""
    assert pain_of_q(fixed)["mean_change"] == 2.0


def test_a_save_marks_the_summary_stale_and_the_next_read_rebuilds_it(app, fixed):
    from notes_service.outcomes.summary import stale_plan_ids

    plan = fixed.plans[8]
    ok(fixed.as_director.get("/api/v1/outcomes"))  # every summary current
    with app.app_context():
        assert stale_plan_ids() == []
    add_visit(fixed.as_q, plan, day(13), 8, None)
    assert summary_key(app, plan) == ""
    with app.app_context():
        assert stale_plan_ids() == [plan]  # only the plan written to
    assert pain_of_q(fixed)["plans"] == 2
    with app.app_context():
        assert stale_plan_ids() == []


@pytest.mark.parametrize("read", ["outcomes", "plans.csv", "chart", "worklist", "acknowledge"])
def test_every_reader_of_the_summaries_rebuilds_a_stale_one_first(app, fixed, read):
    """Plan 3 (Pat): pain 5, 6, 7, 8 — worsening. A new visit with pain 4 on T-12 makes it
    improving; each reader sees that, although the summary was only marked stale."""
    plan = fixed.plans[3]
    ok(fixed.as_director.get("/api/v1/outcomes"))  # every summary current
    add_visit(fixed.as_p, plan, day(12), 4, None)
    assert summary_key(app, plan) == ""
    if read == "outcomes":
        body = ok(fixed.as_director.get("/api/v1/outcomes",
                                        query_string={"practitioner_id": fixed.p.id}))
        assert body["clinic"]["worsening"]["count"] == 0
    elif read == "plans.csv":
        response = fixed.as_director.get("/api/v1/outcomes/plans.csv")
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        five = [row for row in rows if row["visits"] == "5"]  # plan 3 alone
        assert [(row["diagnosis_code"], row["worsening"]) for row in five] == [
            ("M54.41", "false")]
    elif read == "chart":
        response = fixed.as_director.get("/api/v1/outcomes/charts/visits.svg")
        assert response.status_code == 200
    elif read == "worklist":
        assert ("worsening", "pain") not in worklist(fixed.as_p, plan)
    else:
        refused = fixed.as_p.post(f"/api/v1/plans/{plan}/flags/acknowledge",
                                  json={"code": "worsening", "measure": "pain",
                                        "reason": "re_assessed"})
        assert refused.status_code == 409  # no open worsening flag any more
        return  # the refusal rolls its transaction back, the rebuild with it
    assert summary_key(app, plan) != ""
