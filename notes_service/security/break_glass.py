"""Break-glass access: a practitioner off a patient's care team reads the record after stating
why, for ``BREAK_GLASS_HOURS``.

The grant is read access only: writing still needs a place on the care team (a director or a
team member adds the clinician), so every change to a record stays attributable to someone
the team accepted. Each grant is audited (``break_glass``) with its reason, every read during
the window is flagged in the audit report, and :func:`active_break_glass` lists the open
grants for the director's worklist.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from notes_service.access import on_care_team
from notes_service.audit.services import record
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, Forbidden, NotFound
from notes_service.extensions import db
from notes_service.patients.models import Patient
from notes_service.security.models import BreakGlassGrant


def break_glass(actor, patient_id: int, reason: str) -> BreakGlassGrant:
    """Open a patient's record to a practitioner off the care team, for the configured hours."""
    if actor.role != "practitioner":
        raise Forbidden("Break-glass access is for practitioners; directors already read "
                        "every record.", kind="break_glass", patient_id=patient_id)
    if db.session.get(Patient, patient_id) is None:
        raise NotFound("patient", patient_id, patient_id=patient_id)
    if on_care_team(actor, patient_id):
        raise Conflict("You are on this patient's care team already.")
    now = utcnow()
    grant = BreakGlassGrant(user_id=actor.id, patient_id=patient_id, reason=reason.strip(),
                            granted_at=now,
                            expires_at=now + timedelta(hours=current_app.config[
                                "BREAK_GLASS_HOURS"]))
    db.session.add(grant)
    db.session.flush()
    record(actor, "break_glass", "patient", patient_id=patient_id, object_id=grant.id,
           detail=f"until {grant.expires_at:%Y-%m-%d %H:%M} UTC; reason: {grant.reason}")
    return grant


def active_break_glass(now=None) -> list[BreakGlassGrant]:
    """Open break-glass grants, newest first, with ``user`` and ``patient`` loaded.

    For the director's worklist: who opened which record, why, and until when.
    """
    return list(db.session.execute(
        select(BreakGlassGrant).where(BreakGlassGrant.expires_at > (now or utcnow()))
        .order_by(BreakGlassGrant.granted_at.desc())
        .options(selectinload(BreakGlassGrant.user), selectinload(BreakGlassGrant.patient))
    ).scalars())
