"""The patient page's cached HTML (``web.fragments``): the same page again comes from the cache,
and every kind of change of what the page shows (notes, drafts, signatures, addenda, values,
plans, goals, reports, the diary, the care team, demographics, names, the day, the viewer) is
on the very next view; no viewer ever gets another's links or CSRF token."""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta

import pytest
from jinja2 import meta

from conftest import Api
from web_support import (  # noqa: F401
    chart,
    director_web,
    make_account,
    make_chart,
    make_note,
    other_web,
    pending_dir,
    user_of,
    web,
)
from notes_service.extensions import db
from notes_service.web.fragments import FragmentCache, columns_key, fragment_cache

CSRF_VALUE = re.compile(r'name="csrf_token" value="([^"]+)"')


def view(app, client, patient_id: int) -> tuple[str, bool]:
    """The patient page's HTML, and whether its content came whole from the cache."""
    cache = fragment_cache(app)
    hits, misses = cache.hits, cache.misses
    response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True), cache.misses == misses and cache.hits == hits + 1


def content(html: str) -> str:
    """The page without its CSRF token (which is per session, outside the cached part)."""
    return CSRF_VALUE.sub('name="csrf_token" value=""', html)


def cached_then(app, client, patient_id: int) -> str:
    """View the page twice (the second from the cache); return the HTML."""
    view(app, client, patient_id)
    html, hit = view(app, client, patient_id)
    assert hit, "the same page again should come from the cache"
    return html


def fresh(app, client, patient_id: int) -> str:
    """View the page after a change: it must be rendered again."""
    html, hit = view(app, client, patient_id)
    assert not hit, "a change of what the page shows must render it again"
    return html


def history_row(html: str, label: str) -> str:
    """The visit-history row of the visit whose date link reads ``label``."""
    table = html[html.index('id="visits-title"'):]
    return next(row for row in table.split("<tr>") if label in row)


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


# --------------------------------------------------------------------------- hits and keys

def test_the_same_page_again_comes_from_the_cache_and_is_the_same(web, app, practitioner,
                                                                   chart):
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    first, _ = view(app, web, chart.patient_id)
    second, hit = view(app, web, chart.patient_id)
    assert hit
    assert content(second) == content(first)


def test_a_hit_makes_none_of_the_charts_parts(web, app, practitioner, chart, monkeypatch):
    """The overview chart's URL and text alternative are made only when the page renders."""
    import notes_service.patients.views as views

    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    first = cached_then(app, web, chart.patient_id)
    monkeypatch.setattr(views, "focus_context", lambda *args, **kwargs: pytest.fail("made"))
    again, hit = view(app, web, chart.patient_id)
    assert hit and content(again) == content(first) and "/charts/overview.svg" in again


def test_the_engines_progress_enters_the_key_by_identity(web, app, practitioner, chart):
    """The memo's very objects make the same key; progress computed again (equal, but new
    objects) renders the page again, the same."""
    from notes_service.progress.services import PROGRESS_MEMO

    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    first = cached_then(app, web, chart.patient_id)
    PROGRESS_MEMO.clear()
    assert content(fresh(app, web, chart.patient_id)) == content(first)
    assert content(cached_then(app, web, chart.patient_id)) == content(first)


def test_same_is_equal_only_for_the_very_object():
    from notes_service.web.fragments import Same

    value = ("progress", 1.5)
    twin = tuple(list(value))
    assert twin == value and twin is not value
    assert Same(value) == Same(value) and hash(Same(value)) == hash(Same(value))
    assert Same(twin) != Same(value) and Same(value) != value


def test_two_patients_never_share_a_page(web, app, practitioner):
    one = make_chart(app, practitioner, given="Eva", family="Twin")
    two = make_chart(app, practitioner, given="Ida", family="Twin")
    first = cached_then(app, web, one.patient_id)
    second = fresh(app, web, two.patient_id)
    assert "MRN-Eva-Twin" in first and "MRN-Eva-Twin" not in second
    assert "MRN-Ida-Twin" in second


def test_no_cached_fragment_holds_a_csrf_token_or_the_viewer(web, app, practitioner, chart,
                                                            director, director_web):
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1))
    mine = cached_then(app, web, chart.patient_id)
    theirs, _ = view(app, director_web, chart.patient_id)
    tokens = {CSRF_VALUE.search(mine).group(1), CSRF_VALUE.search(theirs).group(1)}
    assert len(tokens) == 2  # each session its own token, around the same cached content
    cache = fragment_cache(app)
    assert len(cache) >= 3  # the content, the visit history, the measures
    for html in cache._entries.values():
        assert "csrf_token" not in html and not tokens & set(re.findall(r"[\w.-]{40,}", html))
        assert "usermenu" not in html and "Dana Director" not in html  # the layout is outside


FRAGMENTS = ("patients/_detail.html", "patients/_visit_history.html",
             "progress/_measures.html")
#: What a fragment may read besides its context: filters and globals that depend on nothing
#: of the request or the viewer (url_for depends on the URL root, which joins every key).
REQUEST_STATE = {"request", "session", "g", "current_user", "csrf_token", "config",
                 "get_flashed_messages", "current_endpoint", "nav_items", "clinic_name"}


def test_fragment_templates_read_nothing_of_the_request_or_the_viewer(app):
    env = app.jinja_env
    seen, todo = set(), list(FRAGMENTS)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = env.loader.get_source(env, name)[0]
        tree = env.parse(source)
        assert not meta.find_undeclared_variables(tree) & REQUEST_STATE, name
        todo.extend(t for t in meta.find_referenced_templates(tree) if t)
    assert "plans/_goals.html" in seen and "portal/_diary_panel.html" in seen


def test_fragment_cache_is_bounded_by_entries_and_by_size():
    cache = FragmentCache(max_entries=3, max_bytes=100_000)
    for key in "abcd":
        cache.put(key, key * 10)
    assert len(cache) == 3 and cache.get("a") is None and cache.get("d") == "d" * 10
    cache.get("b")  # b is now the most recent: c goes first
    cache.put("e", "e" * 10)
    assert cache.get("c") is None and cache.get("b") == "b" * 10
    cache = FragmentCache(max_entries=100, max_bytes=sys.getsizeof("x" * 1000) * 2)
    cache.put("x", "x" * 1000)
    cache.put("y", "→" * 600)  # two bytes a character: x must go
    assert cache.get("x") is None and cache.get("y") and cache.size <= cache.max_bytes
    cache.put("z", "z" * 5000)  # larger than the whole cache: not kept, nothing dropped
    assert cache.get("z") is None and cache.get("y")
    cache.clear()
    assert len(cache) == 0 and cache.size == 0


def test_a_record_enters_a_key_by_every_loaded_column(app, practitioner, chart):
    from notes_service.plans.models import PlanOfCare

    with app.app_context():
        plan = db.session.get(PlanOfCare, chart.plan_id)
        before = columns_key(plan)
        hash(before)
        plan.tracked_measures = [*plan.tracked_measures, {"measure": "lefs", "side": None}]
        assert columns_key(plan) != before
        plan.discharge_note = "Changed."
        assert columns_key(plan) != before
        assert "password_hash" not in repr(columns_key(user_of(practitioner)))
        db.session.rollback()


def test_statements_built_once_per_viewer_carry_the_viewers_scope(app, practitioner,
                                                                   director, chart):
    """The stand-in a page's statements are built for gives the user's very own scope."""
    from notes_service.access import patient_scope, visible_notes
    from notes_service.patients.models import Patient
    from notes_service.web.queries import Viewer

    own = make_account(app, "ana.patient@example.org", "patient", patient_id=chart.patient_id)
    with app.app_context():
        for account in (practitioner, director, own):
            user = user_of(account)
            for real, standin in ((patient_scope(user, Patient.id),
                                   patient_scope(Viewer.of(user), Patient.id)),
                                  (visible_notes(user), visible_notes(Viewer.of(user)))):
                assert str(real.compile(db.engine)) == str(standin.compile(db.engine))
                assert real.compile().params == standin.compile().params


# --------------------------------------------------------------------------- notes

def test_a_new_draft_and_its_signature_show_at_once(web, app, practitioner, chart):
    signed_day = chart.start + timedelta(days=1)
    make_note(app, practitioner, chart.plan_id, signed_day, sign=True)
    html = cached_then(app, web, chart.patient_id)
    assert "1 note, newest first" in html
    draft_day = chart.start + timedelta(days=4)
    draft_id = make_note(app, practitioner, chart.plan_id, draft_day)
    html = fresh(app, web, chart.patient_id)
    assert "2 notes, newest first" in html
    row = history_row(html, day_label(draft_day))
    assert "badge-draft" in row and f'href="/visits/{draft_id}/edit"' in row
    assert "Continue" in row
    with app.app_context():
        from notes_service.visits.schemas import VisitSchema
        from notes_service.visits.services import sign_note

        sign_note(user_of(practitioner), draft_id, None, dump=VisitSchema().dump)
        db.session.commit()
    html = fresh(app, web, chart.patient_id)
    row = history_row(html, day_label(draft_day))
    assert "badge-signed" in row and "Continue" not in row and "Open" in row
    fragment_cache(app).clear()  # the same page rendered from scratch
    assert content(view(app, web, chart.patient_id)[0]) == content(html)


def test_an_addendum_shows_at_once(web, app, practitioner, chart, client):
    day = chart.start + timedelta(days=2)
    note_id = make_note(app, practitioner, chart.plan_id, day, sign=True)
    assert "addendum" not in history_row(cached_then(app, web, chart.patient_id),
                                         day_label(day))
    response = Api(client, practitioner).post(f"/api/v1/visits/{note_id}/addenda",
                                              json={"text": "SLR retested: 45°."})
    assert response.status_code == 201, response.get_json()
    assert "1 addendum" in history_row(fresh(app, web, chart.patient_id), day_label(day))


def test_changed_values_of_a_draft_show_at_once(web, app, practitioner, chart, client):
    day = chart.start + timedelta(days=3)
    note_id = make_note(app, practitioner, chart.plan_id, day)
    html = cached_then(app, web, chart.patient_id)
    assert "7/10 → 5/10" in history_row(html, day_label(day))
    api = Api(client, practitioner)
    version = api.get(f"/api/v1/visits/{note_id}").get_json()["version"]
    response = api.patch(f"/api/v1/visits/{note_id}", json={"version": version, "measurements": [
        {"measure": "pain", "value": 4}, {"measure": "pain", "phase": "post", "value": 3},
        {"measure": "slr", "side": "right", "value": 52}]})
    assert response.status_code == 200, response.get_json()
    html = fresh(app, web, chart.patient_id)
    assert "4/10 → 3/10" in history_row(html, day_label(day))
    goals = html[html.index("goals-table"):html.index("</table>", html.index("goals-table"))]
    assert "52°" in goals and "40°" not in goals
    measures = html[html.index('id="progress-slr-right"'):]
    assert "52°" in measures[:measures.index("</section>")]


# --------------------------------------------------------------------------- plans, goals

def test_plan_and_goal_changes_show_at_once(web, app, practitioner, chart, client):
    cached_then(app, web, chart.patient_id)
    api = Api(client, practitioner)
    plan = api.get(f"/api/v1/plans/{chart.plan_id}").get_json()
    response = api.patch(f"/api/v1/plans/{chart.plan_id}", json={
        "version": plan["version"], "diagnosis_code": "M54.31",
        "goals": [{"measure": "pain", "target": 3},
                  {"measure": "slr", "side": "right", "target": 65, "term": "short"}]})
    assert response.status_code == 200, response.get_json()
    html = fresh(app, web, chart.patient_id)
    assert "Sciatica, right side" in html and "Lumbago with sciatica" not in html
    assert "≤ 3/10" in html and "≥ 65°" in html and "≥ 70°" not in html


def test_a_goal_of_a_discharged_plan_changed_alone_shows_at_once(web, app, practitioner, chart,
                                                                  client):
    """No progress is computed for a discharged plan, and the plan's row (its version) stays
    the same: only the goal's own columns in the key can show the change."""
    response = Api(client, practitioner).post(f"/api/v1/plans/{chart.plan_id}/discharge",
                                              json={"reason": "goals_met"})
    assert response.status_code == 200, response.get_json()
    assert "≥ 70°" in cached_then(app, web, chart.patient_id)
    with app.app_context():
        from notes_service.plans.models import Goal

        goal = db.session.execute(db.select(Goal).where(Goal.plan_id == chart.plan_id,
                                                        Goal.measure == "slr")).scalar_one()
        goal.target = 75
        db.session.commit()
    html = fresh(app, web, chart.patient_id)
    assert "≥ 75°" in html and "≥ 70°" not in html


def test_a_discharge_shows_at_once(web, app, practitioner, chart, client):
    assert 'id="progress-title"' in cached_then(app, web, chart.patient_id)
    response = Api(client, practitioner).post(f"/api/v1/plans/{chart.plan_id}/discharge",
                                              json={"reason": "goals_met"})
    assert response.status_code == 200, response.get_json()
    html = fresh(app, web, chart.patient_id)
    assert 'id="progress-title"' not in html and "<dt>Discharged</dt>" in html


def test_a_new_report_shows_at_once(web, app, practitioner, chart):
    for day in (0, 4):
        make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=day),
                  sign=True)
    assert "No reports yet" in cached_then(app, web, chart.patient_id)
    with app.app_context():
        from notes_service.reports.services import create_report

        create_report(user_of(practitioner), chart.plan_id, {
            "kind": "progress", "assessment": "Improving.", "plan": "Continue."})
        db.session.commit()
    html = fresh(app, web, chart.patient_id)
    assert "No reports yet" not in html and "1 report, newest first" in html


def test_a_diary_entry_shows_at_once(web, app, practitioner, chart):
    assert "No diary entries yet" in cached_then(app, web, chart.patient_id)
    with app.app_context():
        from notes_service.portal.models import DiaryEntry

        db.session.add(DiaryEntry(patient_id=chart.patient_id, entry_date=date.today(), pain=6,
                                  note="Stiff after the drive.", author_id=practitioner.id))
        db.session.commit()
    html = fresh(app, web, chart.patient_id)
    assert "Stiff after the drive." in html and "average 6/10 from 1 entry" in html


# --------------------------------------------------------------------------- people, the day

def test_demographics_and_names_show_at_once(web, app, practitioner, chart, client):
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    cached_then(app, web, chart.patient_id)
    response = Api(client, practitioner).patch(f"/api/v1/patients/{chart.patient_id}",
                                               json={"phone": "+1 555 0100"})
    assert response.status_code == 200, response.get_json()
    assert "+1 555 0100" in fresh(app, web, chart.patient_id)
    cached_then(app, web, chart.patient_id)
    with app.app_context():  # a clinician's name changes (author, owner, care team)
        user_of(practitioner).name = "Pat Physio-Renamed"
        db.session.commit()
    html = fresh(app, web, chart.patient_id)
    assert html.count("Pat Physio-Renamed") >= 3  # the history, the plan card, the care team


class _Later:
    """``notes_service.clock.datetime`` moved ``days`` ahead."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def by(self, days: int) -> None:
        class Later(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(days=days)

        self.monkeypatch.setattr("notes_service.clock.datetime", Later)


def test_the_next_day_renders_the_page_again(web, app, practitioner, chart, monkeypatch):
    html = cached_then(app, web, chart.patient_id)
    assert "<dd>3 of 8</dd>" in html  # started 20 days ago: week 3
    _Later(monkeypatch).by(7)
    assert "<dd>4 of 8</dd>" in fresh(app, web, chart.patient_id)


def test_a_birthday_renders_the_page_again(web, app, api, monkeypatch):
    """A patient without a plan (no progress, nothing else changes with the day): the age."""
    today = date.today()
    birthday = date(today.year, 6, 15)
    if birthday <= today:
        birthday = date(today.year + 1, 6, 15)
    response = api.post("/api/v1/patients", json={
        "given_name": "Bea", "family_name": "Birthday", "birth_date": "1980-06-15"})
    assert response.status_code == 201, response.get_json()
    patient_id = response.get_json()["id"]
    age = birthday.year - 1980 - 1
    assert f"({age} y)" in cached_then(app, web, patient_id)
    _Later(monkeypatch).by((birthday - today).days)
    assert f"({age + 1} y)" in fresh(app, web, patient_id)


def test_each_viewer_gets_their_own_links(web, app, practitioner, chart, director_web,
                                          other_practitioner, other_web, director, client):
    draft_day = chart.start + timedelta(days=2)
    draft_id = make_note(app, practitioner, chart.plan_id, draft_day)
    mine = cached_then(app, web, chart.patient_id)
    assert "New visit note" in mine and f'href="/visits/{draft_id}/edit"' in mine
    theirs, hit = view(app, director_web, chart.patient_id)
    assert not hit
    assert "Read-only: not on the care team" in theirs and "New visit note" not in theirs
    assert f'href="/visits/{draft_id}/edit"' not in theirs
    assert "Read-only" not in cached_then(app, web, chart.patient_id)
    # A practitioner reading through break-glass: same role, no write right.
    with app.app_context():
        from notes_service.security.break_glass import break_glass

        break_glass(user_of(other_practitioner), chart.patient_id, "Covering the clinic today.")
        db.session.commit()
    reading, hit = view(app, other_web, chart.patient_id)
    assert not hit and "New visit note" not in reading
    assert f'href="/visits/{draft_id}/edit"' not in reading
    # Placed on the care team: the write right (and the team list) change at once.
    response = Api(client, director).post(f"/api/v1/patients/{chart.patient_id}/care-team",
                                          json={"user_id": other_practitioner.id})
    assert response.status_code in (200, 201), response.get_json()
    writing = fresh(app, other_web, chart.patient_id)
    assert "New visit note" in writing and f'href="/visits/{draft_id}/edit"' in writing
    team = writing[writing.index('id="team-title"'):]
    assert "Olly Other" in team[:team.index("</section>")]


@pytest.mark.parametrize("unhashable", [[1, 2], {"a": 1}])
def test_an_unhashable_key_renders_without_caching(app, unhashable):
    from notes_service.web.fragments import render_fragment

    with app.test_request_context():
        cache = fragment_cache(app)
        size = len(cache)
        html = render_fragment("patients/_visit_history.html", (unhashable,),
                               lambda: {"rows": (), "can_write": False})
        assert "No visits documented yet" in html and len(cache) == size
