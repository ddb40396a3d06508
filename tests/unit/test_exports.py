"""csv_safe: formula cells neutralised, numbers kept as numbers."""

import csv
import io
import math
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from notes_service.exports import csv_safe, csv_text, safe_row


@pytest.mark.parametrize("text", [
    "=1+1", "+1", "-1", "@SUM(A1:A2)", "\tx", "\rx", '=HYPERLINK("http://x.invalid")',
    "-3", "+44 20 7946 0000", "=cmd|' /C calc'!A0",
])
def test_text_that_starts_a_formula_gets_a_quote(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["Pain now", "3 Mar 2026", "'quoted", " =x", "a=b", "", "°"])
def test_other_text_is_unchanged(text):
    assert csv_safe(text) == text


@pytest.mark.parametrize("number", [-3, -3.5, 0, 0.0, 7, 2.25, Decimal("-1.5"), -(2**40)])
def test_numbers_stay_numbers_even_when_negative(number):
    assert csv_safe(number) == number and type(csv_safe(number)) is type(number)


def test_other_values():
    assert csv_safe(None) == ""
    assert csv_safe(True) == "true" and csv_safe(False) == "false"
    assert csv_safe(date(2026, 3, 2)) == "2026-03-02"
    assert csv_safe(datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)) == \
        "2026-03-02T09:30:00+00:00"
    assert csv_safe(math.nan) == "" and csv_safe(math.inf) == ""
    assert safe_row(["=x", -2, None]) == ["'=x", -2, ""]


def test_csv_text_round_trips_and_negative_numbers_stay_usable():
    text = csv_text(["measure", "change", "note"],
                    [["pain", -3, "-3 is text here"], ["slr", 12.5, "=1+1"],
                     ["odi", -10.0, 'comma, "quote"\nnewline']])
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows == [["measure", "change", "note"],
                    ["pain", "-3", "'-3 is text here"],
                    ["slr", "12.5", "'=1+1"],
                    ["odi", "-10.0", 'comma, "quote"\nnewline']]
    # The numbers a spreadsheet sums: no quote in front of a negative number.
    assert sum(float(row[1]) for row in rows[1:]) == -0.5


def test_header_cells_are_neutralised_too():
    text = csv_text(["=evil"], [], bom=False)
    assert text == "'=evil\r\n"
