"""The patient page's own reads: the progress memo's validators come with the plans (no statement
of their own), and the goals' baseline and latest values are those of the measures with a goal
in the note's own plan."""

from __future__ import annotations

from datetime import date, timedelta

from flask import g

from web_support import (  # noqa: F401
    chart,
    director_web,
    make_chart,
    make_note,
    pending_dir,
    user_of,
    web,
)
from notes_service.extensions import db


def page_of(app, account, patient_id: int):
    """The patient page's reads as ``account``, in a request context left open for more."""
    from notes_service.web.queries import patient_page

    user = user_of(account)
    g.actor = user
    return patient_page(user, patient_id, today=date.today())


def test_the_pages_memo_keys_are_those_of_the_progress_memo(app, practitioner, chart):
    """The keys built from the validators read with the plans are the memo's own, whatever the
    plan's notes (none, drafts, signed) and reports."""
    from notes_service.progress import services
    from notes_service.progress.views import memo_keys

    def same_keys():
        with app.test_request_context(f"/patients/{chart.patient_id}"):
            page = page_of(app, practitioner, chart.patient_id)
            assert page.progress_validators
            assert memo_keys(page.plans, page.progress_validators) == \
                services._memo_keys(page.plans, signed_only=False)
            db.session.rollback()

    same_keys()  # no note yet
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=3))
    same_keys()
    with app.app_context():
        from notes_service.reports.services import create_report
        from notes_service.visits.services import sign_note
        from notes_service.visits.models import VisitNote
        from notes_service.visits.schemas import VisitSchema

        draft = db.session.execute(db.select(VisitNote.id).where(
            VisitNote.plan_id == chart.plan_id, VisitNote.status == "draft")).scalar_one()
        sign_note(user_of(practitioner), draft, None, dump=VisitSchema().dump)
        create_report(user_of(practitioner), chart.plan_id, {
            "kind": "progress", "assessment": "Improving.", "plan": "Continue."})
        db.session.commit()
    same_keys()


def test_a_repeat_view_reads_the_plans_once(web, app, practitioner, chart, count_queries):
    """The progress memo's key is not read by a statement of its own."""
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=1), sign=True)
    assert web.get(f"/patients/{chart.patient_id}").status_code == 200
    with count_queries() as counter:
        assert web.get(f"/patients/{chart.patient_id}").status_code == 200
    plan_reads = [s for s in counter.statements if "FROM plans_of_care" in s]
    assert len(plan_reads) == 1, plan_reads


def test_a_report_ends_the_report_due_flag_at_once(web, app, practitioner, chart, monkeypatch):
    """A report changes the validator read with the plans: the progress is computed again."""
    monkeypatch.setitem(app.config, "PROGRESS_SETTINGS", {"report_every_visits": 2})
    for day in (1, 3):
        make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=day),
                  sign=True)
    for _ in range(2):  # the second view answers from the memo
        html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
        assert "2 visits since the plan started or the last progress report" in html
    with app.app_context():
        from notes_service.reports.services import create_report

        create_report(user_of(practitioner), chart.plan_id, {
            "kind": "progress", "assessment": "Improving.", "plan": "Continue."})
        db.session.commit()
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "1 report, newest first" in html
    assert "since the plan started or the last progress report" not in html


def test_goal_values_are_those_of_a_goal_of_the_notes_own_plan(app, practitioner):
    """SLR (right) has a goal in the first plan only, ODI in the second only: a value enters a
    plan's baseline and latest only when the plan has a goal on that very measure and side
    (pain now always does: the history shows it)."""
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan

    first = make_chart(app, practitioner, days_ago=30, tracked=[
        {"measure": "pain"}, {"measure": "slr", "side": "right"},
        {"measure": "slr", "side": "left"}, {"measure": "odi"}],
        goals=[{"measure": "slr", "side": "right", "target": 70}])
    with app.app_context():
        second = create_plan(user_of(practitioner), first.patient_id, PlanInputSchema().load({
            "start_date": (date.today() - timedelta(days=10)).isoformat(), "weeks": 4,
            "visits_per_week": 1, "diagnosis_code": "M54.41", "side": "right",
            "body_region": "lumbar", "tracked_measures": [
                {"measure": "pain"}, {"measure": "slr", "side": "right"}, {"measure": "odi"}],
            "goals": [{"measure": "odi", "target": 20}]})).id
        db.session.commit()
    values = [{"measure": "pain", "value": 6}, {"measure": "pain", "phase": "post", "value": 4},
              {"measure": "slr", "side": "right", "value": 40},
              {"measure": "slr", "side": "right", "phase": "post", "value": 45},
              {"measure": "slr", "side": "left", "value": 60}]
    odi = [{"instrument": "odi", "items": [2] * 10}]
    make_note(app, practitioner, first.plan_id, first.start + timedelta(days=1), sign=True,
              measurements=values, questionnaires=odi)
    later = [{**v, "value": v["value"] + 2} for v in values]
    make_note(app, practitioner, first.plan_id, first.start + timedelta(days=5),
              measurements=later)
    make_note(app, practitioner, second, date.today() - timedelta(days=2), sign=True,
              measurements=values, questionnaires=odi)
    with app.test_request_context(f"/patients/{first.patient_id}"):
        history = page_of(app, practitioner, first.patient_id).history
        day1, day5 = first.start + timedelta(days=1), first.start + timedelta(days=5)
        day_b = date.today() - timedelta(days=2)
        assert set(history.baseline) == set(history.latest) == {
            (first.plan_id, "pain", None), (first.plan_id, "slr", "right"),
            (second, "pain", None), (second, "odi", None)}
        assert history.baseline[(first.plan_id, "slr", "right")] == (40, day1)
        assert history.latest[(first.plan_id, "slr", "right")] == (42, day5)
        assert history.latest[(first.plan_id, "pain", None)] == (8, day5)
        assert history.baseline[(second, "odi", None)] == history.latest[(second, "odi", None)]
        assert history.latest[(second, "odi", None)][1] == day_b
        by_day = {note.visit_date: (note.pain_pre, note.pain_post) for note in history.notes}
        assert by_day == {day1: (6, 4), day5: (8, 6), day_b: (6, 4)}
        db.session.rollback()


def test_the_report_rows_show_what_the_records_show(app, practitioner, chart):
    """The page reads its reports as rows of the columns the list shows: the list renders the
    same from them as from the records (titles, corrections, signer, file name, size)."""
    from flask import render_template

    from notes_service.reports.services import create_report, list_reports

    for day in (1, 3):
        make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=day),
                  sign=True)
    with app.app_context():
        user = user_of(practitioner)
        first = create_report(user, chart.plan_id, {
            "kind": "progress", "assessment": "Improving.", "plan": "Continue."}).id
        create_report(user, chart.plan_id, {
            "kind": "progress", "assessment": "Improving, corrected.", "plan": "Continue.",
            "corrects_id": first})
        db.session.commit()
    with app.test_request_context(f"/patients/{chart.patient_id}"):
        page = page_of(app, practitioner, chart.patient_id)
        records = list_reports(user_of(practitioner), chart.patient_id)
        context = {"plans_by_id": {plan.id: plan for plan in page.plans},
                   "report_links": [("/x", "Write progress report", "M54.41")]}
        from_rows = render_template("reports/_list.html", reports=page.reports, **context)
        assert from_rows == render_template("reports/_list.html", reports=records, **context)
        assert f"Corrects no. {first}" in from_rows and "2 reports, newest first" in from_rows
        assert f'download="progress-report-{first}-' in from_rows
        db.session.rollback()


def test_a_patient_without_a_care_team(app, director, director_web, practitioner, chart,
                                       client):
    """The patient's row comes with their care team's: an empty team still finds the patient."""
    from conftest import Api

    response = Api(client, director).delete(
        f"/api/v1/patients/{chart.patient_id}/care-team/{practitioner.id}")
    assert response.status_code in (200, 204), response.get_json()
    html = director_web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    team = html[html.index('id="team-title"'):]
    assert "Nobody yet" in team[:team.index("</section>")]
    assert "Ana Silva" in html and "MRN-Ana-Silva" in html
