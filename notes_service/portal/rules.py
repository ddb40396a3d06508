"""What a patient user may read of their own record, beyond the access scopes."""

from __future__ import annotations

from flask import current_app


def assessment_visible_to(user) -> bool:
    """Whether ``user`` may read the assessment text of the notes they can see.

    Clinicians always may; a patient only where the clinic sets ``PORTAL_SHOWS_ASSESSMENT``
    (the assessment is the clinician's interpretation, written for colleagues and payers).
    """
    if user is None or user.role != "patient":
        return True
    return bool(current_app.config.get("PORTAL_SHOWS_ASSESSMENT"))
