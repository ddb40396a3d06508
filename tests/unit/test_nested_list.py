"""``NestedList`` loads a list of nested objects at once, and answers exactly as
``List(Nested(...))`` does: the same data for a valid list, the same errors for any other."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields, validate, validates_schema

from notes_service.catalog import MEASURES, QUESTIONNAIRES, SPECIAL_TESTS
from notes_service.validation import InputSchema, NestedList, storable
from notes_service.visits.schemas import (
    MeasurementInputSchema,
    QuestionnaireInputSchema,
    SpecialTestInputSchema,
)

ITEM_SCHEMAS = (MeasurementInputSchema, SpecialTestInputSchema, QuestionnaireInputSchema)


def _pair(item_schema):
    """The same body schema with the list as ``List(Nested(...))`` and as ``NestedList``."""

    class AsList(InputSchema):
        items = fields.List(fields.Nested(item_schema), validate=validate.Length(max=4))

    class AsNestedList(InputSchema):
        items = NestedList(item_schema, validate=validate.Length(max=4))

    return AsList(), AsNestedList()


PAIRS = {schema: _pair(schema) for schema in ITEM_SCHEMAS}


def _answer(schema, body, **kwargs):
    try:
        return "loaded", schema.load(body, **kwargs)
    except ValidationError as error:
        return "refused", error.messages, error.valid_data


#: Any JSON value, mostly near what the item schemas take.
_text = st.sampled_from(["", "left", "right", "pre", "post", "positive", "negative", "x\x00",
                         "\ud800", "Sitting", *MEASURES, *SPECIAL_TESTS, *QUESTIONNAIRES])
_number = st.one_of(st.integers(-5, 200), st.floats(allow_nan=True, allow_infinity=True),
                    st.booleans(), st.none())
_scalar = st.one_of(_text, _number)
_answers = st.lists(st.one_of(st.integers(-1, 6), st.none()), max_size=21)
_activities = st.lists(st.fixed_dictionaries({"activity": _text, "score": _number}),
                       max_size=6)
_keys = st.sampled_from(["measure", "side", "phase", "value", "test", "result", "angle",
                         "instrument", "items", "activities", "other"])
_item = st.one_of(
    st.dictionaries(_keys, st.one_of(_scalar, _answers, _activities), max_size=6), _scalar)
_items = st.one_of(st.lists(_item, max_size=6), _scalar)


@pytest.mark.parametrize("item_schema", ITEM_SCHEMAS, ids=lambda s: s.__name__)
@settings(max_examples=300, deadline=None)
@given(items=_items)
def test_any_list_loads_as_list_of_nested_does(item_schema, items):
    as_list, as_nested_list = PAIRS[item_schema]
    body = {"items": items}
    assert _answer(as_nested_list, body) == _answer(as_list, body)
    assert _answer(as_nested_list, body, partial=("items",)) == _answer(
        as_list, body, partial=("items",))


def test_valid_and_invalid_measurements_load_alike():
    as_list, as_nested_list = PAIRS[MeasurementInputSchema]
    valid = [{"measure": "pain", "value": 6}, {"measure": "slr", "side": "right",
                                               "phase": "post", "value": 48.5}]
    assert _answer(as_nested_list, {"items": valid}) == ("loaded", {"items": [
        {"measure": "pain", "phase": "pre", "value": 6.0},
        {"measure": "slr", "side": "right", "phase": "post", "value": 48.5}]})
    # A field error in one item, a catalog error in another: each item is checked on its own.
    invalid = [{"measure": "pain", "value": "6"}, {"measure": "slr", "value": 40},
               {"measure": "pain", "value": 11}]
    answer = _answer(as_nested_list, {"items": invalid})
    assert answer == _answer(as_list, {"items": invalid})
    assert answer[1] == {"items": {
        0: {"value": ["Not a valid number."]},
        1: {"side": ['SLR is measured per side: give "left" or "right".']},
        2: {"value": ["Pain now must be between 0 and 10 score."]}}}


def test_a_schema_with_collection_hooks_is_refused():
    class Pairs(InputSchema):
        value = fields.Integer()

        @validates_schema(pass_collection=True)
        def _together(self, data, many, **_):
            pass

    with pytest.raises(ValueError, match="whole collection"):
        NestedList(Pairs)


@pytest.mark.parametrize("value, ok", [
    ("", True), ("plain", True), ("Schmerz beim Gehen – besser", True), ("𝄞 ok", True),
    ("nul\x00inside", False), ("é\x00", False), ("lone \ud800", False), ("\udfff", False)])
def test_storable_text(value, ok):
    assert storable(value) is ok
