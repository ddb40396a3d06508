"""The signed-in PDF download and the reports list partial the patient page includes.

The reports blueprint is registered by the web app's wiring (``register_web``).
"""

from __future__ import annotations

import hashlib

import pytest
from flask import render_template

from conftest import PASSWORD
from test_reports_api import build_plan, create_report


@pytest.fixture
def web_app(app):
    return app


def signed_in(web_app, account):
    client = web_app.test_client()
    response = client.post("/login", data={"email": account.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_download_for_the_care_team_only(web_app, api, practitioner, other_practitioner,
                                         audit_log):
    _, plan_id, _ = build_plan(api)
    report = create_report(api, plan_id).get_json()
    url = f"/reports/{report['id']}.pdf"
    anonymous = web_app.test_client().get(url)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")

    audit_log.mark()
    response = signed_in(web_app, practitioner).get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == report["sha256"]
    assert "attachment" in response.headers["Content-Disposition"]
    rows = [r for r in audit_log.new() if r["kind"] == "report"]
    assert [(r["action"], r["object_id"]) for r in rows] == [("export", report["id"])]

    assert signed_in(web_app, other_practitioner).get(url).status_code == 404


def test_list_partial(web_app, api, practitioner):
    from notes_service.auth.models import User
    from notes_service.extensions import db
    from notes_service.reports.services import list_reports

    patient_id, plan_id, _ = build_plan(api)
    first = create_report(api, plan_id).get_json()
    fixed = create_report(api, plan_id, corrects_id=first["id"]).get_json()
    with web_app.test_request_context("/"):
        reports = list_reports(db.session.get(User, practitioner.id), patient_id)
        html = render_template("reports/_list.html", reports=reports)
        empty = render_template("reports/_list.html", reports=[])
    assert html.count("Progress report") == 2
    assert f'href="/reports/{fixed["id"]}.pdf"' in html and f'href="/reports/{first["id"]}.pdf"' in html
    assert html.index(f'/reports/{fixed["id"]}.pdf') < html.index(f'/reports/{first["id"]}.pdf')
    assert f"Corrects no. {first['id']}" in html and "Pat Physio" in html
    assert "No reports yet" in empty
