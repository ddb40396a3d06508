"""Schemas of users and tokens."""

from marshmallow import ValidationError, fields, validate, validates_schema

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


class PasswordChangeSchema(InputSchema):
    """A password change: the current password, the new one (and, on the page, it again)."""

    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(required=True, validate=validate.Length(
        min=10, max=200, error="Use at least 10 characters."))
    confirm_password = fields.String(load_only=True, validate=validate.Length(max=200))

    @validates_schema
    def _confirmed(self, data, **_kwargs):
        confirm = data.get("confirm_password")
        if confirm is not None and confirm != data.get("new_password"):
            raise ValidationError("The two new passwords differ.", "confirm_password")


class TokenRevokeSchema(InputSchema):
    """Which tokens to revoke: the one of this request (default) or every token of the user."""

    all = fields.Boolean(load_default=False, truthy={True}, falsy={False})


class RevokedSchema(InputSchema):
    """How many tokens were revoked."""

    revoked = fields.Integer(required=True)


class BreakGlassRequestSchema(InputSchema):
    """The reason a clinician off the care team needs the record now."""

    reason = fields.String(required=True, validate=validate.Length(
        min=10, max=500, error="State the reason in 10 to 500 characters."))


class BreakGlassSchema(InputSchema):
    """A break-glass grant."""

    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    reason = fields.String(dump_only=True)
    granted_at = fields.AwareDateTime(dump_only=True)
    expires_at = fields.AwareDateTime(dump_only=True)
