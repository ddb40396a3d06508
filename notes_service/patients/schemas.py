"""Schemas of patients and care teams."""

from marshmallow import ValidationError, fields, validate, validates

from notes_service.auth.schemas import UserSummarySchema
from notes_service.clock import clinic_today
from notes_service.patients.models import SEXES
from notes_service.validation import InputSchema, id_field


def _name(**kwargs):
    return fields.String(validate=validate.Length(min=1, max=80), **kwargs)


class PatientInputSchema(InputSchema):
    """A patient's demographics as entered."""

    given_name = _name(required=True)
    family_name = _name(required=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(validate=validate.OneOf(SEXES), load_default="unknown")
    mrn = fields.String(validate=validate.Length(min=1, max=40), allow_none=True)
    phone = fields.String(validate=validate.Length(max=40), allow_none=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)

    @validates("birth_date")
    def _plausible_birth_date(self, value, **_):
        if value > clinic_today():
            raise ValidationError("The date of birth cannot be in the future.")
        if value.year < 1900:
            raise ValidationError("The date of birth must be after 1900.")


class PatientUpdateSchema(PatientInputSchema):
    """A change of demographics: only the fields given change."""


class PatientSchema(PatientInputSchema):
    """A patient as the API returns it."""

    id = fields.Integer(dump_only=True)
    care_team = fields.List(fields.Nested(UserSummarySchema), dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class PatientListQuerySchema(InputSchema):
    """Query arguments of the patient list."""

    q = fields.String(validate=validate.Length(max=80),
                      metadata={"description": "Part of a name or the MRN."})


class CareTeamMemberSchema(InputSchema):
    """A practitioner to add to a care team."""

    user_id = id_field(required=True)
