"""Strict input fields and the catalog checks of the schemas, without an app or a database."""

import math
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

import notes_service.models  # noqa: F401  (every model, so the mappers can be configured)
from notes_service.api import digits_up_to, token_digest
from notes_service.plans.models import PlanOfCare
from notes_service.plans.schemas import check_in_range, check_measure_side
from notes_service.validation import MAX_ID, InputSchema, StrictFloat, StrictInteger, id_field
from notes_service.visits.schemas import (
    AddendumInputSchema,
    MeasurementInputSchema,
    QuestionnaireInputSchema,
    VisitInputSchema,
)


class Numbers(InputSchema):
    real = StrictFloat()
    whole = StrictInteger()
    ref = id_field()


@pytest.mark.parametrize("value", [True, False, "7", None, [], {}, math.nan, math.inf,
                                   -math.inf, 10**400])
def test_strict_float_refuses(value):
    with pytest.raises(ValidationError) as caught:
        Numbers().load({"real": value})
    assert list(caught.value.messages) == ["real"]


@pytest.mark.parametrize("value", [0, 7, -3, 7.25, 1e308])
def test_strict_float_accepts_finite_numbers(value):
    assert Numbers().load({"real": value}) == {"real": value}


@pytest.mark.parametrize("value", [True, "7", 7.0, 7.5, None, math.nan])
def test_strict_integer_refuses(value):
    with pytest.raises(ValidationError):
        Numbers().load({"whole": value})


@pytest.mark.parametrize("value, ok", [(1, True), (MAX_ID, True), (0, False), (-1, False),
                                       (MAX_ID + 1, False), (2**64, False)])
def test_ids_fit_the_integer_columns(value, ok):
    if ok:
        assert Numbers().load({"ref": value}) == {"ref": value}
    else:
        with pytest.raises(ValidationError):
            Numbers().load({"ref": value})


def test_unknown_fields_are_errors():
    with pytest.raises(ValidationError) as caught:
        Numbers().load({"whole": 1, "extra": 2})
    assert caught.value.messages == {"extra": ["Unknown field."]}


@pytest.mark.parametrize("code, side, errors", [
    ("pain", None, {}), ("slr", "left", {}),
    ("grip", None, {"measure": ["Unknown measure code 'grip'."]}),
    ("slr", None, {"side": ['SLR is measured per side: give "left" or "right".']}),
    ("pain", "right", {"side": ["Pain now has no side; leave it out."]}),
])
def test_check_measure_side(code, side, errors):
    found: dict = {}
    check_measure_side(code, side, found)
    assert found == errors


def test_check_in_range_is_inclusive():
    for value, ok in ((0, True), (10, True), (-0.5, False), (10.01, False)):
        found: dict = {}
        check_in_range("pain", value, "value", found)
        assert (found == {}) is ok, value


def test_measurement_schema_defaults_to_pre():
    assert MeasurementInputSchema().load({"measure": "pain", "value": 3}) == {
        "measure": "pain", "phase": "pre", "value": 3}


@pytest.mark.parametrize("questionnaire", [
    {"instrument": "odi", "items": [1] * 8 + [None, None]},
    {"instrument": "lefs", "items": [1] * 19 + [None]},
    {"instrument": "psfs", "activities": []},
])
def test_questionnaire_schema_refuses_unscorable_answers(questionnaire):
    with pytest.raises(ValidationError):
        QuestionnaireInputSchema().load(questionnaire)


def test_addendum_text_must_not_be_blank():
    with pytest.raises(ValidationError):
        AddendumInputSchema().load({"text": " \n\t"})
    assert AddendumInputSchema().load({"text": " ok "}) == {"text": " ok "}


def _plan(start_days_ago, weeks):
    start = date.today() - timedelta(days=start_days_ago)
    return SimpleNamespace(start_date=start, end_date=start + timedelta(days=weeks * 7 - 1))


@pytest.mark.parametrize("days_ago, plan, field_ok", [
    (5, _plan(10, 8), True), (10, _plan(10, 8), True), (11, _plan(10, 8), False),
    (-1, _plan(10, 8), False), (3, _plan(30, 2), False), (17, _plan(30, 2), True),
])
def test_visit_date_inside_the_plan(days_ago, plan, field_ok):
    body = {"visit_date": (date.today() - timedelta(days=days_ago)).isoformat()}
    if field_ok:
        VisitInputSchema(plan=plan).load(body)
    else:
        with pytest.raises(ValidationError) as caught:
            VisitInputSchema(plan=plan).load(body)
        assert list(caught.value.messages) == ["visit_date"]


def test_plan_dates():
    plan = PlanOfCare(start_date=date(2026, 1, 5), weeks=8, visits_per_week=2)
    assert plan.end_date == date(2026, 3, 1)
    assert plan.planned_visits == 16
    assert plan.week_of(date(2026, 1, 11)) == 1 and plan.week_of(date(2026, 1, 12)) == 2


def test_token_digest_is_sha256_hex():
    digest = token_digest("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@settings(database=None, max_examples=300)
@given(limit=st.integers(0, 10**12), number=st.integers(0, 10**13))
def test_digits_up_to_matches_exactly_the_numbers_up_to_the_limit(limit, number):
    pattern = re.compile(digits_up_to(limit) + r"\Z")
    assert bool(pattern.match(str(number))) == (number <= limit)


def test_digits_up_to_the_largest_id():
    pattern = re.compile(digits_up_to(MAX_ID) + r"\Z")
    for number in (0, 1, 9, 10, 999999999, 1000000000, MAX_ID - 1, MAX_ID):
        assert pattern.match(str(number)), number
    for number in (MAX_ID + 1, MAX_ID + 10, 2 * MAX_ID, 10**10, 2**63):
        assert not pattern.match(str(number)), number
