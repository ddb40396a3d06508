"""Writing a visit note: copy forward, the test/treat/retest grid, special tests and
questionnaires, validation that keeps every value, drafts, signing, addenda and access."""

from datetime import date, timedelta

import pytest

from conftest import make_account
from notes_service.extensions import db
from web_support import (  # noqa: F401
    chart,
    make_note,
    other_web,
    pending_dir,
    sign_in,
    web,
)


def stored_note(app, note_id):
    from notes_service.visits.models import VisitNote
    from notes_service.visits.services import NOTE_LOADS

    with app.app_context():
        note = db.session.execute(db.select(VisitNote).where(VisitNote.id == note_id)
                                  .options(*NOTE_LOADS)).scalar_one()
        return {
            "status": note.status, "version": note.version, "subjective": note.subjective,
            "objective": note.objective, "assessment": note.assessment, "plan": note.plan_text,
            "home": note.home_programme, "interventions": note.interventions,
            "copied_from_id": note.copied_from_id, "visit_date": note.visit_date,
            "measurements": sorted((m.measure, m.side, m.phase, m.value)
                                   for m in note.measurements),
            "tests": [(t.test, t.side, t.result, t.angle, t.phase) for t in note.special_tests],
            "questionnaires": {q.instrument: (q.items, q.score) for q in note.questionnaires},
            "addenda": [(a.author_id, a.text) for a in note.addenda],
        }


def latest_note_id(app):
    from notes_service.visits.models import VisitNote

    with app.app_context():
        return db.session.execute(db.select(VisitNote.id).order_by(VisitNote.id.desc())
                                  ).scalars().first()


def note_form(chart, **fields):
    data = {"visit_date": date.today().isoformat(), "subjective": "Better after the drive.",
            "objective": "Slump positive right.", "assessment": "Improving.",
            "plan": "Progress loading.", "home_programme": "Walk daily.",
            "interventions": ["art", "nerve_glides"],
            "m-pain-pre": "6", "m-pain-post": "4", "m-slr-right-pre": "45",
            "m-slr-right-post": "52", "action": "save"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


# ------------------------------------------------------------------ the form

def test_first_note_has_a_grid_of_the_tracked_measures(web, chart):
    html = web.get(f"/plans/{chart.plan_id}/visits/new").get_data(as_text=True)
    assert 'name="m-pain-pre"' in html and 'name="m-pain-post"' in html
    assert 'name="m-slr-right-pre"' in html and 'name="m-slr-left-pre"' not in html
    assert 'name="m-odi-pre"' not in html  # ODI is scored from its questionnaire
    assert "0–10 score · lower is better" in html and "0–120 deg" in html
    assert html.index('name="m-pain-pre"') < html.index('name="m-pain-post"') < html.index(
        'name="m-slr-right-pre"')  # tab order follows the grid
    assert "copied from" not in html.lower()
    assert "Pain intensity" in html and "Sex life (if applicable)" in html  # ODI sections
    assert 'name="lefs-20"' in html and "Rolling over in bed" in html
    assert 'name="psfs-5-activity"' in html


def test_new_note_copies_the_previous_text_and_marks_it(web, app, practitioner, chart):
    previous = make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    html = web.get(f"/plans/{chart.plan_id}/visits/new").get_data(as_text=True)
    day = f"{chart.start.day} {chart.start:%b %Y}"
    assert f'name="copied_from_id" value="{previous}"' in html
    assert html.count(f"Copied from {day}") == 6  # S, O, A, P, home programme, interventions
    assert 'data-copied="subjective-copied"' in html
    assert ">Leg pain after sitting.</textarea>" in html
    assert 'name="interventions" value="art" checked' in html
    assert "last </span>7/10" in html and "last </span>5/10" in html
    assert "last </span>40°" in html
    blank = web.get(f"/plans/{chart.plan_id}/visits/new?copy=0").get_data(as_text=True)
    assert "Copied from" not in blank and 'name="copied_from_id"' not in blank


def test_save_a_draft_with_measures_tests_and_questionnaires(web, app, practitioner, chart,
                                                             audit_log):
    previous = make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    audit_log.mark()
    response = web.post(f"/plans/{chart.plan_id}/visits/new", data=note_form(
        chart, copied_from_id=str(previous), **{
            "st-0-test": "slr_test", "st-0-side": "right", "st-0-result": "positive",
            "st-0-angle": "45", "st-0-phase": "pre",
            "st-1-test": "slr_test", "st-1-side": "right", "st-1-result": "positive",
            "st-1-angle": "55.5", "st-1-phase": "post",
            "st-2-test": "", "st-2-side": "", "st-2-result": "", "st-2-angle": "",
            "odi-1": "3", "odi-2": "2", "odi-3": "3", "odi-4": "2", "odi-5": "4",
            "odi-6": "2", "odi-7": "3", "odi-8": "", "odi-9": "2", "odi-10": "3",
            "psfs-1-activity": "Sitting 1 hour", "psfs-1-score": "4",
            "psfs-2-activity": "Driving", "psfs-2-score": "6.5"}))
    assert response.status_code == 302, response.get_data(as_text=True)
    note_id = latest_note_id(app)
    assert response.headers["Location"] == f"/visits/{note_id}/edit"
    note = stored_note(app, note_id)
    assert note["status"] == "draft" and note["copied_from_id"] == previous
    assert note["measurements"] == [
        ("odi", None, "pre", 53.3), ("pain", None, "post", 4.0), ("pain", None, "pre", 6.0),
        ("psfs", None, "pre", 5.25),
        ("slr", "right", "post", 52.0), ("slr", "right", "pre", 45.0)]
    assert note["tests"] == [("slr_test", "right", "positive", 45.0, "pre"),
                             ("slr_test", "right", "positive", 55.5, "post")]
    assert note["questionnaires"]["odi"] == ([3, 2, 3, 2, 4, 2, 3, None, 2, 3], 53.3)
    assert note["interventions"] == ["art", "nerve_glides"]
    assert ("visit", "create") in [(r["kind"], r["action"]) for r in audit_log.new()]
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Draft saved at" in page
    assert 'name="m-pain-pre" value="6"' in page and 'name="st-1-angle" value="55.5"' in page
    assert 'name="odi-8" value=""' in page and "53.3%" in page
    assert "−2/10" in page and "change-better" in page  # within-visit change, rendered


def test_invalid_note_keeps_every_value_and_puts_errors_on_the_grid_cells(web, chart):
    long_text = "Pain spreads to the calf after 20 minutes of sitting.\nNumb big toe."
    response = web.post(f"/plans/{chart.plan_id}/visits/new", data=note_form(
        chart, subjective=long_text, **{
            "m-pain-pre": "11", "m-pain-post": "nan", "m-slr-right-pre": "1e3",
            "m-slr-right-post": "7,5",
            "st-0-test": "slr_test", "st-0-side": "", "st-0-result": "", "st-0-angle": "inf",
            "odi-1": "9", "odi-2": "x", "lefs-1": "3",
            "psfs-1-activity": "Stairs", "psfs-1-score": ""}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # every value typed is still there
    assert long_text.replace("\n", "\r\n") in html or long_text in html
    for name, value in [("m-pain-pre", "11"), ("m-pain-post", "nan"), ("m-slr-right-pre", "1e3"),
                        ("m-slr-right-post", "7,5"), ("st-0-angle", "inf"), ("odi-1", "9"),
                        ("odi-2", "x"), ("lefs-1", "3"), ("psfs-1-activity", "Stairs")]:
        assert f'name="{name}" value="{value}"' in html, name
    # each error beside its cell, with the schema's message
    assert 'id="m-pain-pre-error"' in html and "Pain now must be between 0 and 10 score." in html
    assert 'id="m-pain-post-error"' in html and "Not a valid number." in html
    assert 'id="m-slr-right-pre-error"' in html and 'id="m-slr-right-post-error"' in html
    assert 'id="st-0-result-error"' in html
    assert 'id="st-0-angle-error"' in html
    assert 'id="odi-2-error"' in html and "Not a valid whole number." in html
    assert 'id="lefs-error"' in html
    assert 'id="psfs-1-score-error"' in html
    assert "Nothing was saved yet" in html


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e3", "7,5", "0x10", "½",
                                  "1 000", "١"])
def test_only_plain_decimals_count_as_numbers(web, chart, text):
    response = web.post(f"/plans/{chart.plan_id}/visits/new",
                        data=note_form(chart, **{"m-pain-pre": text}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="m-pain-pre-error"' in html
    assert "Not a valid number." in html


def test_sided_special_test_needs_its_side(web, chart):
    html = web.post(f"/plans/{chart.plan_id}/visits/new", data=note_form(chart, **{
        "st-3-test": "slump", "st-3-result": "negative"})).get_data(as_text=True)
    assert 'id="st-3-side-error"' in html and "Slump test is done per side." in html
    assert '<option value="slump" selected>' in html


def test_visit_date_is_checked_against_the_plan(web, chart):
    future = (date.today() + timedelta(days=2)).isoformat()
    html = web.post(f"/plans/{chart.plan_id}/visits/new",
                    data=note_form(chart, visit_date=future)).get_data(as_text=True)
    assert 'id="visit_date-error"' in html and "The visit date cannot be in the future." in html
    early = (chart.start - timedelta(days=1)).isoformat()
    html = web.post(f"/plans/{chart.plan_id}/visits/new",
                    data=note_form(chart, visit_date=early)).get_data(as_text=True)
    assert "before the plan of care starts" in html


def test_questionnaire_rules_show_beside_the_questionnaire(web, chart):
    html = web.post(f"/plans/{chart.plan_id}/visits/new", data=note_form(chart, **{
        "odi-1": "3", "odi-2": "2", "lefs-1": "4"})).get_data(as_text=True)
    assert 'id="odi-error"' in html
    assert "With more than one ODI item unanswered there is no valid score." in html
    assert "Every LEFS item needs an answer." in html


def test_save_and_sign_goes_to_the_confirmation(web, app, chart):
    response = web.post(f"/plans/{chart.plan_id}/visits/new",
                        data=note_form(chart, action="sign"))
    note_id = latest_note_id(app)
    assert response.headers["Location"] == f"/visits/{note_id}/sign"


# ------------------------------------------------------------------ drafts and stale edits

def test_edit_a_draft(web, app, practitioner, chart, audit_log):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    audit_log.mark()
    page = web.get(f"/visits/{note_id}/edit").get_data(as_text=True)
    assert 'name="version" value="1"' in page and 'name="m-slr-right-pre" value="40"' in page
    assert ("visit", "read") in [(r["kind"], r["action"]) for r in audit_log.new()]
    response = web.post(f"/visits/{note_id}/edit", data=note_form(
        chart, visit_date=chart.start.isoformat(), version="1", assessment="Settling."))
    assert response.status_code == 302
    note = stored_note(app, note_id)
    assert note["version"] == 2 and note["assessment"] == "Settling."
    assert ("pain", None, "pre", 6.0) in note["measurements"]


def test_stale_edit_shows_both_versions_and_saves_the_merge(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    base = note_form(chart, visit_date=chart.start.isoformat(), version="1")
    # someone else saves first (version 1 → 2)
    assert web.post(f"/visits/{note_id}/edit", data={
        **base, "subjective": "Colleague's subjective.", "m-pain-pre": "5"}).status_code == 302
    # my save from version 1 is stale
    mine = {**base, "subjective": "My subjective.", "objective": "My objective.",
            "m-pain-pre": "8"}
    response = web.post(f"/visits/{note_id}/edit", data=mine)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This draft was saved by someone else while you were editing it." in html
    assert "My subjective." in html and "Colleague&#39;s subjective." in html
    assert 'name="choice-subjective"' in html and 'name="choice-m-pain-pre"' in html
    assert 'name="choice-objective"' not in html or "My objective." in html
    assert 'name="version" value="2"' in html
    assert stored_note(app, note_id)["subjective"] == "Colleague's subjective."  # untouched
    import re

    mine_json = re.search(r'name="mine_json" value="([^"]+)"', html).group(1)
    import html as html_lib

    merged = web.post(f"/visits/{note_id}/merge", data={
        "mine_json": html_lib.unescape(mine_json), "version": "2",
        "choice-subjective": "stored", "choice-m-pain-pre": "mine",
        "choice-objective": "mine", "action": "save"})
    assert merged.status_code == 302, merged.get_data(as_text=True)
    note = stored_note(app, note_id)
    assert note["version"] == 3
    assert note["subjective"] == "Colleague's subjective."
    assert note["objective"] == "My objective."
    assert ("pain", None, "pre", 8.0) in note["measurements"]
    assert "Merged and saved" in web.get(merged.headers["Location"]).get_data(as_text=True)


def test_merge_against_a_version_that_moved_on_shows_the_newest(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    base = note_form(chart, visit_date=chart.start.isoformat(), version="1")
    web.post(f"/visits/{note_id}/edit", data={**base, "subjective": "Second."})
    web.post(f"/visits/{note_id}/edit", data={**base, "subjective": "Third.", "version": "2"})
    import json

    response = web.post(f"/visits/{note_id}/merge", data={
        "mine_json": json.dumps({k: [v] if isinstance(v, str) else v
                                 for k, v in {**base, "subjective": "Mine."}.items()}),
        "version": "2", "choice-subjective": "stored"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "The note changed again while you were merging" in html
    assert "Third." in html and 'name="version" value="3"' in html


# ------------------------------------------------------------------ signing and addenda

def test_sign_with_confirmation_then_read_only(web, app, practitioner, chart, audit_log):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    page = web.get(f"/visits/{note_id}/sign").get_data(as_text=True)
    assert "Once signed, this note can no longer be changed." in page
    assert "Sign note as Pat Physio" in page and 'name="version" value="1"' in page
    audit_log.mark()
    response = web.post(f"/visits/{note_id}/sign", data={"version": "1"})
    assert response.status_code == 302 and response.headers["Location"] == f"/visits/{note_id}"
    assert stored_note(app, note_id)["status"] == "signed"
    assert ("visit", "sign") in [(r["kind"], r["action"]) for r in audit_log.new()]
    view = web.get(f"/visits/{note_id}").get_data(as_text=True)
    assert "Signed by <strong>Pat Physio</strong>" in view and "Edit draft" not in view
    # a signed note cannot be edited: GET goes to the note, POST is refused and keeps the text
    edit = web.get(f"/visits/{note_id}/edit")
    assert edit.status_code == 302 and edit.headers["Location"].startswith(f"/visits/{note_id}")
    refused = web.post(f"/visits/{note_id}/edit", data=note_form(
        chart, visit_date=chart.start.isoformat(), version="2", subjective="Changed later."))
    assert refused.status_code == 409
    assert "Changed later." in refused.get_data(as_text=True)
    assert stored_note(app, note_id)["subjective"] == "Leg pain after sitting."
    assert web.post(f"/visits/{note_id}/sign", data={"version": "2"}).status_code == 302


def test_incomplete_draft_cannot_be_signed(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start, assessment="", plan="")
    page = web.get(f"/visits/{note_id}/sign").get_data(as_text=True)
    assert "Write your assessment before signing." in page and "Sign note as" not in page
    response = web.post(f"/visits/{note_id}/sign", data={"version": "1"})
    assert response.status_code == 422
    assert "Write the plan before signing." in response.get_data(as_text=True)
    assert stored_note(app, note_id)["status"] == "draft"


def test_only_the_author_signs(app, client, practitioner, chart, pending_dir):
    from notes_service.patients.services import add_care_team_member
    from web_support import user_of

    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    colleague = make_account(app, "colleague@example.org", "practitioner", name="Cole League")
    with app.app_context():
        add_care_team_member(user_of(practitioner), chart.patient_id, colleague.id)
        db.session.commit()
    assert sign_in(client, colleague.email).status_code == 302
    assert "Only the note's author" in client.get(f"/visits/{note_id}/sign").get_data(
        as_text=True)
    assert client.post(f"/visits/{note_id}/sign", data={"version": "1"}).status_code == 403


def test_stale_sign_asks_to_review_again(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    web.post(f"/visits/{note_id}/edit", data=note_form(
        chart, visit_date=chart.start.isoformat(), version="1"))
    response = web.post(f"/visits/{note_id}/sign", data={"version": "1"})
    assert response.headers["Location"] == f"/visits/{note_id}/sign"
    assert stored_note(app, note_id)["status"] == "draft"


def test_addendum_on_a_signed_note(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    empty = web.post(f"/visits/{note_id}/addenda", data={"text": "   "})
    assert empty.status_code == 422
    assert "Write between 1 and 5000 characters." in empty.get_data(as_text=True)
    response = web.post(f"/visits/{note_id}/addenda",
                        data={"text": "Patient called: relief lasted two hours."})
    assert response.status_code == 302
    assert stored_note(app, note_id)["addenda"] == [
        (practitioner.id, "Patient called: relief lasted two hours.")]
    html = web.get(f"/visits/{note_id}").get_data(as_text=True)
    assert "Patient called: relief lasted two hours." in html
    assert "Addendum</span> <strong>Pat Physio</strong>" in html and "<time datetime=" in html
    assert stored_note(app, note_id)["subjective"] == "Leg pain after sitting."


def test_addendum_on_a_draft_is_refused(web, app, practitioner, chart):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    assert web.post(f"/visits/{note_id}/addenda", data={"text": "x"}).status_code == 409


def test_note_pages_of_a_discharged_plan(web, app, practitioner, chart):
    from notes_service.plans.services import discharge_plan
    from web_support import user_of

    note_id = make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    with app.app_context():
        discharge_plan(user_of(practitioner), chart.plan_id, {"reason": "goals_met"})
        db.session.commit()
    assert web.get(f"/visits/{note_id}").status_code == 200
    assert web.post(f"/plans/{chart.plan_id}/visits/new",
                    data=note_form(chart)).status_code == 302  # refused with a message
    assert latest_note_id(app) == note_id
