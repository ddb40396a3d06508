"""The compliance worklist: each item type, scopes per role, acknowledgements, audit rows, and
agreement with the progress engine."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import Api, make_account
from notes_service.extensions import db
from outcomes_support import add_visit, day, ok

pytestmark = pytest.mark.filterwarnings("error")


class Worklist:
    """Plans that raise every kind of item (T = today):

    * E (Pat): 8 weeks from T-60, so ended T-5 and still active; ten visits T-60 … T-42,
      every 2 days, pain 5 throughout with a goal ≤ 2 → plan_expired, progress_report_due,
      plateau (pain), no_recent_visit.
    * N (Pat): 8 weeks from T-50, ends T+5 → plan_ending; visits T-10 and T-3.
    * W (Pat): from T-20, pain 4, 5, 7 on T-20, T-13, T-6 → worsening (pain); plus a draft
      created 30 hours ago → unsigned_note (the other notes are signed, or too recent).
    * Q1 (Quinn): from T-20, one visit T-18 → no_recent_visit.
    """

    def __init__(self, app, client):
        self.app = app
        self.pat = make_account(app, "pat@work.example", "practitioner", name="Pat Physio")
        self.quinn = make_account(app, "quinn@work.example", "practitioner", name="Quinn Quest")
        self.director = make_account(app, "dana@work.example", "director", name="Dana Director")
        self.as_pat, self.as_quinn = Api(client, self.pat), Api(client, self.quinn)
        self.as_director = Api(client, self.director)
        self.patients, self.plans = {}, {}
        self.expired = self._plan("E", self.as_pat, 60, [(60 - 2 * i, 5) for i in range(10)])
        self.ending = self._plan("N", self.as_pat, 50, [(10, 6), (3, 5)])
        self.worse = self._plan("W", self.as_pat, 20, [(20, 4), (13, 5), (6, 7)])
        self.q_plan = self._plan("Q1", self.as_quinn, 20, [(18, 6)])
        # Sign W's notes except the last; a fresh draft today; then age the last draft.
        notes = ok(self.as_pat.get(f"/api/v1/plans/{self.worse}/visits"))
        for note in notes[:2]:
            ok(self.as_pat.post(f"/api/v1/visits/{note['id']}/sign", json={}))
        self.old_draft = notes[2]["id"]
        self.age_note(self.old_draft, hours=30)
        self.fresh_draft = add_visit(self.as_pat, self.ending, day(1), 5, None)["id"]

    def _plan(self, name, api, start, visits):
        patient = ok(api.post("/api/v1/patients", json={
            "given_name": name, "family_name": "Worklist", "birth_date": "1970-01-01"}), 201)
        plan = ok(api.post(f"/api/v1/patients/{patient['id']}/plans", json={
            "start_date": day(start).isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]}), 201)
        for days_ago, pain in visits:
            add_visit(api, plan["id"], day(days_ago), pain, None)
        self.patients[name], self.plans[name] = patient["id"], plan["id"]
        return plan["id"]

    def age_note(self, note_id, hours):
        from notes_service.visits.models import VisitNote

        with self.app.app_context():
            db.session.execute(sa.update(VisitNote).where(VisitNote.id == note_id).values(
                created_at=datetime.now(UTC) - timedelta(hours=hours)))
            db.session.commit()


@pytest.fixture
def work(app, client):
    return Worklist(app, client)


def items(api, **params):
    body = ok(api.get("/api/v1/worklist", query_string=params))
    return body, [(i["type"], i["plan_id"], i["measure"]) for i in body["items"]]


def test_director_sees_every_item_of_the_clinic_most_urgent_first(work):
    body, found = items(work.as_director)
    e, n, w, q = work.expired, work.ending, work.worse, work.q_plan
    assert found == [
        ("worsening", w, "pain"),
        ("plan_expired", e, None),
        ("progress_report_due", e, None),
        ("plateau", e, "pain"),
        ("unsigned_note", w, None),
        ("plan_ending", n, None),
        ("no_recent_visit", e, None),   # last visit T-42
        ("no_recent_visit", q, None),   # last visit T-18
    ]
    assert body["scope"] == "clinic"
    assert body["counts"]["total"] == 8
    assert body["counts"]["by_type"] == {
        "worsening": 1, "plan_expired": 1, "progress_report_due": 1, "plateau": 1,
        "unsigned_note": 1, "plan_ending": 1, "no_recent_visit": 2}
    assert body["counts"]["unsigned_by_practitioner"] == [
        {"practitioner": {"id": work.pat.id, "name": "Pat Physio"}, "count": 1}]
    unsigned = next(i for i in body["items"] if i["type"] == "unsigned_note")
    assert unsigned["note_id"] == work.old_draft and unsigned["severity"] == "medium"
    assert "30 hours" in unsigned["message"]
    expired = next(i for i in body["items"] if i["type"] == "plan_expired")
    assert expired["date"] == day(5).isoformat() and "5 days ago" in expired["message"]
    assert expired["patient"] == {"id": work.patients["E"], "name": "E Worklist"}
    due = next(i for i in body["items"] if i["type"] == "progress_report_due")
    assert due["message"].startswith("10 visits since the plan started")
    plateau = next(i for i in body["items"] if i["type"] == "plateau")
    assert plateau["fingerprint"] and "5/10" in plateau["message"]


def test_filters_by_type_and_pages(work):
    body, found = items(work.as_director, type="no_recent_visit")
    assert [f[1] for f in found] == [work.expired, work.q_plan]
    assert body["counts"]["total"] == 8  # counts always cover the whole scope
    _, first = items(work.as_director, limit=3)
    _, rest = items(work.as_director, limit=3, offset=3)
    _, everything = items(work.as_director)
    assert first + rest == everything[:6]


def test_practitioners_see_their_own_caseload(work):
    body, found = items(work.as_pat)
    assert body["scope"] == "practitioner" and body["practitioner_id"] == work.pat.id
    assert {f[1] for f in found} == {work.expired, work.ending, work.worse}
    _, found = items(work.as_quinn)
    assert found == [("no_recent_visit", work.q_plan, None)]
    other = work.as_quinn.get("/api/v1/worklist", query_string={"practitioner_id": work.pat.id})
    assert other.status_code == 403
    _, found = items(work.as_director, practitioner_id=work.quinn.id)
    assert found == [("no_recent_visit", work.q_plan, None)]


def test_patients_and_strangers_are_refused(work, client):
    patient = make_account(work.app, "pt@work.example", "patient",
                           patient_id=work.patients["E"])
    assert Api(client, patient).get("/api/v1/worklist").status_code == 403
    assert Api(client, None).get("/api/v1/worklist").status_code == 401


@pytest.mark.parametrize("params, field", [
    ({"type": "everything"}, "type"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
    ({"practitioner_id": "999999"}, "practitioner_id"), ({"colour": "red"}, "colour"),
])
def test_bad_worklist_queries_are_422(work, params, field):
    response = work.as_director.get("/api/v1/worklist", query_string=params)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_a_progress_report_clears_the_report_due_item(work):
    from notes_service.reports.models import ProgressReport

    with work.app.app_context():
        db.session.add(ProgressReport(
            kind="progress", plan_id=work.expired, patient_id=work.patients["E"],
            period_start=day(60), period_end=day(44), visits_in_period=9, visits_attended=9,
            visits_planned=16, signed_by_id=work.pat.id, assessment="Plateau.",
            plan_text="Re-assess.", pdf=b"%PDF-1.4", pdf_size=8, sha256="0" * 64))
        db.session.commit()
    _, found = items(work.as_director, type="progress_report_due")
    assert found == []  # one visit (T-42) since the report's period ended


def test_a_signed_or_recent_note_is_not_listed(work):
    ok(work.as_pat.post(f"/api/v1/visits/{work.old_draft}/sign", json={}))
    _, found = items(work.as_director, type="unsigned_note")
    assert found == []
    work.age_note(work.fresh_draft, hours=23)
    assert items(work.as_director, type="unsigned_note")[1] == []
    work.age_note(work.fresh_draft, hours=25)
    assert items(work.as_director, type="unsigned_note")[1] == [
        ("unsigned_note", work.ending, None)]


def test_acknowledging_hides_a_flag_until_the_situation_changes(work, audit_log):
    url = f"/api/v1/plans/{work.expired}/flags/acknowledge"
    audit_log.mark()
    ack = work.as_pat.post(url, json={"code": "plateau", "measure": "pain",
                                      "reason": "re_assessed", "note": "Changed the loading."})
    assert ack.status_code == 201, ack.get_json()
    body = ack.get_json()
    assert (body["code"], body["measure"], body["side"], body["reason"], body["user_id"]) == (
        "plateau", "pain", None, "re_assessed", work.pat.id)
    assert body["fingerprint"].startswith("plateau:pain:-:")
    rows = audit_log.new()
    assert [(r["action"], r["kind"], r["patient_id"], r["object_id"]) for r in rows] == [
        ("acknowledge", "flag", work.patients["E"], body["id"])]
    assert "plateau pain" in rows[0]["detail"] and "re_assessed" in rows[0]["detail"]
    assert items(work.as_director, type="plateau")[1] == []
    assert items(work.as_pat, type="plateau")[1] == []
    # A new visit with the same pain moves the window: the plateau is back, to be looked at.
    add_visit(work.as_pat, work.expired, day(6), 5, None)
    body, found = items(work.as_director, type="plateau")
    assert found == [("plateau", work.expired, "pain")]
    assert body["items"][0]["fingerprint"] != ack.get_json()["fingerprint"]


def test_acknowledge_refusals(work, client):
    url = f"/api/v1/plans/{work.expired}/flags/acknowledge"
    good = {"code": "plateau", "measure": "pain", "reason": "maintenance_plan"}
    # No worsening flag on plan E: nothing to acknowledge.
    assert work.as_pat.post(url, json={**good, "code": "worsening"}).status_code == 409
    assert work.as_pat.post(url, json={**good, "code": "plan_expired"}).status_code == 422
    assert work.as_pat.post(url, json={**good, "reason": "busy"}).status_code == 422
    assert work.as_pat.post(url, json={**good, "side": "left"}).status_code == 422
    assert work.as_pat.post(url, json={**good, "measure": "grip"}).status_code == 422
    assert work.as_pat.post(url, json={**good, "extra": 1}).status_code == 422
    # Off the care team: the plan does not exist for Quinn.
    assert work.as_quinn.post(url, json=good).status_code == 404
    # The director reads everything but does not document care.
    assert work.as_director.post(url, json=good).status_code == 403
    assert Api(client, None).post(url, json=good).status_code == 401
    assert work.as_pat.post(url, json=good).status_code == 201
    twice = work.as_pat.post(url, json=good)  # once per situation
    assert twice.status_code == 409
    assert "Pat Physio already acknowledged this flag" in twice.get_json()["errors"]["_request"][0]


def test_worklist_reads_are_audited_per_patient(work, audit_log):
    audit_log.mark()
    body, _ = items(work.as_pat)
    rows = audit_log.new()
    named = sorted({i["patient"]["id"] for i in body["items"]})
    assert sorted(r["patient_id"] for r in rows) == named
    assert {(r["action"], r["kind"], r["user_id"]) for r in rows} == {
        ("list", "worklist", work.pat.id)}
    assert all(r["request"] == "GET /api/v1/worklist" for r in rows)


def test_worklist_agrees_with_the_progress_engine(work):
    """The stored flags, the report counter and the dates match what the progress engine
    computes for the same plans (caseload_progress)."""
    from notes_service.auth.models import User
    from notes_service.progress.services import active_plans_for, caseload_progress

    body, _ = items(work.as_director)
    listed = {(i["plan_id"], i["type"], i["measure"]) for i in body["items"]
              if i["type"] != "unsigned_note"}
    with work.app.app_context():
        director = db.session.get(User, work.director.id)
        progress = caseload_progress(director, active_plans_for(director))
        engine = {(plan_id, flag.code, flag.measure) for plan_id, p in progress.items()
                  for flag in p.flags if flag.code in {
                      "plateau", "worsening", "progress_report_due", "plan_expired",
                      "plan_ending", "no_recent_visit"}}
        drafts = {plan_id for plan_id, p in progress.items()
                  for flag in p.flags if flag.code == "unsigned_note"}
    assert listed == engine
    assert drafts == {i["plan_id"] for i in body["items"] if i["type"] == "unsigned_note"}


def test_a_maintenance_plan_leaves_the_plateau_list(work):
    """Moving a plan to maintenance changes the plan (its version), not a note: the next read
    finds the summary stale and rebuilds it, and the progress engine raises no plateau."""
    assert items(work.as_director, type="plateau")[1] == [("plateau", work.expired, "pain")]
    moved = work.as_pat.post(f"/api/v1/plans/{work.expired}/maintenance",
                             json={"reason": "Maintaining function; skilled care continues."})
    assert moved.status_code == 200, moved.get_json()
    assert items(work.as_director, type="plateau")[1] == []


def test_plan_changes_reach_the_worklist(work):
    # Extending plan E by four weeks: no longer expired, and not ending within a week.
    plan = ok(work.as_pat.get(f"/api/v1/plans/{work.expired}"))
    changed = work.as_pat.patch(f"/api/v1/plans/{work.expired}",
                                json={"weeks": 12, "version": plan["version"]})
    assert changed.status_code == 200, changed.get_json()
    _, found = items(work.as_director)
    assert ("plan_expired", work.expired, None) not in found
    assert ("plan_ending", work.expired, None) not in found
    # Putting plan W on hold takes its worsening flag off the list (flags are for active plans).
    plan = ok(work.as_pat.get(f"/api/v1/plans/{work.worse}"))
    work.as_pat.patch(f"/api/v1/plans/{work.worse}",
                      json={"status": "on_hold", "version": plan["version"]})
    _, found = items(work.as_director, type="worsening")
    assert found == []
