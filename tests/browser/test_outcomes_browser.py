"""The clinic director's outcomes dashboard, CSV files and worklist in a real browser (Debian's
Chromium via Playwright); then the practitioner acknowledges a flag from the worklist.

The data belong to a practitioner of their own (Olive Outcome), so the figures checked here do
not depend on what the other browser tests add to the shared live server.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from browser_support import (BROWSER_MARKS, # noqa: F401
    LAPTOP,
    PASSWORD,
    chromium,
    live_server,
    page,
    screenshot,
    sign_in,
)

pytestmark = BROWSER_MARKS

DIRECTOR = "dana.director@clinic.test"
OLIVE = "olive.outcome@clinic.test"


@pytest.fixture(scope="module")
def clinic(live_server):
    """Olive's two plans: one improving and discharged, one getting worse; and a director."""
    from notes_service.auth.services import create_user
    from notes_service.extensions import db
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan, discharge_plan
    from notes_service.visits.schemas import VisitInputSchema
    from notes_service.visits.services import record_visit_note

    today = date.today()
    with live_server.app.app_context():
        create_user({"email": DIRECTOR, "name": "Dana Director", "role": "director",
                     "password": PASSWORD})
        olive = create_user({"email": OLIVE, "name": "Olive Outcome", "role": "practitioner",
                             "credentials": "PT", "password": PASSWORD})
        plans = {}
        for family, pains, discharged in (("Better", (8, 6, 4, 2), True),
                                          ("Worse", (4, 5, 7), False)):
            patient = create_patient(olive, {"given_name": "Olga", "family_name": family,
                                             "birth_date": date(1966, 5, 6), "sex": "female"})
            start = today - timedelta(days=40)
            plan = create_plan(olive, patient.id, PlanInputSchema().load({
                "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
                "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}))
            for index, pain in enumerate(pains):
                record_visit_note(olive, plan.id, VisitInputSchema(plan=plan).load({
                    "visit_date": (start + timedelta(days=7 * index)).isoformat(),
                    "subjective": "Leg pain.", "objective": "SLR tested.",
                    "assessment": "Assessed.", "plan": "ART.", "interventions": ["art"],
                    "measurements": [{"measure": "pain", "value": pain}]}))
            if discharged:
                discharge_plan(olive, plan.id, {
                    "reason": "goals_met",
                    "discharge_date": start + timedelta(days=7 * (len(pains) - 1))})
            plans[family] = plan.id
        db.session.commit()
        return {"olive": olive.id, "plans": plans}


def test_director_reads_the_dashboard_downloads_csv_and_sees_the_worklist(
        page, live_server, clinic):
    sign_in(page, live_server, DIRECTOR)
    page.goto(live_server.url + "/outcomes")
    expect(page.get_by_role("heading", name="Clinic outcomes")).to_be_visible()
    page.get_by_label("Practitioner", exact=True).select_option(label="Olive Outcome")
    page.get_by_role("button", name="Show figures").click()
    page.wait_for_url(re.compile(rf"practitioner_id={clinic['olive']}"))
    table = page.locator("#practitioner-table")
    row = table.get_by_role("row", name=re.compile("Olive Outcome"))
    expect(row).to_contain_text("fewer than 5 plans")
    expect(row).to_contain_text("1 active · 1 discharged")
    # Pain 8 → 2 (6 better) and 4 → 7 (3 worse): median change +1.5, one of two reached 2.
    measures = page.get_by_role("row", name=re.compile("^Pain now"))
    expect(measures.first).to_contain_text("+1.5")
    expect(measures.first).to_contain_text("50%")
    # Every chart is drawn, has alt text, and its numbers are in a table too.
    images = page.locator("main img")
    expect(images).to_have_count(3)
    for index in range(3):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=image.element_handle())
        assert len(image.get_attribute("alt")) > 30
    page.get_by_text("Data table").first.click()
    expect(page.get_by_role("cell", name="Olive Outcome")).to_be_visible()
    screenshot(page, "outcomes-dashboard", LAPTOP)
    # The per-practitioner table as a CSV file, numbers as numbers.
    with page.expect_download() as download:
        page.get_by_role("link", name="Practitioner table (CSV)").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    record = dict(zip(rows[0], rows[1]))
    assert record["practitioner"] == "Olive Outcome" and record["plans"] == "2"
    assert record["pain_median_change"] == "1.5"
    with page.expect_download() as download:
        page.get_by_role("link", name="De-identified plans (CSV)").click()
    plans = download.value.path().read_text(encoding="utf-8-sig")
    assert "Olga" not in plans and "Better" not in plans and "1966" not in plans
    # The worklist of the clinic names Olive's worsening plan; the director only reads it.
    page.goto(live_server.url + f"/worklist?practitioner_id={clinic['olive']}")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    items = page.locator("#worklist-items")
    expect(items).to_contain_text("Pain now worsened from 4/10 to 7/10")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    screenshot(page, "outcomes-worklist", LAPTOP)


def test_practitioner_acknowledges_a_flag_from_the_worklist(page, live_server, clinic):
    sign_in(page, live_server, OLIVE)
    page.goto(live_server.url + "/worklist?type=worsening")
    expect(page.locator("#worklist-items")).to_contain_text("Olga Worse")
    page.locator("summary", has_text="Acknowledge").first.click()
    page.get_by_label("Reason").first.select_option(label="Re assessed")
    page.get_by_label("Note (optional)").first.fill("Re-examined: no red flags.")
    page.get_by_role("button", name="Acknowledge", exact=True).first.click()
    expect(page.get_by_role("status")).to_contain_text("Flag acknowledged")
    expect(page.get_by_text("Nothing to do here.")).to_be_visible()
