"""Draw a ``FigureSpec`` with matplotlib (Agg, no display) into PNG, SVG or PDF bytes, the same
bytes for the same input: matplotlib's default style, one bundled font, no dates in metadata."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from moecomm.plots.spec import FigureSpec, Panel, Series

STYLE: Any = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs on every machine
    "font.size": 8,
    "svg.fonttype": "path",
    "svg.hashsalt": "moecomm",  # fixed ids instead of random ones
    "pdf.fonttype": 42,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": "viridis",
}
METADATA: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": "moecomm"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "moecomm", "Producer": "moecomm"},
    "png": {"Software": "moecomm"},
}
_WIDTH_IN = 11.0
_MAX_BARS = 128
"""Bar panels with more categories (ranks) are drawn as steps."""
_WRAP = 150
_MAX_VECTOR_POINTS = 2000
"""Scatters of more points are drawn as one raster image in SVG and PDF."""


def _panel(fig: Figure, ax: Any, p: Panel) -> None:
    ax.set_title(p.title)
    ax.set_xlabel(p.xlabel)
    ax.set_ylabel(p.ylabel)
    if p.kind == "heatmap":
        image = ax.imshow(p.matrix, aspect="auto", interpolation="nearest", origin="upper")
        fig.colorbar(image, ax=ax, label=p.series[0].label if p.series else "")
        ax.grid(False)
        if p.node_size and p.node_size < len(p.matrix):
            for k in range(p.node_size, len(p.matrix), p.node_size):
                ax.axhline(k - 0.5, color="white", linewidth=0.8)
                ax.axvline(k - 0.5, color="white", linewidth=0.8)
        return
    if p.kind == "bars" and len(p.categories) > _MAX_BARS:
        for s in p.series:  # thousands of ranks: steps, not thousands of bar patches
            ax.step(s.x, s.y, where="mid", label=s.label)
    elif p.kind == "bars":
        width = 0.8 / max(1, len(p.series))
        for i, s in enumerate(p.series):
            offset = (i - (len(p.series) - 1) / 2) * width
            ax.bar([x + offset for x in s.x], s.y, width=width, label=s.label)
        n = len(p.categories)
        step = max(1, -(-n // 16))  # at most 16 tick labels on a rank axis
        ax.set_xticks(range(0, n, step), p.categories[::step])
        ax.margins(y=0.15)  # room for the busiest-rank mark
    else:
        for band in p.bands:
            ax.fill_between(band.x, band.low, band.high, alpha=band.alpha, color="C7", lw=0)
            ax.plot([], [], color="C7", alpha=min(1.0, 3 * band.alpha), lw=6, label=band.label)
        for s in p.series:
            _series(ax, s)
    if p.xlog:
        ax.set_xscale("log", base=p.xbase)
    if p.ylog:
        ax.set_yscale("log")
    for x, label in p.vlines:
        ax.axvline(x, color="grey", linestyle="--", linewidth=1, label=label)
    for y, label in p.hlines:
        ax.axhline(y, color="black", linestyle=":", linewidth=1, label=label)
    if p.plain_ticks:
        _plain(ax.xaxis if p.xlog else None, ax.yaxis if p.ylog else None)
    if p.note:
        # Right of the axes (the constrained layout makes room for it), never over a point.
        ax.text(
            1.02,
            1.0,
            p.note,
            transform=ax.transAxes,
            ha="left",
            va="top",
            multialignment="left",
            fontsize=7,
            family="DejaVu Sans Mono",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85},
        )
    for i, (x, y, label) in enumerate(p.marks):
        ax.annotate(
            label,
            (x, y),
            xytext=(0 if i == 0 else 10 * (-1) ** i, 12 + 11 * i),  # several: staggered
            textcoords="offset points",
            ha="center",
            arrowprops={"arrowstyle": "->"},
        )
    ax.legend(fontsize=7)


def _plain(*axes: Any) -> None:
    """Log axes labelled as plain numbers, at 1, 2 and 5 times each power of ten."""
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _: Any) -> str:
        return f"{value:g}" if f"{value:.0e}"[0] in "125" else ""

    for axis in axes:
        if axis is not None:
            axis.set_major_formatter(FuncFormatter(label))
            axis.set_minor_formatter(FuncFormatter(label))


def _series(ax: Any, s: Series) -> None:
    if s.style == "points":
        # Thousands of layouts: one raster image inside an SVG or PDF, not thousands of paths.
        ax.plot(
            s.x,
            s.y,
            linestyle="none",
            marker=s.marker,
            markersize=4 if len(s.x) < 1000 else 2,
            color=s.color,
            label=s.label,
            rasterized=len(s.x) > _MAX_VECTOR_POINTS,
            zorder=1.8,  # under the model's lines, the diagonal and the front
        )
    elif s.style == "dashed":
        ax.plot(s.x, s.y, linestyle="--", linewidth=1, color=s.color, label=s.label)
    else:
        size = 3 if len(s.x) > 1 else 7  # one point alone (a single collective) must show
        ax.plot(s.x, s.y, marker=s.marker, markersize=size, color=s.color, label=s.label)


def figure(spec: FigureSpec) -> Figure:
    """The matplotlib figure of a spec: panels in a row of at most two, caption below."""
    n = len(spec.panels)
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    caption = textwrap.fill(spec.caption, _WRAP)
    title = textwrap.fill(spec.title, 110)
    caption_in = 0.16 * (caption.count("\n") + 1) + 0.2
    height = 3.6 * rows + caption_in + 0.5
    fig = Figure(figsize=(_WIDTH_IN, height))
    bottom = caption_in / height
    fig.set_layout_engine(ConstrainedLayoutEngine(rect=(0, bottom, 1, 1 - bottom)))
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=10)
    for i, panel in enumerate(spec.panels):
        _panel(fig, fig.add_subplot(rows, cols, i + 1), panel)
    fig.text(0.01, 0.01, caption, fontsize=7, va="bottom", ha="left")
    return fig


def render(spec: FigureSpec, fmt: str) -> bytes:
    """PNG, SVG or PDF bytes of a spec."""
    # matplotlib's defaults, not the user's matplotlibrc, then ours: the same file everywhere.
    with matplotlib.style.context(["default", STYLE]):
        fig = figure(spec)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=METADATA[fmt], dpi=150)
    return buf.getvalue()
