"""Measure charts reuse the figure an earlier chart of the same layout handed back (a spare):
what one chart drew never reaches the next, a spare holds no renderer, and spares are
bounded. The caller's Matplotlib settings are left as they were."""

from __future__ import annotations

from datetime import date, timedelta

import matplotlib
import pytest

from notes_service.progress import charts
from notes_service.progress.charts import measure_chart, measure_figure, save_figure
from notes_service.progress.rules import GoalSpec, Point, measure_progress

START = date(2026, 3, 2)
PLAN = {"plan_start": START, "plan_end": START + timedelta(days=55)}
LONG_PLAN = {"plan_start": START + timedelta(days=3), "plan_end": START + timedelta(days=86)}
SHORT_PLAN = {"plan_start": START, "plan_end": START + timedelta(days=13)}


def rows(*values) -> list[Point]:
    return [Point(START + timedelta(days=r[0]), r[1], r[2] if len(r) > 2 else None)
            for r in values]


IMPROVING = measure_progress("pain", None, rows((0, 8, 6), (3, 7, 5), (7, 6, 4), (10, 5, 4),
                                                (14, 4, 3), (17, 3, 2)), GoalSpec(2),
                             plan_end=PLAN["plan_end"])
PLATEAU = measure_progress("pain", None, rows((0, 6, 3), (7, 6, 3), (14, 6, 3), (21, 6, 3),
                                              (28, 6, 3), (35, 6, 3)),
                           plan_end=PLAN["plan_end"])
WORST = rows((0, 9), (3, 9), (7, 8), (10, 7), (14, 6), (17, 5))
LEAST = rows((0, 5), (3, 5), (7, 4), (10, 3), (14, 2), (17, 2))
SLR_LEFT = measure_progress("slr", "left", rows((0, 40, 60), (7, 42, 62), (14, 40, 58)),
                            GoalSpec(70), plan_end=PLAN["plan_end"])
SLR_RIGHT = measure_progress("slr", "right", rows((2, 55, 60), (9, 58, 66)), GoalSpec(70),
                             plan_end=PLAN["plan_end"])
ODI = measure_progress("odi", None, rows((0, 48), (14, 44), (28, 42)), GoalSpec(20))
ODI_SHORT = measure_progress("odi", None, rows((0, 48), (7, 46), (13, 45)), GoalSpec(20))
ODI_EMPTY = measure_progress("odi", None, [])

#: (progress, arguments): several charts per layout, so a spare is drawn on by different
#: data, windows, bands, texts and date axes (the short ODI chart marks every week with a
#: labelled tick, the others mark the weeks between their labels with minor ticks; the long
#: ones' weeks start on another day, so their minor ticks would show on the short chart).
CHARTS = [
    (IMPROVING, {"band": (WORST, LEAST), **PLAN}),
    (PLATEAU, {"band": (WORST, LEAST), **PLAN}),
    (PLATEAU, {"band": (WORST, LEAST), "patient_friendly": True, **PLAN}),
    (IMPROVING, {"band": (WORST, LEAST), "patient_friendly": True, **PLAN}),
    (SLR_LEFT, PLAN),
    (SLR_RIGHT, PLAN),
    (SLR_LEFT, {"width": 420, "height": 320, **PLAN}),
    (SLR_RIGHT, {"width": 420, "height": 320, **PLAN}),
    (ODI, {"width": 420, "height": 320, **LONG_PLAN}),
    (ODI_SHORT, {"width": 420, "height": 320, **SHORT_PLAN}),
    (ODI_EMPTY, {"width": 420, "height": 320, **LONG_PLAN}),
]


@pytest.fixture
def no_spares(monkeypatch):
    monkeypatch.setattr(charts, "_SPARES", {})
    monkeypatch.setattr(charts, "_SPARES_KEPT", 0)


@pytest.fixture
def spares(monkeypatch):
    monkeypatch.setattr(charts, "_SPARES", {})
    monkeypatch.setattr(charts, "_BLANKS", {})


def render(entries, fmt):
    return [measure_chart(mp, fmt=fmt, **kwargs) for mp, kwargs in entries]


@pytest.fixture(params=["png", "svg"])
def fresh(request, no_spares):
    """Every chart drawn on a copy unpickled for it."""
    return request.param, render(CHARTS, request.param)


@pytest.mark.parametrize("order", ["forward", "reversed", "each twice"])
def test_a_chart_drawn_on_a_spare_equals_one_drawn_on_a_fresh_copy(fresh, order, monkeypatch):
    fmt, expected = fresh
    monkeypatch.setattr(charts, "_SPARES", {})
    monkeypatch.setattr(charts, "_SPARES_KEPT", 2)
    indices = list(range(len(CHARTS)))
    if order == "reversed":
        indices.reverse()
    elif order == "each twice":
        indices = indices[::2] + indices[1::2] + indices
    for index in indices:
        mp, kwargs = CHARTS[index]
        assert measure_chart(mp, fmt=fmt, **kwargs) == expected[index], CHARTS[index]


def test_charts_of_a_layout_are_drawn_on_the_one_spare(spares):
    measure_chart(IMPROVING, fmt="svg", band=(WORST, LEAST), **PLAN)
    (kept,) = charts._SPARES.values()
    spare = kept[1][0]
    for mp in (PLATEAU, IMPROVING, PLATEAU):
        measure_chart(mp, fmt="svg", band=(WORST, LEAST), **PLAN)
        assert charts._SPARES[next(iter(charts._SPARES))][1] == [spare]
    assert not any(spare.axes[0].get_lines()) and not spare.texts


def test_measure_figure_hands_out_a_figure_no_chart_draws_on_again(spares):
    kwargs = {"fmt": "png", "band": (WORST, LEAST), **PLAN}
    measure_chart(PLATEAU, **kwargs)
    (before,) = [list(figures) for _, figures in charts._SPARES.values()]
    figure = measure_figure(IMPROVING, **kwargs)  # a fresh copy: the spare stays for charts
    assert [list(figures) for _, figures in charts._SPARES.values()] == [before]
    assert figure not in before
    measure_chart(PLATEAU, **kwargs)
    assert all(figure not in figures for _, figures in charts._SPARES.values())
    assert save_figure(figure, "png") == measure_chart(IMPROVING, **kwargs)


def test_a_spare_holds_no_renderer(spares):
    measure_chart(IMPROVING, fmt="png", width=1600, height=1200, **PLAN)
    (kept,) = charts._SPARES.values()
    texts = charts._texts(kept[1][0])
    assert texts and all(text._renderer is None for text in texts)


def test_spares_are_bounded(spares, monkeypatch):
    monkeypatch.setattr(charts, "_SPARE_LAYOUTS", 3)
    for width in range(300, 360, 10):
        measure_chart(ODI, fmt="svg", width=width, **PLAN)
    assert [key[1] for key in charts._SPARES] == [330, 340, 350]  # the latest layouts
    assert all(len(figures) == 1 for _, figures in charts._SPARES.values())
    # A blank dropped from the kept blanks takes its spares with it.
    monkeypatch.setattr(charts, "_BLANKS_KEPT", 1)
    measure_chart(ODI, fmt="svg", width=400, **PLAN)
    assert list(charts._BLANKS) == [key for key in charts._SPARES] == [
        next(key for key in charts._BLANKS if key[1] == 400)]


def test_a_failed_render_keeps_no_spare_and_restores_the_settings(spares, monkeypatch):
    def fail(fig, fmt):
        raise RuntimeError("disk full")

    monkeypatch.setattr(charts, "_savefig", fail)
    before = dict(matplotlib.rcParams)
    with pytest.raises(RuntimeError):
        measure_chart(IMPROVING, fmt="png", **PLAN)
    assert dict(matplotlib.rcParams) == before
    assert not charts._SPARES


def test_charts_leave_the_callers_settings_as_they_were():
    with matplotlib.rc_context({"font.size": 13, "font.family": ["serif"]}):
        before = dict(matplotlib.rcParams)
        measure_chart(IMPROVING, fmt="svg", **PLAN)
        save_figure(measure_figure(SLR_LEFT, fmt="png", **PLAN), "png")
        charts.overview_chart([IMPROVING, SLR_LEFT], fmt="svg", **PLAN)
        assert dict(matplotlib.rcParams) == before


def test_marker_labels_keep_the_marker_attributes_exactly():
    svg = ('<svg>\n <g id="values-pre">\n  <use xlink:href="#m1" x="1" y="2" />\n'
           '  <use xlink:href="#m1" x="3" y="4"/>\n </g>\n</svg>')
    points = IMPROVING.series[:2]
    text, _ = charts._label_markers(svg, 0, IMPROVING, "pre", points, "",
                                    charts._value_texts(IMPROVING.catalog))
    assert '<use xlink:href="#m1" x="1" y="2" data-date="2026-03-02"' in text
    assert '<use xlink:href="#m1" x="3" y="4" data-date="2026-03-05"' in text
