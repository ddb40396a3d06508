"""Progress and reports in a real browser (Debian's Chromium via Playwright): a demo-like patient
ten visits into a sciatica plan, with charts on the patient and plan pages, then a progress
report written from the pre-filled form and downloaded. Screenshots at laptop and tablet width
are saved as artifacts, and no chart may overflow a tablet screen.

The data belong to a practitioner of their own (Petra Progress), so nothing here depends on
what the other browser tests add to the shared live server.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from browser_support import (BROWSER_MARKS, # noqa: F401
    LAPTOP,
    PASSWORD,
    TABLET,
    chromium,
    live_server,
    page,
    screenshot,
    sign_in,
)

pytestmark = BROWSER_MARKS

PETRA = "petra.progress@clinic.test"
#: Pain before treatment at ten visits (Monday and Thursday), improving then levelling off.
PAIN = (8, 7, 7, 6, 6, 5, 5, 4, 4, 3)
SLR = (35, 38, 42, 45, 48, 52, 55, 57, 60, 62)


def _visit_days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=week * 7 + day) for week in range(8) for day in (0, 3)][:count]


@pytest.fixture(scope="module")
def demo_patient(live_server):
    """Maria-like: right sciatica, pain/worst/least/ODI/SLR both sides/lumbar flexion."""
    from notes_service.auth.services import create_user
    from notes_service.extensions import db
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan
    from notes_service.visits.schemas import VisitInputSchema, VisitSchema
    from notes_service.visits.services import record_visit_note, sign_note

    with live_server.app.app_context():
        user = create_user({"email": PETRA, "name": "Petra Progress", "role": "practitioner",
                            "credentials": "PT, DPT", "password": PASSWORD})
        patient = create_patient(user, {"given_name": "Maria", "family_name": "Gonzalez",
                                        "birth_date": date(1979, 4, 12), "sex": "female",
                                        "mrn": "RSC-10231"})
        start = date.today() - timedelta(days=31)
        plan = create_plan(user, patient.id, PlanInputSchema().load({
            "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "side": "right", "body_region": "lumbar",
            "planned_interventions": ["art", "nerve_glides", "therapeutic_exercise"],
            "tracked_measures": [{"measure": "pain"}, {"measure": "pain_worst"},
                                 {"measure": "pain_best"}, {"measure": "odi"},
                                 {"measure": "slr", "side": "left"},
                                 {"measure": "lumbar_flexion"}],
            "goals": [{"measure": "pain", "target": 2, "term": "long",
                       "description": "Sit through a 1-hour drive with pain at most 2/10"},
                      {"measure": "slr", "side": "right", "target": 70, "term": "short"},
                      {"measure": "odi", "target": 20, "term": "long"}]}))
        for index, day in enumerate(_visit_days(start, len(PAIN))):
            pain, slr = PAIN[index], SLR[index]
            values = [{"measure": "pain", "value": pain},
                      {"measure": "pain", "phase": "post", "value": pain - 2},
                      {"measure": "pain_worst", "value": min(10, pain + 2)},
                      {"measure": "pain_best", "value": max(0, pain - 2)},
                      {"measure": "slr", "side": "right", "value": slr},
                      {"measure": "slr", "side": "right", "phase": "post", "value": slr + 8},
                      {"measure": "slr", "side": "left", "value": min(85, slr + 25)},
                      {"measure": "lumbar_flexion", "value": 30 + index},
                      {"measure": "lumbar_flexion", "phase": "post", "value": 34 + index}]
            questionnaires = []
            if index % 4 == 0:
                questionnaires = [{"instrument": "odi", "items": [max(1, pain // 2 - 1)] * 10}]
            note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load({
                "visit_date": day.isoformat(),
                "subjective": "Leg pain easing; sat through a work meeting with less tingling.",
                "objective": f"SLR right {slr}° reproducing posterior thigh pain.",
                "assessment": f"Pain {pain}/10 before and {pain - 2}/10 after treatment. "
                              "Progressing toward goals.",
                "plan": "Continue ART to piriformis and hamstrings, sciatic nerve sliders.",
                "interventions": ["art", "nerve_glides"],
                "home_programme": "Sciatic nerve sliders 2×10 twice daily.",
                "measurements": values, "questionnaires": questionnaires}))
            sign_note(user, note.id, None, dump=VisitSchema().dump)
        db.session.commit()
        return {"patient": patient.id, "plan": plan.id}


def charts_loaded(page, timeout: float = 10.0) -> None:
    """Wait until every visible chart image has loaded (they load lazily).

    Polled with ``evaluate``: ``wait_for_function`` evaluates a string, which the
    Content-Security-Policy (no 'unsafe-eval') refuses.
    """
    charts = page.locator("img[src*='/charts/']")
    for index in range(charts.count()):
        if charts.nth(index).is_visible():
            charts.nth(index).scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    script = ("Array.from(document.querySelectorAll('img[src*=\"/charts/\"]'))"
              ".every(img => !img.checkVisibility() || (img.complete && img.naturalWidth > 0))")
    while not page.evaluate(script):
        assert time.monotonic() < deadline, page.evaluate(
            "Array.from(document.querySelectorAll('img[src*=\"/charts/\"]')).map(img => "
            "[img.getAttribute('src'), !!img.offsetParent, img.complete, img.naturalWidth])")
        page.wait_for_timeout(100)


def assert_fits(page, viewport: dict) -> None:
    """Nothing is wider than the screen, every visible chart included."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"page is {width}px wide at {viewport['width']}"
    overflowing = page.evaluate(
        "Array.from(document.querySelectorAll('img')).filter(img => img.checkVisibility() && "
        "img.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)"
        ".map(img => img.getAttribute('src'))")
    assert overflowing == [], overflowing


def test_patient_page_charts_and_a_progress_report(page, live_server, demo_patient):
    base = live_server.url
    sign_in(page, live_server, PETRA)
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    expect(page.get_by_text("Progress report due").first).to_be_visible()
    page.get_by_role("link", name="Gonzalez, Maria").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Maria Gonzalez")

    # the overview chart and every measure with its status and explanation
    overview = page.locator("img[src*='/charts/overview.svg']")
    expect(overview).to_have_attribute("alt", re.compile(r"^Progress overview of plan M54\.41"))
    expect(page.locator("#progress-pain .progress-measure-head .badge-progress")).to_have_text("Improving")
    expect(page.locator("#progress-pain .progress-explanation")).to_contain_text(
        "Pain now improved")
    expect(page.locator("#progress-slr-right .progress-measure-head .badge-progress")).to_be_visible()
    # a measure's chart and data table open on demand
    page.locator("#progress-pain summary").click()
    pain_chart = page.locator("#progress-pain img")
    expect(pain_chart).to_have_attribute("alt", re.compile(r"^Pain now, 10 visits from"))
    expect(page.locator("#progress-pain table tbody tr")).to_have_count(len(PAIN))
    expect(page.locator("#progress-pain table tbody tr").first).to_contain_text("3/10")
    charts_loaded(page)
    assert pain_chart.evaluate("img => img.naturalWidth") == 720
    expect(page.get_by_text("Progress report due").first).to_be_visible()
    screenshot(page, "progress-patient-page", LAPTOP)
    page.set_viewport_size(TABLET)
    charts_loaded(page)
    assert_fits(page, TABLET)
    screenshot(page, "progress-patient-page", TABLET)
    page.set_viewport_size(LAPTOP)

    # the plan page: every chart beside its data table
    page.goto(f"{base}/plans/{demo_patient['plan']}")
    charts_loaded(page)
    chart_box = page.locator("#progress-pain .progress-chart").bounding_box()
    table_box = page.locator("#progress-pain .progress-data").bounding_box()
    assert table_box["x"] > chart_box["x"] + chart_box["width"] - 1  # beside, on a laptop
    screenshot(page, "progress-plan-page", LAPTOP)
    page.set_viewport_size(TABLET)
    charts_loaded(page)
    assert_fits(page, TABLET)
    screenshot(page, "progress-plan-page", TABLET)
    page.set_viewport_size(LAPTOP)

    # write the progress report from the pre-filled form
    page.get_by_role("link", name="Write progress report").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Progress report")
    assessment = page.get_by_label("Assessment")
    expect(assessment).to_have_value(re.compile(r"^Pain 3/10 before and 1/10 after"))
    expect(page.get_by_label("Plan", exact=True)).to_have_value(
        "Continue ART to piriformis and hamstrings, sciatic nerve sliders.")
    expect(page.get_by_text("Writing the report signs it as Petra Progress")).to_be_visible()
    screenshot(page, "progress-report-form", LAPTOP)
    screenshot(page, "progress-report-form", TABLET)
    assessment.fill("")
    page.get_by_role("button", name="Sign and save progress report").click()
    expect(page.locator("#assessment-error")).to_be_visible()
    expect(page.get_by_label("Plan", exact=True)).to_have_value(
        "Continue ART to piriformis and hamstrings, sciatic nerve sliders.")
    assessment.fill("Pain 8/10 → 3/10 and SLR 35° → 62° over 10 visits; goals progressing.")
    page.get_by_role("button", name="Sign and save progress report").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Maria Gonzalez")
    expect(page.get_by_text(re.compile(r"Progress report no\. \d+ signed and stored"))) \
        .to_be_visible()
    reports = page.locator("section[aria-labelledby='reports-title']")
    expect(reports.locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        reports.get_by_role("link", name=re.compile("^PDF")).click()
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    # the report resets the 10-visit counter
    expect(page.get_by_text("Progress report due")).to_have_count(0)
    screenshot(page, "progress-patient-after-report", LAPTOP)
