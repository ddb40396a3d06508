"""Outcome charts are pure: data in, PNG/SVG bytes out, with alt text that states the data."""

import pytest

from notes_service.outcomes import charts

GROUPS = [("Pat Physio", [6.0, 1.0, -3.0, 3.0, 4.0, 4.0]), ("Quinn Quest", [5.0])]
MONTHS = [("2026-09", 3, 4), ("2026-10", 5, 6)]
VISITS = [(1, 1), (3, 3), (4, 4)]


@pytest.mark.parametrize("draw, kwargs", [
    (charts.change_chart, {"groups": GROUPS, "measure": "pain", "threshold": 2, "min_plans": 5}),
    (charts.mcid_chart, {"months": MONTHS, "measure": "pain", "min_plans": 5}),
    (charts.visits_chart, {"counts": VISITS, "planned_median": 16}),
    (charts.change_chart, {"groups": [], "measure": "slr", "threshold": 10, "min_plans": 5}),
    (charts.mcid_chart, {"months": [], "measure": "odi", "min_plans": 5}),
    (charts.visits_chart, {"counts": [], "planned_median": None}),
])
def test_png_and_svg(draw, kwargs):
    png = draw(**kwargs, fmt="png", width=640, height=320)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (640, 320)
    svg = draw(**kwargs, fmt="svg").decode()
    assert 'role="img"' in svg and "<title>" in svg and "<desc>" in svg


def test_alt_texts_state_the_figures():
    text = charts.change_alt_text(GROUPS, "pain", 2, 5)
    assert "Pat Physio: median 3.5 over 6 plans, 4 reaching the minimal important change" in text
    assert "Quinn Quest: median 5 over 1 plan, fewer than 5 plans, 1 reaching" in text
    assert "minimal important change 2 points" in text
    months = charts.mcid_alt_text(MONTHS, "pain", 5)
    assert "2026-09: 3 of 4 (75%), fewer than 5 plans; 2026-10: 5 of 6 (83%)" in months
    visits = charts.visits_alt_text(VISITS, 16)
    assert visits == ("Visits per plan over 8 plans: from 1 to 4, median 3.5; median planned "
                      "visits 16.")


def test_svg_carries_the_values():
    svg = charts.mcid_chart(MONTHS, measure="pain", min_plans=5, fmt="svg").decode()
    assert "<desc>2026-09: 3/4; 2026-10: 5/6</desc>" in svg
    assert svg.count("3/4") == 2  # the listing and the label over the bar (text stays text)


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        charts.visits_chart(VISITS, planned_median=None, fmt="gif")
