"""Progress in the web pages: status badges, explanations, charts with alt text and data tables,
flags with severity and message, session-signed chart images (scoped, audited, ETag/304, the
same answer as the API's), the maintenance flow, and constant query counts."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest

from conftest import make_account
from web_support import (  # noqa: F401
    director_web,
    make_chart,
    make_note,
    other_web,
    page_problems,
    pending_dir,
    web,
)

#: Days after the plan start of six visits spanning 17 days (a full 14-day window).
VISIT_DAYS = (0, 3, 7, 10, 14, 17)
PAIN_TRACKED = [{"measure": "pain"}, {"measure": "pain_worst"}, {"measure": "pain_best"},
                {"measure": "slr", "side": "right"}]


def visit_values(pain: float, post: float, slr: float, *, worst=None, least=None) -> list:
    values = [{"measure": "pain", "value": pain}, {"measure": "pain", "phase": "post",
                                                   "value": post},
              {"measure": "slr", "side": "right", "value": slr},
              {"measure": "slr", "side": "right", "phase": "post", "value": slr + 6}]
    if worst is not None:
        values.append({"measure": "pain_worst", "value": worst})
    if least is not None:
        values.append({"measure": "pain_best", "value": least})
    return values


def plateau_chart(app, account, *, family="Plateau", sign=True):
    """Pain stays at 5–6/10 over 17 days (goal ≤ 2): a plateau flag; SLR improves."""
    chart = make_chart(app, account, family=family, days_ago=17, tracked=PAIN_TRACKED)
    for index, (day, pain) in enumerate(zip(VISIT_DAYS, (6, 5, 5, 6, 5, 5))):
        make_note(app, account, chart.plan_id, chart.start + timedelta(days=day), sign=sign,
                  measurements=visit_values(pain, pain - 2, 40 + 5 * index,
                                            worst=pain + 2, least=pain - 2))
    return chart


def progress_of(app, account, plan_id):
    """The engine's progress of a plan as ``account`` sees it (for expected texts)."""
    from notes_service.progress.services import plan_progress_for
    from web_support import user_of

    with app.test_request_context("/"):
        _, progress = plan_progress_for(user_of(account), plan_id)
        return progress


def img_tags(html: str) -> list[dict]:
    """The <img> elements of a page as attribute dicts (entities unescaped)."""
    tags = []
    for tag in re.findall(r"<img\b[^>]*>", html):
        tags.append({k: html_lib.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)})
    return tags


def chart_img(html: str, measure: str, side: str | None = None) -> dict:
    for tag in img_tags(html):
        src = tag.get("src", "")
        if f"/charts/{measure}.svg" in src and (side is None or f"side={side}" in src):
            return tag
    raise AssertionError(f"no chart of {measure} {side or ''} on the page")


# --------------------------------------------------------------------------- the plan page

def test_plan_page_shows_each_measure_with_status_explanation_chart_and_data(
        web, app, practitioner):
    from notes_service.progress.charts import chart_alt_text

    chart = plateau_chart(app, practitioner)
    response = web.get(f"/plans/{chart.plan_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    progress = progress_of(app, practitioner, chart.plan_id)
    by_key = {(m.measure, m.side): m for m in progress.measures}
    pain, slr = by_key[("pain", None)], by_key[("slr", "right")]
    assert pain.status == "plateau" and slr.status == "improving"

    for mp in (pain, slr):
        img = chart_img(html, mp.measure, mp.side)
        assert img["alt"] == chart_alt_text(mp)
        assert (img["width"], img["height"]) == ("720", "360")
        assert html_lib.escape(mp.explanation, quote=False) in html
    section = html[html.index('id="progress-pain"'):html.index('id="progress-slr-right"')]
    assert "badge-plateau" in section and ">Plateau<" in section
    # the data table beside the chart: newest first, before/after and the within-visit change
    rows = re.findall(r"<tr>\s*<th scope=\"row\".*?</tr>", section, re.S)
    assert len(rows) == len(VISIT_DAYS)
    last = chart.start + timedelta(days=VISIT_DAYS[-1])
    assert f'datetime="{last.isoformat()}"' in rows[0]
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', rows[0], re.S)
    assert cells[0].strip() == "5/10" and cells[1].strip() == "3/10"
    assert "change-better" in cells[2] and "−2" in cells[2]
    assert cells[3].strip() == "7 / 3"  # worst / least pain of the last 24 h
    # worst and least pain are the band of the pain chart, not charts of their own
    assert "/charts/pain_worst.svg" not in html and "/charts/pain_best.svg" not in html
    assert "Worst pain 24 h" in section and "Drawn as the shaded band" in section
    slr_section = html[html.index('id="progress-slr-right"'):]
    assert "badge-improving" in slr_section and "+6°" in slr_section


def test_measures_without_values_have_no_chart_but_say_so(web, app, practitioner):
    chart = make_chart(app, practitioner, family="Fresh")
    html = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert "/charts/" not in html
    assert "No values recorded yet." in html
    assert "Insufficient data" in html


def test_goals_table_shows_the_engines_status(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    html = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    goals = html[html.index('class="table table-compact goals-table"'):]
    goals = goals[:goals.index("</table>")]
    assert "badge-plateau" in goals  # pain ≤ 2 stays at 5/10
    assert "badge-improving" in goals  # SLR from 40° to 65°, goal 70°
    assert "Not yet" not in goals
    page = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "badge-plateau" in page and "Not yet" not in page


# --------------------------------------------------------------------------- the patient page

def test_patient_page_shows_overview_measures_and_flags(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert page_problems(html) == []
    overview = next(t for t in img_tags(html) if "/charts/overview.svg" in t["src"])
    assert overview["src"].startswith(f"/plans/{chart.plan_id}/charts/overview.svg")
    assert overview["alt"].startswith("Progress overview of plan M54.41, 4 measures: ")
    assert "Pain now 6/10 to 5/10, plateau" in overview["alt"]
    assert overview["width"] == "900" and overview["height"] == "480"
    # per-measure sections, charts folded into <details>
    assert 'class="progress-details"' in html
    assert chart_img(html, "pain")["alt"].startswith("Pain now, 6 visits from")
    # the flags with severity and message, and what to do about them
    progress = progress_of(app, practitioner, chart.plan_id)
    plateau = next(f for f in progress.flags if f.code == "plateau")
    assert html_lib.escape(plateau.message, quote=False) in html
    assert 'class="flag-severity">Medium' in html
    assert f'href="/plans/{chart.plan_id}/maintenance"' in html


def test_a_discharged_plan_has_no_progress_section_on_the_patient_page(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    response = web.post(f"/plans/{chart.plan_id}/discharge", data={
        "reason": "goals_met", "discharge_date": (chart.start + timedelta(days=17)).isoformat()})
    assert response.status_code == 302
    html = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert "/charts/" not in html and 'id="progress-title"' not in html
    # the plan page still charts its history
    plan_page = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert "/charts/pain.svg" in plan_page and "Open flags" not in plan_page


# --------------------------------------------------------------------------- the caseload

def test_caseload_shows_each_plans_flags_with_severity_and_message(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    html = web.get("/").get_data(as_text=True)
    assert page_problems(html) == []
    progress = progress_of(app, practitioner, chart.plan_id)
    for flag in progress.flags:
        assert html_lib.escape(flag.message, quote=False) in html
    assert 'class="flag-severity">Medium' in html
    assert f'href="#flags-{chart.plan_id}"' in html and f'id="flags-{chart.plan_id}"' in html
    assert f'href="/plans/{chart.plan_id}/maintenance">Move to maintenance plan' in html


def test_caseload_computes_every_plans_flags_in_one_batch(web, app, practitioner, monkeypatch):
    from notes_service.outcomes import caseload as caseload_module

    calls = []
    original = caseload_module.caseload_flags

    def spy(actor, plans):
        plans = list(plans)
        calls.append(len(plans))
        return original(actor, plans)

    monkeypatch.setattr(caseload_module, "caseload_flags", spy)
    for index in range(3):
        plateau_chart(app, practitioner, family=f"Batch{index}")
    assert web.get("/").status_code == 200
    assert calls == [3]


@pytest.mark.parametrize("page", ["caseload", "patient"])
def test_progress_pages_cost_a_constant_number_of_queries(web, app, practitioner,
                                                          count_queries, page):
    """More plans (each with visits, flags and reports) cost no more queries."""
    counts = []
    for plans in (1, 4):
        charts = [plateau_chart(app, practitioner, family=f"Count{page}{plans}x{index}")
                  for index in range(plans)]
        if page == "patient":
            # extra plans of the same patient: discharged ones with their own history
            for other in charts[1:]:
                _move_plan(app, other.plan_id, charts[0].patient_id)
        url = "/" if page == "caseload" else f"/patients/{charts[0].patient_id}"
        with count_queries() as counter:
            response = web.get(url)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def _move_plan(app, plan_id, patient_id):
    """Attach a plan (and its notes) to another patient, discharged (arranging only)."""
    from sqlalchemy import update

    from notes_service.extensions import db
    from notes_service.plans.models import PlanOfCare
    from notes_service.visits.models import VisitNote

    with app.app_context():
        db.session.execute(update(PlanOfCare).where(PlanOfCare.id == plan_id).values(
            patient_id=patient_id, status="discharged", discharge_reason="goals_met",
            discharge_date=PlanOfCare.start_date))
        db.session.execute(update(VisitNote).where(VisitNote.plan_id == plan_id).values(
            patient_id=patient_id))
        db.session.commit()


# --------------------------------------------------------------------------- chart images

def test_chart_routes_answer_svg_and_png_with_the_apis_etag(web, app, practitioner, client):
    chart = plateau_chart(app, practitioner)
    url = f"/plans/{chart.plan_id}/charts/pain.svg?width=720&height=360"
    response = web.get(url)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert 'width="720px"' in svg or 'width="720"' in svg
    assert "Worst–least pain" in svg  # the band of the last 24 h
    assert 'data-value="5"' in svg
    api = client.get(f"/api/v1{url[:url.index('?')]}", query_string={"width": 720,
                                                                     "height": 360},
                     headers=practitioner.headers)
    assert api.status_code == 200 and api.headers["ETag"] == response.headers["ETag"]
    assert api.data == response.data  # one code path, one rendering

    png = web.get(f"/plans/{chart.plan_id}/charts/slr.png?side=right")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    overview = web.get(f"/plans/{chart.plan_id}/charts/overview.svg?width=900")
    assert overview.status_code == 200 and overview.mimetype == "image/svg+xml"


def test_chart_route_answers_304_to_a_matching_etag(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    for path in ("pain.svg", "overview.svg"):
        url = f"/plans/{chart.plan_id}/charts/{path}"
        first = web.get(url)
        etag = first.headers["ETag"]
        again = web.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
    # a new visit changes the data, so the ETag
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=16),
              measurements=visit_values(4, 2, 70))
    changed = web.get(f"/plans/{chart.plan_id}/charts/pain.svg",
                      headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_chart_reads_are_audited(web, app, practitioner, audit_log):
    chart = plateau_chart(app, practitioner)
    audit_log.mark()
    web.get(f"/plans/{chart.plan_id}/charts/slr.svg?side=right")
    web.get(f"/plans/{chart.plan_id}/charts/overview.svg")
    rows = [r for r in audit_log.new() if r["kind"] == "chart"]
    assert [(r["action"], r["user_id"], r["patient_id"], r["object_id"], r["detail"])
            for r in rows] == [
        ("read", practitioner.id, chart.patient_id, chart.plan_id, "slr right"),
        ("read", practitioner.id, chart.patient_id, chart.plan_id, "overview")]


def test_chart_routes_are_scoped_and_signed_in(web, other_web, app, practitioner, client,
                                               other_practitioner, audit_log):
    chart = plateau_chart(app, practitioner)
    for path in ("pain.svg", "slr.png?side=right", "overview.svg"):
        url = f"/plans/{chart.plan_id}/charts/{path}"
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        audit_log.mark()
        assert other_web.get(url).status_code == 404
        denied = audit_log.new()
        assert [(r["user_id"], r["outcome"]) for r in denied] == [
            (other_practitioner.id, "denied")]
    assert web.get(f"/plans/999999/charts/pain.svg").status_code == 404
    assert web.get(f"/plans/{chart.plan_id}/charts/nonsense.svg").status_code == 404
    assert web.get(f"/plans/{chart.plan_id}/charts/pain.svg?side=left").status_code == 422
    assert web.get(f"/plans/{chart.plan_id}/charts/pain.svg?width=9").status_code == 422


def test_a_patient_gets_their_own_friendly_charts_from_signed_notes(app, client, practitioner,
                                                                   pending_dir):
    from web_support import sign_in

    chart = plateau_chart(app, practitioner)
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=16),
              measurements=visit_values(1, 0, 90))  # a draft: not on the patient's chart
    patient = make_account(app, "ana@example.org", "patient", patient_id=chart.patient_id)
    assert sign_in(client, patient.email).status_code == 302
    svg = client.get(f"/plans/{chart.plan_id}/charts/pain.svg").get_data(as_text=True)
    assert "Before treatment" in svg and 'data-value="1"' not in svg
    other = make_chart(app, practitioner, family="Other")
    assert client.get(f"/plans/{other.plan_id}/charts/pain.svg").status_code == 404


# --------------------------------------------------------------------------- maintenance

def test_maintenance_flow_stops_the_plateau_flag(web, app, practitioner, audit_log):
    chart = plateau_chart(app, practitioner)
    html = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert 'id="maintenance"' in html and 'name="reason"' in html
    assert 'href="#maintenance">Move to maintenance plan' in html
    assert "Maintenance plan since" not in html

    # the reason is required: the page says so beside the field
    refused = web.post(f"/plans/{chart.plan_id}/maintenance", data={"reason": "  "})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert page_problems(page) == []
    assert 'id="reason-error"' in page and "Plateau" in page

    audit_log.mark()
    response = web.post(f"/plans/{chart.plan_id}/maintenance",
                        data={"reason": "Function plateaued; skilled maintenance programme."})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/plans/{chart.plan_id}"
    assert ("update", "plan", "maintenance plan: Function plateaued; skilled maintenance "
            "programme.") in [(r["action"], r["kind"], r["detail"]) for r in audit_log.new()]

    html = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert "is now a maintenance plan" in html
    from notes_service.clock import clinic_today
    from notes_service.web.pages import format_day

    with app.app_context():
        today = format_day(clinic_today())
    assert f"Maintenance plan since {today}" in html
    assert 'id="maintenance"' not in html
    flags = html[html.index('id="flags-title"'):html.index('id="reports-title"')]
    assert ">Plateau<" not in flags
    patient_page = web.get(f"/patients/{chart.patient_id}").get_data(as_text=True)
    assert f"Maintenance plan since {today}" in patient_page
    caseload = web.get("/").get_data(as_text=True)
    assert "badge-maintenance" in caseload

    again = web.post(f"/plans/{chart.plan_id}/maintenance", data={"reason": "Twice."})
    assert again.status_code == 302  # already one: says so and changes nothing


def test_only_an_active_plan_becomes_a_maintenance_plan(web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    assert web.post(f"/plans/{chart.plan_id}/discharge", data={
        "reason": "goals_met", "discharge_date": (chart.start + timedelta(days=17)).isoformat(),
    }).status_code == 302
    response = web.get(f"/plans/{chart.plan_id}/maintenance")
    assert response.status_code == 409
    assert "only an active plan can become a maintenance plan" in response.get_data(as_text=True)
    assert web.post(f"/plans/{chart.plan_id}/maintenance",
                    data={"reason": "Too late."}).status_code == 409


def test_maintenance_needs_write_access(web, other_web, director_web, app, practitioner):
    chart = plateau_chart(app, practitioner)
    url = f"/plans/{chart.plan_id}/maintenance"
    assert other_web.post(url, data={"reason": "Not my patient."}).status_code == 404
    assert director_web.post(url, data={"reason": "Read-only."}).status_code == 403
    assert other_web.get(url).status_code == 404
    html = web.get(url).get_data(as_text=True)
    assert "<h1>Move to a maintenance plan</h1>" in html and page_problems(html) == []
