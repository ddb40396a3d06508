"""Plan-of-care pages: start a plan (ICD-10 pick list with free entry, measures, goals),
the plan page with its flow sheet, editing (and a stale edit), discharge."""

from datetime import date, timedelta

from notes_service.extensions import db
from web_support import chart, make_note, other_web, pending_dir, web  # noqa: F401


def plan_form(**overrides):
    data = {
        "diagnosis_code": "M54.42", "diagnosis": "", "side": "left", "body_region": "lumbar",
        "start_date": date.today().isoformat(), "weeks": "6", "visits_per_week": "2",
        "planned_interventions": ["art", "nerve_glides"],
        "track": ["pain", "slr-left", "lumbar_flexion"],
        "goal-pain-target": "2", "goal-pain-term": "long",
        "goal-slr-left-target": "70", "goal-slr-left-term": "short",
        "goal-slr-left-date": (date.today() + timedelta(days=21)).isoformat(),
    }
    data.update(overrides)
    return data


def stored_plan(app, plan_id):
    from sqlalchemy.orm import selectinload

    from notes_service.plans.models import PlanOfCare

    with app.app_context():
        plan = db.session.execute(db.select(PlanOfCare).where(PlanOfCare.id == plan_id)
                                  .options(selectinload(PlanOfCare.goals))).scalar_one()
        return {"code": plan.diagnosis_code, "text": plan.diagnosis_text, "side": plan.side,
                "weeks": plan.weeks, "status": plan.status, "version": plan.version,
                "interventions": plan.planned_interventions, "tracked": plan.tracked_keys,
                "goals": sorted((g.measure, g.side, g.target, g.term, g.target_date)
                                for g in plan.goals),
                "discharge": (plan.discharge_reason, plan.discharge_date)}


def test_new_plan_form_offers_the_catalog(web, chart):
    html = web.get(f"/patients/{chart.patient_id}/plans/new").get_data(as_text=True)
    assert '<datalist id="icd10-codes">' in html and 'value="M54.41"' in html
    assert 'list="icd10-codes"' in html
    assert 'name="track" value="slr-left"' in html and 'name="track" value="slr-right"' in html
    assert 'name="goal-hip_er-right-target"' in html
    assert 'name="planned_interventions" value="dry_needling"' in html
    assert "(e-stim)" in html


def test_start_a_plan_with_goals(web, app, chart):
    response = web.post(f"/patients/{chart.patient_id}/plans/new", data=plan_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Plan of care M54.42 started" in page
    from notes_service.plans.models import PlanOfCare

    with app.app_context():
        newest = db.session.execute(db.select(PlanOfCare.id).order_by(
            PlanOfCare.id.desc())).scalars().first()
    plan = stored_plan(app, newest)
    assert plan["text"] == "Lumbago with sciatica, left side"  # from the pick list
    assert plan["tracked"] == [("pain", None), ("slr", "left"), ("lumbar_flexion", None)]
    assert plan["goals"] == [
        ("pain", None, 2.0, "long", None),
        ("slr", "left", 70.0, "short", date.today() + timedelta(days=21))]
    assert plan["interventions"] == ["art", "nerve_glides"]


def test_free_icd10_code_needs_a_description(web, chart):
    response = web.post(f"/patients/{chart.patient_id}/plans/new",
                        data=plan_form(diagnosis_code="M79.604"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="diagnosis-error"' in html
    assert "Describe the diagnosis (the code is not in the list)." in html
    ok = web.post(f"/patients/{chart.patient_id}/plans/new",
                  data=plan_form(diagnosis_code="m79.604", diagnosis="Pain in right leg"))
    assert ok.status_code == 302


def test_invalid_plan_keeps_values_and_shows_errors_beside_fields(web, chart):
    response = web.post(f"/patients/{chart.patient_id}/plans/new", data=plan_form(
        diagnosis_code="XYZ", weeks="30", visits_per_week="2.5",
        **{"goal-pain-target": "11", "goal-slr-left-target": "nan",
           "goal-lumbar_flexion-target": "7,5",
           "goal-slr-left-date": (date.today() + timedelta(days=200)).isoformat()}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="XYZ"' in html and 'value="30"' in html and 'value="2.5"' in html
    assert 'value="nan"' in html and 'value="7,5"' in html
    assert "Not an ICD-10 code (e.g. M54.41)." in html
    assert 'id="weeks-error"' in html and "Must be greater than or equal to 1" in html
    assert 'id="visits_per_week-error"' in html and "Not a valid whole number." in html
    assert 'id="goal-pain-target-error"' in html
    assert "Pain now must be between 0 and 10 score." in html
    assert 'id="goal-slr-left-target-error"' in html and "Not a valid number." in html
    assert 'id="goal-lumbar_flexion-target-error"' in html
    assert 'name="track" value="slr-left" checked' in html


def test_plan_needs_a_tracked_measure(web, chart):
    response = web.post(f"/patients/{chart.patient_id}/plans/new", data=plan_form(
        track=[], **{"goal-pain-target": "", "goal-slr-left-target": ""}))
    assert response.status_code == 422
    assert "Track at least one measure (or set a goal)." in response.get_data(as_text=True)


def test_plan_page_shows_goals_and_flow_sheet(web, app, practitioner, chart, audit_log):
    make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=4),
              measurements=[{"measure": "pain", "value": 5},
                            {"measure": "pain", "phase": "post", "value": 3}])
    audit_log.mark()
    html = web.get(f"/plans/{chart.plan_id}").get_data(as_text=True)
    assert "Flow sheet" in html and "7/10" in html and "→ 5/10" in html and "→ 3/10" in html
    assert "2<small>/16</small>" in html
    assert "Pain now ≤ 2/10" in html
    assert {("plan", "read"), ("visit", "list")} <= {(r["kind"], r["action"])
                                                     for r in audit_log.new()}


def test_edit_a_plan(web, app, chart):
    form = web.get(f"/plans/{chart.plan_id}/edit").get_data(as_text=True)
    assert 'name="version" value="1"' in form and 'value="M54.41"' in form
    assert 'name="goal-slr-right-target" value="70"' in form
    response = web.post(f"/plans/{chart.plan_id}/edit", data=plan_form(
        diagnosis_code="M54.41", diagnosis="", side="right", version="1", status="on_hold",
        start_date=chart.start.isoformat(), weeks="10", track=["pain", "slr-right"],
        **{"goal-slr-left-target": "", "goal-slr-right-target": "75"}))
    assert response.status_code == 302, response.get_data(as_text=True)
    plan = stored_plan(app, chart.plan_id)
    assert plan["weeks"] == 10 and plan["status"] == "on_hold" and plan["version"] == 2
    assert ("slr", "right", 75.0, "long", None) in plan["goals"]


def test_stale_plan_edit_keeps_mine_and_names_what_differs(web, app, chart):
    base = plan_form(diagnosis_code="M54.41", side="right", version="1",
                     start_date=chart.start.isoformat(), status="active")
    assert web.post(f"/plans/{chart.plan_id}/edit", data={**base, "weeks": "9"}
                    ).status_code == 302
    response = web.post(f"/plans/{chart.plan_id}/edit", data={**base, "weeks": "12"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else saved this plan while you were editing it" in html
    assert 'name="weeks" value="12"' in html  # my value is kept
    assert "They differ from the stored plan in: <strong>Weeks</strong>" in html
    assert 'name="version" value="2"' in html  # saving again applies mine on the new version
    again = web.post(f"/plans/{chart.plan_id}/edit", data={**base, "weeks": "12",
                                                           "version": "2"})
    assert again.status_code == 302
    assert stored_plan(app, chart.plan_id)["weeks"] == 12


def test_discharge_with_a_reason(web, app, practitioner, chart):
    make_note(app, practitioner, chart.plan_id, chart.start, sign=True)
    page = web.get(f"/plans/{chart.plan_id}/discharge").get_data(as_text=True)
    assert '<option value="goals_met">Goals met</option>' in page
    missing = web.post(f"/plans/{chart.plan_id}/discharge", data={"reason": "",
                                                                  "note": "Independent."})
    assert missing.status_code == 422
    html = missing.get_data(as_text=True)
    assert 'id="reason-error"' in html and "Independent." in html
    early = web.post(f"/plans/{chart.plan_id}/discharge", data={
        "reason": "goals_met", "discharge_date": (chart.start - timedelta(days=1)).isoformat()})
    assert "The discharge date cannot be before the plan started" in early.get_data(as_text=True)
    done = web.post(f"/plans/{chart.plan_id}/discharge", data={
        "reason": "goals_met", "discharge_date": date.today().isoformat(), "note": "Independent."})
    assert done.status_code == 302
    assert stored_plan(app, chart.plan_id)["discharge"] == ("goals_met", date.today())
    patient_page = web.get(done.headers["Location"]).get_data(as_text=True)
    assert "badge-discharged" in patient_page and "New visit note" not in patient_page
    assert web.get(f"/plans/{chart.plan_id}/visits/new").status_code == 302
    assert web.get(f"/plans/{chart.plan_id}/edit").status_code == 302


def test_off_team_practitioner_cannot_change_a_plan(other_web, app, chart):
    assert other_web.post(f"/plans/{chart.plan_id}/edit",
                          data=plan_form(version="1")).status_code == 404
    assert other_web.post(f"/plans/{chart.plan_id}/discharge",
                          data={"reason": "other"}).status_code == 404
    assert stored_plan(app, chart.plan_id)["status"] == "active"
