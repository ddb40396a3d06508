"""The form helpers of the web pages, without a database: strict number parsing, error mapping
onto fields, the within-visit change, and merging a stale note edit."""

import pytest

from notes_service.catalog import MEASURES
from notes_service.web.forms import FormState, map_errors, number_text, parse_integer, parse_number
from notes_service.web.note_form import (
    GridRow,
    apply_merge,
    merge_units,
    parse_cell,
    within_visit_change,
)


@pytest.mark.parametrize("text, expected", [
    ("7", 7), (" 7 ", 7), ("-3", -3), ("7.5", 7.5), (".5", 0.5), ("7.", 7.0), ("+2", 2),
    ("", None), ("   ", None), (None, None),
    ("nan", "nan"), ("inf", "inf"), ("-Infinity", "-Infinity"), ("1e3", "1e3"),
    ("7,5", "7,5"), ("0x1A", "0x1A"), ("١", "١"), ("1_000", "1_000"), ("½", "½"),
    ("9" * 400, "9" * 400),
])
def test_parse_number_accepts_only_plain_decimals(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("3", 3), ("03", 3), ("", None), ("3.0", "3.0"), ("three", "three"), ("٣", "٣"),
])
def test_parse_integer_accepts_only_plain_whole_numbers(text, expected):
    assert parse_integer(text) == expected


def test_number_text_round_trips_without_needless_decimals():
    assert [number_text(v) for v in (42.0, 7.5, 0.0, None, 53.3)] == ["42", "7.5", "0", "", "53.3"]


def test_errors_go_beside_the_field_by_the_longest_matching_path():
    form = FormState()
    map_errors(form, {"measurements": {1: {"value": ["Out of range."]}, "x": ["?"]},
                      "weeks": ["Too many."], "version": ["Stale."]},
               {"measurements.1": "m-pain-post", "measurements": "grid"}, fields=("weeks",))
    assert form.errors == {"m-pain-post": ["Out of range."], "grid": ["?"],
                           "weeks": ["Too many."], "_form": ["Stale."]}


def test_within_visit_change_is_signed_by_the_better_direction():
    pain = GridRow(MEASURES["pain"], None)
    slr = GridRow(MEASURES["slr"], "right")
    form = FormState.from_mapping({"m-pain-pre": "7", "m-pain-post": "4",
                                   "m-slr-right-pre": "50", "m-slr-right-post": "45"})
    better = within_visit_change(pain, form)
    assert (better.text, better.direction, better.meaningful) == ("−3/10", "better", True)
    worse = within_visit_change(slr, form)
    assert (worse.text, worse.direction, worse.meaningful) == ("−5°", "worse", False)
    assert within_visit_change(pain, FormState.from_mapping({"m-pain-pre": "nan",
                                                             "m-pain-post": "4"})) is None


def test_grid_field_names_parse_back():
    assert parse_cell("m-slr-right-post") == ("slr", "right", "post")
    assert parse_cell("m-pain_worst-pre") == ("pain_worst", None, "pre")
    assert parse_cell("m-unknown-pre") is None and parse_cell("st-0-test") is None


def test_merge_takes_the_stored_part_only_where_chosen():
    rows = [GridRow(MEASURES["pain"], None)]
    mine = FormState.from_mapping({"subjective": "Mine", "objective": "Same",
                                   "m-pain-pre": "8", "st-0-test": "slump", "st-0-side": "left",
                                   "st-0-result": "positive", "version": "1"})
    stored = FormState.from_mapping({"subjective": "Theirs", "objective": "Same",
                                     "m-pain-pre": "5", "version": "2"})
    units = merge_units(mine, stored, rows)
    assert [u.key for u in units] == ["subjective", "m-pain-pre", "special_tests"]
    merged = apply_merge(mine, stored, units, {"subjective": "stored", "m-pain-pre": "mine",
                                               "special_tests": "stored"})
    assert merged.get("subjective") == "Theirs" and merged.get("m-pain-pre") == "8"
    assert merged.get("st-0-test") == "" and merged.get("version") == "2"
