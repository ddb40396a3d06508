"""Schemas of the portal: accepting an invitation, pain-diary entries, invitation answers."""

from __future__ import annotations

from datetime import date

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from notes_service.auth.schemas import UserSummarySchema
from notes_service.clock import clinic_today
from notes_service.validation import InputSchema, StrictInteger

#: Shortest password a patient may choose (the same rule as for staff accounts).
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
#: Longest diary note.
DIARY_NOTE_LENGTH = 1000
_NOTE_LENGTH = validate.Length(max=DIARY_NOTE_LENGTH,
                               error=f"Keep the note to {DIARY_NOTE_LENGTH} characters.")


class AcceptInvitationSchema(InputSchema):
    """A patient sets up their account (``email`` is excluded when the link resets one)."""

    email = fields.Email(required=True, validate=validate.Length(max=254), error_messages={
        "required": "Enter your e-mail address.",
        "invalid": "Enter an e-mail address like name@example.com."})
    password = fields.String(required=True, validate=validate.Length(
        min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH,
        error=f"Use at least {PASSWORD_MIN_LENGTH} characters (at most {PASSWORD_MAX_LENGTH})."),
        error_messages={"required": "Choose a password."})
    password_confirm = fields.String(required=True, validate=validate.Length(
        max=PASSWORD_MAX_LENGTH), error_messages={"required": "Type the password again."})

    @validates_schema
    def _same_password(self, data, **_):
        password, again = data.get("password"), data.get("password_confirm")
        if password is not None and again is not None and password != again:
            raise ValidationError("The two passwords are not the same.", "password_confirm")


class DiaryEntryInputSchema(InputSchema):
    """A pain-diary entry: the day, pain 0–10 (whole numbers) and an optional note.

    ``earliest`` is the first day the patient's diary may cover (the start of their first
    plan of care); ``None`` means they have no plan yet, so no day is accepted.
    """

    entry_date = fields.Date(required=True, error_messages={
        "required": "Choose the day.", "invalid": "Enter a date like 2026-03-12."})
    pain = StrictInteger(required=True, validate=validate.Range(
        0, 10, error="Choose a number from 0 to 10."), error_messages={
        "required": "Choose how much pain you have, from 0 to 10.",
        "invalid": "Choose a whole number from 0 to 10."})
    note = fields.String(load_default="", validate=_NOTE_LENGTH)

    def __init__(self, *, earliest: date | None = None, **kwargs):
        super().__init__(**kwargs)
        self.earliest = earliest

    @validates("entry_date")
    def _in_range(self, value: date, **_):
        if value > clinic_today():
            raise ValidationError("The day cannot be in the future.")
        if self.earliest is None:
            raise ValidationError("Your diary starts with your plan of care, which has not "
                                  "started yet.")
        if value < self.earliest:
            raise ValidationError(f"The day cannot be before your plan of care started "
                                  f"({self.earliest.isoformat()}).")


class DiaryEntryChangeSchema(DiaryEntryInputSchema):
    """A correction of a pain-diary entry: only the fields given change, by the same rules."""

    note = fields.String(validate=_NOTE_LENGTH)  # no default: a note left out stays as it is


class DiaryEntrySchema(InputSchema):
    """A pain-diary entry as the API returns it; always patient-reported."""

    id = fields.Integer()
    patient_id = fields.Integer()
    entry_date = fields.Date()
    pain = fields.Integer()
    note = fields.String()
    source = fields.Constant("patient_reported", metadata={
        "description": "Diary values are reported by the patient, not measured in the clinic."})
    author = fields.Nested(UserSummarySchema)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the patient last corrected the entry (null: as first written)."})


class InvitationSchema(InputSchema):
    """A new invitation link: the URL holds the token, shown this once."""

    id = fields.Integer()
    patient_id = fields.Integer()
    purpose = fields.String(validate=validate.OneOf(("account", "reset")), metadata={
        "description": "account: creates the portal account; reset: sets a new password."})
    url = fields.String()
    expires_at = fields.AwareDateTime()


class InvitationInputSchema(InputSchema):
    """Creating an invitation link; ``reset`` is needed when the patient has an account."""

    reset = fields.Boolean(load_default=False, truthy={True}, falsy={False})
