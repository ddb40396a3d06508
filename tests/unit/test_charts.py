"""Progress charts: exact image sizes, SVG that carries its data as text, no pyplot."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest
from matplotlib import dates as mdates
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import MultipleLocator
from PIL import Image

from notes_service.catalog import MEASURES
from notes_service.progress import charts
from notes_service.progress.charts import (
    MEASURE_COLOURS,
    OKABE_ITO,
    chart_alt_text,
    measure_chart,
    measure_figure,
    overview_chart,
    save_figure,
)
from notes_service.progress.rules import GoalSpec, Point, measure_progress

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
START = date(2026, 3, 2)
END = START + timedelta(days=55)
PLAN = {"plan_start": START, "plan_end": END}


def rows(*values) -> list[Point]:
    return [Point(START + timedelta(days=r[0]), r[1], r[2] if len(r) > 2 else None)
            for r in values]


PAIN = measure_progress("pain", None, rows((0, 8, 6), (3, 7, 5), (7, 6, 4), (10, 5, 4),
                                           (14, 4, 3), (17, 3, 2), (21, 3, 2)),
                        GoalSpec(2), plan_end=END)
WORST = rows((0, 9), (3, 9), (7, 8), (10, 7), (14, 6), (17, 5), (21, 5))
LEAST = rows((0, 5), (3, 5), (7, 4), (10, 3), (14, 2), (17, 2), (21, 1))
SLR = measure_progress("slr", "left", rows((0, 40, 60), (3, 42, 62), (7, 40, 58), (10, 41, 60),
                                           (14, 42, 61), (17, 41, 60)), GoalSpec(70),
                       plan_end=END)
ODI = measure_progress("odi", None, rows((0, 48), (14, 44), (28, 42), (42, 41)), GoalSpec(20),
                       plan_end=END)
EMPTY = measure_progress("lumbar_flexion", None, [], plan_end=END)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (signature, then the IHDR chunk)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_root(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


# --- PNG --------------------------------------------------------------------------------


@pytest.mark.parametrize("width, height, dpi", [(800, 400, 100), (733, 411, 96),
                                                (1600, 800, 200), (320, 200, 72)])
def test_png_is_exactly_the_size_asked(width, height, dpi):
    data = measure_chart(PAIN, width=width, height=height, dpi=dpi, **PLAN)
    assert png_size(data) == (width, height)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert (image.format, image.size) == ("PNG", (width, height))


def test_png_draws_the_series_in_the_measure_colour():
    image = Image.open(io.BytesIO(measure_chart(SLR, **PLAN))).convert("RGB")
    colours = {rgb for _, rgb in image.getcolors(maxcolors=1 << 20)}
    assert (0x00, 0x9E, 0x73) in colours  # Okabe–Ito bluish green for SLR


def test_png_band_and_patient_mode_render():
    for kwargs in ({"band": (WORST, LEAST)}, {"patient_friendly": True}):
        assert png_size(measure_chart(PAIN, **PLAN, **kwargs)) == (800, 400)


def test_a_measure_without_values_still_renders():
    root = svg_root(measure_chart(EMPTY, fmt="svg", **PLAN))
    assert "No values recorded yet" in texts(root)
    assert png_size(measure_chart(EMPTY, **PLAN)) == (800, 400)


# --- SVG --------------------------------------------------------------------------------


def test_svg_is_valid_xml_sized_in_pixels():
    root = svg_root(measure_chart(PAIN, fmt="svg", width=640, height=320, **PLAN))
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("640", "320")
    assert root.get("viewBox") == "0 0 460.8 230.4"  # points at 100 dpi: the same aspect
    assert root.get("role") == "img"


def test_svg_keeps_text_as_text():
    root = svg_root(measure_chart(PAIN, fmt="svg", **PLAN))
    labels = texts(root)
    assert "Pain now, 0–10 numeric rating (NPRS)" in labels
    assert {"2 Mar", "16 Mar", "30 Mar", "13 Apr"} <= set(labels)  # fortnightly at 800 px
    assert {"0", "2", "4", "6", "8", "10"} <= set(labels)        # y ticks
    assert "3/10" in labels                                       # the latest value
    assert "Goal ≤ 2/10" in labels
    assert "Improving" in labels
    assert not any(el.get("id", "").startswith("DejaVuSans-") for el in root.iter())


def test_wide_charts_label_every_plan_week():
    labels = texts(svg_root(measure_chart(PAIN, fmt="svg", width=1400, **PLAN)))
    assert {"2 Mar", "9 Mar", "16 Mar", "23 Mar", "30 Mar", "6 Apr"} <= set(labels)


def test_svg_markers_carry_dates_and_values():
    root = svg_root(measure_chart(SLR, fmt="svg", **PLAN))
    pre = [u for u in root.iter(f"{SVG}use") if u.get("data-phase") == "pre"]
    post = [u for u in root.iter(f"{SVG}use") if u.get("data-phase") == "post"]
    assert [(u.get("data-date"), u.get("data-value")) for u in pre] == [
        (p.day.isoformat(), f"{p.pre:g}") for p in SLR.series]
    assert [u.get("data-value") for u in post] == ["60", "62", "58", "60", "61", "60"]
    assert pre[0].find(f"{SVG}title").text == "2 Mar 2026 · before treatment: 40°"
    assert post[1].find(f"{SVG}title").text == "5 Mar 2026 · after treatment: 62°"
    group = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "values-pre")
    assert (group.get("data-measure"), group.get("data-side")) == ("slr", "left")


def test_svg_title_is_the_alt_text_and_desc_lists_every_value():
    root = svg_root(measure_chart(ODI, fmt="svg", **PLAN))
    assert root.find(f"{SVG}title").text == chart_alt_text(ODI)
    assert root.find(f"{SVG}desc").text == (
        "ODI: 2 Mar 2026: 48% before treatment; 16 Mar 2026: 44% before treatment; "
        "30 Mar 2026: 42% before treatment; 13 Apr 2026: 41% before treatment.")


def test_svg_marks_the_plateau_window():
    labels = texts(svg_root(measure_chart(ODI, fmt="svg", **PLAN)))
    assert "Plateau: 3 points better in 28 days (threshold 10 points)" in labels


def test_short_lived_relief_is_called_out():
    # Each line of a multi-line label is its own <text>.
    labels = texts(svg_root(measure_chart(SLR, fmt="svg", **PLAN)))
    assert {"Plateau: 1° worse in 14 days (threshold 10°)",
            "Short-lived relief: median 19° gain within the visit, 5% kept"} <= set(labels)
    patient = texts(svg_root(measure_chart(SLR, fmt="svg", patient_friendly=True, **PLAN)))
    assert {"About the same over the last 14 days",
            "Relief after treatment fades by the next visit"} <= set(patient)
    assert not any("relief" in text for text in texts(svg_root(
        measure_chart(ODI, fmt="svg", **PLAN))))


def test_svg_draws_the_pain_band():
    root = svg_root(measure_chart(PAIN, fmt="svg", band=(WORST, LEAST), **PLAN))
    ids = {el.get("id") for el in root.iter()}
    assert {"band-worst-least", "band-worst", "band-least"} <= ids
    assert "Worst–least pain, last 24 h" in texts(root)


def test_svg_output_is_deterministic():
    assert measure_chart(SLR, fmt="svg", **PLAN) == measure_chart(SLR, fmt="svg", **PLAN)


# --- patient-friendly mode --------------------------------------------------------------


def test_patient_friendly_chart_uses_plain_words_and_the_same_data():
    clinician = svg_root(measure_chart(PAIN, fmt="svg", **PLAN))
    patient = svg_root(measure_chart(PAIN, fmt="svg", patient_friendly=True, **PLAN))
    labels = texts(patient)
    assert "Pain (0 = no pain, 10 = worst imaginable)" in labels
    assert "Getting better" in labels and "Your goal: 2/10 or less" in labels
    jargon = re.compile(r"NPRS|MCID|Pre-treatment|Post-treatment|retest|Improving|threshold|[≤≥]")
    assert not [text for text in labels if jargon.search(text)]

    def values(root):
        return [(u.get("data-date"), u.get("data-phase"), u.get("data-value"))
                for u in root.iter(f"{SVG}use") if u.get("data-phase")]
    assert values(patient) == values(clinician) and len(values(patient)) == 14


# --- alt text ---------------------------------------------------------------------------


def test_alt_text():
    assert chart_alt_text(ODI) == (
        "ODI, 4 visits from 2 Mar to 13 Apr 2026: 48% at the start, 41% at the latest; "
        "goal ≤ 20%; status plateau.")
    assert chart_alt_text(PAIN) == (
        "Pain now, 7 visits from 2 Mar to 23 Mar 2026: 8/10 at the start, 3/10 at the "
        "latest; goal ≤ 2/10; status improving. Retested after treatment on 5 of the last 5 "
        "visits, median change 1 point better within the visit.")
    assert chart_alt_text(PAIN, patient_friendly=True) == (
        "Pain (0 = no pain, 10 = worst imaginable), 7 visits from 2 Mar to 23 Mar 2026: 8/10 "
        "at the start, 3/10 at the latest; goal ≤ 2/10; status getting better.")


def test_alt_text_edge_cases():
    assert chart_alt_text(EMPTY) == "Lumbar flexion: no values recorded yet."
    one = measure_progress("lefs", None, rows((0, 40)))
    assert chart_alt_text(one) == (
        "LEFS, 1 visit on 2 Mar 2026: 40 pts; status insufficient data.")
    across = measure_progress("pain", None, [Point(date(2025, 12, 28), 6),
                                             Point(date(2026, 1, 5), 5)])
    assert "from 28 Dec 2025 to 5 Jan 2026" in chart_alt_text(across)


# --- overview ---------------------------------------------------------------------------


def test_overview_has_one_panel_per_measure():
    measures = [PAIN, ODI, SLR, EMPTY]
    assert png_size(overview_chart(measures, **PLAN)) == (900, 80 + 2 * 200)
    assert png_size(overview_chart(measures, width=1200, height=700, **PLAN)) == (1200, 700)
    root = svg_root(overview_chart(measures, fmt="svg", **PLAN))
    groups = {g.get("id"): g.get("data-measure") for g in root.iter(f"{SVG}g")
              if g.get("id", "").startswith("values-")}
    assert groups == {"values-pre-1": "pain", "values-post-1": "pain",
                      "values-pre-2": "odi", "values-pre-3": "slr", "values-post-3": "slr"}
    labels = texts(root)
    assert {"Pain now", "ODI", "Left SLR", "Lumbar flexion", "No values yet"} <= set(labels)
    assert root.find(f"{SVG}title").text.startswith(chart_alt_text(PAIN))


def test_overview_without_measures():
    root = svg_root(overview_chart([], fmt="svg", **PLAN))
    assert "No measures recorded yet" in texts(root)
    assert png_size(overview_chart([], **PLAN)) == (900, 280)


# --- contracts --------------------------------------------------------------------------


def test_every_measure_has_a_fixed_okabe_ito_colour():
    assert set(MEASURE_COLOURS) == set(MEASURES)
    assert set(MEASURE_COLOURS.values()) <= set(OKABE_ITO.values())


@pytest.mark.parametrize("kwargs", [{"fmt": "jpeg"}, {"width": 0}, {"height": 10**6},
                                    {"dpi": 2.5}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        measure_chart(PAIN, **PLAN, **kwargs)


def test_rendering_never_imports_pyplot():
    script = (
        "import sys\n"
        "from datetime import date\n"
        "from notes_service.progress.charts import measure_chart, measure_figure, overview_chart,"
        " save_figure\n"
        "from notes_service.progress.rules import Point, measure_progress\n"
        "mp = measure_progress('pain', None, [Point(date(2026, 3, d), 8 - d / 4, 5)"
        " for d in (2, 9, 16)])\n"
        "for fmt in ('png', 'svg'):\n"
        "    measure_chart(mp, plan_start=date(2026, 3, 2), plan_end=date(2026, 4, 26), fmt=fmt)\n"
        "    save_figure(measure_figure(mp, plan_start=date(2026, 3, 2),"
        " plan_end=date(2026, 4, 26), fmt=fmt), fmt)\n"
        "    overview_chart([mp], plan_start=date(2026, 3, 2), plan_end=date(2026, 4, 26),"
        " fmt=fmt)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": ""}
    env.pop("MPLBACKEND")
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_no_module_of_the_package_imports_pyplot():
    pattern = re.compile(r"^\s*(from\s+matplotlib\s+import\s+.*\bpyplot\b|"
                         r"import\s+matplotlib\.pyplot|from\s+matplotlib\.pyplot\s+import)",
                         re.MULTILINE)
    offenders = [str(path.relative_to(REPO)) for path in (REPO / "notes_service").rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


# --- the figure, its bare render, and the blank figures it starts from --------------------


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_measure_chart_is_the_bare_render_of_measure_figure(fmt):
    """The benchmark's floor (``save_figure`` of ``measure_figure``) draws the very chart
    ``measure_chart`` serves; only the SVG's accessibility annotations are added."""
    kwargs = {"fmt": fmt, "band": (WORST, LEAST), **PLAN}
    bare = save_figure(measure_figure(PAIN, **kwargs), fmt)
    served = measure_chart(PAIN, **kwargs)
    if fmt == "png":
        assert bare == served
        return
    bare_root, served_root = svg_root(bare), svg_root(served)
    assert bare_root.find(f"{SVG}title") is None and bare_root.get("role") is None
    assert served_root.find(f"{SVG}title").text == chart_alt_text(PAIN)
    assert texts(bare_root) == texts(served_root)
    assert len(list(bare_root.iter(f"{SVG}use"))) == len(list(served_root.iter(f"{SVG}use")))


def _variants():
    one_day = (WORST[-1:], LEAST[-1:])
    return [
        (PAIN, {}), (PAIN, {"band": (WORST, LEAST)}), (PAIN, {"band": one_day}),
        (PAIN, {"patient_friendly": True, "band": (WORST, LEAST)}), (SLR, {}), (ODI, {}),
        (EMPTY, {}), (SLR, {"width": 420, "height": 320}), (ODI, {"width": 1400}),
    ]


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_charts_from_a_kept_blank_equal_charts_from_a_new_one(fmt, monkeypatch):
    """A blank figure is unpickled afresh for every chart: nothing one chart draws reaches
    the next, whatever order they come in."""
    monkeypatch.setattr(charts, "_BLANKS", {})
    fresh = [measure_chart(mp, fmt=fmt, **PLAN, **kw) for mp, kw in _variants()]
    fresh.append(overview_chart([PAIN, ODI, SLR], fmt=fmt, **PLAN))
    assert charts._BLANKS  # kept for the next charts
    again = [measure_chart(mp, fmt=fmt, **PLAN, **kw) for mp, kw in reversed(_variants())]
    again.reverse()
    again.append(overview_chart([PAIN, ODI, SLR], fmt=fmt, **PLAN))
    assert again == fresh
    # A blank made from another chart of the same layout gives the same bytes too.
    monkeypatch.setattr(charts, "_BLANKS", {})
    measure_chart(SLR, fmt=fmt, **PLAN)
    assert measure_chart(SLR, fmt=fmt, **PLAN) == fresh[4]


def test_kept_blanks_are_bounded(monkeypatch):
    monkeypatch.setattr(charts, "_BLANKS", {})
    measure_chart(ODI, width=300, fmt="svg", **PLAN)
    size = len(next(iter(charts._BLANKS.values())))
    monkeypatch.setattr(charts, "_BLANKS_KEPT", int(size * 3.5))
    for width in range(300, 340, 5):
        measure_chart(ODI, width=width, fmt="svg", **PLAN)
    assert len(charts._BLANKS) == 3
    assert [key[1] for key in charts._BLANKS] == [325, 330, 335]  # the newest kept


@pytest.mark.parametrize("mp, kwargs", _variants())
def test_the_legend_names_exactly_the_labelled_artists_in_their_styles(mp, kwargs):
    """The legend is made in the blank from stand-ins: it must list what the chart draws,
    in drawing order, each entry styled as the artist it stands for."""
    figure = measure_figure(mp, **PLAN, **kwargs)
    ax = figure.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    if len(handles) < 2:
        assert legend is None
        return
    assert [t.get_text() for t in legend.get_texts()] == labels
    for drawn, shown in zip(handles, legend.legend_handles):
        if hasattr(drawn, "get_marker"):
            for prop in ("color", "linestyle", "linewidth", "marker", "markersize",
                         "markerfacecolor", "markeredgecolor", "markeredgewidth", "alpha"):
                assert getattr(shown, f"get_{prop}")() == getattr(drawn, f"get_{prop}")(), prop
        else:
            assert tuple(shown.get_facecolor()) == tuple(drawn.get_facecolor()[0])


def test_the_axes_hold_day_numbers_with_dates_as_tick_labels():
    """Artists get Matplotlib day numbers (no unit conversion on every call); the ticks still
    read as dates."""
    ax = measure_figure(PAIN, band=(WORST, LEAST), **PLAN).axes[0]
    assert ax.xaxis.get_converter() is None
    values = next(line for line in ax.get_lines() if line.get_gid() == "values-pre")
    assert list(values.get_xdata()) == [charts._num(p.day) for p in PAIN.series]
    assert charts._num(START) == mdates.date2num(START)
    labels = texts(svg_root(measure_chart(PAIN, fmt="svg", **PLAN)))
    assert {"2 Mar", "16 Mar", "30 Mar", "13 Apr"} <= set(labels)


@pytest.mark.parametrize("days", [300, 400, 800, 1500])
@pytest.mark.parametrize("width, height", [(320, 200), (480, 240), (800, 400)])
def test_long_series_get_date_ticks_at_every_size(days, width, height):
    """A long maintenance plan on a narrow chart: matplotlib finds a tick interval (it warns,
    an error under pytest, when it cannot), at least two dated ticks, and the subtitle's span
    carries the years when they differ."""
    start = date(2025, 1, 6)
    end = start + timedelta(days=days)
    mp = measure_progress("pain", None, [Point(start + timedelta(days=d), 7 - d / 400, None)
                                         for d in range(0, days + 1, 20)], 2.0, plan_end=end)
    labels = texts(svg_root(measure_chart(mp, fmt="svg", width=width, height=height,
                                          plan_start=start, plan_end=end)))
    ticks = [t for t in labels if re.fullmatch(r"\d{4}|[A-Z][a-z]{2}|\d{1,2} [A-Z][a-z]{2}", t)]
    assert len(ticks) >= 2, labels
    last = mp.series[-1].day
    if last.year != start.year:
        assert any(f"6 Jan 2025 – {last.day} {last:%b} {last.year}" in t for t in labels), labels
    overview_chart([mp], plan_start=start, plan_end=end, fmt="svg", width=max(480, width))


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    with charts._chart_rc():
        fig.draw(renderer)
    return renderer


@pytest.mark.parametrize("width, height", [(320, 200), (420, 320), (800, 400), (1600, 800)])
@pytest.mark.parametrize("friendly", [False, True])
def test_the_legend_and_the_latest_value_stay_inside_the_image(width, height, friendly):
    """A phone-sized chart stacks its legend's entries in rows instead of cutting the last one
    off, and a visit on the plan's last day still leaves room for its value's label."""
    end = START + timedelta(days=55)
    points = [Point(START + timedelta(days=d), 8 - d / 10, 7 - d / 10) for d in range(0, 56, 5)]
    points.append(Point(end, 2.5, 2.0))
    mp = measure_progress("pain", None, points, 2.0, plan_end=end)
    fig = measure_figure(mp, plan_start=START, plan_end=end, width=width, height=height,
                         patient_friendly=friendly, band=(points, points))
    renderer = _drawn(fig)
    legend = fig.axes[0].get_legend()
    boxes = [text.get_window_extent(renderer) for text in legend.get_texts()]
    assert len(boxes) == 3 and all(0 <= b.x0 and b.x1 <= fig.bbox.width for b in boxes)
    if width >= 800:
        assert len({round(b.y0) for b in boxes}) == 1  # one row, as before
    (latest,) = [t for t in fig.axes[0].texts if t.get_gid() == "latest-value"]
    assert latest.get_text() == "2.5/10"
    assert latest.get_window_extent(renderer).x1 <= fig.bbox.width - 2


@pytest.mark.parametrize("code", sorted(MEASURES))
def test_value_ticks_are_the_step_multiples_within_the_axis(code):
    m = MEASURES[code]
    for most in (4, 7):
        limits, step = charts._y_limits(m), charts._y_step(m, most)
        expected = [v for v in MultipleLocator(step).tick_values(*limits)
                    if limits[0] <= v <= limits[1]]
        assert charts._y_ticks(limits, step) == expected


def test_text_widths_are_measured_once_and_scaled_exactly():
    prop = {"family": ["DejaVu Sans"]}
    for size in (8.5, 11, 12.5):
        for weight in ("normal", "bold"):
            exact = TextToPath().get_text_width_height_descent(
                "Pain now, 0–10 numeric rating (NPRS)",
                FontProperties(size=size, weight=weight, **prop), ismath=False)[0]
            assert charts._text_width("Pain now, 0–10 numeric rating (NPRS)", size,
                                      weight) == exact


def test_every_element_of_the_pain_chart_is_drawn():
    """Goal and normal lines, plan shading, pain band, legend, annotations and the SVG's own
    text survive the cheaper construction."""
    slr = measure_progress("slr", "left", rows((0, 40), (7, 44), (14, 49)), GoalSpec(55),
                           plan_end=END)  # a goal short of the normal: two lines
    slr = measure_chart(slr, fmt="svg", **PLAN)
    pain = measure_chart(PAIN, fmt="svg", band=(WORST, LEAST), **PLAN)
    for data, ids in ((pain, {"band-worst-least", "band-worst", "band-least", "goal",
                              "goal-label", "values-pre", "values-post", "retest-segments",
                              "latest-value", "baseline-value"}),
                      (slr, {"normal", "normal-label", "goal", "goal-label"})):
        root = svg_root(data)
        assert ids <= {el.get("id") for el in root.iter()}
    root = svg_root(pain)
    labels = texts(root)
    assert {"Worst–least pain, last 24 h", "Pre-treatment", "Post-treatment retest",
            "Goal ≤ 2/10", "3/10", "8/10", "Score (0–10)"} <= set(labels)
    assert root.find(f"{SVG}desc").text.startswith("Pain now: 2 Mar 2026: 8/10 before")
    # The plan of care is shaded: a full-height rectangle in the plan fill colour.
    assert charts._PLAN_FILL.lower() in pain.decode()
    plateau = texts(svg_root(measure_chart(ODI, fmt="svg", **PLAN)))
    assert "Plateau: 3 points better in 28 days (threshold 10 points)" in plateau
