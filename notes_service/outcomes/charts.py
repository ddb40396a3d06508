"""Clinic outcome charts: aggregated data in, PNG/SVG bytes out, with alt text.

Pure functions on :class:`matplotlib.figure.Figure` (never pyplot, which keeps global state and
leaks figures in a server). Colours are the Okabe–Ito palette the progress charts use; a figure
resting on fewer plans than the clinic's minimum is drawn hatched and labelled as such, never
hidden. Each function has an ``*_alt_text`` companion that says in words what the chart shows;
SVG output carries it as ``<title>`` and the plotted numbers as ``<desc>``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from statistics import median
from xml.sax.saxutils import escape

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from notes_service.catalog import MEASURES
from notes_service.progress.charts import MEASURE_COLOURS, OKABE_ITO
from notes_service.progress.rules import format_number

__all__ = ["change_chart", "change_alt_text", "mcid_chart", "mcid_alt_text", "visits_chart",
           "visits_alt_text"]

_INK = "#1A1A1A"
_MUTED = "#595959"
_GRID = "#E6E6E6"
_LOW = "#BDBDBD"
_RC = {"svg.fonttype": "none", "svg.hashsalt": "notes-service-outcomes",
       "font.family": ["DejaVu Sans"], "font.size": 9, "axes.edgecolor": "#8C8C8C",
       "axes.labelcolor": _MUTED, "xtick.color": _MUTED, "ytick.color": _MUTED,
       "text.color": _INK}
_METADATA = {"png": {"Software": None},
             "svg": {"Date": None, "Creator": None, "Format": None, "Type": None}}


def _unit_words(code: str) -> str:
    m = MEASURES[code]
    return {"deg": "degrees", "score": "points", "%": "percentage points",
            "points": "points"}.get(m.unit, m.unit)


def _figure(width: int, height: int) -> Figure:
    return Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")


def _render(fig: Figure, fmt: str, alt: str, listing: str) -> bytes:
    if fmt not in ("png", "svg"):
        raise ValueError(f"unsupported chart format {fmt!r} (png or svg)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100, facecolor="white", metadata=_METADATA[fmt])
    data = buffer.getvalue()
    if fmt == "svg":
        text = data.decode("utf-8")
        start = text.index("<svg ")
        end = text.index(">", start)
        text = (f'{text[:end]} role="img">\n <title>{escape(alt)}</title>\n'
                f" <desc>{escape(listing)}</desc>{text[end + 1:]}")
        data = text.encode("utf-8")
    return data


def _empty(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=_MUTED,
            fontsize=11)


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_axisbelow(True)


# --------------------------------------------------------------------------------------
# Change from baseline, per practitioner
# --------------------------------------------------------------------------------------


def change_alt_text(groups: Sequence[tuple[str, Sequence[float]]], measure: str,
                    threshold: float, min_plans: int) -> str:
    """Describe the per-practitioner distribution of change in words."""
    label = MEASURES[measure].short_label
    if not groups:
        return f"Change in {label} per practitioner: no plans with a follow-up value."
    parts = []
    for name, values in groups:
        reached = sum(v >= threshold - 1e-9 for v in values)
        caution = f", fewer than {min_plans} plans" if len(values) < min_plans else ""
        parts.append(f"{name}: median {format_number(median(values))} over {len(values)} "
                     f"plan{'s' if len(values) != 1 else ''}{caution}, {reached} reaching the "
                     f"minimal important change")
    return (f"Change in {label} from the first visit to discharge or the latest visit, per "
            f"practitioner (positive = better; minimal important change "
            f"{format_number(threshold)} {_unit_words(measure)}). " + "; ".join(parts) + ".")


def change_chart(groups: Sequence[tuple[str, Sequence[float]]], *, measure: str,
                 threshold: float, min_plans: int, fmt: str = "png", width: int = 800,
                 height: int = 400) -> bytes:
    """Box plot with every plan as a dot: change of ``measure`` per practitioner."""
    colour = MEASURE_COLOURS[measure]
    label = MEASURES[measure].short_label
    height = max(height, 110 + 34 * len(groups))  # a readable row per practitioner
    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.26, right=0.97, top=1 - 48 / height, bottom=56 / height)
        fig.suptitle(f"Change in {label} per practitioner", x=0.02, ha="left",
                     fontsize=12, fontweight="bold")
        if not groups:
            _empty(ax, "No plans with a follow-up value")
        else:
            _style(ax)
            names = [f"{name}\n{len(v)} plan{'s' if len(v) != 1 else ''}"
                     + (f" (<{min_plans})" if len(v) < min_plans else "")
                     for name, v in groups]
            positions = list(range(len(groups), 0, -1))
            boxes = ax.boxplot([list(v) for _, v in groups], positions=positions,
                               orientation="horizontal", widths=0.55, patch_artist=True,
                               showfliers=False, medianprops={"color": _INK, "lw": 1.6})
            for box, (_, values) in zip(boxes["boxes"], groups):
                low = len(values) < min_plans
                box.set(facecolor="white" if low else colour + "33",
                        edgecolor=_LOW if low else colour, hatch="///" if low else None)
            for y, (_, values) in zip(positions, groups):
                if len(values) > 60:  # hundreds of dots on whole points hide the boxes
                    continue
                offsets = [((i * 0.618) % 1 - 0.5) * 0.3 for i in range(len(values))]
                ax.scatter(values, [y + o for o in offsets], s=16, color=colour, alpha=0.7,
                           edgecolors=_INK, linewidths=0.4, zorder=3)
            ax.set_yticks(positions, names)
            ax.axvline(threshold, color=OKABE_ITO["blue"], ls="--", lw=1.2)
            ax.axvline(0, color=_MUTED, lw=0.8)
            ax.text(threshold, 1.01, f" minimal important change ({format_number(threshold)})",
                    transform=ax.get_xaxis_transform(), color=OKABE_ITO["blue"], fontsize=8,
                    va="bottom")
            ax.grid(axis="x", color=_GRID)
            ax.set_xlabel(f"Change from first visit to discharge or latest "
                          f"({_unit_words(measure)}; positive = better)")
        alt = change_alt_text(groups, measure, threshold, min_plans)
        listing = "; ".join(f"{name}: " + ", ".join(format_number(v) for v in values)
                            for name, values in groups)
        return _render(fig, fmt, alt, listing)


# --------------------------------------------------------------------------------------
# Share reaching the minimal important change, by month of discharge
# --------------------------------------------------------------------------------------


def mcid_alt_text(months: Sequence[tuple[str, int, int]], measure: str,
                  min_plans: int) -> str:
    """Describe the monthly shares in words."""
    label = MEASURES[measure].short_label
    if not months:
        return f"Share of discharged plans reaching the minimal important change in {label}: " \
               "no discharged plans with a follow-up value."
    parts = [f"{month}: {reached} of {plans} ({round(100 * reached / plans)}%)"
             + (f", fewer than {min_plans} plans" if plans < min_plans else "")
             for month, reached, plans in months]
    return (f"Share of discharged plans reaching the minimal important change in {label}, "
            "by month of discharge. " + "; ".join(parts) + ".")


def mcid_chart(months: Sequence[tuple[str, int, int]], *, measure: str, min_plans: int,
               fmt: str = "png", width: int = 800, height: int = 400) -> bytes:
    """Bars: share of plans discharged each month that reached the minimal important change."""
    colour = MEASURE_COLOURS[measure]
    label = MEASURES[measure].short_label
    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.2)
        fig.suptitle(f"Reaching the minimal important change in {label}, by month of "
                     "discharge", x=0.02, ha="left", fontsize=12, fontweight="bold")
        if not months:
            _empty(ax, "No discharged plans with a follow-up value")
        else:
            _style(ax)
            xs = list(range(len(months)))
            shares = [reached / plans for _, reached, plans in months]
            low = [plans < min_plans for _, _, plans in months]
            bars = ax.bar(xs, shares, color=[("white" if lo else colour) for lo in low],
                          edgecolor=[(_LOW if lo else colour) for lo in low],
                          hatch=None, width=0.7)
            for bar, lo, (_, reached, plans) in zip(bars, low, months):
                if lo:
                    bar.set_hatch("///")
                if len(months) > 12:  # labels would overlap; the data table has them
                    continue
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02,
                        f"{reached}/{plans}", ha="center", va="bottom", fontsize=7.5,
                        color=_MUTED)
            ax.set_ylim(0, 1.12)
            ax.set_xlim(-0.6, max(len(months), 6) - 0.4)  # one month is not a wall
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            step = max(1, len(months) // 12)
            ax.set_xticks(xs[::step], [m for m, _, _ in months][::step], rotation=45,
                          ha="right")
            ax.grid(axis="y", color=_GRID)
            ax.set_xlabel("Month of discharge (hatched: fewer than "
                          f"{min_plans} plans" + ("; labels: reached / plans)"
                                                  if len(months) <= 12 else ")"))
            ax.set_ylabel("Plans reaching the change")
        alt = mcid_alt_text(months, measure, min_plans)
        listing = "; ".join(f"{m}: {r}/{n}" for m, r, n in months)
        return _render(fig, fmt, alt, listing)


# --------------------------------------------------------------------------------------
# Visits per plan
# --------------------------------------------------------------------------------------


def visits_alt_text(counts: Sequence[tuple[int, int]], planned_median: float | None) -> str:
    """Describe the distribution of visits per plan in words."""
    total = sum(n for _, n in counts)
    if not total:
        return "Visits per plan: no plans."
    values = [v for v, n in counts for _ in range(n)]
    text = (f"Visits per plan over {total} plan{'s' if total != 1 else ''}: from {values[0]} "
            f"to {values[-1]}, median {format_number(median(values))}")
    if planned_median is not None:
        text += f"; median planned visits {format_number(planned_median)}"
    return text + "."


def visits_chart(counts: Sequence[tuple[int, int]], *, planned_median: float | None,
                 fmt: str = "png", width: int = 800, height: int = 400) -> bytes:
    """Bars: how many plans had each number of visits, with the median planned visits."""
    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.14)
        fig.suptitle("Visits per plan", x=0.02, ha="left", fontsize=12, fontweight="bold")
        if not counts:
            _empty(ax, "No plans")
        else:
            _style(ax)
            ax.bar([v for v, _ in counts], [n for _, n in counts], width=0.8,
                   color=OKABE_ITO["sky_blue"], edgecolor=OKABE_ITO["blue"])
            highest = max(v for v, _ in counts)
            if planned_median is not None:
                highest = max(highest, planned_median)
                ax.axvline(planned_median, color=OKABE_ITO["vermillion"], ls="--", lw=1.4)
                # Written to the left of the line, so it stays inside the figure.
                ax.text(planned_median, 1.01, f"median planned ({format_number(planned_median)}) ",
                        transform=ax.get_xaxis_transform(), color=OKABE_ITO["vermillion"],
                        fontsize=8, va="bottom", ha="right")
            ax.set_xlim(max(0, min(v for v, _ in counts) - 1), highest + 1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="y", color=_GRID)
            ax.set_xlabel("Visits documented in the plan")
            ax.set_ylabel("Plans")
        alt = visits_alt_text(counts, planned_median)
        listing = "; ".join(f"{v} visits: {n} plans" for v, n in counts)
        return _render(fig, fmt, alt, listing)
