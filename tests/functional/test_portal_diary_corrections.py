"""Correcting and withdrawing pain-diary entries: the patient who wrote an entry may change its
day, pain and note, or withdraw it, for ``PORTAL_DIARY_CHANGE_HOURS`` after writing it (web and
API, same rules as recording one); then it is locked (409, or a message on the page). Nobody
else may: another patient's entry is a 404, clinicians are refused. A withdrawn entry leaves
every list of the diary but its row stays, and every step is audited.

The window is ended by moving ``created_at`` back in the database, not by waiting.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from conftest import Api, app_on
from notes_service.extensions import db
from portal_support import (
    assert_diary_error,
    diary_entry,
    make_patient,
    portal_account,
    signed_in,
    user_of,
)
from web_support import csrf_app, csrf_token, page_problems, pending_dir, web  # noqa: F401

TODAY = date.today()


@pytest.fixture
def found(app, practitioner):
    """Ana, a patient of the practitioner with a plan from 28 days ago and a portal account."""
    found = make_patient(app, practitioner)
    portal_account(app, found, "ana@portal.example")
    return found


@pytest.fixture
def ben(app, practitioner):
    """Ben, another patient of the same practitioner, with a portal account."""
    ben = make_patient(app, practitioner, given="Ben", family="Okafor", pains=(7, 6))
    portal_account(app, ben, "ben@portal.example")
    return ben


@pytest.fixture
def patient_web(app, found, pending_dir):  # noqa: F811
    return signed_in(app, "ana@portal.example")


@pytest.fixture
def typo(app, found) -> int:
    """Ana's entry of today, written a moment ago with pain 8 where she meant 3."""
    return diary_entry(app, found.account, found, pain=8, note="After the long drive.")


def stored(app, entry_id: int) -> dict:
    """The entry's row as the database holds it."""
    from notes_service.portal.models import DiaryEntry

    with app.app_context():
        entry = db.session.get(DiaryEntry, entry_id)
        return {name: getattr(entry, name) for name in (
            "entry_date", "pain", "note", "created_at", "updated_at", "withdrawn_at")}


def written_hours_ago(app, entry_id: int, hours: float) -> None:
    """Move the entry's writing time ``hours`` back."""
    from notes_service.portal.models import DiaryEntry

    with app.app_context():
        entry = db.session.get(DiaryEntry, entry_id)
        entry.created_at -= timedelta(hours=hours)
        db.session.commit()


def entry_url(found, entry_id: int) -> str:
    return f"/api/v1/patients/{found.patient_id}/diary/{entry_id}"


def diary_rows(audit_log) -> list[tuple]:
    return [(r["action"], r["object_id"], r["outcome"], r["detail"]) for r in audit_log.new()
            if r["kind"] == "diary"]


def listed_pains(client, account, found) -> list[int]:
    response = Api(client, account).get(f"/api/v1/patients/{found.patient_id}/diary")
    assert response.status_code == 200
    return [entry["pain"] for entry in response.get_json()]


# --------------------------------------------------------------------------- web

def test_the_diary_offers_edit_and_withdraw_inside_the_window_only(app, patient_web, found,
                                                                   typo):
    older = diary_entry(app, found.account, found, days_ago=2, pain=5)
    written_hours_ago(app, older, 30)
    html = patient_web.get("/portal/diary").get_data(as_text=True)
    assert page_problems(html) == []
    assert f'href="/portal/diary/{typo}/edit"' in html
    assert f'href="/portal/diary/{typo}/withdraw"' in html
    assert f"/portal/diary/{older}/" not in html  # locked: shown, but without the buttons
    assert "You can change or withdraw an entry for 24 hours after you write it." in html


def test_web_edit_inside_the_window(app, patient_web, found, typo, audit_log):
    page = patient_web.get(f"/portal/diary/{typo}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html) == []
    assert f"Change your entry of {TODAY.day} {TODAY:%b %Y}" in html
    assert 'value="8" checked' in html and "After the long drive." in html
    assert f'action="/portal/diary/{typo}/edit"' in html
    audit_log.mark()
    response = patient_web.post(f"/portal/diary/{typo}/edit", data={
        "entry_date": TODAY.isoformat(), "pain": "3", "note": "After the long drive.\r\n"})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/diary"
    row = stored(app, typo)
    assert (row["pain"], row["note"], row["withdrawn_at"]) == (3, "After the long drive.", None)
    assert row["updated_at"] is not None and row["updated_at"] >= row["created_at"]
    assert ("update", typo, "ok", "pain 8 → 3/10") in diary_rows(audit_log)
    html = patient_web.get("/portal/diary").get_data(as_text=True)
    assert f"Changed: your entry now says pain 3 out of 10 on {TODAY:%-d %B}." in html
    assert "3/10" in html and "8/10" not in html


@pytest.mark.parametrize("data, field, message", [
    ({"pain": ""}, "pain", "Choose how much pain you have, from 0 to 10."),
    ({"pain": "11"}, "pain", "Choose a number from 0 to 10."),
    ({"pain": "-1"}, "pain", "Choose a number from 0 to 10."),
    ({"pain": "4.5"}, "pain", "Choose a whole number from 0 to 10."),
    ({"pain": "nan"}, "pain", "Choose a whole number from 0 to 10."),
    ({"pain": "true"}, "pain", "Choose a whole number from 0 to 10."),
    ({"entry_date": (TODAY + timedelta(1)).isoformat()}, "entry_date",
     "The day cannot be in the future."),
    ({"entry_date": "2001-01-01"}, "entry_date",
     "The day cannot be before your plan of care started"),
    ({"entry_date": "yesterday"}, "entry_date", "Enter a date like 2026-03-12."),
    ({"note": "x" * 1001}, "note", "Keep the note to 1000 characters."),
])
def test_web_edit_errors_beside_fields_with_typed_values_kept(app, patient_web, typo, data,
                                                              field, message):
    body = {"entry_date": TODAY.isoformat(), "pain": "4", "note": "Typed, not saved.", **data}
    response = patient_web.post(f"/portal/diary/{typo}/edit", data=body)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert_diary_error(html, field, message)
    assert "Your changes were not saved." in html
    assert f'action="/portal/diary/{typo}/edit"' in html  # still the correction, not a new entry
    assert f'value="{body["entry_date"]}"' in html
    if field != "note":
        assert "Typed, not saved." in html
    if field != "pain":
        assert 'value="4" checked' in html
    row = stored(app, typo)
    assert (row["pain"], row["note"], row["updated_at"]) == (8, "After the long drive.", None)


def test_web_withdraw_asks_first_then_withdraws(app, patient_web, found, typo, audit_log):
    page = patient_web.get(f"/portal/diary/{typo}/withdraw")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html) == []
    assert f"Withdraw your entry of {TODAY.day} {TODAY:%b %Y}?" in html
    assert re.search(rf'<form method="post" action="/portal/diary/{typo}/withdraw">\s*'
                     r'<input type="hidden" name="csrf_token"', html)
    assert stored(app, typo)["withdrawn_at"] is None  # asking withdraws nothing
    audit_log.mark()
    response = patient_web.post(f"/portal/diary/{typo}/withdraw")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/diary"
    assert stored(app, typo)["withdrawn_at"] is not None  # the row stays
    assert ("withdraw", typo, "ok", f"pain 8/10 on {TODAY.isoformat()}") in diary_rows(audit_log)
    html = patient_web.get("/portal/diary").get_data(as_text=True)
    assert (f"Withdrawn: your entry of {TODAY:%-d %B} (pain 8 out of 10). Your practitioner "
            "will no longer see it.") in html
    assert "After the long drive." not in html and "No entries yet." in html
    # gone for good: asking again, or correcting it, is a 404
    assert patient_web.post(f"/portal/diary/{typo}/withdraw").status_code == 404
    assert patient_web.get(f"/portal/diary/{typo}/edit").status_code == 404


def test_the_withdraw_form_needs_its_csrf_token(csrf_app, app, found, typo, pending_dir):  # noqa: F811
    from conftest import PASSWORD

    browser = csrf_app.test_client()
    token = csrf_token(browser.get("/login").get_data(as_text=True))
    assert browser.post("/login", data={"email": "ana@portal.example", "password": PASSWORD,
                                        "csrf_token": token}).status_code == 302
    page = browser.get(f"/portal/diary/{typo}/withdraw").get_data(as_text=True)
    assert browser.post(f"/portal/diary/{typo}/withdraw").status_code == 400
    assert stored(app, typo)["withdrawn_at"] is None
    assert browser.post(f"/portal/diary/{typo}/withdraw",
                        data={"csrf_token": csrf_token(page)}).status_code == 302
    assert stored(app, typo)["withdrawn_at"] is not None


def test_web_after_the_window_the_author_is_told_it_is_locked(app, patient_web, typo,
                                                              audit_log):
    written_hours_ago(app, typo, 24)
    audit_log.mark()
    for method, action, data in (
            ("get", "edit", None),
            ("post", "edit", {"entry_date": TODAY.isoformat(), "pain": "3"}),
            ("get", "withdraw", None),
            ("post", "withdraw", None)):
        response = getattr(patient_web, method)(f"/portal/diary/{typo}/{action}", data=data)
        assert response.status_code == 302, (method, action)
        assert response.headers["Location"] == "/portal/diary"
        html = patient_web.get("/portal/diary").get_data(as_text=True)
        assert "This entry can no longer be changed: entries are locked 24 hours after they " \
               "are written" in html, (method, action)
        assert f"/portal/diary/{typo}/edit" not in html
    row = stored(app, typo)
    assert (row["pain"], row["updated_at"], row["withdrawn_at"]) == (8, None, None)
    refused = [row for row in diary_rows(audit_log) if row[2] == "denied"]
    assert [(action, object_id) for action, object_id, _, _ in refused] == [("write", typo)] * 4
    assert refused[0][3].startswith("locked since ")


def test_the_window_is_the_clinics_setting(app, patient_web, typo, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_DIARY_CHANGE_HOURS", 2)
    written_hours_ago(app, typo, 1)
    assert patient_web.get(f"/portal/diary/{typo}/edit").status_code == 200
    written_hours_ago(app, typo, 1.5)
    assert patient_web.get(f"/portal/diary/{typo}/edit").status_code == 302
    assert "locked 2 hours after" in patient_web.get("/portal/diary").get_data(as_text=True)


def test_web_another_patients_entry_is_not_found(app, patient_web, ben, audit_log):
    bens = diary_entry(app, ben.account, ben, pain=9, note="Ben's private note")
    for method, action in (("get", "edit"), ("post", "edit"), ("get", "withdraw"),
                           ("post", "withdraw")):
        audit_log.mark()
        response = getattr(patient_web, method)(
            f"/portal/diary/{bens}/{action}", data={"entry_date": TODAY.isoformat(), "pain": "0"})
        assert response.status_code == 404, (method, action)
        assert "Ben" not in response.get_data(as_text=True)
        assert [(r["kind"], r["patient_id"], r["outcome"]) for r in audit_log.new()
                if r["outcome"] == "denied"] == [("diary", ben.patient_id, "denied")]
    row = stored(app, bens)
    assert (row["pain"], row["withdrawn_at"]) == (9, None)


def test_web_practitioners_cannot_change_a_patients_entry(app, web, typo):  # noqa: F811
    for method, action in (("get", "edit"), ("post", "edit"), ("get", "withdraw"),
                           ("post", "withdraw")):
        response = getattr(web, method)(f"/portal/diary/{typo}/{action}",
                                        data={"entry_date": TODAY.isoformat(), "pain": "0"})
        assert response.status_code == 403, (method, action)
    row = stored(app, typo)
    assert (row["pain"], row["withdrawn_at"]) == (8, None)


# --------------------------------------------------------------------------- API

def test_api_patch_inside_the_window(app, client, found, typo, audit_log):
    api = Api(client, found.account)
    audit_log.mark()
    response = api.patch(entry_url(found, typo), json={"pain": 3})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["pain"], body["note"]) == (typo, 3, "After the long drive.")
    assert body["updated_at"] is not None and body["source"] == "patient_reported"
    assert ("update", typo, "ok", "pain 8 → 3/10") in diary_rows(audit_log)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    response = api.patch(entry_url(found, typo), json={"entry_date": yesterday,
                                                       "note": "  Long drive.  "})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["entry_date"], body["pain"], body["note"]) == (yesterday, 3, "Long drive.")
    assert ("update", typo, "ok", f"day {TODAY.isoformat()} → {yesterday}; note changed"
            ) in diary_rows(audit_log)
    assert listed_pains(client, found.account, found) == [3]


def test_api_patch_of_what_the_entry_holds_changes_nothing(app, client, found, typo,
                                                           audit_log):
    response = Api(client, found.account).patch(entry_url(found, typo), json={"pain": 8})
    assert response.status_code == 200 and response.get_json()["updated_at"] is None
    assert stored(app, typo)["updated_at"] is None
    assert diary_rows(audit_log)[-1] == ("update", typo, "ok", "nothing changed")


def test_api_delete_withdraws_and_the_entry_leaves_every_list(app, client, found, typo,
                                                              practitioner, audit_log):
    kept = diary_entry(app, found.account, found, days_ago=1, pain=5)
    api = Api(client, found.account)
    assert listed_pains(client, practitioner, found) == [8, 5]
    audit_log.mark()
    response = api.delete(entry_url(found, typo))
    assert response.status_code == 204 and response.get_data() == b""
    assert ("withdraw", typo, "ok", f"pain 8/10 on {TODAY.isoformat()}") in diary_rows(audit_log)
    row = stored(app, typo)
    assert row["withdrawn_at"] is not None and row["pain"] == 8  # kept for the audit trail
    assert listed_pains(client, found.account, found) == [5]
    assert listed_pains(client, practitioner, found) == [5]
    assert stored(app, kept)["withdrawn_at"] is None
    # withdrawn is gone: a second withdrawal or a correction is a 404
    assert api.delete(entry_url(found, typo)).status_code == 404
    assert api.patch(entry_url(found, typo), json={"pain": 3}).status_code == 404


def test_withdrawn_entries_leave_the_patients_pages(app, patient_web, found, typo):
    diary_entry(app, found.account, found, days_ago=1, pain=5, note="Kept entry.")
    assert patient_web.post(f"/portal/diary/{typo}/withdraw").status_code == 302
    for url in ("/portal/diary", "/"):
        html = patient_web.get(url).get_data(as_text=True)
        assert 'pain-pill">8/10' not in html and "After the long drive." not in html, url
        assert 'pain-pill">5/10' in html, url


def _reported_panel(web, found) -> str:  # noqa: F811
    html = web.get(f"/patients/{found.patient_id}").get_data(as_text=True)
    panel = html[html.index('id="reported-title"'):]
    return panel[:panel.index("</section>")]


def test_the_practitioners_patient_page_follows_corrections_and_withdrawals(app, web, found,
                                                                            typo):  # noqa: F811
    """The panel of patient-reported pain on the practitioner's page (its HTML is cached by
    everything it shows) shows a correction at once and leaves a withdrawn entry out."""
    diary_entry(app, found.account, found, days_ago=1, pain=5)
    before = _reported_panel(web, found)  # seen (and cached) before the change
    assert "8/10" in before and ">corrected<" not in before
    api = Api(app.test_client(), found.account)
    changed = api.patch(entry_url(found, typo), {"pain": 7})
    assert changed.status_code == 200, changed.get_json()
    panel = _reported_panel(web, found)
    assert "8/10" not in panel and re.search(
        r'title="Corrected by the patient [^"]+">corrected</span> <strong class="num">7/10', panel)
    assert panel.count(">corrected<") == 1  # the other entry is as first written
    assert re.search(r"average 6/10\s+from 2 entries", panel), panel
    assert api.delete(entry_url(found, typo)).status_code == 204
    panel = _reported_panel(web, found)
    assert "7/10" not in panel and "After the long drive." not in panel
    assert re.search(r"average 5/10\s+from 1 entry", panel), panel


def test_api_after_the_window_is_a_conflict(app, client, found, typo, audit_log):
    written_hours_ago(app, typo, 25)
    api = Api(client, found.account)
    audit_log.mark()
    # refused before the body is read: an invalid body is a 409 too
    for call in (lambda: api.patch(entry_url(found, typo), json={"pain": 3}),
                 lambda: api.patch(entry_url(found, typo), json={"pain": "not a number"}),
                 lambda: api.delete(entry_url(found, typo))):
        response = call()
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["errors"]["_request"][0].startswith(
            "This entry can no longer be changed")
    row = stored(app, typo)
    assert (row["pain"], row["updated_at"], row["withdrawn_at"]) == (8, None, None)
    assert [(action, outcome) for action, _, outcome, _ in diary_rows(audit_log)] == [
        ("write", "denied")] * 3
    assert listed_pains(client, found.account, found) == [8]


def test_api_another_patients_entry_is_not_found(app, client, found, ben, audit_log):
    bens = diary_entry(app, ben.account, ben, pain=9)
    api = Api(client, found.account)
    for method, url, kind in (
            ("patch", entry_url(found, bens), "diary"),  # Ana's diary, Ben's entry
            ("delete", entry_url(found, bens), "diary"),
            ("patch", entry_url(ben, bens), "patient"),  # Ben's diary
            ("delete", entry_url(ben, bens), "patient"),
            ("patch", entry_url(found, 2**31 - 1), "diary")):  # no such entry
        audit_log.mark()
        response = getattr(api, method)(url, **({"json": {"pain": 0}} if method == "patch"
                                                else {}))
        assert response.status_code == 404, (method, url, response.get_json())
        owner = None if url.endswith(str(2**31 - 1)) else ben.patient_id
        assert [(r["kind"], r["patient_id"], r["outcome"]) for r in audit_log.new()] == [
            (kind, owner, "denied")], url
    row = stored(app, bens)
    assert (row["pain"], row["withdrawn_at"]) == (9, None)


def test_api_clinicians_are_refused(app, client, found, typo, practitioner, director,
                                    other_practitioner, audit_log):
    for account, status in ((practitioner, 403), (director, 403), (other_practitioner, 404)):
        staff = Api(client, account)
        audit_log.mark()
        # refused before the body is read: an invalid body gets the same answer
        assert staff.patch(entry_url(found, typo), json={"pain": 11}).status_code == status
        assert staff.delete(entry_url(found, typo)).status_code == status
        kinds = [(r["kind"], r["outcome"]) for r in audit_log.new()]
        assert kinds == [("diary" if status == 403 else "patient", "denied")] * 2, account
    row = stored(app, typo)
    assert (row["pain"], row["updated_at"], row["withdrawn_at"]) == (8, None, None)


@pytest.mark.parametrize("body, field", [
    ('{"pain": NaN}', "pain"),
    ('{"pain": Infinity}', "pain"),
    ('{"pain": "3"}', "pain"),
    ('{"pain": true}', "pain"),
    ('{"pain": null}', "pain"),
    ('{"pain": 11}', "pain"),
    ('{"pain": -1}', "pain"),
    ('{"pain": 2.5}', "pain"),
    ('{"pain": 100000000000000000000}', "pain"),
    ('{"note": null}', "note"),
    ('{"note": 7}', "note"),
    ('{"note": "' + "n" * 1001 + '"}', "note"),
    ('{"entry_date": "2999-01-01"}', "entry_date"),
    ('{"entry_date": "2000-01-01"}', "entry_date"),
    ('{"entry_date": "yesterday"}', "entry_date"),
    ('{"entry_date": null}', "entry_date"),
    ('{"pain": 3, "source": "clinic"}', "source"),
    ('[{"pain": 3}]', "_schema"),
])
def test_api_bad_input_is_422_with_the_field_named(app, client, found, typo, body, field):
    response = Api(client, found.account).patch(entry_url(found, typo), data=body,
                                                content_type="application/json")
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    row = stored(app, typo)
    assert (row["pain"], row["note"], row["updated_at"]) == (8, "After the long drive.", None)


def test_openapi_documents_the_entry_resource(client):
    spec = client.get("/api/openapi.json").get_json()
    entry = spec["paths"]["/api/v1/patients/{patient_id}/diary/{entry_id}"]
    assert set(entry) == {"patch", "delete"}
    assert {"403", "404", "409", "422"} <= set(entry["patch"]["responses"])
    assert {"204", "403", "404", "409"} <= set(entry["delete"]["responses"])
    change = spec["components"]["schemas"]["DiaryEntryChange"]
    assert "required" not in change and "default" not in change["properties"]["note"]
    assert spec["components"]["schemas"]["DiaryEntry"]["properties"]["updated_at"]["nullable"]


# --------------------------------------------------------------------------- races

def test_a_change_racing_a_withdrawal_or_the_end_of_the_window_writes_nothing(app, found,
                                                                              typo):
    from notes_service.db_types import utcnow
    from notes_service.errors import NotFound
    from notes_service.portal import services
    from notes_service.portal.models import DiaryEntry

    with app.app_context():
        user = user_of(found.account)
        entry = services.diary_entry_for_change(user, found.patient_id, typo)
        with pytest.raises(services.DiaryEntryLocked):  # the window ends before the write
            services.change_diary_entry(user, entry, {"pain": 3},
                                        now=utcnow() + timedelta(hours=24))
        # another tab withdraws it between this request's check and its write
        db.session.execute(sa.update(DiaryEntry).where(DiaryEntry.id == typo)
                           .values(withdrawn_at=utcnow())
                           .execution_options(synchronize_session=False))
        with pytest.raises(NotFound):
            services.change_diary_entry(user, entry, {"pain": 3})
        with pytest.raises(NotFound):
            services.withdraw_diary_entry(user, entry)
        db.session.rollback()
    assert stored(app, typo)["pain"] == 8


@pytest.fixture
def window_ends_before_the_write(monkeypatch):
    """The entry's change window ends between the request's check and its write: the
    service's clock reads 24 hours later from its second reading on."""
    from notes_service.db_types import utcnow
    from notes_service.portal import services

    readings = []

    def clock():
        readings.append(None)
        return utcnow() + (timedelta(hours=24) if len(readings) > 1 else timedelta())

    monkeypatch.setattr(services, "utcnow", clock)


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_api_a_change_the_window_closes_on_is_refused_and_audited(
        app, found, typo, audit_log, window_ends_before_the_write, method):
    audit_log.mark()
    api = Api(app.test_client(), found.account)
    response = (api.patch(entry_url(found, typo), {"pain": 3}) if method == "patch"
                else api.delete(entry_url(found, typo)))
    assert response.status_code == 409, response.get_json()
    assert "can no longer be changed" in response.get_json()["errors"]["_request"][0]
    row = stored(app, typo)
    assert (row["pain"], row["updated_at"], row["withdrawn_at"]) == (8, None, None)
    rows = diary_rows(audit_log)
    assert [(action, object_id, outcome) for action, object_id, outcome, _ in rows] == [
        ("write", typo, "denied")]  # and no update or withdrawal that did not happen
    assert rows[0][3].startswith("locked since ")


@pytest.mark.parametrize("action, data", [
    ("edit", {"entry_date": TODAY.isoformat(), "pain": "3"}), ("withdraw", None)])
def test_web_a_change_the_window_closes_on_says_so_and_is_audited(
        app, patient_web, typo, audit_log, window_ends_before_the_write, action, data):
    audit_log.mark()
    response = patient_web.post(f"/portal/diary/{typo}/{action}", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/portal/diary"
    html = patient_web.get("/portal/diary").get_data(as_text=True)
    assert "This entry can no longer be changed" in html
    row = stored(app, typo)
    assert (row["pain"], row["updated_at"], row["withdrawn_at"]) == (8, None, None)
    assert [(a, o, outcome) for a, o, outcome, _ in diary_rows(audit_log)
            if outcome != "ok" or a != "list"] == [("write", typo, "denied")]


# --------------------------------------------------------------------------- migration

def test_migration_adds_the_columns_and_downgrades(empty_database):
    """0007 adds ``updated_at`` and ``withdrawn_at``; its downgrade removes them, and the
    withdrawn entries with them (the earlier schema would count them again)."""
    from flask_migrate import downgrade, upgrade

    from notes_service.auth.services import create_user
    from notes_service.db_types import utcnow
    from notes_service.patients.models import Patient
    from notes_service.portal.models import DiaryEntry

    def columns(application) -> set[str]:
        with application.app_context():
            return {c["name"] for c in sa.inspect(db.engine).get_columns("pain_diary_entries")}

    with app_on(empty_database) as application:
        with application.app_context():
            upgrade()
            patient = Patient(given_name="Ana", family_name="Silva", birth_date=date(1980, 5, 1))
            db.session.add(patient)
            db.session.flush()
            user = create_user({"email": "ana@portal.example", "name": "Ana", "role": "patient",
                                "password": "correct horse battery", "patient_id": patient.id})
            db.session.add_all([
                DiaryEntry(patient_id=patient.id, entry_date=TODAY, pain=8, author=user,
                           withdrawn_at=utcnow()),
                DiaryEntry(patient_id=patient.id, entry_date=TODAY, pain=3, author=user,
                           updated_at=utcnow())])
            db.session.commit()
        assert {"updated_at", "withdrawn_at"} <= columns(application)
        with application.app_context():
            downgrade(revision="0005")
        assert not {"updated_at", "withdrawn_at"} & columns(application)
        with application.app_context(), db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT pain FROM pain_diary_entries")
                                      ).scalars().all() == [3]
        with application.app_context():
            upgrade()
        assert {"updated_at", "withdrawn_at"} <= columns(application)
