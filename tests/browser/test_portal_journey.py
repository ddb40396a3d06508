"""The patient portal in a real browser (Debian's Chromium via Playwright): the practitioner
invites a patient from the patient page, the patient opens the link on a phone, sets a password,
lands on their home page with their goals, encouragement and charts, and records a pain-diary
entry that the practitioner then sees as patient-reported. Screenshots at phone width (390×844)
and laptop width are saved as artifacts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from browser_support import (BROWSER_MARKS, # noqa: F401
    LAPTOP,
    chromium,
    live_server,
    page,
    screenshot,
    sign_in,
)

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
PASSWORD = "blue heron by the river"
CHARTS_LOADED = ("() => [...document.querySelectorAll('.chart img')].every(i => i.complete && "
                 "i.naturalWidth > 0)")


def seed_patient(server, email: str) -> dict:
    """Lena: an 8-week sciatica plan from 28 days ago, a signed visit every week with pain
    8 → 4 and a straight-leg raise 35° → 55°, the last with an addendum, through the
    services."""
    from notes_service.auth.services import find_user
    from notes_service.extensions import db
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan
    from notes_service.visits.schemas import VisitInputSchema, VisitSchema
    from notes_service.visits.services import add_addendum, record_visit_note, sign_note

    start = date.today() - timedelta(days=28)
    with server.app.app_context():
        user = find_user(email)
        patient = create_patient(user, {"given_name": "Lena", "family_name": "Marsh",
                                        "birth_date": date(1975, 2, 3), "sex": "female",
                                        "email": "lena.marsh@example.org"})
        plan = create_plan(user, patient.id, PlanInputSchema().load({
            "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "side": "right",
            "planned_interventions": ["art", "nerve_glides", "therapeutic_exercise"],
            "tracked_measures": [{"measure": "pain"}, {"measure": "slr", "side": "right"}],
            "goals": [{"measure": "pain", "target": 2},
                      {"measure": "slr", "side": "right", "target": 70}]}))
        for i, pain in enumerate((8, 7, 6, 5, 4)):
            note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load({
                "visit_date": (start + timedelta(days=7 * i)).isoformat(),
                "subjective": "Leg pain after sitting; easier when walking.",
                "objective": "SLR right limited by posterior thigh pain.",
                "assessment": "Irritable L5 radiculopathy, settling.",
                "plan": "Progress nerve glides; add hip hinge next visit.",
                "interventions": ["art", "nerve_glides"],
                "home_programme": "Nerve sliders: lie on your back, hold behind the right "
                                  "knee, straighten and bend the knee slowly 10 times.\n"
                                  "Walk 15 minutes twice a day.",
                "measurements": [{"measure": "pain", "value": pain},
                                 {"measure": "pain", "phase": "post", "value": pain - 2},
                                 {"measure": "slr", "side": "right", "value": 35 + 5 * i},
                                 {"measure": "slr", "side": "right", "phase": "post",
                                  "value": 42 + 5 * i}]}))
            sign_note(user, note.id, None, dump=VisitSchema().dump)
        add_addendum(user, note.id, "Phoned the next day: the leg pain settled overnight after "
                                    "the nerve glides. Keep to the home programme.")
        db.session.commit()
        return {"patient": patient.id, "plan": plan.id}


def load_charts(page) -> None:
    """Scroll every (lazily loaded) chart into view and wait until each image has loaded."""
    images = page.locator(".chart img")
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
    page.wait_for_function(CHARTS_LOADED)
    page.evaluate("window.scrollTo(0, 0)")


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_invite_accept_and_see_progress_on_a_phone(page, chromium, live_server):
    seeded = seed_patient(live_server, live_server.practitioner)
    base = live_server.url

    # the practitioner invites Lena from her patient page
    sign_in(page, live_server)
    page.goto(f"{base}/patients/{seeded['patient']}")
    page.get_by_role("link", name="Invite to the portal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Portal access")
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitation link for Lena Marsh")
    link = page.get_by_label("Link for Lena").input_value()
    assert re.fullmatch(re.escape(base) + r"/portal/join/[A-Za-z0-9_-]{40,}", link)
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_contain_text(re.compile(r"copied|copy", re.I))
    screenshot(page, "portal-invite-link", LAPTOP)

    # Lena opens the link on her phone
    phone = chromium.new_context(viewport=PHONE, locale="en-GB", is_mobile=True,
                                 has_touch=True, device_scale_factor=2)
    phone.set_default_timeout(10_000)
    tab = phone.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        tab.goto(link)
        expect(tab.get_by_role("heading", level=1)).to_have_text("Welcome, Lena")
        expect(tab.get_by_label("E-mail address")).to_have_value("lena.marsh@example.org")
        no_sideways_scroll(tab)
        tab.locator("#password").fill("short")
        tab.get_by_label("Type the password again").fill("short")
        tab.get_by_role("button", name="Create my account").click()
        expect(tab.locator("#password-error")).to_contain_text("Use at least 10 characters")
        expect(tab.get_by_label("E-mail address")).to_have_value("lena.marsh@example.org")
        expect(tab.locator("#password")).to_have_value("")
        screenshot(tab, "portal-accept-error", PHONE)
        tab.locator("#password").fill(PASSWORD)
        tab.get_by_label("Type the password again").fill(PASSWORD)
        tab.get_by_role("button", name="Create my account").click()

        # her home page: plan, goals in words, encouragement, charts, home programme
        expect(tab.get_by_role("heading", level=1)).to_have_text("Hello, Lena")
        expect(tab.get_by_text("Your account is ready.")).to_be_visible()
        expect(tab.get_by_text("Pain at most 2 out of 10 — you are at 4, down from 8 at the "
                               "start.")).to_be_visible()
        expect(tab.get_by_text("Leg raise before symptoms start (right) at least 70° — you "
                               "are at 55°, up from 35° at the start.")).to_be_visible()
        expect(tab.get_by_role("heading", name="You are making progress")).to_be_visible()
        expect(tab.get_by_text("Week 5 of 8")).to_be_visible()
        expect(tab.get_by_text("Walk 15 minutes twice a day.")).to_be_visible()
        expect(tab.get_by_text("Irritable L5 radiculopathy")).to_have_count(0)
        chart = tab.get_by_role("img", name=re.compile(r"^Pain \(0 = no pain"))
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        load_charts(tab)
        no_sideways_scroll(tab)
        screenshot(tab, "portal-home", PHONE)
        tab.set_viewport_size(LAPTOP)  # the laptop layout loads the wider charts
        tab.reload()
        load_charts(tab)
        screenshot(tab, "portal-home", LAPTOP)
        tab.set_viewport_size(PHONE)
        tab.reload()

        # the numbers behind a chart
        tab.get_by_text("Show the numbers").first.click()
        expect(tab.get_by_role("cell", name="8/10", exact=True).first).to_be_visible()

        # a visit, in plain words
        tab.get_by_role("navigation", name="Main").get_by_role("link", name="Visits").click()
        tab.get_by_role("link", name=re.compile(r"Pat Physio")).first.click()
        expect(tab.get_by_role("heading", name="Treatments you received")).to_be_visible()
        expect(tab.get_by_role("heading", name="Added after the visit")).to_be_visible()
        no_sideways_scroll(tab)
        screenshot(tab, "portal-visit", PHONE)

        # the pain diary: an error keeps what was typed, then the entry is saved
        tab.get_by_role("navigation", name="Main").get_by_role("link", name="Pain diary").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Pain diary")
        tab.get_by_label("Anything to tell your practitioner? (optional)").fill(
            "Sat through a whole film without leg pain.")
        tab.get_by_role("button", name="Save entry").click()
        expect(tab.locator("#pain-error")).to_contain_text("Choose how much pain you have")
        expect(tab.get_by_label("Anything to tell your practitioner? (optional)")).to_have_value(
            "Sat through a whole film without leg pain.")
        tab.locator("label[for=pain-3]").click()
        tab.get_by_role("button", name="Save entry").click()
        expect(tab.get_by_text(re.compile(r"Saved: pain 3 out of 10"))).to_be_visible()
        no_sideways_scroll(tab)
        screenshot(tab, "portal-diary", PHONE)

        # a slip corrected within the day: the entry's form comes back filled in
        tab.get_by_role("link", name=re.compile(r"^Edit the entry of")).first.click()
        expect(tab.get_by_role("heading", name=re.compile(r"^Change your entry of"))).to_be_visible()
        expect(tab.get_by_label("Anything to tell your practitioner? (optional)")).to_have_value(
            "Sat through a whole film without leg pain.")
        tab.locator("label[for=pain-4]").click()
        no_sideways_scroll(tab)
        screenshot(tab, "portal-diary-edit", PHONE)
        tab.get_by_role("button", name="Save changes").click()
        expect(tab.get_by_text(re.compile(r"Changed: your entry now says pain 4 out of 10"))
               ).to_be_visible()

        # the link is used up
        other = phone.new_page()
        other.context.clear_cookies()
        other.goto(link)
        expect(other.get_by_role("heading", level=1)).to_have_text(
            "This link has already been used")
        screenshot(other, "portal-link-used", PHONE)
        other.close()
    finally:
        phone.close()
    assert errors == [], f"JavaScript errors: {errors}"

    # the practitioner sees the diary entry, apart from the in-clinic measures
    page.goto(f"{base}/patients/{seeded['patient']}")
    panel = page.locator("section", has=page.get_by_role("heading", name="Patient-reported pain"))
    expect(panel).to_contain_text("corrected 4/10")  # as corrected, and marked so
    expect(panel).to_contain_text("Sat through a whole film without leg pain.")
    panel.scroll_into_view_if_needed()
    screenshot(page, "portal-practitioner-diary-panel", LAPTOP)
