"""The outcomes dashboard and the worklist pages through the test client (signed in with the
session, as a browser is)."""

import csv
import io
import re

import pytest

from conftest import PASSWORD, make_account
from outcomes_support import build_fixed_clinic

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def fixed(app, client):
    return build_fixed_clinic(app, client)


def sign_in(client, email):
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_dashboard_shows_the_figures_the_table_and_the_charts(fixed, client, audit_log):
    sign_in(client, fixed.director.email)
    audit_log.mark()
    page = client.get("/outcomes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = text_of(page)
    assert "Clinic outcomes" in text
    assert "8 Plans (8 started, 3 active, 5 discharged)" in text
    assert "Pain now" in text and "71% 5 of 7" in text  # MCID share of pain, clinic-wide
    # The per-practitioner table marks Quinn's two plans.
    table = html[html.index('id="practitioner-table"'):]
    row = table[table.index("Quinn Quest"):table.index("</tr>", table.index("Quinn Quest"))]
    assert "fewer than 5 plans" in row and "†" in row
    pat = table[table.index("Pat Physio"):table.index("</tr>", table.index("Pat Physio"))]
    assert "fewer than 5 plans" not in pat
    # Three charts, each an image with alt text and a data table.
    images = re.findall(r'<img src="(/outcomes/charts/[^"]+)" alt="([^"]+)"', html)
    assert [src.split("?")[0] for src, _ in images] == [
        "/outcomes/charts/change.svg", "/outcomes/charts/mcid_by_month.svg",
        "/outcomes/charts/visits.svg"]
    assert all(alt for _, alt in images)
    assert html.count("<summary>Data table</summary>") == 3
    assert "/outcomes/practitioners.csv" in html and "/outcomes/plans.csv" in html
    assert [(r["action"], r["kind"]) for r in audit_log.new()] == [("read", "outcomes")]
    for src, _ in images:
        chart = client.get(src.replace("&amp;", "&"))
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"


def test_dashboard_filters(fixed, client):
    sign_in(client, fixed.director.email)
    page = client.get("/outcomes", query_string={"practitioner_id": fixed.q.id})
    text = text_of(page)
    assert "Plans (2 started, 1 active, 1 discharged)" in text
    html = page.get_data(as_text=True)
    assert f'<option value="{fixed.q.id}" selected>Quinn Quest</option>' in html
    assert f"practitioner_id={fixed.q.id}" in html  # charts and files keep the filters


def test_dashboard_shows_filter_errors_beside_the_fields(fixed, client):
    sign_in(client, fixed.director.email)
    page = client.get("/outcomes", query_string={"date_from": "2026-05-01",
                                                 "date_to": "2026-04-01", "diagnosis": "54"})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="date_to-error"' in html and "The period ends before it starts." in html
    assert 'id="diagnosis-error"' in html and "Give an ICD-10 category such as M54." in html
    assert 'value="2026-05-01"' in html  # what was typed stays


def test_dashboard_and_files_are_for_the_director(fixed, client):
    assert client.get("/outcomes").status_code == 302  # to the sign-in page
    sign_in(client, fixed.p.email)
    for path in ("/outcomes", "/outcomes/practitioners.csv", "/outcomes/plans.csv",
                 "/outcomes/charts/visits.png"):
        assert client.get(path).status_code == 403


def test_csv_downloads(fixed, client):
    sign_in(client, fixed.director.email)
    table = client.get("/outcomes/practitioners.csv", query_string={"status": "discharged"})
    assert table.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(table.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1][:2] == ["All practitioners", "5"]
    plans = client.get("/outcomes/plans.csv")
    assert plans.mimetype == "text/csv" and "attachment" in plans.headers[
        "Content-Disposition"]
    assert "Case1" not in plans.get_data(as_text=True)


def test_worklist_page_and_acknowledgement(fixed, client, audit_log):
    sign_in(client, fixed.p.email)
    page = client.get("/worklist")
    assert page.status_code == 200
    text = text_of(page)
    assert "What needs doing in your caseload" in text
    # Pat's active plans: 3 (worsening pain), 3 and 5 (no visit for over 14 days).
    assert "Worsening" in text and "Pain now worsened from 6/10 to 8/10" in text
    assert "Quinn" not in text
    html = page.get_data(as_text=True)
    assert html.count('action="/worklist/acknowledge"') == 1
    audit_log.mark()
    done = client.post("/worklist/acknowledge", data={
        "plan_id": fixed.plans[3], "code": "worsening", "measure": "pain",
        "reason": "referred", "note": "Sent to the spine clinic.", "next": "/worklist"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/worklist")
    assert [(r["action"], r["kind"]) for r in audit_log.new()] == [("acknowledge", "flag")]
    after = client.get("/worklist")
    assert "Flag acknowledged" in after.get_data(as_text=True)
    assert "Pain now worsened" not in text_of(after)
    again = client.post("/worklist/acknowledge", data={
        "plan_id": fixed.plans[3], "code": "worsening", "measure": "pain",
        "reason": "referred"}, follow_redirects=True)
    assert "Not acknowledged: Pat Physio already acknowledged this flag" in again.get_data(
        as_text=True)
    bad = client.post("/worklist/acknowledge", data={
        "plan_id": fixed.plans[3], "code": "worsening", "measure": "pain",
        "reason": "bored"}, follow_redirects=True)
    assert "Not acknowledged: reason:" in bad.get_data(as_text=True)


def test_worklist_page_for_the_director_and_refusals(fixed, client, app):
    sign_in(client, fixed.director.email)
    page = client.get("/worklist", query_string={"type": "no_recent_visit"})
    text = text_of(page)
    assert "What needs doing across the clinic" in text
    assert "Quinn Quest" in text and "Pat Physio" in text
    # A director who does not practise gets no acknowledge forms.
    assert 'action="/worklist/acknowledge"' not in page.get_data(as_text=True)
    assert client.get("/worklist", query_string={"type": "nothing"}).status_code == 422
    client.post("/logout")
    patient = make_account(app, "pt@pages.example", "patient", patient_id=fixed.patients[1])
    sign_in(client, patient.email)
    assert client.get("/worklist").status_code == 403
