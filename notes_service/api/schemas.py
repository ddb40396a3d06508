"""Schemas shared by every API route."""

from marshmallow import Schema, fields


class ErrorsSchema(Schema):
    """``{"errors": {"<field>": ["message", ...]}}``; 409 answers add the current state."""

    errors = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    current = fields.Dict(metadata={"description": "On 409: the record as it is now."})
    version = fields.Integer(metadata={"description": "On 409: the current version."})
    drafts = fields.List(fields.Integer(), metadata={
        "description": "On 409 of a report: the draft notes to sign first."})
