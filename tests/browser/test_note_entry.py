"""The practitioner's path through the web app in a real browser (Debian's Chromium via
Playwright): register a patient, start a plan of care, write a note with pre/post measures, hit
a validation error without losing the typed text, sign, add an addendum, and find the signed
note read-only. Screenshots of the note form and the patient page are saved as artifacts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from browser_support import (BROWSER_MARKS, # noqa: F401
    LAPTOP,
    TABLET,
    chromium,
    live_server,
    page,
    screenshot,
    sign_in,
)

pytestmark = BROWSER_MARKS

SUBJECTIVE = "Shooting pain down the right leg after 20 minutes of sitting; better walking."


def seed_chart(server, email: str, family: str, *, signed_note: bool = False) -> dict:
    """A patient with a plan (and optionally a signed note 3 days ago), through the services."""
    from notes_service.auth.services import find_user
    from notes_service.extensions import db
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan
    from notes_service.visits.schemas import VisitInputSchema, VisitSchema
    from notes_service.visits.services import record_visit_note, sign_note

    with server.app.app_context():
        user = find_user(email)
        patient = create_patient(user, {"given_name": "Lena", "family_name": family,
                                        "birth_date": date(1975, 2, 3), "sex": "female"})
        start = date.today() - timedelta(days=10)
        plan = create_plan(user, patient.id, PlanInputSchema().load({
            "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "tracked_measures": [{"measure": "pain"}],
            "goals": [{"measure": "slr", "side": "right", "target": 70}]}))
        note_id = None
        if signed_note:
            note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load({
                "visit_date": (date.today() - timedelta(days=3)).isoformat(),
                "subjective": "Copied subjective.", "objective": "SLR right 45°.",
                "assessment": "Irritable.", "plan": "ART.", "interventions": ["art"],
                "measurements": [{"measure": "pain", "value": 6},
                                 {"measure": "pain", "phase": "post", "value": 4}]}))
            sign_note(user, note.id, None, dump=VisitSchema().dump)
            note_id = note.id
        db.session.commit()
        return {"patient": patient.id, "plan": plan.id, "note": note_id}


def test_practitioner_documents_a_visit_end_to_end(page, live_server):
    base = live_server.url
    sign_in(page, live_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")

    # register a patient
    page.get_by_role("link", name="New patient").first.click()
    page.get_by_label("Given name").fill("Maria")
    page.get_by_label("Family name").fill("Gonzalez")
    page.get_by_label("Date of birth").fill("1979-04-12")
    page.get_by_label("Sex", exact=True).select_option("female")
    page.get_by_label("Medical record number (MRN)", exact=True).fill("RSC-1001")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Maria Gonzalez")
    expect(page.get_by_text("Maria Gonzalez was registered.")).to_be_visible()

    # start a plan of care: the diagnosis fills in from the ICD-10 pick list
    page.get_by_role("link", name="New plan of care").first.click()
    page.get_by_label("ICD-10 code").fill("M54.41")
    expect(page.get_by_role("textbox", name="Diagnosis", exact=True)).to_have_value(
        "Lumbago with sciatica, right side")
    page.get_by_label("Side", exact=True).select_option("right")
    page.get_by_label("Length in weeks").fill("8")
    page.locator("#goal-pain-target").fill("2")
    page.locator("#goal-slr-right-target").fill("70")
    page.locator("#goal-slr-right-term").select_option("short")
    page.get_by_role("button", name="Start plan of care").click()
    expect(page.get_by_text("Plan of care M54.41 started")).to_be_visible()
    expect(page.get_by_text("Pain now ≤ 2/10")).to_be_visible()

    # write the note: SOAP text and the test → treat → retest grid
    page.get_by_role("link", name="New visit note").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New visit note")
    page.get_by_role("textbox", name="Subjective", exact=True).fill(SUBJECTIVE)
    page.locator("#m-pain-pre").fill("7")
    page.locator("#m-pain-post").fill("4")
    change = page.locator("tr:has(#m-pain-pre) output[data-change]")
    expect(change).to_have_text("−3/10")
    expect(change).to_have_class(re.compile(r"change-better"))
    page.locator("#m-slr-right-pre").fill("150")  # out of the 0–120° range
    page.locator("#m-slr-right-post").fill("52")
    page.get_by_role("textbox", name="Objective", exact=True).fill("Slump positive right; tender piriformis.")
    page.get_by_role("checkbox", name=re.compile(r"^Active Release Technique")).check()
    page.get_by_role("checkbox", name=re.compile(r"^Nerve glides")).check()
    page.get_by_role("textbox", name="Assessment", exact=True).fill("Good within-session response to ART.")
    page.get_by_role("textbox", name="Plan", exact=True).fill("Continue ART and sliders; progress hinge.")
    page.get_by_role("textbox", name="Home programme").fill("Sciatic nerve sliders 2×10 twice daily.")
    page.locator("#st-0-test").select_option("slr_test")
    page.locator("#st-0-side").select_option("right")
    page.locator("#st-0-result").select_option("positive")
    page.locator("#st-0-angle").fill("40")
    screenshot(page, "note-form", LAPTOP)
    screenshot(page, "note-form", TABLET)

    # a validation error: the form comes back with every value and the message at the cell
    page.get_by_role("button", name="Save draft").click()
    error = page.locator("#m-slr-right-pre-error")
    expect(error).to_contain_text("SLR must be between 0 and 120 deg.")
    expect(page.get_by_role("textbox", name="Subjective", exact=True)).to_have_value(SUBJECTIVE)
    expect(page.locator("#m-slr-right-pre")).to_have_value("150")
    expect(page.locator("#m-slr-right-pre")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#st-0-angle")).to_have_value("40")
    expect(change).to_have_text("−3/10")  # rendered by the server too
    expect(page.get_by_role("checkbox", name=re.compile(r"^Active Release Technique"))).to_be_checked()
    screenshot(page, "note-form-error", LAPTOP)

    # fix it and save the draft
    page.locator("#m-slr-right-pre").fill("45")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"Draft saved at"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/visits/\d+/edit$"))
    note_url = page.url.removesuffix("/edit")

    # sign, with a confirmation step
    page.get_by_role("button", name="Save and sign…").click()
    expect(page.get_by_text("Once signed, this note can no longer be changed.")).to_be_visible()
    page.get_by_role("button", name="Sign note as Pat Physio, PT, DPT").click()
    expect(page.get_by_text(re.compile(r"Signed by Pat Physio, PT, DPT on"))).to_be_visible()
    expect(page.locator(".badge-signed").first).to_be_visible()

    # an addendum, labelled with author and time
    page.get_by_label("New addendum", exact=True).fill("Patient called: relief lasted until the evening.")
    page.locator("#addendum").get_by_role("button", name="Add addendum").click()
    addendum = page.locator(".addendum").first
    expect(addendum).to_contain_text("Patient called: relief lasted until the evening.")
    expect(addendum).to_contain_text("Pat Physio, PT, DPT")
    expect(addendum.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))

    # the signed note cannot be edited
    page.goto(note_url + "/edit")
    expect(page).to_have_url(re.compile(re.escape(note_url) + r"(#addendum)?$"))
    expect(page.get_by_text("This note is signed and can no longer be changed.")).to_be_visible()
    expect(page.locator("textarea[name=subjective]")).to_have_count(0)
    expect(page.get_by_role("button", name="Save draft")).to_have_count(0)

    # the patient page: the plan, the goals and the signed note in the history
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link",
                                                                   name="Maria Gonzalez").click()
    expect(page.locator(".badge-signed").first).to_be_visible()
    expect(page.get_by_text("SLR (right) ≥ 70°")).to_be_visible()
    screenshot(page, "patient-page", LAPTOP)
    screenshot(page, "patient-page", TABLET)
    page.goto(base + "/")
    expect(page.get_by_role("cell", name=re.compile("Gonzalez, Maria"))).to_be_visible()
    screenshot(page, "caseload", LAPTOP)


def test_grid_is_keyboard_friendly_and_copy_marks_clear_when_edited(page, live_server):
    chart = seed_chart(live_server, live_server.practitioner, "Keys", signed_note=True)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/plans/{chart['plan']}/visits/new")
    mark = page.locator("#subjective-copied")
    expect(mark).to_contain_text("Copied from")
    expect(page.get_by_role("textbox", name="Subjective", exact=True)).to_have_value("Copied subjective.")
    expect(page.locator("tr:has(#m-pain-pre) .last").first).to_contain_text("6/10")

    # tab order follows the grid: pre then post, row by row
    page.locator("#m-pain-pre").focus()
    page.keyboard.type("5")
    page.keyboard.press("Tab")
    expect(page.locator("#m-pain-post")).to_be_focused()
    page.keyboard.type("6")
    expect(page.locator("tr:has(#m-pain-pre) output[data-change]")).to_have_class(
        re.compile("change-worse"))
    page.keyboard.press("Tab")
    expect(page.locator("#m-slr-right-pre")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#m-slr-right-post")).to_be_focused()

    # editing copied text removes its mark; untouched copies keep theirs
    page.get_by_role("textbox", name="Subjective", exact=True).press("End")
    page.keyboard.type(" Today: worse after gardening.")
    expect(mark).to_have_count(0)
    expect(page.locator("#objective-copied")).to_be_visible()

    # the ODI score appears as items are typed (the section opens on demand)
    page.locator("#q-odi > summary").click()
    page.locator("#odi-1").fill("3")
    for item in range(2, 11):
        page.locator(f"#odi-{item}").fill("2")
    expect(page.locator("[data-odi-score]")).to_have_text("42%")

    # Ctrl+S saves the draft
    page.keyboard.press("Control+s")
    expect(page.get_by_text(re.compile(r"Draft saved at"))).to_be_visible()
    expect(page.get_by_role("textbox", name="Subjective", exact=True)).to_have_value(
        "Copied subjective. Today: worse after gardening.")
    expect(page.locator("#subjective-copied")).to_have_count(0)
    expect(page.locator("#objective-copied")).to_be_visible()  # still the copied text


def test_note_typed_into_an_expired_session_is_restored_after_sign_in(page, live_server):
    chart = seed_chart(live_server, live_server.practitioner, "Expired")
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/plans/{chart['plan']}/visits/new")
    page.get_by_role("textbox", name="Subjective", exact=True).fill(SUBJECTIVE)
    page.locator("#m-pain-pre").fill("6")
    page.context.clear_cookies()  # the session is gone (expired, browser restarted...)
    page.get_by_role("button", name="Save draft").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_text(re.compile("Nothing is lost: sign in again"))).to_be_visible()
    page.get_by_label("E-mail").fill(live_server.practitioner)
    from browser_support import PASSWORD

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/plans/{chart['plan']}/visits/new$"))
    expect(page.get_by_text("Restored the note you were typing")).to_be_visible()
    expect(page.get_by_role("textbox", name="Subjective", exact=True)).to_have_value(SUBJECTIVE)
    expect(page.locator("#m-pain-pre")).to_have_value("6")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"Draft saved at"))).to_be_visible()


def test_every_page_fits_a_tablet_screen(page, live_server):
    chart = seed_chart(live_server, live_server.colleague, "Tablet", signed_note=True)
    page.set_viewport_size(TABLET)
    sign_in(page, live_server, live_server.colleague)
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    expect(page.get_by_text("No open flags")).to_be_visible()
    page.get_by_role("link", name="Tablet, Lena").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lena Tablet")
    for path in ("/", f"/patients/{chart['patient']}", f"/plans/{chart['plan']}",
                 f"/patients/{chart['patient']}/plans/new", f"/plans/{chart['plan']}/edit",
                 f"/plans/{chart['plan']}/visits/new", f"/visits/{chart['note']}",
                 f"/plans/{chart['plan']}/discharge", "/patients/new"):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= TABLET["width"], f"{path} is {width}px wide on a tablet"
