"""Strict marshmallow fields and shared input rules used by every schema at the boundary.

JSON numbers must be numbers: strings that look like numbers, booleans, NaN and infinity are
refused, so what the client meant is never guessed.
"""

from __future__ import annotations

import math

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from notes_service.catalog import INTERVENTIONS, SIDES


class StrictFloat(fields.Float):
    """A finite number given as a JSON number (not a string, not a boolean)."""

    default_error_messages = {
        "invalid": "Not a valid number.",
        "special": "Must be a finite number.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("special")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(fields.Integer):
    """A whole number given as a JSON number (not a string, not a boolean, no fraction)."""

    default_error_messages = {"invalid": "Not a valid whole number."}

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


#: Largest id a row can have: ids are ``integer`` columns on PostgreSQL. Larger numbers are
#: refused at the edge (a 422 in a body, a 404 in a URL) instead of failing in the database.
MAX_ID = 2**31 - 1


def id_field(**kwargs) -> StrictInteger:
    """The id of another object, named in a body."""
    return StrictInteger(validate=validate.Range(1, MAX_ID, error="Not a valid id."), **kwargs)


def text(max_length: int = 20_000, **kwargs) -> fields.String:
    """A free-text field of bounded length."""
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


def _no_repeats(values: list) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValidationError(f"Listed more than once: {', '.join(repeated)}.")


def intervention_list(**kwargs) -> fields.List:
    """Coded interventions from the catalog, each at most once."""
    return fields.List(fields.String(validate=validate.OneOf(tuple(INTERVENTIONS))),
                       validate=[validate.Length(max=len(INTERVENTIONS)), _no_repeats], **kwargs)


class NestedList(fields.List):
    """``List(Nested(schema))`` that loads a valid list with one ``many`` load of the schema
    instead of one load per item (a third of the cost of a note's twelve measurements).

    A list with any error is loaded again item by item, as ``List`` does, so the errors (and
    which validators ran) are exactly the ``List``'s. The schema must have no hooks that take
    the whole collection (``pass_collection=True``): those would see a list only here.
    """

    def __init__(self, schema: type[Schema], **kwargs):
        if any(many for hooks in schema._hooks.values() for _, many, _ in hooks):
            raise ValueError(f"{schema.__name__} has hooks that take the whole collection.")
        super().__init__(fields.Nested(schema), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            try:
                return self.inner.schema.load(value, many=True, unknown=self.inner.unknown,
                                              partial=kwargs.get("partial"))
            except ValidationError:
                pass  # load it again item by item: the errors as List reports them
        return super()._deserialize(value, attr, data, **kwargs)


def side_field(**kwargs) -> fields.String:
    """``"left"``, ``"right"`` or absent/null."""
    return fields.String(validate=validate.OneOf(SIDES), allow_none=True, **kwargs)


def storable(value: str) -> bool:
    """Whether both databases can store ``value``: no NUL (PostgreSQL refuses it) and no lone
    surrogate (not encodable as UTF-8, which both drivers need)."""
    if "\x00" in value:
        return False
    if value.isascii():  # most text: encodable, no need to try
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class InputSchema(Schema):
    """Base of input schemas: unknown fields are errors (marshmallow's default, made explicit),
    and so is text no database can store (a 422 on both backends, not a 500 on one)."""

    class Meta:
        unknown = "raise"

    @pre_load
    def _storable_text(self, data, **_):
        if not isinstance(data, dict):
            return data
        errors = {key: ["Text may not contain NUL characters or invalid Unicode."]
                  for key, value in data.items() if not _storable_value(value)}
        if errors:
            raise ValidationError(errors)
        return data


def _storable_value(value) -> bool:
    """Whether a body's value, or each text in it when it is a list, is :func:`storable`
    (other values are checked by their own fields and schemas)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return all(storable(item) for item in value if isinstance(item, str))
    return True
