"""A chart's title, status badge and subtitle fit narrow charts (a phone shows them 420 px
wide): the title drops its scale hint, then shrinks, then is cut with an ellipsis, and the
subtitle drops trailing parts; wide charts keep the full wording."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from notes_service.progress.charts import _fit_parts, _fit_title, _text_width, measure_chart
from notes_service.progress.rules import Point, measure_progress

START = date(2026, 3, 2)
PLAN = {"plan_start": START, "plan_end": START + timedelta(days=55)}
SVG = "{http://www.w3.org/2000/svg}"


def texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]


def chart(measure, side, width):
    points = [Point(START + timedelta(days=7 * i), v) for i, v in enumerate((40, 45, 50, 55))]
    if measure == "pain":
        points = [Point(p.day, v) for p, v in zip(points, (8, 7, 6, 4))]
    mp = measure_progress(measure, side, points, 70 if measure == "slr" else 2)
    return measure_chart(mp, fmt="svg", width=width, height=320, patient_friendly=True, **PLAN)


def test_wide_chart_keeps_the_full_patient_title():
    labels = texts(chart("pain", None, 800))
    assert "Pain (0 = no pain, 10 = worst imaginable)" in labels
    assert any(label.endswith("(shaded)") for label in labels)


def test_narrow_chart_drops_the_scale_hint_and_trailing_subtitle_parts():
    labels = texts(chart("pain", None, 420))
    assert "Pain" in labels and "Getting better" in labels
    assert not any("worst imaginable)" in label for label in labels)
    subtitle = next(label for label in labels if label.startswith("8/10 → 4/10"))
    assert "(shaded)" not in subtitle


def test_a_long_title_is_cut_with_an_ellipsis_within_its_room():
    title, size = _fit_title("Leg raise before symptoms start — right side", 180)
    assert title.endswith("…") and size == 11
    assert _text_width(title, size, "bold") <= 180


@pytest.mark.parametrize("room", [60, 150, 400])
def test_subtitle_always_fits(room):
    text = _fit_parts(["8/10 → 4/10 (2 Mar – 23 Mar)", "your goal: 2/10 or less",
                       "treatment plan 2 Mar – 26 Apr 2026 (shaded)"], room, 8.5)
    assert _text_width(text, 8.5) <= room
    assert text[:1].isupper() or text[:1].isdigit()
