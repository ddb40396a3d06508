"""Portal operations: invitation links, accepting them, the patient's own plan in plain words,
and the pain diary.

Every read goes through the access scopes (a patient user sees only their own record and only
signed notes), every read and write is audited, and times come in as ``now`` so tests freeze
the clock by passing one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from notes_service.access import get_patient, get_visit, require_clinical_write
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.auth.services import create_user, find_user
from notes_service.catalog import MEASURES
from notes_service.clock import clinic_today
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, DomainError, Forbidden, NotFound, RefusedConflict
from notes_service.extensions import db
from notes_service.patients.models import Patient
from notes_service.plans.models import PlanOfCare
from notes_service.plans.services import list_plans
from notes_service.portal import wording
from notes_service.portal.models import DiaryEntry, PortalInvitation
from notes_service.progress.chart_responses import PAIN_BAND
from notes_service.progress.rules import MeasureProgress
from notes_service.progress.services import plan_progress_for
from notes_service.visits.models import VisitNote
from notes_service.visits.services import NOTE_LOADS
from notes_service.web.queries import next_expected_visit, patient_notes, plan_week

#: Days an invitation link stays valid unless the clinic sets ``PORTAL_INVITE_DAYS``.
DEFAULT_INVITE_DAYS = 7


# --------------------------------------------------------------------------------------
# Invitations
# --------------------------------------------------------------------------------------


class InvitationUnusable(DomainError):
    """An invitation link that cannot be used; ``reason`` says why, for a friendly page.

    Reasons: ``unknown`` (no such link), ``used``, ``expired``, ``revoked`` (a newer link
    replaced it), ``account_exists`` (an account link, but the patient has an account now),
    ``no_account`` (a reset link, but the account is gone or disabled).
    """

    status = 410

    def __init__(self, reason: str, invitation: PortalInvitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation
        self.status = 404 if reason == "unknown" else 410


def token_digest(token: str) -> str:
    """SHA-256 of an invitation token: all the database keeps of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_days() -> int:
    """Days a new link stays valid."""
    return int(current_app.config.get("PORTAL_INVITE_DAYS", DEFAULT_INVITE_DAYS))


def portal_account(patient_id: int) -> User | None:
    """The patient's portal account, if they have one."""
    return db.session.execute(
        select(User).where(User.patient_id == patient_id)).scalar_one_or_none()


@dataclass
class InvitationStatus:
    """What the invitation page shows a practitioner about a patient's portal access."""

    patient: Patient
    account: User | None
    #: The newest invitation still usable, if any (its link cannot be shown again).
    open_invitation: PortalInvitation | None


def invitation_status(actor: User, patient_id: int, *, now: datetime | None = None
                      ) -> InvitationStatus:
    """A patient's portal account and open invitation, for a clinician on the care team."""
    now = now or utcnow()
    patient = get_patient(actor, patient_id)
    require_clinical_write(actor, patient.id)
    newest = db.session.execute(
        select(PortalInvitation).where(PortalInvitation.patient_id == patient.id,
                                       PortalInvitation.used_at.is_(None),
                                       PortalInvitation.revoked_at.is_(None),
                                       PortalInvitation.expires_at > now)
        .options(joinedload(PortalInvitation.invited_by))
        .order_by(PortalInvitation.created_at.desc(), PortalInvitation.id.desc()).limit(1)
    ).scalar_one_or_none()
    record(actor, "read", "invitation", patient_id=patient.id)
    return InvitationStatus(patient, portal_account(patient.id), newest)


def create_invitation(actor: User, patient_id: int, *, reset: bool = False,
                      now: datetime | None = None) -> tuple[PortalInvitation, str]:
    """Create a one-time link for the patient; return it and its token (shown once).

    Only a clinician on the care team may invite. Earlier open links of the patient are
    revoked, so only the newest one works. A patient who already has an account gets a link
    that sets a new password on it, and only when ``reset`` asks for that (409 otherwise).
    """
    now = now or utcnow()
    patient = get_patient(actor, patient_id)
    require_clinical_write(actor, patient.id)
    account = portal_account(patient.id)
    if account is not None and not reset:
        raise Conflict(f"{patient.full_name} already has a portal account ({account.email}). "
                       "Create a password-reset link instead.", account=account.email)
    if account is None and reset:
        raise Conflict(f"{patient.full_name} has no portal account yet: create an invitation "
                       "instead.")
    if account is not None and not account.active:
        raise Conflict(f"{patient.full_name}'s portal account is disabled; a director can "
                       "enable it again.")
    revoked = db.session.execute(
        update(PortalInvitation).where(PortalInvitation.patient_id == patient.id,
                                       PortalInvitation.used_at.is_(None),
                                       PortalInvitation.revoked_at.is_(None))
        .values(revoked_at=now)).rowcount
    token = secrets.token_urlsafe(32)
    invitation = PortalInvitation(
        patient_id=patient.id, invited_by_id=actor.id, token_hash=token_digest(token),
        purpose="reset" if reset else "account", created_at=now,
        expires_at=now + timedelta(days=invite_days()))
    db.session.add(invitation)
    db.session.flush()
    record(actor, "create", "invitation", patient_id=patient.id, object_id=invitation.id,
           detail=f"{invitation.purpose} link, expires {invitation.expires_at:%Y-%m-%d %H:%M} "
                  f"UTC; {revoked} earlier link(s) revoked")
    return invitation, token


def open_invitation(token: str, *, now: datetime | None = None) -> PortalInvitation:
    """The usable invitation of ``token``, with its patient, or :class:`InvitationUnusable`.

    Anyone holding the link may open it, so every opening is audited (a refused one as
    ``denied``).
    """
    now = now or utcnow()
    invitation = db.session.execute(
        select(PortalInvitation).where(PortalInvitation.token_hash == token_digest(token))
        .options(joinedload(PortalInvitation.patient), joinedload(PortalInvitation.invited_by))
        .execution_options(populate_existing=True)).scalar_one_or_none()
    reason = "unknown" if invitation is None else invitation.state(now)
    if reason == "open":
        account = portal_account(invitation.patient_id)
        if invitation.purpose == "account" and account is not None:
            reason = "account_exists"
        elif invitation.purpose == "reset" and (account is None or not account.active):
            reason = "no_account"
    patient_id = invitation.patient_id if invitation is not None else None
    object_id = invitation.id if invitation is not None else None
    if reason != "open":
        record(None, "read", "invitation", patient_id=patient_id, object_id=object_id,
               outcome="denied", detail=f"link {reason}")
        raise InvitationUnusable(reason, invitation)
    record(None, "read", "invitation", patient_id=patient_id, object_id=object_id)
    return invitation


def accept_invitation(invitation: PortalInvitation, data: dict, *,
                      now: datetime | None = None) -> User:
    """Use an invitation opened with :func:`open_invitation`: create the patient's account
    (or set its new password).

    ``data`` is loaded :class:`~notes_service.portal.schemas.AcceptInvitationSchema` input.
    The link is marked used by one conditional UPDATE (still unused, not revoked, not
    expired at ``now``), so two submissions racing each other cannot both succeed.
    """
    now = now or utcnow()
    patient = invitation.patient
    if invitation.purpose == "account" and find_user(data["email"]) is not None:
        raise ValidationError({"email": ["This e-mail address already has an account here: "
                                         "use another one, or sign in with it."]})
    claimed = db.session.execute(
        update(PortalInvitation).where(PortalInvitation.id == invitation.id,
                                       PortalInvitation.used_at.is_(None),
                                       PortalInvitation.revoked_at.is_(None),
                                       PortalInvitation.expires_at > now)
        .values(used_at=now)).rowcount
    if claimed != 1:  # used, replaced or expired since it was opened: nothing is written
        db.session.refresh(invitation)
        reason = invitation.state(now)
        reason = "used" if reason == "open" else reason
        record(None, "write", "invitation", patient_id=patient.id, object_id=invitation.id,
               outcome="denied", detail=f"link {reason} when the form was sent")
        raise InvitationUnusable(reason, invitation)
    if invitation.purpose == "account":
        user = create_user({"email": data["email"], "name": patient.full_name,
                            "role": "patient", "patient_id": patient.id,
                            "password": data["password"]})
        action = "create"
    else:
        from notes_service.auth.services import revoke_tokens
        from notes_service.security.sessions import end_all_sessions

        user = portal_account(patient.id)
        user.set_password(data["password"])
        # as for a password change: whoever held the old password is signed out everywhere
        end_all_sessions(user.id, "password_reset")
        revoke_tokens(user)
        action = "update"
    db.session.execute(update(PortalInvitation).where(PortalInvitation.id == invitation.id)
                       .values(user_id=user.id))
    record(user, action, "user", patient_id=patient.id, object_id=user.id,
           detail="portal account" if action == "create" else "portal password reset")
    record(user, "accept", "invitation", patient_id=patient.id, object_id=invitation.id)
    return user


# --------------------------------------------------------------------------------------
# The patient's plan in plain words
# --------------------------------------------------------------------------------------


@dataclass
class GoalView:
    """One goal as the patient reads it."""

    sentence: str
    met: bool
    #: How far from the start value to the goal the latest value is, 0–100 (None: unknown).
    percent: int | None


@dataclass
class ChartView:
    """One measure's chart, its text alternative and its numbers."""

    measure: str
    side: str | None
    title: str
    scale: str | None
    alt: str
    status: str
    #: (date, before treatment, after treatment) per visit, oldest first.
    rows: list[tuple[date, float | None, float | None]]
    is_goal: bool

    @property
    def catalog(self):
        return MEASURES[self.measure]


@dataclass
class PlanView:
    """A plan of care written for the patient."""

    plan: PlanOfCare
    condition: str
    week: int | None
    visits_done: int
    last_visit: date | None
    next_visit: date | None
    goals: list[GoalView]
    charts: list[ChartView]
    encouragement: wording.Encouragement
    treatments: list[str]
    #: The "plan" section of the latest signed note: what comes next.
    next_steps: str
    next_steps_date: date | None


def _percent(mp: MeasureProgress) -> int | None:
    if mp.goal_target is None or mp.baseline is None or mp.latest is None:
        return None
    if mp.catalog.meets(mp.latest, mp.goal_target):
        return 100
    span = mp.catalog.improvement(mp.baseline, mp.goal_target)
    if span <= 0:
        return 0
    done = mp.catalog.improvement(mp.baseline, mp.latest) / span
    return max(0, min(100, round(done * 10) * 10))


def _goal_view(mp: MeasureProgress) -> GoalView:
    once = mp.baseline_date is not None and mp.baseline_date == mp.latest_date
    return GoalView(
        wording.goal_sentence(mp.measure, mp.side, mp.goal_target, mp.baseline, mp.latest,
                              measured_once=once),
        bool(mp.goal_met), _percent(mp))


def _chart_view(mp: MeasureProgress) -> ChartView:
    from notes_service.progress.charts import chart_alt_text

    return ChartView(
        mp.measure, mp.side, wording.plain_name(mp.measure, mp.side),
        wording.scale_hint(mp.measure), chart_alt_text(mp, patient_friendly=True), mp.status,
        [(p.day, p.pre, p.post) for p in mp.points], mp.goal_target is not None)


def plan_view(actor: User, plan: PlanOfCare, notes: list[VisitNote]) -> PlanView:
    """The patient's view of one plan (goals loaded): progress from signed notes only.

    ``notes`` are the notes the actor may see (for a patient: signed ones), newest first.
    """
    _, progress = plan_progress_for(actor, plan.id)
    plan_notes = [n for n in notes if n.plan_id == plan.id]
    last = plan_notes[0].visit_date if plan_notes else None
    goal_measures = [mp for mp in progress.measures if mp.goal_target is not None]
    goal_keys = [(mp.measure, mp.side) for mp in goal_measures]
    keys = {(mp.measure, mp.side) for mp in progress.measures}
    # Worst/least pain are drawn as the band of the pain chart, not as charts of their own.
    banded = ("pain", None) in keys and all((code, None) in keys for code in PAIN_BAND)
    charted = goal_measures + [
        mp for mp in progress.measures
        if mp.goal_target is None and (mp.measure == "pain" or mp.series)
        and not (banded and mp.measure in PAIN_BAND)]
    with_steps = next((n for n in plan_notes if n.plan_text.strip()), None)
    return PlanView(
        plan=plan,
        condition=wording.condition_words(plan.diagnosis_code, plan.diagnosis_text, plan.side),
        week=plan_week(plan) if plan.status in ("active", "on_hold") else None,
        visits_done=len(plan_notes), last_visit=last,
        next_visit=next_expected_visit(plan, last),
        goals=[_goal_view(mp) for mp in goal_measures],
        charts=[_chart_view(mp) for mp in charted],
        encouragement=wording.encouragement(progress.measures, goal_keys,
                                            plan.practitioner.name),
        treatments=[wording.intervention_words(code)
                    for code in plan.planned_interventions or []],
        next_steps=with_steps.plan_text.strip() if with_steps else "",
        next_steps_date=with_steps.visit_date if with_steps else None,
    )


@dataclass
class PortalHome:
    """Everything the patient's home page shows."""

    patient: Patient
    current: PlanView | None
    #: The patient's other plans (finished or cancelled), newest first.
    other_plans: list[PlanOfCare]
    #: The latest signed note with a home programme.
    home_note: VisitNote | None
    #: Earlier home programmes (signed), newest first.
    earlier_home_notes: list[VisitNote]
    notes: list[VisitNote]
    diary: list[DiaryEntry] = field(default_factory=list)


def current_plan(plans: list[PlanOfCare]) -> PlanOfCare | None:
    """The plan the patient is in: active, else on hold, else the newest."""
    for status in ("active", "on_hold"):
        found = [p for p in plans if p.status == status]
        if found:
            return max(found, key=lambda p: p.start_date)
    return max(plans, key=lambda p: p.start_date) if plans else None


def portal_home(actor: User) -> PortalHome:
    """The patient's home page: their current plan, goals, progress and home programme."""
    patient = get_patient(actor, actor.patient_id)
    record(actor, "read", "patient", patient_id=patient.id, object_id=patient.id)
    plans = list_plans(actor, patient.id)
    notes = patient_notes(actor, patient.id, signed_only=True)
    plan = current_plan(plans)
    with_home, seen = [], set()
    for note in notes:  # newest first; an unchanged programme repeats note after note
        text = note.home_programme.strip()
        if text and text not in seen:
            seen.add(text)
            with_home.append(note)
    return PortalHome(
        patient=patient, current=plan_view(actor, plan, notes) if plan else None,
        other_plans=[p for p in plans if p is not plan],
        home_note=with_home[0] if with_home else None, earlier_home_notes=with_home[1:4],
        notes=notes, diary=list_diary(actor, patient.id, limit=5))


def portal_plan(actor: User, plan_id: int) -> tuple[PlanView, list[VisitNote]]:
    """One of the patient's plans (404 for anyone else's), with its signed notes."""
    from notes_service.access import get_plan
    from notes_service.plans.services import PLAN_LOADS

    plan = get_plan(actor, plan_id, *PLAN_LOADS)
    record(actor, "read", "plan", patient_id=plan.patient_id, object_id=plan.id)
    notes = [n for n in patient_notes(actor, plan.patient_id, signed_only=True)
             if n.plan_id == plan.id]
    return plan_view(actor, plan, notes), notes


@dataclass
class VisitView:
    """A signed note as the patient reads it."""

    note: VisitNote
    #: (plain name, catalog entry, before treatment, after treatment), in catalog order.
    measures: list[tuple]
    treatments: list[str]


def portal_visit(actor: User, visit_id: int) -> VisitView:
    """One signed note of the patient's own (404 for drafts and anyone else's), audited."""
    note = get_visit(actor, visit_id, *NOTE_LOADS)
    record(actor, "read", "visit", patient_id=note.patient_id, object_id=note.id)
    values: dict[tuple, dict] = {}
    for m in note.measurements:
        values.setdefault((m.measure, m.side), {})[m.phase] = m.value
    order = list(MEASURES)
    keys = sorted(values, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1] or ""))
    return VisitView(
        note,
        [(wording.plain_name(code, side), MEASURES[code], values[(code, side)].get("pre"),
          values[(code, side)].get("post")) for code, side in keys if code in MEASURES],
        [wording.intervention_words(code) for code in note.interventions or []])




# --------------------------------------------------------------------------------------
# Pain diary
# --------------------------------------------------------------------------------------


def diary_start(patient_id: int) -> date | None:
    """The first day a patient's diary may cover: the start of their first plan of care."""
    return db.session.execute(
        select(func.min(PlanOfCare.start_date)).where(PlanOfCare.patient_id == patient_id)
    ).scalar()


def _writable_diary(actor: User, patient_id: int) -> tuple[Patient, date | None]:
    patient = get_patient(actor, patient_id)
    if actor.role != "patient":
        raise Forbidden("Only the patient records their pain diary; clinicians read it.",
                        kind="diary", patient_id=patient.id)
    return patient, diary_start(patient.id)


def _check_diary_day(start: date | None, day: date) -> None:
    """The schema's rule on the day, enforced here too (the schema was given the start)."""
    if start is None or day < start or day > clinic_today():
        raise ValidationError({"entry_date": ["The day must be between the start of your plan "
                                              "of care and today."]})


def diary_open_for_writing(actor: User, patient_id: int) -> date | None:
    """Check the actor may write this diary; return its first day (:func:`diary_start`).

    Only the patient writes their diary: clinicians read it (403), and any other patient's
    id is a 404. Called before a body is read, so a refused write never validates it.
    """
    return _writable_diary(actor, patient_id)[1]


def record_diary_entry(actor: User, patient_id: int, data: dict) -> DiaryEntry:
    """Add a patient's own pain-diary entry (``data`` loaded with the diary's start)."""
    patient, start = _writable_diary(actor, patient_id)
    _check_diary_day(start, data["entry_date"])
    entry = DiaryEntry(patient_id=patient.id, entry_date=data["entry_date"], pain=data["pain"],
                       note=(data.get("note") or "").strip(), author=actor)
    db.session.add(entry)
    db.session.flush()
    record(actor, "create", "diary", patient_id=patient.id, object_id=entry.id,
           detail=f"pain {entry.pain}/10 on {entry.entry_date.isoformat()}")
    return entry


def list_diary(actor: User, patient_id: int, *, limit: int | None = None) -> list[DiaryEntry]:
    """A patient's diary, newest day first (the patient and their care team), audited.

    Withdrawn entries are left out: they stay in the table only for the audit trail.
    """
    patient = get_patient(actor, patient_id)
    stmt = (select(DiaryEntry).where(DiaryEntry.patient_id == patient.id,
                                     DiaryEntry.withdrawn_at.is_(None))
            .options(joinedload(DiaryEntry.author))
            .order_by(DiaryEntry.entry_date.desc(), DiaryEntry.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    entries = list(db.session.execute(stmt).scalars())
    record(actor, "list", "diary", patient_id=patient.id,
           detail=f"{len(entries)} entries of patient {patient.id}")
    return entries


# --------------------------------------------------------------------------------------
# Correcting or withdrawing a diary entry
# --------------------------------------------------------------------------------------


class DiaryEntryLocked(RefusedConflict):
    """The entry's author asked to change it after the change window: it is locked, because
    the practitioner may have read it and acted on it (409)."""


def diary_change_hours() -> int:
    """Hours after writing an entry during which its author may change or withdraw it."""
    return int(current_app.config["PORTAL_DIARY_CHANGE_HOURS"])


def _locks_at(entry: DiaryEntry) -> datetime:
    """When the entry's change window ends."""
    return entry.created_at + timedelta(hours=diary_change_hours())


def changeable_diary_entries(actor: User, entries: list[DiaryEntry], *,
                             now: datetime | None = None) -> set[int]:
    """The ids of ``entries`` (as :func:`list_diary` lists them: none withdrawn) that the
    actor wrote and may still change."""
    now = now or utcnow()
    return {entry.id for entry in entries
            if entry.author_id == actor.id and _locks_at(entry) > now}


def _diary_entry_not_found(entry_id: int, patient_id: int | None = None) -> NotFound:
    """The :class:`NotFound` of an entry the actor may not see, or that was withdrawn, naming
    its patient for the audit row (read when not given; None for no such entry)."""
    if patient_id is None:
        patient_id = db.session.execute(
            select(DiaryEntry.patient_id).where(DiaryEntry.id == entry_id)).scalar()
    error = NotFound("diary", entry_id, patient_id=patient_id)
    error.message = "Diary entry not found."
    return error


def _check_open_for_change(actor: User, entry: DiaryEntry, now: datetime) -> None:
    if entry.withdrawn_at is not None:
        raise _diary_entry_not_found(entry.id, entry.patient_id)
    if actor.role != "patient" or entry.author_id != actor.id:
        raise Forbidden("Only the patient who wrote a diary entry may change or withdraw it; "
                        "clinicians read the diary.", kind="diary",
                        patient_id=entry.patient_id, object_id=entry.id)
    hours = diary_change_hours()
    until = _locks_at(entry)
    if now >= until:
        raise DiaryEntryLocked(
            f"This entry can no longer be changed: entries are locked {hours} hours after "
            "they are written, because your practitioner may have acted on them. Add a new "
            "entry instead, or tell your practitioner at your next visit.", kind="diary",
            patient_id=entry.patient_id, object_id=entry.id,
            detail=f"locked since {until:%Y-%m-%d %H:%M} UTC")


def diary_entry_for_change(actor: User, patient_id: int, entry_id: int, *,
                           now: datetime | None = None) -> DiaryEntry:
    """Load an entry of the patient's diary that the actor may change or withdraw.

    Another patient's entry, an unknown or a withdrawn one is a 404 (audited as denied);
    clinicians see the entry but never change it (403). The author after the change window
    gets :class:`DiaryEntryLocked`, which the error handler (or a page that catches it, through
    its ``record``) audits as denied. Called before a body is read, so a refused change never
    validates it.
    """
    now = now or utcnow()
    patient = get_patient(actor, patient_id)
    entry = db.session.execute(
        select(DiaryEntry).where(DiaryEntry.id == entry_id, DiaryEntry.patient_id == patient.id)
        .options(joinedload(DiaryEntry.author))).scalar_one_or_none()
    if entry is None:
        raise _diary_entry_not_found(entry_id)
    _check_open_for_change(actor, entry, now)
    return entry


def _write_open_entry(actor: User, entry: DiaryEntry, now: datetime, **values) -> None:
    """Write ``values`` to the entry by one conditional UPDATE (not withdrawn, still inside
    the window at ``now``), so a change racing a withdrawal in another tab, or the end of the
    window, is refused as it would have been a moment later."""
    cutoff = now - timedelta(hours=diary_change_hours())
    written = db.session.execute(
        update(DiaryEntry).where(DiaryEntry.id == entry.id, DiaryEntry.withdrawn_at.is_(None),
                                 DiaryEntry.created_at > cutoff)
        .values(**values)).rowcount
    if written != 1:
        db.session.refresh(entry)
        _check_open_for_change(actor, entry, now)
        raise Conflict("The entry changed meanwhile: reload the diary and try again.")


def change_diary_entry(actor: User, entry: DiaryEntry, data: dict, *,
                       now: datetime | None = None) -> DiaryEntry:
    """Correct an entry :func:`diary_entry_for_change` returned for this actor.

    ``data`` is :class:`~notes_service.portal.schemas.DiaryEntryInputSchema` input loaded with
    the diary's start, partial: the day, pain and note given replace the entry's, and
    ``updated_at`` records when. Sending what the entry already holds changes nothing (but
    is audited).
    """
    now = now or utcnow()
    if "entry_date" in data:
        _check_diary_day(diary_start(entry.patient_id), data["entry_date"])
    if "note" in data:
        data = {**data, "note": data["note"].strip()}
    changed = {name: data[name] for name in ("entry_date", "pain", "note")
               if name in data and data[name] != getattr(entry, name)}
    detail = []  # what the audit row says changed (the note's words stay out of it)
    if "pain" in changed:
        detail.append(f"pain {entry.pain} → {changed['pain']}/10")
    if "entry_date" in changed:
        detail.append(f"day {entry.entry_date.isoformat()} → "
                      f"{changed['entry_date'].isoformat()}")
    if "note" in changed:
        detail.append("note changed")
    if changed:
        _write_open_entry(actor, entry, now, **changed, updated_at=now)
    record(actor, "update", "diary", patient_id=entry.patient_id, object_id=entry.id,
           detail="; ".join(detail) or "nothing changed")
    return entry


def withdraw_diary_entry(actor: User, entry: DiaryEntry, *,
                         now: datetime | None = None) -> DiaryEntry:
    """Withdraw an entry :func:`diary_entry_for_change` returned for this actor: it leaves
    every list and figure of the diary, and its row stays for the audit trail."""
    now = now or utcnow()
    _write_open_entry(actor, entry, now, withdrawn_at=now)
    record(actor, "withdraw", "diary", patient_id=entry.patient_id, object_id=entry.id,
           detail=f"pain {entry.pain}/10 on {entry.entry_date.isoformat()}")
    return entry
