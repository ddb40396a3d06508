"""The portal's pages and forms through the test client: the patient's home in plain words
(numbers checked by hand), visits, the pain diary, the practitioner's invitation page and the
patient's invitation link, each page structurally sound and accessible."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from conftest import PASSWORD
from notes_service.extensions import db
from portal_support import (
    assert_diary_error,
    diary_entry,
    draft_note,
    make_patient,
    portal_account,
    signed_in,
    user_of,
)
from web_support import director_web, other_web, page_problems, pending_dir, web  # noqa: F401

LINK = re.compile(r'id="invite-link" value="https?://[^/"]+(/portal/join/[^"]+)"')


def text_of(html: str) -> str:
    """The visible words of a page's main content, whitespace collapsed."""
    import html as html_lib

    main = html[html.index("<main"):html.index("</main>")]
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main))).strip()


@pytest.fixture
def found(app, practitioner):
    """Ana: an 8-week plan from 28 days ago, signed visits weekly with pain 8, 7, 6, 5, 4 and a
    straight-leg raise 35°, 40°, 45°, 50°, 55°; goals pain ≤ 2 and right SLR ≥ 70°."""
    return make_patient(app, practitioner, email="ana@home.example")


@pytest.fixture
def patient_web(app, found, pending_dir):  # noqa: F811
    portal_account(app, found, "ana@portal.example")
    return signed_in(app, "ana@portal.example")


# --------------------------------------------------------------------------- home

def test_home_in_plain_words_with_hand_computed_numbers(patient_web, found):
    response = patient_web.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page_problems(html) == []
    words = text_of(html)
    assert "Hello, Ana" in words
    assert ("This plan treats low back pain with sciatica: back pain together with pain that "
            "travels down the leg, along the sciatic nerve (on your right side).") in words
    # 28 days after the start is day 29: week 5 of 8; 5 signed visits of 8 × 2 planned
    assert "Week 5 of 8" in words
    assert "Visits done 5 of 16 planned" in words
    # goals: pain 8 → 4 towards ≤ 2 is 4/6 of the way (70 % rounded to tens); SLR 35° → 55°
    # towards ≥ 70° is 20/35 (60 %)
    assert "Pain at most 2 out of 10 — you are at 4, down from 8 at the start." in words
    assert ("Leg raise before symptoms start (right) at least 70° — you are at 55°, up from 35° "
            "at the start.") in words
    assert "About 70% of the way from where you started" in words
    assert "About 60% of the way from where you started" in words
    # the engine: pain 6 → 4 over the last 14 days (≥ 2) and SLR 45° → 55° (≥ 10°) improve
    assert "You are making progress" in words
    assert "Pain has improved from 8 at the start to 4 out of 10 now." in words
    assert ("Leg raise before symptoms start (right) has improved from 35° at the start to 55° "
            "now.") in words
    assert "Nerve sliders: 2 sets of 10, twice a day." in words
    assert "Active Release Technique: hands-on treatment" in words
    assert "Progress nerve glides; review in 3 days." in words  # next steps


def test_home_never_shows_drafts_or_assessment(app, practitioner, patient_web, found):
    draft_note(app, practitioner, found, days_ago=0)
    words = text_of(patient_web.get("/").get_data(as_text=True))
    assert "DRAFT" not in words
    assert "Irritable L5 radiculopathy" not in words
    assert "Visits done 5 of 16 planned" in words  # the draft is not a visit yet
    assert "Pain has improved from 8 at the start to 4 out of 10 now." in words  # not the 9


def test_home_charts_have_alt_text_and_numbers(patient_web, found):
    html = patient_web.get("/").get_data(as_text=True)
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert [src.split("?")[0] for src, _ in images] == [
        f"/plans/{found.plan_id}/charts/pain.svg", f"/plans/{found.plan_id}/charts/slr.svg"]
    assert all(alt.strip() for _, alt in images)
    assert images[0][1].startswith("Pain (0 = no pain, 10 = worst imaginable), 5 visits from")
    assert "status getting better" in images[0][1]
    assert "Show the numbers" in html
    chart = patient_web.get(images[0][0].replace("&amp;", "&"))
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    svg = chart.get_data(as_text=True)
    assert "Before treatment" in svg and "Pre-treatment" not in svg  # worded for patients


def test_home_worsening_prompts_to_tell_the_practitioner(app, practitioner, pending_dir):  # noqa: F811
    found = make_patient(app, practitioner, given="Bo", family="Berg", pains=(3, 4, 5, 6, 7))
    portal_account(app, found, "bo@portal.example")
    words = text_of(signed_in(app, "bo@portal.example").get("/").get_data(as_text=True))
    assert "Some things have got worse" in words
    assert "Pain has gone from 5 to 7 out of 10 over the last 2 weeks." in words
    assert "Please tell Pat Physio about this at your next visit" in words
    assert "making progress" not in words


def test_home_plateau_is_holding_steady(app, practitioner, pending_dir):  # noqa: F811
    found = make_patient(app, practitioner, given="Cy", family="Cole", pains=(6, 5, 6, 5, 6),
                         goals=[{"measure": "pain", "target": 2}])
    portal_account(app, found, "cy@portal.example")
    words = text_of(signed_in(app, "cy@portal.example").get("/").get_data(as_text=True))
    assert "Holding steady" in words
    assert "Pain has stayed between 5 and 6 out of 10 over your last 3 visits." in words


def test_home_without_a_plan(app, practitioner, pending_dir):  # noqa: F811
    from notes_service.patients.services import create_patient

    with app.app_context():
        patient = create_patient(user_of(practitioner), {
            "given_name": "Di", "family_name": "Dahl", "birth_date": date(1990, 1, 1)})
        db.session.commit()
        patient_id = patient.id
    from conftest import make_account

    make_account(app, "di@portal.example", "patient", patient_id=patient_id)
    client = signed_in(app, "di@portal.example")
    html = client.get("/").get_data(as_text=True)
    assert "Your plan of care will appear here" in html and page_problems(html) == []
    diary = client.get("/portal/diary").get_data(as_text=True)
    assert "Your diary opens when your plan of care starts." in diary
    assert client.post("/portal/diary", data={"entry_date": date.today().isoformat(),
                                              "pain": "3"}).status_code == 422


def test_portal_address_leads_to_the_home(patient_web):
    assert patient_web.get("/portal/").headers["Location"] == "/"


def test_navigation_of_a_patient(patient_web):
    html = patient_web.get("/").get_data(as_text=True)
    nav = html[html.index('<nav class="mainnav"'):html.index("</nav>")]
    assert re.findall(r">([^<>]+)</a>", nav) == ["My plan", "Pain diary", "Visits"]


# --------------------------------------------------------------------------- visits

def test_visit_list_and_visit_page(app, practitioner, patient_web, found):
    draft = draft_note(app, practitioner, found)
    html = patient_web.get("/portal/visits").get_data(as_text=True)
    assert page_problems(html) == []
    links = re.findall(r'href="/portal/visits/(\d+)"', html)
    assert sorted(map(int, links)) == sorted(found.note_ids) and draft not in map(int, links)
    page = patient_web.get(f"/portal/visits/{found.note_ids[-1]}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html) == []
    words = text_of(html)
    assert "Pain 4/10 2/10" in words  # before and after treatment
    assert "Leg raise before symptoms start (right) 55° —" in words
    assert "Active Release Technique: hands-on treatment" in words
    assert "What you told us Leg pain after sitting." in words
    assert "Next steps Progress nerve glides; review in 3 days." in words
    assert "Irritable L5 radiculopathy" not in words and "assessment" not in words.lower()


def test_visit_page_shows_what_was_added_after_signing(app, client, practitioner, patient_web,
                                                      found):
    """A correction goes in an addendum (a signed note never changes): the patient reads it with
    the note, in order, with who added it; a note without one has no such section."""
    corrected = found.note_ids[-1]
    for text in ("Correction: the leg raise was measured on the left, not the right.",
                 "Phoned: symptoms eased overnight."):
        added = client.post(f"/api/v1/visits/{corrected}/addenda", json={"text": text},
                            headers=practitioner.headers)
        assert added.status_code == 201, added.get_json()
    html = patient_web.get(f"/portal/visits/{corrected}").get_data(as_text=True)
    assert page_problems(html) == []
    words = text_of(html)
    assert ("Added after the visit Your practitioner added these after signing. The note above "
            "stays as it was signed. Pat Physio") in words
    first = words.index("Correction: the leg raise was measured on the left")
    assert first < words.index("Phoned: symptoms eased overnight.")
    assert words.index("Next steps") < first  # after the note, which reads as signed
    other = text_of(patient_web.get(f"/portal/visits/{found.note_ids[0]}").get_data(as_text=True))
    assert "Added after the visit" not in other
    for url in ("/portal/visits", "/"):  # the visit list, and the home page's recent visits
        listed = patient_web.get(url).get_data(as_text=True)
        updated = re.findall(r'href="/portal/visits/(\d+)"><span class="visit-date">[^<]*'
                             r'<span class="badge[^"]*"[^>]*>Updated</span>', listed)
        assert updated == [str(corrected)], url


def test_assessment_shown_where_the_clinic_enables_it(app, patient_web, found, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SHOWS_ASSESSMENT", True)
    words = text_of(patient_web.get(f"/portal/visits/{found.note_ids[0]}").get_data(as_text=True))
    assert "Your practitioner's assessment Irritable L5 radiculopathy; centralising." in words


def test_draft_visit_is_not_found(app, practitioner, patient_web, found, audit_log):
    draft = draft_note(app, practitioner, found)
    audit_log.mark()
    assert patient_web.get(f"/portal/visits/{draft}").status_code == 404
    assert [(r["kind"], r["outcome"], r["object_id"]) for r in audit_log.new()] == [
        ("visit", "denied", draft)]


def test_plan_page(patient_web, found):
    response = patient_web.get(f"/portal/plans/{found.plan_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and page_problems(html) == []
    assert "Pain at most 2 out of 10 — you are at 4, down from 8 at the start." in text_of(html)


# --------------------------------------------------------------------------- pain diary

def test_diary_records_an_entry(app, patient_web, found, audit_log):
    page = patient_web.get("/portal/diary")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html) == []
    assert f'value="{date.today().isoformat()}"' in html  # today is the default day
    audit_log.mark()
    response = patient_web.post("/portal/diary", data={
        "entry_date": date.today().isoformat(), "pain": "3", "note": "Better after walking."})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/diary"
    assert ("diary", "create", found.patient_id) in [
        (r["kind"], r["action"], r["patient_id"]) for r in audit_log.new()]
    html = patient_web.get("/portal/diary").get_data(as_text=True)
    assert f"Saved: pain 3 out of 10 on {date.today():%-d %B}." in html
    assert "Better after walking." in html and "3/10" in html


@pytest.mark.parametrize("data, field, message", [
    ({"note": "No pain chosen"}, "pain", "Choose how much pain you have, from 0 to 10."),
    ({"pain": "11"}, "pain", "Choose a number from 0 to 10."),
    ({"pain": "4.5"}, "pain", "Choose a whole number from 0 to 10."),
    ({"pain": "4", "entry_date": (date.today() + timedelta(1)).isoformat()}, "entry_date",
     "The day cannot be in the future."),
    ({"pain": "4", "entry_date": "2001-01-01"}, "entry_date",
     "The day cannot be before your plan of care started"),
    ({"pain": "4", "entry_date": "yesterday"}, "entry_date", "Enter a date like 2026-03-12."),
    ({"pain": "4", "note": "x" * 1001}, "note", "Keep the note to 1000 characters."),
])
def test_diary_errors_beside_fields_with_typed_values_kept(patient_web, data, field, message):
    body = {"entry_date": date.today().isoformat(), "note": "", **data}
    response = patient_web.post("/portal/diary", data=body)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert_diary_error(html, field, message)
    if field == "entry_date":
        assert f'value="{body["entry_date"]}"' in html
    if body["note"] and field != "note":
        assert body["note"] in html
    if "pain" in data and data["pain"] == "4":
        assert 'value="4" checked' in html


def test_practitioner_sees_patient_reported_pain(app, web, patient_web, found, audit_log):  # noqa: F811
    account = found.account
    diary_entry(app, account, found, days_ago=0, pain=3, note="Sat through a film.")
    diary_entry(app, account, found, days_ago=1, pain=5)
    audit_log.mark()
    html = web.get(f"/patients/{found.patient_id}").get_data(as_text=True)
    assert page_problems(html) == []
    panel = html[html.index('id="reported-title"'):]
    panel = panel[:panel.index("</section>")]
    words = text_of("<main>" + panel + "</main>")
    assert "Patient-reported pain" in words and "not an in-clinic measure" in words
    assert "Last 7 days: average 4/10 from 2 entries" in words
    assert "Sat through a film." in words
    assert ("diary", "list", found.patient_id) in [
        (r["kind"], r["action"], r["patient_id"]) for r in audit_log.new()]


# --------------------------------------------------------------------------- invitations

def invite(client, patient_id: int) -> tuple[str, object]:
    response = client.post(f"/portal/patients/{patient_id}/invitation")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    return LINK.search(html).group(1), response


def test_practitioner_invites_from_the_patient_page(web, found):  # noqa: F811
    html = web.get(f"/patients/{found.patient_id}").get_data(as_text=True)
    assert f'href="/portal/patients/{found.patient_id}/invitation">Invite to the portal' in html
    page = web.get(f"/portal/patients/{found.patient_id}/invitation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html) == []
    assert "Create invitation link" in html and "expires after 7 days" in html
    path, response = invite(web, found.patient_id)
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert 'data-copy-target="invite-link"' in html and "Copy link" in html
    assert "Expires" in html
    again = web.get(f"/portal/patients/{found.patient_id}/invitation").get_data(as_text=True)
    assert "is still open until" in again and path not in again  # never shown twice


def test_invitation_page_for_a_patient_with_an_account(app, web, found):  # noqa: F811
    portal_account(app, found, "ana@portal.example")
    html = web.get(f"/portal/patients/{found.patient_id}/invitation").get_data(as_text=True)
    assert "They sign in with <strong>ana@portal.example</strong>" in html
    assert "Create password-reset link" in html and "Create invitation link" not in html
    response = web.post(f"/portal/patients/{found.patient_id}/invitation",
                        data={"purpose": "reset"})
    assert "Password-reset link for Ana Silva" in response.get_data(as_text=True)
    # an invitation for a second account is refused
    assert web.post(f"/portal/patients/{found.patient_id}/invitation").status_code == 409


def test_only_the_care_team_reaches_the_invitation_page(other_web, director_web, found):  # noqa: F811
    url = f"/portal/patients/{found.patient_id}/invitation"
    assert other_web.get(url).status_code == 404
    assert other_web.post(url).status_code == 404
    assert director_web.get(url).status_code == 403
    assert director_web.post(url).status_code == 403


def test_patient_accepts_the_invitation(app, web, found, audit_log):  # noqa: F811
    path, _ = invite(web, found.patient_id)
    client = app.test_client()
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page_problems(html, signed_in=False) == []
    assert "Welcome, Ana" in html
    assert 'value="ana@home.example"' in html  # the e-mail of the patient record
    assert page.headers["Referrer-Policy"] == "no-referrer"
    audit_log.mark()
    response = client.post(path, data={"email": "ana.silva@example.org",
                                       "password": "my knees are fine",
                                       "password_confirm": "my knees are fine"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Your account is ready." in home and "Hello, Ana" in home
    actions = [(r["kind"], r["action"]) for r in audit_log.new()]
    assert {("invitation", "read"), ("user", "create"), ("invitation", "accept"),
            ("auth", "login")} <= set(actions)
    # the password works at the sign-in form
    assert signed_in(app, "ana.silva@example.org", "my knees are fine")


@pytest.mark.parametrize("data, field, message", [
    ({"password": "tiny9", "password_confirm": "tiny9"}, "password",
     "Use at least 10 characters (at most 200)."),
    ({"password": "long enough one", "password_confirm": "long enough two"},
     "password_confirm", "The two passwords are not the same."),
    ({"email": "not an address"}, "email", "Enter an e-mail address like name@example.com."),
    ({"email": ""}, "email", "Enter your e-mail address."),
    ({"password": ""}, "password", "Choose a password."),
    ({"email": "pat.pt@example.org"}, "email", "This e-mail address already has an account"),
])
def test_accept_form_errors_beside_fields(app, web, found, data, field, message):  # noqa: F811
    path, _ = invite(web, found.patient_id)
    client = app.test_client()
    body = {"email": "typed@example.org", "password": "secret password 1",
            "password_confirm": "secret password 1", **data}
    response = client.post(path, data=body)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page_problems(html, signed_in=False) == []
    assert re.search(rf'id="{field}-error"><span class="visually-hidden">Error: </span>'
                     rf'{re.escape(message)}', html), html
    assert f'value="{body["email"]}"' in html  # the typed e-mail is kept ...
    assert 'value="secret' not in html and 'value="tiny9' not in html  # ... never a password
    assert client.get(path).status_code == 200  # the link still works


def test_used_link_gives_a_friendly_page(app, web, found):  # noqa: F811
    path, _ = invite(web, found.patient_id)
    client = app.test_client()
    client.post(path, data={"email": "ana.silva@example.org", "password": "my knees are fine",
                            "password_confirm": "my knees are fine"})
    stranger = app.test_client()
    for method in (stranger.get, stranger.post):
        response = method(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 410
        assert "This link has already been used" in html and "Traceback" not in html
        assert page_problems(html, signed_in=False) == []


def test_expired_and_unknown_links(app, web, found):  # noqa: F811
    from notes_service.portal.models import PortalInvitation

    path, _ = invite(web, found.patient_id)
    with app.app_context():
        db.session.execute(sa.update(PortalInvitation).values(
            expires_at=PortalInvitation.created_at))  # it expired the moment it was made
        db.session.commit()
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    assert "Links work for 7 days." in response.get_data(as_text=True)
    unknown = client.get("/portal/join/" + "x" * 43)
    assert unknown.status_code == 404
    assert "This link does not work" in unknown.get_data(as_text=True)
    assert client.get("/portal/join/" + "y" * 5000).status_code == 404


def test_replaced_link(app, web, found):  # noqa: F811
    first, _ = invite(web, found.patient_id)
    invite(web, found.patient_id)
    response = app.test_client().get(first)
    assert response.status_code == 410
    assert "This link has been replaced" in response.get_data(as_text=True)


def test_a_signed_in_browser_is_asked_to_sign_out_first(web, found):  # noqa: F811
    path, _ = invite(web, found.patient_id)
    response = web.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "You are already signed in" in html and page_problems(html) == []
    assert web.post(path, data={"email": "x@example.org", "password": "a" * 12,
                                "password_confirm": "a" * 12}).status_code == 409


def test_password_reset_link(app, web, found):  # noqa: F811
    portal_account(app, found, "ana@portal.example")
    response = web.post(f"/portal/patients/{found.patient_id}/invitation",
                        data={"purpose": "reset"})
    path = LINK.search(response.get_data(as_text=True)).group(1)
    client = app.test_client()
    html = client.get(path).get_data(as_text=True)
    assert "Choose a new password" in html and "ana@portal.example" in html
    assert 'name="email"' not in html
    response = client.post(path, data={"password": "a fresh password",
                                       "password_confirm": "a fresh password"})
    assert response.status_code == 302
    assert "Your new password is set." in client.get("/").get_data(as_text=True)
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": "ana@portal.example",
                                      "password": PASSWORD}).status_code == 422
    signed_in(app, "ana@portal.example", "a fresh password")
