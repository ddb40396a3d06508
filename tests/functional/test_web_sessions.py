"""Nothing typed is lost when the session expires during note entry: the posted note is kept
server-side under a random token in the (new) session, and the form opens filled in again after
the clinician signs in."""

import time

from conftest import make_account
from notes_service.extensions import db
from web_support import chart, make_note, pending_dir, sign_in, user_of, web  # noqa: F401

TYPED = "Typed for twenty minutes: radicular pain eased after nerve glides."


def expire(client, app):
    """Make the signed-in session idle for longer than the automatic sign-out allows."""
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - app.config["SESSION_IDLE_MINUTES"] * 60 - 5


def note_fields(chart, **extra):
    return {"visit_date": chart.start.isoformat(), "subjective": TYPED, "objective": "",
            "assessment": "", "plan": "", "home_programme": "", "m-pain-pre": "6",
            "m-pain-post": "4", "action": "save", **extra}


def stored_subjective(app, note_id):
    from notes_service.visits.models import VisitNote

    with app.app_context():
        return db.session.get(VisitNote, note_id).subjective


def test_draft_edit_after_timeout_is_restored_after_sign_in(web, app, practitioner, chart,
                                                             pending_dir):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    response = web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/visits/{note_id}/edit"
    assert len(list(pending_dir.glob("*.json"))) == 1
    stash = next(pending_dir.glob("*.json")).read_text()
    assert TYPED in stash
    login_page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing is lost: sign in again" in login_page
    assert TYPED not in login_page
    signed_in = sign_in(web, practitioner.email, next=f"/visits/{note_id}/edit")
    assert signed_in.headers["Location"] == f"/visits/{note_id}/edit"
    page = web.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert "Restored the note you were typing when your session expired." in page
    assert TYPED in page and 'name="m-pain-pre" value="6"' in page
    assert 'name="version" value="1"' in page
    assert stored_subjective(app, note_id) == "Leg pain after sitting."  # nothing saved yet
    assert list(pending_dir.glob("*.json")) == []  # taken once
    assert TYPED not in web.get(f"/visits/{note_id}/edit").get_data(as_text=True)
    saved = web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    assert saved.status_code == 302
    assert stored_subjective(app, note_id) == TYPED


def test_new_note_posted_without_any_session_is_restored(client, app, practitioner, chart,
                                                         pending_dir):
    response = client.post(f"/plans/{chart.plan_id}/visits/new", data=note_fields(chart))
    assert response.headers["Location"] == f"/login?next=/plans/{chart.plan_id}/visits/new"
    assert sign_in(client, practitioner.email,
                   next=f"/plans/{chart.plan_id}/visits/new").status_code == 302
    page = client.get(f"/plans/{chart.plan_id}/visits/new").get_data(as_text=True)
    assert "Restored the note" in page and TYPED in page


def test_stash_is_only_restored_on_its_own_page(web, app, practitioner, chart, pending_dir):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    sign_in(web, practitioner.email)
    assert TYPED not in web.get(f"/plans/{chart.plan_id}/visits/new").get_data(as_text=True)
    assert TYPED in web.get(f"/visits/{note_id}/edit").get_data(as_text=True)


def test_another_user_on_the_same_browser_never_sees_the_stash(web, app, practitioner, chart,
                                                                pending_dir):
    from notes_service.patients.services import add_care_team_member

    colleague = make_account(app, "colleague@example.org", "practitioner")
    with app.app_context():
        add_care_team_member(user_of(practitioner), chart.patient_id, colleague.id)
        db.session.commit()
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    web.get("/")  # the idle session is signed out
    web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    assert len(list(pending_dir.glob("*.json"))) == 1
    sign_in(web, colleague.email)
    assert list(pending_dir.glob("*.json")) == []
    assert TYPED not in web.get(f"/visits/{note_id}/edit").get_data(as_text=True)


def test_stashes_expire(web, app, practitioner, chart, pending_dir, monkeypatch):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    monkeypatch.setitem(app.config, "PENDING_FORM_HOURS", 0)
    sign_in(web, practitioner.email)
    assert TYPED not in web.get(f"/visits/{note_id}/edit").get_data(as_text=True)


def test_explicit_sign_out_discards_a_stash(web, app, practitioner, chart, pending_dir):
    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    web.post(f"/visits/{note_id}/edit", data=note_fields(chart, version="1"))
    web.post("/logout")
    assert list(pending_dir.glob("*.json")) == []


def test_merge_form_posted_after_timeout_restores_my_version(web, app, practitioner, chart,
                                                              pending_dir):
    import json

    note_id = make_note(app, practitioner, chart.plan_id, chart.start)
    expire(web, app)
    mine = {k: [v] for k, v in note_fields(chart, version="1").items()}
    web.post(f"/visits/{note_id}/merge", data={"mine_json": json.dumps(mine), "version": "2"})
    sign_in(web, practitioner.email)
    page = web.get(f"/visits/{note_id}/edit").get_data(as_text=True)
    assert "Restored the note" in page and TYPED in page


def test_typing_keeps_the_session_alive_until_it_has_expired(web, app):
    with web.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 600  # 10 idle minutes: still signed in
    assert web.post("/session/ping").get_json() == {"signed_in": True, "idle_minutes": 15}
    with web.session_transaction() as session:
        assert session["last_seen"] >= int(time.time()) - 5
    expire(web, app)
    response = web.post("/session/ping")
    assert response.status_code == 401 and response.get_json() == {"signed_in": False}
