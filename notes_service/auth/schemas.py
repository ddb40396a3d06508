"""Schemas of users and tokens."""

from marshmallow import fields, validate

from notes_service.auth.models import ROLES
from notes_service.validation import InputSchema, id_field


class TokenRequestSchema(InputSchema):
    """Credentials exchanged for an API token."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenSchema(InputSchema):
    """A new API token: shown once, only its digest is stored."""

    token = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


class UserSummarySchema(InputSchema):
    """A user as shown beside clinical data."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    credentials = fields.String(dump_only=True, allow_none=True)
    role = fields.String(dump_only=True, validate=validate.OneOf(ROLES))


class UserCreateSchema(InputSchema):
    """Input of ``create-user``."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    credentials = fields.String(validate=validate.Length(max=60), allow_none=True)
    practices = fields.Boolean(load_default=False)
    patient_id = id_field(allow_none=True)
    password = fields.String(required=True, validate=validate.Length(
        min=10, max=200, error="Use at least 10 characters."))
