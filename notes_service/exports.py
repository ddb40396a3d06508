"""Writing spreadsheet-safe CSV: shared by every CSV export of the service.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some programs,
a tab or carriage return) as a formula: a name such as ``=HYPERLINK("http://…")`` typed into the
record would become a live link or worse in the clinic's spreadsheet ("CSV injection"). Text
cells that start with one of those characters get a leading single quote, which spreadsheets
show as text and never evaluate.

Numbers are written as numbers and never prefixed: ``-3`` is a change of minus three, not a
formula, and it has to stay usable in sums and charts. Only values that are *text* are escaped,
so a negative number typed as text (``"-3"``) is escaped like any other text.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

__all__ = ["FORMULA_PREFIXES", "csv_safe", "csv_text", "safe_row"]

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Return ``value`` ready for a CSV cell: numbers unchanged, text neutralised.

    ``None`` becomes an empty cell, dates their ISO form; ints, floats and decimals are kept as
    numbers (NaN and infinity, which no spreadsheet reads as numbers, become empty cells);
    every other value is turned into text and prefixed with ``'`` when it starts with one of
    :data:`FORMULA_PREFIXES`.
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python, not a number to a reader
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def safe_row(values: Iterable) -> list:
    """Apply :func:`csv_safe` to every cell of a row."""
    return [csv_safe(v) for v in values]


def csv_text(header: Sequence[str], rows: Iterable[Iterable], *, bom: bool = True) -> str:
    """Write a header and rows as RFC 4180 CSV (CRLF line ends), every cell made safe.

    With ``bom`` the text starts with a byte-order mark, so spreadsheet programs read it as
    UTF-8 ("°", "–") instead of the system's legacy code page; ``csv`` readers opening it with
    ``encoding="utf-8-sig"`` skip the mark.
    """
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow(safe_row(row))
    return buffer.getvalue()
