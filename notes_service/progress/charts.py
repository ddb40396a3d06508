"""Progress charts: :class:`~notes_service.progress.rules.MeasureProgress` in, PNG/SVG bytes out.

Pure functions built on :class:`matplotlib.figure.Figure` only: pyplot keeps global state and
leaks figures in a server, so it is never imported. Layout is fixed (margins in points,
``subplots_adjust``) so an image is exactly ``width`` × ``height`` pixels and renders fast; no
tight bounding box, no constrained layout.

Building a figure costs little next to drawing it: each chart starts from a copy of a blank
figure made once per layout (axes, styling, value axis, legend), unpickled or, for a measure
chart, one an earlier chart of that layout handed back stripped to its blank; its artists are
given day numbers rather than dates and are added without data-limit bookkeeping (the limits
are set), and title widths are measured once per text. :func:`measure_figure` and
:func:`save_figure` expose the two halves so the benchmark can time the bare render alone.

SVG output keeps text as text and exposes the plotted data:

* the root ``<svg>`` has ``width``/``height`` in pixels, ``role="img"``, a ``<title>`` with
  :func:`chart_alt_text` and a ``<desc>`` listing every value ("3 Mar 2026: 8/10 before
  treatment, 6/10 after; …");
* every plotted marker (an SVG ``<use>``) inside ``<g id="values-pre…">`` (pre-treatment) or
  ``<g id="values-post…">`` (retests) carries ``data-date`` (ISO), ``data-value``,
  ``data-phase`` and a ``<title>`` tooltip such as "3 Mar 2026 · before treatment: 8/10";
* tick labels, the latest value, the goal and the titles are ``<text>`` elements.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import pickle
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from types import MappingProxyType
from xml.sax.saxutils import escape

import matplotlib
import numpy as np
from matplotlib.axis import Axis
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.collections import FillBetweenPolyCollection, LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FixedLocator, NullLocator

from notes_service.catalog import MEASURES, Measure
from notes_service.progress.rules import (
    MeasureProgress,
    Point,
    format_amount,
    format_day,
)

__all__ = ["MEASURE_COLOURS", "OKABE_ITO", "STATUS_COLOURS", "chart_alt_text", "measure_chart",
           "measure_figure", "overview_chart", "save_figure"]

#: Okabe–Ito colour-blind-safe palette.
OKABE_ITO = MappingProxyType({
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7", "black": "#000000",
})

#: One fixed colour per measure code, used by every chart. Yellow is too light for lines
#: on white and black is kept for text, so related measures share a hue.
MEASURE_COLOURS = MappingProxyType({
    "pain": OKABE_ITO["vermillion"],
    "pain_worst": OKABE_ITO["vermillion"],
    "pain_best": OKABE_ITO["vermillion"],
    "odi": OKABE_ITO["blue"],
    "lefs": OKABE_ITO["sky_blue"],
    "psfs": OKABE_ITO["sky_blue"],
    "slr": OKABE_ITO["bluish_green"],
    "lumbar_flexion": OKABE_ITO["reddish_purple"],
    "lumbar_extension": OKABE_ITO["reddish_purple"],
    "lumbar_side_bend": OKABE_ITO["reddish_purple"],
    "hip_flexion": OKABE_ITO["orange"],
    "hip_ir": OKABE_ITO["orange"],
    "hip_er": OKABE_ITO["orange"],
})
assert set(MEASURE_COLOURS) == set(MEASURES), "every catalog measure needs a colour"

#: Colour of each status (badge and highlighted window).
STATUS_COLOURS = MappingProxyType({
    "improving": OKABE_ITO["bluish_green"],
    "worsening": OKABE_ITO["vermillion"],
    "plateau": OKABE_ITO["orange"],
    "goal_met": OKABE_ITO["blue"],
    "insufficient_data": "#767676",
})

_STATUS_WORDS = {
    "improving": "Improving", "worsening": "Worsening", "plateau": "Plateau",
    "goal_met": "Goal met", "insufficient_data": "Too early to tell",
}
_PATIENT_STATUS_WORDS = {
    "improving": "Getting better", "worsening": "Getting worse",
    "plateau": "Holding steady", "goal_met": "Goal reached",
    "insufficient_data": "Too early to tell",
}

_INK = "#1A1A1A"
_MUTED = "#595959"       # 7:1 on white: secondary text stays legible
_GRID = "#E6E6E6"
_PLAN_FILL = "#F2F3F5"
_GOAL = "#333333"
_NORMAL = "#6E6E6E"

_RC = {
    "svg.fonttype": "none",          # text stays text in SVG
    "svg.hashsalt": "notes-service",  # stable element ids: identical input, identical bytes
    "font.family": ["DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": "#8C8C8C",
    "axes.labelcolor": _MUTED,
    "xtick.color": _MUTED,
    "ytick.color": _MUTED,
    "xtick.labelcolor": _MUTED,
    "ytick.labelcolor": _MUTED,
    "text.color": _INK,
    "legend.fontsize": 8.5,
    "text.hinting": "no_hinting",
}
_SAVEFIG = {
    # zlib level 3 saves ~5 ms per PNG against the default for ~3 % more bytes.
    "png": {"metadata": {"Software": None}, "pil_kwargs": {"compress_level": 3}},
    # All None: matplotlib writes no <metadata> block (no dates, stable bytes).
    "svg": {"metadata": {"Date": None, "Creator": None, "Format": None, "Type": None}},
}

_SVG_FONTS = "font-family: 'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
#: A marker's ``<use .../>`` and its attributes (greedy: a lazy ``[^>]*?\s*/>`` costs ~10×
#: as much, trying the end of the tag at every character).
_USE = re.compile(r"<use ([^>]*)/>")


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def measure_chart(
    progress: MeasureProgress,
    *,
    plan_start: date,
    plan_end: date,
    fmt: str = "png",
    width: int = 800,
    height: int = 400,
    dpi: int = 100,
    patient_friendly: bool = False,
    band: tuple[Sequence[Point], Sequence[Point]] | None = None,
) -> bytes:
    """Render one measure's progress over the plan of care as PNG or SVG bytes.

    ``band`` is (worst-pain points, least-pain points) of the last 24 h, drawn as a shaded
    band behind pain.
    """
    _check(fmt, width, height, dpi)
    with _chart_rc():
        fig = _measure_figure(progress, plan_start, plan_end, fmt, width, height, dpi,
                              patient_friendly, band)
        data = _savefig(fig, fmt)
        _give_back(fig)
    return _finish(data, fmt, width, height, [progress], patient_friendly)


def measure_figure(
    progress: MeasureProgress,
    *,
    plan_start: date,
    plan_end: date,
    fmt: str = "png",
    width: int = 800,
    height: int = 400,
    dpi: int = 100,
    patient_friendly: bool = False,
    band: tuple[Sequence[Point], Sequence[Point]] | None = None,
) -> Figure:
    """Build, without drawing, the figure :func:`measure_chart` renders for these arguments.

    :func:`save_figure` then draws and encodes it exactly as :func:`measure_chart` does, which
    only adds the SVG's title, description and marker labels: the benchmark times that as the
    bare ``Figure`` render of the same chart. The figure is the caller's: a fresh copy of the
    blank, never one of the spares :func:`measure_chart` draws on (it takes none from it).
    """
    _check(fmt, width, height, dpi)
    with _chart_rc():
        return _measure_figure(progress, plan_start, plan_end, fmt, width, height, dpi,
                               patient_friendly, band, spare=False)


def save_figure(fig: Figure, fmt: str) -> bytes:
    """Draw and encode a chart figure: ``Figure.savefig`` with the charts' settings only."""
    with _chart_rc():
        return _savefig(fig, fmt)


def overview_chart(
    measures: Sequence[MeasureProgress],
    *,
    plan_start: date,
    plan_end: date,
    fmt: str = "png",
    width: int = 900,
    height: int | None = None,
    dpi: int = 100,
    patient_friendly: bool = False,
) -> bytes:
    """Render small multiples, one panel per measure and side, on a shared date axis.

    ``height`` defaults to 200 px per row of panels plus a header.
    """
    n = len(measures)
    cols = 1 if n <= 1 else 2 if n <= 4 else 3
    rows = max(1, math.ceil(n / cols))
    if height is None:
        height = 80 + 200 * rows
    _check(fmt, width, height, dpi)
    with _chart_rc():
        if n == 0:
            fig = _figure(width, height, dpi, fmt)
        else:
            layout = (width, height, dpi, fmt, rows, cols,
                      _figure_legend_entries(measures, patient_friendly))
            fig = _blank(("overview", *layout), lambda: _overview_blank(*layout))
        fig.text(_pt_x(fig, 14), 1 - _pt_y(fig, 10), "Progress overview" if not patient_friendly
                 else "Your progress", fontsize=12.5, fontweight="bold", va="top")
        fig.text(_pt_x(fig, 14), 1 - _pt_y(fig, 28),
                 f"Plan of care {_date_span(plan_start, plan_end)} (shaded)",
                 fontsize=8.5, color=_MUTED, va="top")
        if n == 0:
            fig.text(0.5, 0.45, "No measures recorded yet", ha="center", va="center",
                     color=_MUTED, fontsize=11)
            return _finish(_savefig(fig, fmt), fmt, width, height, [], patient_friendly)
        lo = min((_x_range(mp, plan_start, plan_end, None)[0] for mp in measures))
        hi = max((_x_range(mp, plan_start, plan_end, None)[1] for mp in measures))
        for index, ax in enumerate(fig.axes):
            if index >= n:
                ax.set_visible(False)
                continue
            mp = measures[index]
            _decorate_axes(ax, mp.catalog, lo, hi, plan_start)
            _vspan(ax, plan_start, plan_end + timedelta(days=1), color=_PLAN_FILL, lw=0,
                   zorder=0)
            _highlight_window(ax, mp, patient_friendly, labelled=False)
            _draw_reference_lines(ax, mp, patient_friendly, lo, compact=True)
            _draw_series(ax, mp, patient_friendly, annotate=True, compact=True)
            title = mp.catalog.plain_label if patient_friendly and mp.catalog.plain_label \
                else _title(mp, long=False)
            ax.set_title(title, loc="left", fontsize=9.5, fontweight="bold", color=_INK,
                         pad=4)
            _badge(ax.text(1.0, 1.0 + _pt_to_axes_y(ax, 5), _status_word(mp, patient_friendly),
                           transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5),
                   mp.status)
            if not mp.points:
                ax.text(0.5, 0.5, "No values yet", transform=ax.transAxes, ha="center",
                        va="center", color=_MUTED)
            # Only the bottom panel of each column shows dates.
            if index + cols < n:
                ax.tick_params(labelbottom=False)
            else:
                ax.tick_params(labelbottom=True)
        return _finish(_savefig(fig, fmt), fmt, width, height, list(measures), patient_friendly)


def chart_alt_text(progress: MeasureProgress, *, patient_friendly: bool = False) -> str:
    """Summarise a measure chart in one or two sentences for screen readers and exports."""
    m = progress.catalog
    fmt = m.format_value
    name = (m.plain_label if patient_friendly and m.plain_label else progress.label)
    series = progress.series
    if not series:
        return f"{name}: no values recorded yet."
    n = len(series)
    first, last = series[0], series[-1]
    if n == 1:
        text = f"{name}, 1 visit on {format_day(first.day)}: {fmt(first.pre)}"
    else:
        text = (f"{name}, {n} visits from {_date_span(first.day, last.day, sep=' to ')}: "
                f"{fmt(first.pre)} at the start, {fmt(last.pre)} at the latest")
    if progress.goal_target is not None:
        text += f"; goal {m.goal_comparator} {fmt(progress.goal_target)}"
    words = _PATIENT_STATUS_WORDS if patient_friendly else _STATUS_WORDS
    status = words[progress.status].lower() if patient_friendly else progress.status.replace(
        "_", " ")
    text += f"; status {status}."
    if progress.within_visit_change is not None and not patient_friendly:
        text += (f" Retested after treatment on {progress.within_visit_visits} of the last "
                 f"{progress.window_points} visits, median change "
                 f"{_signed(m, progress.within_visit_change)} within the visit.")
    return text


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _chart_rc() -> Iterator[None]:
    """Apply the charts' rc settings for the duration, then put the caller's back.

    ``matplotlib.rc_context(_RC)`` copies and restores all ~300 settings (~0.35 ms a time);
    only the dozen in :data:`_RC` change here.
    """
    params = matplotlib.rcParams
    saved = {key: params[key] for key in _RC}
    params.update(_RC)
    try:
        yield
    finally:
        params.update(saved)


def _check(fmt: str, width: int, height: int, dpi: int) -> None:
    if fmt not in ("png", "svg"):
        raise ValueError(f"unsupported chart format {fmt!r} (png or svg)")
    for name, value in (("width", width), ("height", height), ("dpi", dpi)):
        if not isinstance(value, int) or isinstance(value, bool) or not 16 <= value <= 8000:
            raise ValueError(f"chart {name} must be an integer between 16 and 8000")


def _figure(width: int, height: int, dpi: int, fmt: str) -> Figure:
    # Agg truncates the canvas size to whole pixels; a hair over keeps e.g. 733/96*96 at 733.
    nudge = 1e-3 if fmt == "png" else 0.0
    return Figure(figsize=((width + nudge) / dpi, (height + nudge) / dpi), dpi=dpi,
                  facecolor="white")


def _measure_figure(progress: MeasureProgress, plan_start: date, plan_end: date, fmt: str,
                    width: int, height: int, dpi: int, patient_friendly: bool,
                    band: tuple[Sequence[Point], Sequence[Point]] | None, *,
                    spare: bool = True) -> Figure:
    """The measure chart's figure, built under the charts' rc settings (the caller's), on a
    spare blank if ``spare`` and one is kept."""
    m = progress.catalog
    colour = MEASURE_COLOURS[progress.measure]
    band_values = _band_values(band) if band is not None else None
    legend = _legend_entries(progress, band_values, patient_friendly)
    has_legend = band is not None or any(p.post is not None for p in progress.points)
    width_pt = width / dpi * 72
    # A narrow chart (a phone) stacks the legend's entries in as many rows as they need.
    cols = _legend_columns(legend, width_pt - _LEFT - 8) if legend else 1
    rows = -(-len(legend) // cols) if legend else 1
    # The blank holds everything that depends on these alone: the axes and their styling,
    # the value axis and the legend.
    layout = (width, height, dpi, fmt, 48 + 14 * rows if has_legend else 48, _y_limits(m),
              _y_step(m, 7), _y_label(m, patient_friendly), colour, legend, cols)
    fig = _blank(("measure", *layout), lambda: _measure_blank(*layout), spare=spare)
    ax = fig.axes[0]
    lo, hi = _x_range(progress, plan_start, plan_end, band)
    hi = _room_for_latest(progress, lo, hi, width_pt - _LEFT - _RIGHT)
    _x_axis(ax, lo, hi, plan_start)
    _vspan(ax, plan_start, plan_end + timedelta(days=1), color=_PLAN_FILL, lw=0, zorder=0)
    _highlight_window(ax, progress, patient_friendly)
    if band_values is not None:
        _draw_band(ax, band_values, colour, patient_friendly)
    _draw_reference_lines(ax, progress, patient_friendly, lo)
    _draw_series(ax, progress, patient_friendly, annotate=True)
    _header(fig, progress, plan_start, plan_end, patient_friendly)
    if not progress.points:
        ax.text(0.5, 0.5, "No values recorded yet", transform=ax.transAxes,
                ha="center", va="center", color=_MUTED, fontsize=11)
    return fig


#: Pickled blank figures by everything they are made from: the figure, its axes at their
#: margins with the styling every chart shares and, for a measure chart, the value axis and
#: the legend. Building them is ~9 ms of Python; unpickling the same blank is ~3 ms and gives
#: an independent figure each time. Only bytes this module pickled itself are unpickled.
_BLANKS: dict[tuple, bytes] = {}
_BLANKS_LOCK = threading.Lock()
#: At most this many bytes of blanks are kept (a measure chart's is ~50 KB, an overview's
#: ~40 KB a panel); the oldest made go first.
_BLANKS_KEPT = 16 * 2**20


#: Measure charts drawn and handed back by :func:`measure_chart`, stripped to their blank
#: again, by blank key with the pickle they came from, the layout handed back last at the
#: end: the next chart of that layout takes one rather than unpickling another copy (~2 ms,
#: and thousands of new objects for the garbage collector). Only kept blanks have spares.
_SPARES: dict[tuple, tuple[bytes, list[Figure]]] = {}
#: Spares kept per layout (the charts of one layout a process draws at the same time), and
#: layouts with spares: a spare holds ~0.6 MB.
_SPARES_KEPT = 2
_SPARE_LAYOUTS = 8
#: The blank (key, pickle) each figure was unpickled from and the ids of the artists the
#: blank holds (ids: a value must not refer to its key).
_ORIGINS: weakref.WeakKeyDictionary[Figure, tuple[tuple, bytes, frozenset[int]]] = \
    weakref.WeakKeyDictionary()


def _blank(key: tuple, build: Callable[[], Figure], *, spare: bool = True) -> Figure:
    """A copy of the blank figure ``build`` makes (under the charts' rc settings), not drawn
    or drawn on by anyone else: a spare if one is kept (and ``spare``), else unpickled
    afresh."""
    blob = _BLANKS.get(key)
    if blob is None:
        blob = pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL)
        with _BLANKS_LOCK:
            _BLANKS[key] = blob
            while sum(map(len, _BLANKS.values())) > _BLANKS_KEPT and len(_BLANKS) > 1:
                _SPARES.pop(old := next(iter(_BLANKS)), None)
                _BLANKS.pop(old)
    elif spare:
        with _BLANKS_LOCK:
            kept = _SPARES.get(key)
            if kept is not None and kept[0] is blob and kept[1]:
                return kept[1].pop()
    fig = pickle.loads(blob)  # noqa: S301 (our own bytes, made above)
    _ORIGINS[fig] = (key, blob, frozenset(map(id, _children(fig))))
    return fig


def _children(fig: Figure) -> list:
    """The artists a chart may add to: the figure's and its axes' own."""
    return [*fig.get_children(), *(a for ax in fig.axes for a in ax.get_children())]


def _texts(fig: Figure) -> list[Text]:
    """Every text of the figure, down to those of the ticks its axes hold (making none)."""
    texts, artists = [], [fig]
    while artists:
        artist = artists.pop()
        if isinstance(artist, Text):
            texts.append(artist)
        if isinstance(artist, Axis):  # its get_children() would make the ticks of its limits
            artists += [artist.label, artist.offsetText, *artist.majorTicks,
                        *artist.minorTicks]
        else:
            artists += artist.get_children()
    return texts


def _give_back(fig: Figure) -> None:
    """Strip a drawn measure chart back to its blank and keep it as a spare.

    A chart only adds artists to the axes and the figure and sets the date axis (limits,
    locators, formatter); it leaves the rest of the blank as it found it. The ticks the draw
    made go too (all but the blank's first, as unpickled): a chart drawn on a spare then does
    exactly the work one drawn on a fresh copy does, and makes the same bytes.
    """
    origin = _ORIGINS.get(fig)
    if origin is None:
        return
    key, blob, blank = origin
    for artist in _children(fig):
        if id(artist) not in blank:
            artist.remove()
    ax = fig.axes[0]
    ax.xaxis.set_minor_locator(NullLocator())
    for axis in (ax.xaxis, ax.yaxis):
        del axis.majorTicks[1:]
        del axis.minorTicks[1:]
    # A drawn text keeps its renderer (an Agg one holds the whole image): forget it, as
    # pickling does (``Text.__getstate__``).
    for text in _texts(fig):
        text._renderer = None
    with _BLANKS_LOCK:
        if _BLANKS.get(key) is not blob:
            return
        kept = _SPARES.pop(key, None)
        if kept is None or kept[0] is not blob:
            kept = (blob, [])
        if len(kept[1]) < _SPARES_KEPT:
            kept[1].append(fig)
        _SPARES[key] = kept
        while len(_SPARES) > _SPARE_LAYOUTS:
            _SPARES.pop(next(iter(_SPARES)))


#: The measure chart's left and right margins, in points.
_LEFT, _RIGHT = 50, 22
#: The latest value's label, right of the last point: its size and its offset, in points.
_LATEST_SIZE, _LATEST_OFFSET = 9.5, 7


def _measure_blank(width: int, height: int, dpi: int, fmt: str, top: float,
                   y_limits: tuple[float, float], y_step: float, y_label: str, colour: str,
                   legend: tuple[tuple[str, str], ...], cols: int) -> Figure:
    fig = _figure(width, height, dpi, fmt)
    ax = fig.add_subplot()
    _style_axes(ax, compact=False)
    _margins(fig, left=_LEFT, right=_RIGHT, top=top, bottom=22)
    ax.set_ylim(*y_limits)
    ax.yaxis.set_major_locator(FixedLocator(_y_ticks(y_limits, y_step)))
    ax.set_ylabel(y_label, fontsize=8.5, labelpad=6)
    if legend:
        _legend(ax, legend, colour, cols)
    return fig


def _overview_blank(width: int, height: int, dpi: int, fmt: str, rows: int, cols: int,
                    legend: tuple[tuple[str, str], ...]) -> Figure:
    fig = _figure(width, height, dpi, fmt)
    for ax in fig.subplots(rows, cols, squeeze=False, sharex=True).flat:
        _style_axes(ax, compact=True)
    _margins(fig, left=40, right=16, top=84, bottom=20, hspace_pt=34, wspace_pt=34,
             rows=rows, cols=cols)
    _figure_legend(fig, legend)
    return fig


def _pt_x(fig: Figure, points: float) -> float:
    return points / 72 / fig.get_figwidth()


def _pt_y(fig: Figure, points: float) -> float:
    return points / 72 / fig.get_figheight()


def _pt_to_axes_y(ax, points: float) -> float:
    fig = ax.figure
    return points / 72 * fig.dpi / ax.bbox.height if ax.bbox.height else 0.0


def _margins(fig: Figure, *, left: float, right: float, top: float, bottom: float,
             hspace_pt: float = 0, wspace_pt: float = 0, rows: int = 1, cols: int = 1) -> None:
    """Fix margins in points, so fonts and margins scale together with ``dpi``."""
    l, r = _pt_x(fig, left), 1 - _pt_x(fig, right)
    b, t = _pt_y(fig, bottom), 1 - _pt_y(fig, top)
    # Keep at least a sliver of plot on tiny images instead of failing.
    if r - l < 0.1:
        l, r = 0.1, 0.95
    if t - b < 0.1:
        b, t = 0.1, 0.9
    panel_w = (r - l) * fig.get_figwidth() * 72
    panel_h = (t - b) * fig.get_figheight() * 72
    wspace = wspace_pt / max((panel_w - wspace_pt * (cols - 1)) / cols, 1) if cols > 1 else 0
    hspace = hspace_pt / max((panel_h - hspace_pt * (rows - 1)) / rows, 1) if rows > 1 else 0
    fig.subplots_adjust(left=l, right=r, bottom=b, top=t, wspace=wspace, hspace=hspace)


@functools.lru_cache(maxsize=8192)
def _num(day: date) -> float:
    """A day as a Matplotlib date number (remembered: the same days recur in every chart).

    The axes are given numbers, never dates: the x axis then has no unit converter to run on
    every artist (its locator and formatter are set explicitly by :func:`_date_ticks`).
    """
    return float(mdates.date2num(day))


def _nums(days) -> list[float]:
    return [_num(day) for day in days]


def _x_range(mp: MeasureProgress, plan_start: date, plan_end: date,
             band: tuple[Sequence[Point], Sequence[Point]] | None) -> tuple[date, date]:
    days = [p.day for p in mp.points]
    if band:
        days += [p.day for side in band for p in side]
    first = min([plan_start, *days])
    last = max([plan_end, *days])
    pad = timedelta(days=max(1, round((last - first).days * 0.02)))
    return first - pad, last + pad + timedelta(days=1)


def _y_limits(m: Measure) -> tuple[float, float]:
    pad = (m.maximum - m.minimum) * 0.04
    return m.minimum - pad, m.maximum + pad


def _y_step(m: Measure, most: int) -> float:
    """Pick a round tick step that divides the catalog range, with at most ``most`` steps."""
    span = m.maximum - m.minimum
    candidates = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 100)
    fitting = [c for c in candidates if span / c <= most]
    dividing = [c for c in fitting if span % c == 0]
    return (dividing or fitting or [candidates[-1]])[0]


def _y_ticks(limits: tuple[float, float], step: float) -> list[float]:
    """The multiples of ``step`` within ``limits``: a tick outside the view would still be
    made, formatted and laid out at every draw (``MultipleLocator`` adds one each side)."""
    lo, hi = limits
    first = math.ceil(lo / step) * step
    return [first + step * k for k in range(int((hi - first) // step) + 1)]


def _y_label(m: Measure, patient_friendly: bool) -> str:
    if patient_friendly:
        return {"deg": "Degrees", "%": "Score (%)", "score": "Score (0–10)",
                "points": f"Score (0–{m.maximum:g})"}.get(m.unit, m.unit)
    return {"deg": "Angle (°)", "%": "Score (%)", "score": "Score (0–10)",
            "points": f"Points (0–{m.maximum:g})"}.get(m.unit, m.unit)


def _style_axes(ax, compact: bool) -> None:
    """The styling every chart's axes share, whatever the measure and dates."""
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0, pad=4, labelsize=8 if compact else 8.5)
    ax.tick_params(axis="x", length=3, labelsize=8 if compact else 8.5)
    ax.tick_params(axis="x", which="minor", length=2, color="#B3B3B3")


def _decorate_axes(ax, m: Measure, lo: date, hi: date, plan_start: date) -> None:
    """The axes of one overview panel (a measure chart's value axis is in its blank)."""
    _x_axis(ax, lo, hi, plan_start)
    ax.set_ylim(*_y_limits(m))
    ax.yaxis.set_major_locator(FixedLocator(_y_ticks(_y_limits(m), _y_step(m, 4))))


def _x_axis(ax, lo: date, hi: date, plan_start: date) -> None:
    ax.set_xlim(_num(lo), _num(hi))
    _date_ticks(ax, plan_start, lo, hi)


def _date_ticks(ax, plan_start: date, lo: date, hi: date) -> None:
    """Tick the plan's weeks (every week, or every n weeks when space is short)."""
    span = (hi - lo).days
    # About 100 px per date label: weekly labels on wide charts, fortnightly at 800 px.
    room = max(2, int(ax.bbox.width / (100 * ax.figure.dpi / 100)))
    formatter_formats = ["%Y", "%b", "%-d %b", "%H:%M", "%H:%M", "%S.%f"]
    if span <= 7 * 40:
        step = 7 * max(1, math.ceil(span / 7 / room))
        first = -((plan_start - lo).days // step)
        ticks = [plan_start + timedelta(days=step * k)
                 for k in range(first, span // step + 2)]
        ticks = [t for t in ticks if lo <= t <= hi]
        locator = mdates.AutoDateLocator()  # only used to pick the label level
        ax.xaxis.set_major_locator(FixedLocator(_nums(ticks)))
        if step > 7:  # still mark every plan week
            weeks = [plan_start + timedelta(days=7 * k) for k in range(first * step // 7,
                                                                        span // 7 + 2)]
            ax.xaxis.set_minor_locator(FixedLocator(
                _nums(w for w in weeks if lo <= w <= hi and w not in ticks)))
    else:
        # Short labels ("Mar", "2026"): four fit even a narrow chart. Yearly ticks are too few
        # below 3 years and 6-monthly ones too many over 2: without yearly multiples of months
        # matplotlib finds no interval (and warns). A smaller one that fits is chosen first.
        locator = mdates.AutoDateLocator(minticks=3, maxticks=max(4, room))
        locator.intervald[mdates.MONTHLY] = [1, 2, 3, 4, 6, 12]
        ax.xaxis.set_major_locator(locator)
    # The year is in the subtitle; no offset text that would need its own margin.
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=formatter_formats,
        zero_formats=["", "%Y", "%-d %b", "%-d %b", "%H:%M", "%H:%M"],
        offset_formats=["", "", "", "", "", ""]))


def _status_word(mp: MeasureProgress, patient_friendly: bool) -> str:
    return (_PATIENT_STATUS_WORDS if patient_friendly else _STATUS_WORDS)[mp.status]


def _badge(text, status: str) -> None:
    colour = STATUS_COLOURS[status]
    text.set_color(_INK)
    text.set_fontweight("bold")
    text.set_bbox({"boxstyle": "round,pad=0.35,rounding_size=0.6", "facecolor": _tint(colour),
                   "edgecolor": colour, "linewidth": 1.0})


def _tint(colour: str, amount: float = 0.82) -> str:
    rgb = mcolors.to_rgb(colour)
    return mcolors.to_hex([c + (1 - c) * amount for c in rgb])


def _title(mp: MeasureProgress, long: bool = True) -> str:
    m = mp.catalog
    if not long:
        return mp.label
    return m.label + (f" — {mp.side}" if mp.side else "")


def _date_span(first: date, last: date, sep: str = " – ") -> str:
    if first.year == last.year:
        return f"{format_day(first, year=False)}{sep}{format_day(last)}"
    return f"{format_day(first)}{sep}{format_day(last)}"


def _signed(m: Measure, amount: float) -> str:
    word = "better" if amount > 0 else "worse" if amount < 0 else "no change"
    return f"{format_amount(m, amount)} {word}" if amount else "no change"


def _header(fig: Figure, mp: MeasureProgress, plan_start: date, plan_end: date,
            patient_friendly: bool) -> None:
    m = mp.catalog
    if patient_friendly:
        title = m.plain_label or m.short_label
        if mp.side:
            title += f" — {mp.side} side"
    else:
        title = _title(mp)
    left = _pt_x(fig, 14)
    status = _status_word(mp, patient_friendly)
    # Narrow charts (a phone) keep the title clear of the status badge and the subtitle inside
    # the image: shorten, then shrink, then cut with an ellipsis. Wide charts are unchanged.
    width_pt = fig.get_figwidth() * 72
    title_room = width_pt - 28 - (_text_width(status, 9, "bold") + 8) - 10
    title, size = _fit_title(title, title_room)
    fig.text(left, 1 - _pt_y(fig, 9), title, fontsize=size, fontweight="bold", va="top",
             color=_INK)
    fig.text(left, 1 - _pt_y(fig, 27),
             _fit_parts(_subtitle_parts(mp, plan_start, plan_end, patient_friendly),
                        width_pt - 28, 8.5),
             fontsize=8.5, va="top", color=_MUTED)
    _badge(fig.text(1 - _pt_x(fig, 14), 1 - _pt_y(fig, 10), status,
                    ha="right", va="top", fontsize=9), mp.status)


_TEXT_TO_PATH = TextToPath()


def _text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width of ``text`` in points, in the charts' font (no renderer needed)."""
    # Unhinted widths scale with the size (TextToPath measures at FONT_SCALE and scales the
    # result), so one measurement of a text serves every size the fitting tries.
    return _scaled_width(text, weight) * (size / _TEXT_TO_PATH.FONT_SCALE)


@functools.lru_cache(maxsize=4096)
def _scaled_width(text: str, weight: str) -> float:
    """Width of ``text`` at ``TextToPath.FONT_SCALE`` points (~15 µs a character to measure)."""
    prop = FontProperties(family=_RC["font.family"], size=_TEXT_TO_PATH.FONT_SCALE,
                          weight=weight)
    return _TEXT_TO_PATH.get_text_width_height_descent(text, prop, ismath=False)[0]


def _ellipsize(text: str, room: float, size: float, weight: str = "normal") -> str:
    if _text_width(text, size, weight) <= room:
        return text
    while len(text) > 1 and _text_width(text.rstrip() + "…", size, weight) > room:
        text = text[:-1]
    return text.rstrip(" ,·(—") + "…"


def _fit_title(title: str, room: float) -> tuple[str, float]:
    """The title and its font size, fitted into ``room`` points."""
    candidates = [title]
    if " (" in title:  # a scale hint in brackets: the axis label carries it too
        candidates.append(re.sub(r" \([^)]*\)", "", title))
    for size in (12.5, 12, 11.5, 11):
        for text in candidates:
            if _text_width(text, size, "bold") <= room:
                return text, size
    return _ellipsize(candidates[-1], room, 11, "bold"), 11


def _fit_parts(parts: list[str], room: float, size: float) -> str:
    """Join subtitle parts, dropping trailing ones (then cutting) until they fit."""
    parts = list(parts)
    while len(parts) > 1 and _text_width(_join_parts(parts), size) > room:
        parts.pop()
    return _ellipsize(_join_parts(parts), room, size)


def _join_parts(parts: list[str]) -> str:
    text = "  ·  ".join(parts)
    return text[:1].upper() + text[1:]


def _subtitle_parts(mp: MeasureProgress, plan_start: date, plan_end: date,
                    patient_friendly: bool) -> list[str]:
    m = mp.catalog
    fmt = m.format_value
    parts = []
    series = mp.series
    if series:
        if len(series) > 1:
            first, last = series[0].day, series[-1].day
            # The years only when they differ (a plan over New Year, a long maintenance plan).
            year = first.year != last.year
            parts.append(f"{fmt(series[0].pre)} → {fmt(series[-1].pre)} "
                         f"({format_day(first, year=year)} – {format_day(last, year=year)})")
        else:
            parts.append(f"{fmt(series[0].pre)} on {format_day(series[0].day, year=False)}")
    if mp.goal_target is not None:
        goal = _goal_words(m, mp.goal_target, patient_friendly)
        parts.append(goal[:1].lower() + goal[1:])
    parts.append(("treatment plan " if patient_friendly else "plan of care ")
                 + _date_span(plan_start, plan_end) + " (shaded)")
    return parts


def _add(ax, artist) -> None:
    """Add a line or patch to ``ax`` without the data-limit bookkeeping.

    Every chart sets its axes' limits before it draws (the value axis in its blank, the date
    axis in :func:`_x_axis`), so the data limits ``add_patch``, ``add_line``, ``axvspan`` or
    ``plot`` would work out are never used, and working them out is most of their cost.
    Collections go through ``add_collection(autolim=False)``.
    """
    ax.add_artist(artist)


def _vspan(ax, start: date, end: date, **props) -> None:
    """A full-height band from ``start`` to ``end`` (what ``axvspan`` draws)."""
    _add(ax, Rectangle((_num(start), 0), _num(end) - _num(start), 1,
                       transform=ax.get_xaxis_transform(which="grid"), **props))


def _hline(ax, y: float, **props) -> None:
    """A full-width line at ``y`` (what ``axhline`` draws)."""
    _add(ax, Line2D([0, 1], [y, y], transform=ax.get_yaxis_transform(which="grid"), **props))


def _highlight_window(ax, mp: MeasureProgress, patient_friendly: bool,
                      labelled: bool = True) -> None:
    if mp.status not in ("plateau", "worsening") or mp.window_start is None:
        return
    colour = STATUS_COLOURS[mp.status]
    _vspan(ax, mp.window_start, mp.window_end + timedelta(days=1), color=colour, alpha=0.16,
           lw=0, zorder=0.5)
    if not labelled:
        return
    m = mp.catalog
    days = mp.window_days
    if patient_friendly:
        word = "About the same" if mp.status == "plateau" else "Worse"
        text = f"{word} over the last {days} days"
    else:
        word = "Plateau" if mp.status == "plateau" else "Worsening"
        text = (f"{word}: {_signed(m, mp.change)} in {days} days "
                f"(threshold {format_amount(m, mp.threshold)})")
    if mp.short_lived_relief:
        if patient_friendly:
            text += "\nRelief after treatment fades by the next visit"
        else:
            kept = "" if mp.retention is None else f", {mp.retention:.0f}% kept"
            text += (f"\nShort-lived relief: median {format_amount(m, mp.within_visit_change)} "
                     f"gain within the visit{kept}")
    # Put the label at the end of the axis the window's values stay away from.
    y_lo, y_hi = _y_limits(m)
    middle = (mp.window_min + mp.window_max) / 2
    upper = middle < (y_lo + y_hi) / 2
    ax.text(_num(mp.window_start), 0.97 if upper else 0.03, text,
            transform=ax.get_xaxis_transform(), ha="left", va="top" if upper else "bottom",
            fontsize=8, color=_INK, fontweight="bold", zorder=5, linespacing=1.5)


def _band_values(band: tuple[Sequence[Point], Sequence[Point]]) -> tuple[list[date], dict, dict]:
    """(days with both values, worst by day, least by day) of the pain band."""
    worst = {p.day: p.pre for p in band[0] if p.pre is not None}
    least = {p.day: p.pre for p in band[1] if p.pre is not None}
    return sorted(set(worst) & set(least)), worst, least


def _band_label(patient_friendly: bool) -> str:
    return "Worst to least pain, last day" if patient_friendly else "Worst–least pain, last 24 h"


def _draw_band(ax, band_values: tuple[list[date], dict, dict], colour: str,
               patient_friendly: bool) -> None:
    days, worst, least = band_values
    label = _band_label(patient_friendly)
    if len(days) >= 2:
        ax.add_collection(FillBetweenPolyCollection(
            "x", np.array(_nums(days)), np.array([least[d] for d in days], dtype=float),
            np.array([worst[d] for d in days], dtype=float), **_STYLES["band-fill"](colour, 6),
            zorder=1, label=label, gid="band-worst-least"), autolim=False)
    for values, gid in ((worst, "band-worst"), (least, "band-least")):
        if values:
            ds = sorted(values)
            _add(ax, Line2D(_nums(ds), [values[d] for d in ds],
                            **_STYLES["band-line"](colour, 6), zorder=1.5, gid=gid,
                            label=label if len(days) < 2 and gid == "band-worst" else None))


def _draw_reference_lines(ax, mp: MeasureProgress, patient_friendly: bool, x_left: date,
                          compact: bool = False) -> None:
    m = mp.catalog
    better_up = m.better == "higher"
    goal_y = mp.goal_target
    normal_y = m.normal
    combined = _goal_is_normal(mp)
    size = 7.5 if compact else 8
    x_text = _num(x_left + timedelta(days=1))
    if normal_y is not None and not combined:
        _hline(ax, normal_y, color=_NORMAL, lw=1, ls=(0, (1, 2)), zorder=2, gid="normal")
        if not compact:
            label = m.normal_label or f"normal {m.format_value(normal_y)}"
            ax.annotate(f"{label[:1].upper()}{label[1:]}", (x_text, normal_y),
                        xytext=(0, 2.5 if better_up else -2.5), textcoords="offset points",
                        fontsize=size, color=_NORMAL, va="bottom" if better_up else "top",
                        ha="left", zorder=4, gid="normal-label")
    if goal_y is not None:
        _hline(ax, goal_y, color=_GOAL, lw=1.1, ls=(0, (5, 3)), zorder=2, gid="goal")
        label = _goal_words(m, goal_y, patient_friendly)
        if combined and not compact:
            label += f" ({m.normal_label or 'normal'})"
        ax.annotate(label, (x_text, goal_y), xytext=(0, 2.5 if better_up else -2.5),
                    textcoords="offset points", fontsize=size, color=_GOAL,
                    va="bottom" if better_up else "top", ha="left", zorder=4,
                    gid="goal-label", fontweight="bold")


def _goal_words(m: Measure, target: float, patient_friendly: bool) -> str:
    """Return the goal in words: "Goal ≤ 2/10", or "Your goal: 2/10 or less" for patients."""
    if patient_friendly:
        more = "more" if m.better == "higher" else "less"
        return f"Your goal: {m.format_value(target)} or {more}"
    return f"Goal {m.goal_comparator} {m.format_value(target)}"


def _goal_is_normal(mp: MeasureProgress) -> bool:
    """Whether the goal sits on the normal value, so one labelled line shows both."""
    m = mp.catalog
    return (mp.goal_target is not None and m.normal is not None
            and abs(mp.goal_target - m.normal) < (m.maximum - m.minimum) * 0.06)


def _draw_series(ax, mp: MeasureProgress, patient_friendly: bool, annotate: bool,
                 compact: bool = False) -> None:
    colour = MEASURE_COLOURS[mp.measure]
    m = mp.catalog
    series = mp.series
    size = 4.5 if compact else 6
    # Test → retest: a short vertical segment from each pre value to its retest.
    pairs = [p for p in mp.points if p.pre is not None and p.post is not None]
    if pairs:
        ax.add_collection(LineCollection(
            [((x, p.pre), (x, p.post)) for x, p in zip(_nums(p.day for p in pairs), pairs)],
            colors=colour, linestyles="solid", lw=1.2, alpha=0.55, zorder=2.5,
            gid="retest-segments"), autolim=False)
    if series:
        _add(ax, Line2D(_nums(p.day for p in series), [p.pre for p in series],
                        **_STYLES["pre"](colour, size), zorder=3,
                        label=_series_label("pre", patient_friendly), gid="values-pre"))
    retests = [p for p in mp.points if p.post is not None]
    if retests:
        _add(ax, Line2D(_nums(p.day for p in retests), [p.post for p in retests],
                        **_STYLES["post"](colour, size), zorder=3.5,
                        label=_series_label("post", patient_friendly), gid="values-post"))
    if annotate and series:
        last = series[-1]
        offset = (_LATEST_OFFSET, 0) if not compact else (5, 0)
        ax.annotate(m.format_value(last.pre), (_num(last.day), last.pre), xytext=offset,
                    textcoords="offset points", ha="left", va="center",
                    fontsize=8 if compact else _LATEST_SIZE, fontweight="bold", color=_INK,
                    zorder=6, gid="latest-value", annotation_clip=False)
        if len(series) > 1 and not compact:
            first = series[0]
            below = m.better == "lower"  # the start sits high for pain, low for range
            ax.annotate(m.format_value(first.pre), (_num(first.day), first.pre),
                        xytext=(0, 8 if below else -8), textcoords="offset points",
                        ha="center", va="bottom" if below else "top", fontsize=8.5,
                        color=_MUTED, zorder=6, gid="baseline-value", annotation_clip=False)


#: Styles of the plotted values by kind, (colour, marker size) → Line2D/collection
#: properties: one definition for the chart's artists and its legend's.
_STYLES = {
    "pre": lambda colour, size: {"color": colour, "lw": 2.2, "marker": "o", "ms": size,
                                 "mfc": colour, "mec": "white", "mew": 1.0,
                                 "solid_joinstyle": "round"},
    "post": lambda colour, size: {"ls": "none", "marker": "o", "ms": size - 0.5,
                                  "mfc": "white", "mec": colour, "mew": 1.4},
    "band-fill": lambda colour, size: {"color": colour, "alpha": 0.12, "lw": 0},
    "band-line": lambda colour, size: {"color": colour, "alpha": 0.45, "lw": 0.8,
                                       "ls": (0, (1, 1.5))},
}


def _series_label(kind: str, patient_friendly: bool) -> str:
    if kind == "pre":
        return "Before treatment" if patient_friendly else "Pre-treatment"
    return "After treatment" if patient_friendly else "Post-treatment retest"


def _legend_entries(mp: MeasureProgress, band_values: tuple[list[date], dict, dict] | None,
                    patient_friendly: bool) -> tuple[tuple[str, str], ...]:
    """(kind, label) of each labelled artist the measure chart draws, in drawing order; none
    when there is only one (a single series is named by the title)."""
    entries = []
    if band_values is not None:
        days, worst, _ = band_values
        if len(days) >= 2 or worst:
            entries.append(("band-fill" if len(days) >= 2 else "band-line",
                            _band_label(patient_friendly)))
    if mp.series:
        entries.append(("pre", _series_label("pre", patient_friendly)))
    if any(p.post is not None for p in mp.points):
        entries.append(("post", _series_label("post", patient_friendly)))
    return tuple(entries) if len(entries) >= 2 else ()


#: The measure chart's legend: font size, and handle length, gap to the label and space
#: between columns, in font sizes.
_LEGEND_SIZE, _HANDLE, _HANDLE_PAD, _COLUMN_SPACE = 8.5, 1.8, 0.5, 1.4


def _legend_columns(entries: tuple[tuple[str, str], ...], room: float) -> int:
    """The most columns (all entries in one row when they fit) whose legend is at most
    ``room`` points wide. Entries fill columns as Matplotlib fills them (the first columns
    one longer)."""
    widths = np.array([(_HANDLE + _HANDLE_PAD) * _LEGEND_SIZE + _text_width(label, _LEGEND_SIZE)
                       for _, label in entries])
    for cols in range(len(entries), 1, -1):
        columns = np.array_split(widths, cols)
        if sum(column.max() for column in columns) + _COLUMN_SPACE * _LEGEND_SIZE * (cols - 1) \
                <= room:
            return cols
    return 1


def _room_for_latest(mp: MeasureProgress, lo: date, hi: date, axes_width: float) -> date:
    """The end of the date axis, moved right by whole days when the latest value's label (drawn
    right of the last point, see :func:`_draw_series`) would run past the right margin."""
    if not mp.series:
        return hi
    last = mp.series[-1]
    label = _text_width(mp.catalog.format_value(last.pre), _LATEST_SIZE, "bold")
    past_axes = _LATEST_OFFSET + label - _RIGHT + 6  # and a little air
    share = past_axes / axes_width if axes_width > 0 else 0
    if past_axes <= 0 or not 0 < share < 0.5 or (hi - last.day).days >= share * (hi - lo).days:
        return hi
    return lo + timedelta(days=math.ceil((last.day - lo).days / (1 - share)))


def _legend(ax, entries: tuple[tuple[str, str], ...], colour: str, cols: int) -> None:
    """The legend above the plot, from stand-ins styled as the chart's artists are."""
    handles = []
    for kind, label in entries:
        style = _STYLES[kind](colour, 6)
        if kind == "band-fill":
            handles.append(FillBetweenPolyCollection("x", np.array([0.0, 1.0]), np.zeros(2),
                                                     np.ones(2), **style, label=label))
        else:
            handles.append(Line2D([], [], **style, label=label))
    ax.legend(handles, [label for _, label in entries], loc="lower left",
              bbox_to_anchor=(0, 1.0), ncols=cols, frameon=False, borderaxespad=0.3,
              handlelength=_HANDLE, columnspacing=_COLUMN_SPACE, handletextpad=_HANDLE_PAD,
              fontsize=_LEGEND_SIZE, labelcolor=_MUTED)


def _figure_legend_entries(measures: Sequence[MeasureProgress],
                           patient_friendly: bool) -> tuple[tuple[str, str], ...]:
    """(kind, label) of each entry of the overview's legend."""
    entries = [("pre", "Before treatment" if patient_friendly else "Pre-treatment")]
    if any(p.post is not None for mp in measures for p in mp.points):
        entries.append(("post", "After treatment" if patient_friendly
                        else "Post-treatment retest"))
    if any(mp.goal_target is not None for mp in measures):
        entries.append(("goal", "Your goal" if patient_friendly else "Goal"))
    if any(mp.catalog.normal is not None and not _goal_is_normal(mp) for mp in measures):
        entries.append(("normal", "Typical value" if patient_friendly else "Normal reference"))
    if any(mp.status in ("plateau", "worsening") for mp in measures):
        entries.append(("window", "Plateau / worsening window" if not patient_friendly
                        else "Recent visits compared"))
    return tuple(entries)


def _figure_legend(fig: Figure, entries: tuple[tuple[str, str], ...]) -> None:
    handles = []
    for kind, label in entries:
        if kind == "pre":
            handles.append(Line2D([], [], color=_MUTED, lw=2, marker="o", ms=4.5, mfc=_MUTED,
                                  mec="white", label=label))
        elif kind == "post":
            handles.append(Line2D([], [], ls="none", marker="o", ms=4, mfc="white", mec=_MUTED,
                                  mew=1.4, label=label))
        elif kind == "goal":
            handles.append(Line2D([], [], color=_GOAL, lw=1.1, ls=(0, (5, 3)), label=label))
        elif kind == "normal":
            handles.append(Line2D([], [], color=_NORMAL, lw=1, ls=(0, (1, 2)), label=label))
        else:
            handles.append(Patch(color=STATUS_COLOURS["plateau"], alpha=0.25, lw=0,
                                 label=label))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(_pt_x(fig, 8),
               1 - _pt_y(fig, 40)), ncols=len(handles), frameon=False, fontsize=8,
               handlelength=1.8, columnspacing=1.2, handletextpad=0.5, labelcolor=_MUTED)


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _savefig(fig: Figure, fmt: str) -> bytes:
    """Draw and encode ``fig`` (under the charts' rc settings, which the caller holds)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=fig.dpi, facecolor="white", **_SAVEFIG[fmt])
    return buffer.getvalue()


def _finish(data: bytes, fmt: str, width: int, height: int, measures: list[MeasureProgress],
            patient_friendly: bool) -> bytes:
    if fmt == "svg":
        data = _annotate_svg(data, measures, width, height, patient_friendly)
    return data


def _annotate_svg(data: bytes, measures: list[MeasureProgress], width: int, height: int,
                  patient_friendly: bool) -> bytes:
    """Size the SVG in pixels, give it a title and description, and label every marker.

    Edits matplotlib's output as text rather than re-serialising it with ElementTree, which
    would need process-wide namespace registrations to keep the ``xlink`` prefix.
    """
    text = data.decode("utf-8")
    values = {mp.measure: _value_texts(mp.catalog) for mp in measures}
    summary = " ".join(chart_alt_text(mp, patient_friendly=patient_friendly)
                       for mp in measures) or "No measures recorded yet."
    listing = " ".join(_data_listing(mp, values[mp.measure]) for mp in measures)
    root_start = text.index("<svg ")
    root_end = text.index(">", root_start)
    root = text[root_start:root_end]
    root = re.sub(r'\swidth="[^"]*"', f' width="{width}"', root, count=1)
    root = re.sub(r'\sheight="[^"]*"', f' height="{height}"', root, count=1)
    header = (f'{root} role="img">\n <title>{escape(summary)}</title>\n'
              f" <desc>{escape(listing)}</desc>")
    text = text[:root_start] + header + text[root_end + 1:]
    # Viewers without DejaVu Sans fall back to fonts of similar width.
    text = text.replace("font-family: 'DejaVu Sans'", _SVG_FONTS)

    cursor = 0
    for index, mp in enumerate(measures):
        suffix = "" if len(measures) == 1 else f"-{index + 1}"
        for phase, points in (("pre", mp.series),
                              ("post", tuple(p for p in mp.points if p.post is not None))):
            if not points:
                continue
            text, cursor = _label_markers(text, cursor, mp, phase, points, suffix,
                                          values[mp.measure])
    return text.encode("utf-8")


def _label_markers(text: str, cursor: int, mp: MeasureProgress, phase: str,
                   points: Sequence[Point], suffix: str,
                   value_text: Callable[[float], str]) -> tuple[str, int]:
    """Rename the next ``values-<phase>`` group and attach each point to its marker."""
    opening = f'<g id="values-{phase}">'
    start = text.find(opening, cursor)
    if start < 0:
        return text, cursor
    indent = text[text.rfind("\n", 0, start) + 1:start]
    end = text.find(f"\n{indent}</g>", start)
    side = f' data-side="{mp.side}"' if mp.side else ""
    group = (f'<g id="values-{phase}{suffix}" data-measure="{mp.measure}"{side}>'
             + text[start + len(opening):end])
    markers = list(_USE.finditer(group))
    # A marker outside the canvas is not written; then only the <desc> lists the values.
    if len(markers) == len(points):
        word = "before treatment" if phase == "pre" else "after treatment"
        pieces, last = [], 0
        for match, point in zip(markers, points):
            value = point.pre if phase == "pre" else point.post
            pieces.append(group[last:match.start()])
            pieces.append(
                f'<use {match.group(1).rstrip()} data-date="{point.day.isoformat()}" '
                f'data-value="{value:g}" data-phase="{phase}">'
                f"<title>{escape(f'{_day_text(point.day)} · {word}: {value_text(value)}')}"
                "</title></use>")
            last = match.end()
        group = "".join(pieces) + group[last:]
    return text[:start] + group + text[end:], start + len(group)


def _data_listing(mp: MeasureProgress, value_text: Callable[[float], str]) -> str:
    entries = []
    for p in mp.points:
        parts = []
        if p.pre is not None:
            parts.append(f"{value_text(p.pre)} before treatment")
        if p.post is not None:
            parts.append(f"{value_text(p.post)} after")
        entries.append(f"{_day_text(p.day)}: {', '.join(parts)}")
    return f"{mp.label}: " + ("; ".join(entries) if entries else "no values") + "."


def _value_texts(m: Measure) -> Callable[[float], str]:
    """``m.format_value``, remembering each value's text for one chart (values recur)."""
    texts: dict[float, str] = {}

    def value_text(value: float) -> str:
        text = texts.get(value)
        if text is None:
            text = texts[value] = m.format_value(value)
        return text

    return value_text


#: :func:`format_day` with the year, remembered: the same visit days recur in every chart.
_day_text = functools.lru_cache(maxsize=4096)(format_day)
