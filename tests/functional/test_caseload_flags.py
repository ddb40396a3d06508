"""The caseload's flags from the stored summaries (``outcomes.caseload.caseload_flags``): the
progress engine's flags exactly (codes, severities, measures, sides, messages, note ids, order)
for every kind of plan and after every kind of change, in a constant number of statements that
never read a series, and what the caseload page shows."""

from __future__ import annotations

import html as html_lib
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import template_rendered

from conftest import Api, make_account
from notes_service.extensions import db
from notes_service.memo import clear_all
from notes_service.outcomes import caseload as caseload_module
from notes_service.progress import services
from notes_service.progress.rules import FLAG_CODES
from test_reports_api import create_report
from web_support import pending_dir, web  # noqa: F401

pytestmark = pytest.mark.filterwarnings("error")

TODAY = date.today()


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def values(pain=None, post=None, **more) -> list[dict]:
    """Measurements of a visit: pain (and its post-treatment retest), then ``measure=value``
    or ``measure_side=value`` pairs (``slr_right=40``)."""
    items = []
    if pain is not None:
        items.append({"measure": "pain", "value": pain})
    if post is not None:
        items.append({"measure": "pain", "phase": "post", "value": post})
    for name, value in more.items():
        measure, _, side = name.rpartition("_") if name.endswith(("_left", "_right")) \
            else (name, "", "")
        items.append({"measure": measure, "value": value, **({"side": side} if side else {})})
    return items


class Caseload:
    """A practitioner's caseload with a plan for every kind of flag (T = today):

    ======== =========================================================== =====================
    plan      what                                                        flags
    ======== =========================================================== =====================
    plateau   pain 6–5 over 17 days (goal ≤ 2), 2 points better after      plateau,
              each treatment; right SLR improving 40 → 65                  short_lived_relief
    worse     pain 4, 5, 7 and worst pain 6, 7, 9 (T-20 … T-6)             worsening ×2
    track     pain 8 → 5.5 over 17 days, goal ≤ 2 by T+2                    off_track
    ending    8 weeks from T-52 (ends T+3), one visit T-5                   plan_ending
    expired   8 weeks from T-60 (ended T-5), one visit T-8                  plan_expired
    idle      from T-40, one visit T-20                                    no_recent_visit
    due       ten visits T-29 … T-11, pain 5                               progress_report_due,
                                                                           plateau, no recent
    reported  eleven visits, a progress report after the third             (no report due)
    drafts    drafts aged 50 h and 30 h (same age for two) and a fresh one  unsigned_note
    held      on hold, worsening pain, a draft aged 30 h                    unsigned_note only
    kept      as plateau, then a maintenance plan                          short_lived_relief
    nogoals   no goals, pain 5 over 17 days                                plateau (pain)
    gone      cancelled, with a draft aged 30 h                             unsigned_note
    ======== =========================================================== =====================
    """

    def __init__(self, app, api: Api):
        self.app, self.api = app, api
        self.plans: dict[str, int] = {}
        self.patients: dict[str, int] = {}
        visit_days = (20, 17, 13, 10, 6, 3)
        self.plan("plateau", 30, [
            (d, values(pain, pain - 2, slr_right=40 + 5 * i))
            for i, (d, pain) in enumerate(zip(visit_days, (6, 5, 5, 6, 5, 5)))],
            goals=[{"measure": "pain", "target": 2},
                   {"measure": "slr", "side": "right", "target": 70}])
        self.plan("worse", 30, [(20, values(4, pain_worst=6)), (13, values(5, pain_worst=7)),
                                (6, values(7, pain_worst=9))],
                  tracked=[{"measure": "pain_worst"}, {"measure": "pain"}])
        self.plan("track", 30, [(d, values(pain)) for d, pain in
                                zip(visit_days, (8, 7.5, 7, 6.5, 6, 5.5))],
                  goals=[{"measure": "pain", "target": 2, "target_date": day(-2)}])
        self.plan("ending", 52, [(5, values(5))])
        self.plan("expired", 60, [(8, values(5))])
        self.plan("idle", 40, [(20, values(5))])
        self.plan("due", 30, [(29 - 2 * i, values(5)) for i in range(10)])
        reported = self.plan("reported", 30, [(29 - 2 * i, values(5)) for i in range(11)])
        ok(create_report(api, reported, period_end=day(25)), 201)
        drafts = self.plan("drafts", 20, [(10, values(5)), (3, values(5))], sign=False)
        # Two drafts of the same age listed by visit date then id: the later visit first here.
        later = self.visit(drafts, 1, values(5), sign=False)
        earlier = self.visit(drafts, 2, values(5), sign=False)
        self.visit(drafts, 0, values(5), sign=False)  # created now: not overdue yet
        notes = ok(api.get(f"/api/v1/plans/{drafts}/visits"))
        oldest = next(n["id"] for n in notes if n["visit_date"] == day(10))
        self.age({oldest: 50, later: 30, earlier: 30,
                  next(n["id"] for n in notes if n["visit_date"] == day(3)): 26})
        held = self.plan("held", 30, [(20, values(4)), (13, values(5)), (6, values(7))])
        self.age({self.visit(held, 2, values(7), sign=False): 30})
        self.patch(held, status="on_hold")
        kept = self.plan("kept", 30, [
            (d, values(pain, pain - 2)) for d, pain in zip(visit_days, (6, 5, 5, 6, 5, 5))])
        ok(api.post(f"/api/v1/plans/{kept}/maintenance", json={"reason": "Plateau at 5/10."}))
        self.plan("nogoals", 30, [(d, values(5)) for d in visit_days], goals=[],
                  tracked=[{"measure": "pain"}])
        gone = self.plan("gone", 30, [(10, values(5))])
        self.age({self.visit(gone, 2, values(5), sign=False): 30})
        self.patch(gone, status="cancelled")

    def plan(self, name, start, visits, *, goals=None, tracked=None, sign=True) -> int:
        patient = ok(self.api.post("/api/v1/patients", json={
            "given_name": name.capitalize(), "family_name": "Caseload",
            "birth_date": "1975-02-03"}), 201)
        body = {"start_date": day(start), "weeks": 8, "visits_per_week": 2,
                "diagnosis_code": "M54.41", "side": "right",
                "goals": [{"measure": "pain", "target": 2}] if goals is None else goals}
        if tracked is not None:
            body["tracked_measures"] = tracked
        plan = ok(self.api.post(f"/api/v1/patients/{patient['id']}/plans", json=body), 201)
        self.plans[name], self.patients[name] = plan["id"], patient["id"]
        for days_ago, measurements in visits:
            self.visit(plan["id"], days_ago, measurements, sign=sign)
        return plan["id"]

    def visit(self, plan_id, days_ago, measurements, *, sign=True) -> int:
        note = ok(self.api.post(f"/api/v1/plans/{plan_id}/visits", json={
            "visit_date": day(days_ago), "subjective": "Leg pain.", "objective": "Tested.",
            "assessment": "Assessed.", "plan": "Continue.", "interventions": ["art"],
            "home_programme": "Nerve sliders 2×10 daily.", "measurements": measurements}), 201)
        if sign:
            ok(self.api.post(f"/api/v1/visits/{note['id']}/sign", json={}))
        return note["id"]

    def patch(self, plan_id, **fields):
        plan = ok(self.api.get(f"/api/v1/plans/{plan_id}"))
        return ok(self.api.patch(f"/api/v1/plans/{plan_id}",
                                 json={"version": plan["version"], **fields}))

    def age(self, hours_by_note: dict[int, float]):
        """Make drafts older (arranging only: their age is all that changes)."""
        from notes_service.visits.models import VisitNote

        now = datetime.now(UTC)
        with self.app.app_context():
            for note_id, hours in hours_by_note.items():
                db.session.execute(sa.update(VisitNote).where(VisitNote.id == note_id)
                                   .values(created_at=now - timedelta(hours=hours)))
            db.session.commit()


@pytest.fixture
def caseload(app, api):
    return Caseload(app, api)


def user(account_id):
    from notes_service.auth.models import User

    return db.session.get(User, account_id)


def plans_of(ids):
    from sqlalchemy.orm import selectinload

    from notes_service.plans.models import PlanOfCare

    return list(db.session.execute(
        sa.select(PlanOfCare).where(PlanOfCare.id.in_(ids))
        .options(selectinload(PlanOfCare.goals)).order_by(PlanOfCare.id)).scalars())


def both(app, account_id, plan_ids):
    """(the flags caseload_flags gives, the engine's flags computed from scratch), per plan."""
    with app.test_request_context("/"):
        actor, plans = user(account_id), plans_of(plan_ids)
        stored = caseload_module.caseload_flags(actor, plans)
        db.session.commit()  # the summaries brought up to date stay so, as after a page view
    clear_all()
    with app.test_request_context("/"):
        actor, plans = user(account_id), plans_of(plan_ids)
        engine = {plan_id: p.flags
                  for plan_id, p in services.caseload_progress(actor, plans).items()}
    return stored, engine


def codes(flags_by_plan) -> dict[int, list[str]]:
    return {plan_id: [f.code for f in flags] for plan_id, flags in flags_by_plan.items()}


def summary_key(app, plan_id):
    from notes_service.outcomes.models import PlanOutcome

    with app.app_context():
        return db.session.execute(sa.select(PlanOutcome.rules_key)
                                  .where(PlanOutcome.plan_id == plan_id)).scalar()


# --------------------------------------------------------------------------- the same flags

def test_every_kind_of_flag_is_the_engines(app, caseload, practitioner):
    stored, engine = both(app, practitioner.id, caseload.plans.values())
    assert stored == engine
    found = codes(stored)
    p = caseload.plans
    assert found[p["plateau"]] == ["plateau", "short_lived_relief"]
    assert found[p["worse"]] == ["worsening", "worsening"]
    assert [(f.measure, f.side) for f in stored[p["worse"]]] == [("pain", None),
                                                                 ("pain_worst", None)]
    assert found[p["track"]] == ["off_track"]
    assert found[p["ending"]] == ["plan_ending"]
    assert found[p["expired"]] == ["plan_expired"]
    assert found[p["idle"]] == ["no_recent_visit"]
    assert found[p["due"]] == ["progress_report_due", "plateau"]
    assert found[p["reported"]] == ["plateau"]
    assert found[p["drafts"]] == ["unsigned_note"]
    assert found[p["held"]] == ["unsigned_note"]
    assert found[p["kept"]] == ["short_lived_relief"]
    assert found[p["nogoals"]] == ["plateau"]
    assert "no measurable goals" in stored[p["nogoals"]][0].message
    assert found[p["gone"]] == ["unsigned_note"]
    assert {code for found_codes in found.values() for code in found_codes} == set(FLAG_CODES)
    # The overdue drafts, oldest first; the two of one age by visit date (not by id).
    unsigned = stored[p["drafts"]][0]
    assert unsigned.message.startswith("4 draft notes unsigned for more than 24 hours")
    notes = {n["visit_date"]: n["id"] for n in ok(caseload.api.get(
        f"/api/v1/plans/{p['drafts']}/visits"))}
    assert notes[day(1)] < notes[day(2)]
    assert unsigned.note_ids == (notes[day(10)], notes[day(2)], notes[day(1)], notes[day(3)])


def test_a_saved_note_marks_the_summary_stale_and_shows(app, caseload, practitioner):
    plan_id = caseload.plans["plateau"]
    before, _ = both(app, practitioner.id, [plan_id])
    caseload.visit(plan_id, 0, values(9, 9, slr_right=30))
    assert summary_key(app, plan_id) == ""  # marked stale, not rebuilt
    after, engine = both(app, practitioner.id, [plan_id])
    assert after == engine
    # Today's value starts a window of 13 days, too short to judge: both flags go.
    assert codes(before)[plan_id] == ["plateau", "short_lived_relief"]
    assert codes(after)[plan_id] == []


def test_a_goal_change_shows(app, caseload, practitioner):
    plan_id = caseload.plans["plateau"]
    before, _ = both(app, practitioner.id, [plan_id])
    caseload.patch(plan_id, goals=[{"measure": "pain", "target": 6},
                                   {"measure": "slr", "side": "right", "target": 90}])
    after, engine = both(app, practitioner.id, [plan_id])
    assert after == engine and after != before
    assert "plateau" not in codes(after)[plan_id]


def test_a_plan_change_without_a_rebuild_shows(app, caseload, practitioner):
    """A maintenance plan moves the plan's version on without rebuilding its summary."""
    plan_id = caseload.plans["nogoals"]
    before, _ = both(app, practitioner.id, [plan_id])
    ok(caseload.api.post(f"/api/v1/plans/{plan_id}/maintenance", json={"reason": "Steady."}))
    after, engine = both(app, practitioner.id, [plan_id])
    assert after == engine and codes(before)[plan_id] == ["plateau"]
    assert codes(after)[plan_id] == []


@pytest.mark.parametrize("days", [1, 5, 30])
def test_another_day_shows(app, caseload, practitioner, monkeypatch, days):
    """The clinic's date and the clock move on: no note, plan or summary changes."""
    later_day = services.clinic_today() + timedelta(days=days)
    later = datetime.now(UTC) + timedelta(days=days)
    for module in (services, caseload_module):
        monkeypatch.setattr(module, "clinic_today", lambda: later_day)
        monkeypatch.setattr(module, "utcnow", lambda: later)
    stored, engine = both(app, practitioner.id, caseload.plans.values())
    assert stored == engine
    found = codes(stored)
    assert "plan_expired" in found[caseload.plans["ending"]] or days < 4
    assert "no_recent_visit" in found[caseload.plans["plateau"]] or days < 12


def test_changed_rule_settings_show(app, caseload, practitioner, monkeypatch):
    monkeypatch.setitem(app.config["PROGRESS_SETTINGS"], "report_every_visits", 4)
    monkeypatch.setitem(app.config["PROGRESS_SETTINGS"], "window_days", 7)
    monkeypatch.setitem(app.config["PROGRESS_THRESHOLDS"], "pain", 1)
    stored, engine = both(app, practitioner.id, caseload.plans.values())
    assert stored == engine
    assert "progress_report_due" in codes(stored)[caseload.plans["plateau"]]


def test_a_summary_row_that_does_not_fit_the_plan_is_not_used(app, caseload, practitioner):
    """A row changed behind the summaries' back (same version and rules): the engine answers."""
    from notes_service.outcomes.models import PlanFlag, PlanOutcome

    plan_id = caseload.plans["worse"]
    expected, _ = both(app, practitioner.id, [plan_id])
    with app.app_context():
        db.session.execute(sa.update(PlanOutcome).where(PlanOutcome.plan_id == plan_id)
                           .values(status="on_hold"))
        db.session.execute(sa.update(PlanFlag).where(PlanFlag.plan_id == plan_id)
                           .values(message="Not the engine's words."))
        db.session.commit()
    stored, engine = both(app, practitioner.id, [plan_id])
    assert stored == engine == expected


def test_a_patient_sees_flags_of_signed_notes_only(app, caseload, practitioner):
    patient_id = caseload.patients["held"]
    account = make_account(app, "held.patient@example.org", "patient", patient_id=patient_id)
    plan_id = caseload.plans["held"]
    caseload.patch(plan_id, status="active")
    stored, engine = both(app, account.id, [plan_id])
    assert stored == engine
    clinician, _ = both(app, practitioner.id, [plan_id])
    # The draft (pain 7, T-2) is not theirs to see: signed values 4, 5, 7 are worsening. A
    # clinician's series ends at the draft, in a window too short to judge, and has the draft.
    assert codes(stored)[plan_id] == ["worsening"]
    assert codes(clinician)[plan_id] == ["unsigned_note"]


# --------------------------------------------------------------------------- statements

def _plans(app, api, count, prefix):
    """``count`` plateau-like plans, each with three visits (one a draft)."""
    builder = Caseload.__new__(Caseload)
    builder.app, builder.api, builder.plans, builder.patients = app, api, {}, {}
    for i in range(count):
        builder.plan(f"{prefix}{i}", 30, [(17, values(6, 4)), (10, values(5, 3))])
        builder.visit(builder.plans[f"{prefix}{i}"], 3, values(6, 4), sign=False)
    return list(builder.plans.values())


def _statements(app, count_queries, account_id, plan_ids):
    with app.test_request_context("/"):
        actor, plans = user(account_id), plans_of(plan_ids)
        clear_all()
        with count_queries() as counter:
            flags = caseload_module.caseload_flags(actor, plans)
        db.session.commit()
    assert all(flags[plan_id] for plan_id in plan_ids)
    return counter.statements


def test_the_statements_do_not_grow_with_the_caseload(app, api, practitioner, count_queries):
    counts = {}
    for size in (2, 20):
        plan_ids = _plans(app, api, size, f"Size{size}x")
        # Every summary stale (a note was saved on each plan): rebuilt in one batch.
        stale = _statements(app, count_queries, practitioner.id, plan_ids)
        # Then current, as whenever a reader has run: nothing but the reads.
        current = _statements(app, count_queries, practitioner.id, plan_ids)
        counts[size] = (len(stale), len(current))
        assert not any("measurements" in sql for sql in current)
        assert len(current) == 4, current  # staleness, stored flags, visit figures, drafts
    assert counts[2] == counts[20], counts


# --------------------------------------------------------------------------- the page

def test_the_caseload_page_shows_the_engines_flags(app, web, caseload, practitioner,
                                                   audit_log):
    from notes_service.web.views import SEVERITY_ORDER

    rendered = []

    def seen(sender, template, context, **extra):
        if template.name == "home/caseload.html":
            rendered.append(context)

    audit_log.mark()
    with template_rendered.connected_to(seen, app):
        response = web.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = rendered[0]["flags_by_plan"]
    open_plans = [plan_id for name, plan_id in caseload.plans.items() if name != "gone"]
    clear_all()
    with app.test_request_context("/"):
        progress = services.caseload_progress(user(practitioner.id), plans_of(open_plans))
    expected = {plan_id: sorted(p.flags, key=lambda f: SEVERITY_ORDER[f.severity])
                for plan_id, p in progress.items() if p.flags}
    assert shown == expected
    for flags in expected.values():
        for flag in flags:
            assert html_lib.escape(flag.message, quote=False) in html
    read = {(r["kind"], r["action"], r["patient_id"]) for r in audit_log.new()}
    assert {("progress", "read", caseload.patients[name])
            for name in caseload.plans if name != "gone"} <= read


def test_the_caseload_page_reads_every_plans_flags_at_once_and_no_series(
        app, web, api, practitioner, monkeypatch, count_queries):
    calls, engine_calls = [], []
    original = caseload_module.caseload_flags

    def spy(actor, plans):
        plans = list(plans)
        calls.append(len(plans))
        return original(actor, plans)

    monkeypatch.setattr(caseload_module, "caseload_flags", spy)
    monkeypatch.setattr(services, "caseload_progress",
                        lambda *args: engine_calls.append(args) or {})
    plan_ids = _plans(app, api, 3, "Page")
    assert web.get("/").status_code == 200  # brings the summaries up to date
    assert calls == [3] and engine_calls == []
    clear_all()  # a new worker, or a new day: nothing kept in the process
    with count_queries() as counter:
        html = web.get("/").get_data(as_text=True)
    assert not any("measurements" in sql for sql in counter.statements)
    assert html.count('class="flag-severity">Medium') >= len(plan_ids)
