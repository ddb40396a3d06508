"""Portal services against the database: invitation links are single-use, expire (time is
frozen by passing ``now``), are revoked by a newer link and store only a hash; accepting one
creates the patient account or resets its password; the pain diary's rules; every step audited.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from conftest import PASSWORD
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, Forbidden, NotFound
from notes_service.extensions import db
from portal_support import diary_entry, make_patient, portal_account, user_of

ACCEPT = {"email": "ana.silva@example.org", "password": "a long enough password",
          "password_confirm": "a long enough password"}


@pytest.fixture
def found(app, practitioner):
    return make_patient(app, practitioner, email="ana@home.example")


def invite(app, account, found, **kwargs):
    from notes_service.portal.services import create_invitation

    with app.app_context():
        invitation, token = create_invitation(user_of(account), found.patient_id, **kwargs)
        db.session.commit()
        return invitation.id, token


def accept(app, token, data=ACCEPT, now=None):
    from notes_service.portal.services import accept_invitation, open_invitation

    with app.app_context():
        user = accept_invitation(open_invitation(token, now=now), dict(data), now=now)
        db.session.commit()
        return user.id


def reason_of(app, token, now=None) -> str:
    from notes_service.portal.services import InvitationUnusable, open_invitation

    with app.app_context():
        with pytest.raises(InvitationUnusable) as caught:
            open_invitation(token, now=now)
        db.session.commit()
        return caught.value.reason


def invitation_row(app, invitation_id):
    from notes_service.portal.models import PortalInvitation

    with app.app_context():
        return db.session.get(PortalInvitation, invitation_id)


def test_only_the_hash_of_the_token_is_stored(app, practitioner, found):
    invitation_id, token = invite(app, practitioner, found)
    row = invitation_row(app, invitation_id)
    assert len(token) >= 40
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with app.app_context():
        stored = db.session.execute(sa.text("SELECT * FROM portal_invitations")).all()
    assert token not in repr(stored)


def test_link_expires_after_seven_days_by_default(app, practitioner, found):
    invitation_id, token = invite(app, practitioner, found)
    row = invitation_row(app, invitation_id)
    assert row.expires_at - row.created_at == timedelta(days=7)
    assert reason_of(app, token, now=row.created_at + timedelta(days=7)) == "expired"
    # a second before the end it still works
    accept(app, token, now=row.created_at + timedelta(days=7) - timedelta(seconds=1))


def test_expiry_is_configurable(app, practitioner, found, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_INVITE_DAYS", 2)
    invitation_id, token = invite(app, practitioner, found)
    row = invitation_row(app, invitation_id)
    assert row.expires_at - row.created_at == timedelta(days=2)
    assert reason_of(app, token, now=row.created_at + timedelta(days=2, seconds=1)) == "expired"


def test_an_expired_link_cannot_be_accepted_even_when_opened_in_time(app, practitioner, found):
    from notes_service.portal.services import (
        InvitationUnusable,
        accept_invitation,
        open_invitation,
    )

    invitation_id, token = invite(app, practitioner, found)
    row = invitation_row(app, invitation_id)
    with app.app_context():
        opened = open_invitation(token, now=row.created_at + timedelta(days=6))
        with pytest.raises(InvitationUnusable) as caught:  # the form was sent too late
            accept_invitation(opened, dict(ACCEPT), now=row.expires_at + timedelta(minutes=1))
        db.session.rollback()
    assert caught.value.reason == "expired"
    assert invitation_row(app, invitation_id).used_at is None


def test_links_are_single_use(app, practitioner, found, audit_log):
    invitation_id, token = invite(app, practitioner, found)
    user_id = accept(app, token)
    row = invitation_row(app, invitation_id)
    assert row.used_at is not None and row.user_id == user_id
    assert reason_of(app, token) == "used"
    rows = audit_log.new()
    assert ("invitation", "read", "denied") in [(r["kind"], r["action"], r["outcome"])
                                               for r in rows]


def test_two_submissions_of_one_opened_link_only_one_wins(app, practitioner, found):
    from notes_service.portal.services import (
        InvitationUnusable,
        accept_invitation,
        open_invitation,
    )

    _, token = invite(app, practitioner, found)
    with app.app_context():
        first = open_invitation(token)
        second = open_invitation(token)  # both tabs opened the form before either was sent
        accept_invitation(first, dict(ACCEPT))
        with pytest.raises(InvitationUnusable):
            accept_invitation(second, {**ACCEPT, "email": "other@example.org"})
        db.session.commit()
        from notes_service.auth.models import User

        accounts = db.session.execute(
            sa.select(User.email).where(User.patient_id == found.patient_id)).scalars().all()
    assert accounts == [ACCEPT["email"]]


def test_a_new_link_revokes_the_open_ones(app, practitioner, found):
    first_id, first = invite(app, practitioner, found)
    _, second = invite(app, practitioner, found)
    assert invitation_row(app, first_id).revoked_at is not None
    assert reason_of(app, first) == "revoked"
    accept(app, second)


def test_unknown_link(app):
    assert reason_of(app, "not-a-real-token") == "unknown"


def test_accepting_creates_a_patient_account_that_signs_in(app, practitioner, found, audit_log):
    from notes_service.auth.models import User

    _, token = invite(app, practitioner, found)
    audit_log.mark()
    user_id = accept(app, token)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.role, user.patient_id, user.email, user.name) == (
            "patient", found.patient_id, "ana.silva@example.org", "Ana Silva")
        assert user.check_password("a long enough password")
    kinds = [(r["kind"], r["action"]) for r in audit_log.new()]
    assert ("user", "create") in kinds and ("invitation", "accept") in kinds


def test_an_email_already_in_use_is_refused_and_the_link_stays_usable(app, practitioner, found):
    _, token = invite(app, practitioner, found)
    with pytest.raises(ValidationError) as caught:
        accept(app, token, {**ACCEPT, "email": practitioner.email})
    assert "email" in caught.value.messages
    accept(app, token)  # the link was not used up by the refused attempt


def test_patient_with_an_account_gets_a_reset_link_only_when_asked(app, practitioner, found):
    portal_account(app, found, "ana.portal@example.org")
    with pytest.raises(Conflict):
        invite(app, practitioner, found)
    invitation_id, token = invite(app, practitioner, found, reset=True)
    assert invitation_row(app, invitation_id).purpose == "reset"
    user_id = accept(app, token, {"password": "a brand new password",
                                  "password_confirm": "a brand new password"})
    from notes_service.auth.models import ApiToken, User

    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.email == "ana.portal@example.org"
        assert user.check_password("a brand new password")
        assert not user.check_password(PASSWORD)
        # whoever held the old password is signed out: API tokens revoked
        tokens = db.session.execute(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                    ).scalars().all()
        assert tokens and all(t.revoked_at is not None for t in tokens)
    assert reason_of(app, token) == "used"


def test_reset_link_needs_an_account_and_account_link_needs_none(app, practitioner, found):
    with pytest.raises(Conflict):
        invite(app, practitioner, found, reset=True)
    _, token = invite(app, practitioner, found)
    portal_account(app, found, "made.meanwhile@example.org")
    assert reason_of(app, token) == "account_exists"


def test_only_the_care_team_invites(app, practitioner, other_practitioner, director, found):
    with pytest.raises(NotFound):  # not on the care team: the patient is not visible
        invite(app, other_practitioner, found)
    with pytest.raises(Forbidden):  # a director sees the patient but does not treat
        invite(app, director, found)


# --------------------------------------------------------------------------- pain diary

def test_diary_dates_from_plan_start_to_today(app, practitioner, found):
    from notes_service.portal.schemas import DiaryEntryInputSchema

    account = portal_account(app, found, "ana.diary@example.org")
    with app.app_context():
        schema = DiaryEntryInputSchema(earliest=found.start)
        tomorrow = (date.today() + timedelta(days=1)).isoformat()
        before = (found.start - timedelta(days=1)).isoformat()
        for day, message in ((tomorrow, "The day cannot be in the future."),
                             (before, "The day cannot be before your plan of care started")):
            with pytest.raises(ValidationError) as caught:
                schema.load({"entry_date": day, "pain": 3})
            assert caught.value.messages["entry_date"][0].startswith(message)
        assert schema.load({"entry_date": found.start.isoformat(), "pain": 0})["pain"] == 0
    diary_entry(app, account, found, days_ago=0, pain=10)


@pytest.mark.parametrize("body, field", [
    ({"pain": 11}, "pain"), ({"pain": -1}, "pain"), ({"pain": 4.5}, "pain"),
    ({"pain": "4"}, "pain"), ({"pain": True}, "pain"), ({}, "pain"),
    ({"pain": 4, "note": "x" * 1001}, "note"), ({"pain": 4, "mood": "ok"}, "mood"),
])
def test_diary_values(app, body, field):
    from notes_service.portal.schemas import DiaryEntryInputSchema

    with app.app_context():
        with pytest.raises(ValidationError) as caught:
            DiaryEntryInputSchema(earliest=date(2020, 1, 1)).load(
                {"entry_date": date.today().isoformat(), **body})
    assert field in caught.value.messages


def test_only_the_patient_writes_their_diary(app, practitioner, found):
    from notes_service.portal.services import record_diary_entry

    with app.app_context():
        with pytest.raises(Forbidden):
            record_diary_entry(user_of(practitioner), found.patient_id,
                               {"entry_date": date.today(), "pain": 3, "note": ""})


def test_diary_panel_averages_the_last_seven_days(app, practitioner, found):
    from notes_service.web.queries import diary_panel

    account = portal_account(app, found, "ana.summary@example.org")
    for days_ago, pain in ((0, 3), (2, 5), (6, 4), (7, 9)):  # the 9 is 7 days old: left out
        diary_entry(app, account, found, days_ago=days_ago, pain=pain)
    with app.app_context():
        summary = diary_panel(user_of(practitioner), found.patient_id, today=date.today())
    assert (summary.week_average, summary.week_count, summary.total) == (4.0, 3, 4)
    assert [e.pain for e in summary.entries] == [3, 5, 4, 9]


def test_created_at_is_utc(app, practitioner, found):
    invitation_id, _ = invite(app, practitioner, found)
    row = invitation_row(app, invitation_id)
    assert row.created_at.utcoffset() == timedelta(0)
    assert abs(row.created_at - utcnow()) < timedelta(minutes=1)
