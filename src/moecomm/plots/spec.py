"""What each figure shows, as numbers read from a report's own result: no matplotlib here.

A figure never computes a count: every plotted value is a field of the result the table renders,
scaled to the unit its axis names (GB = 1e9 B, µs, GB/s), so ``tests/test_plots.py`` can check
the drawn data against the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from moecomm.report import Report, traffic_caption
from moecomm.units import SCALES

GB = 10**9
BYTES_NOTE = "kB/MB/GB = 1e3/1e6/1e9 B"


@dataclass(frozen=True)
class Series:
    """One line (x against y) or one set of bars (y per category, x = category index)."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: Literal["line", "points", "dashed"] = "line"
    """A line with markers, markers alone (a scatter of cases or layouts), or a dashed line."""
    color: str | None = None
    """A matplotlib colour ("C0" … "C9", "black"); None: the next of the axes' cycle."""
    marker: str = "o"


@dataclass(frozen=True)
class Band:
    """A shaded region between two lines over the same x (the ±10% band of y = x)."""

    label: str
    x: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    alpha: float = 0.15


@dataclass(frozen=True)
class Panel:
    """One axes of a figure."""

    title: str
    xlabel: str
    ylabel: str
    kind: Literal["lines", "bars", "heatmap"]
    series: tuple[Series, ...] = ()
    categories: tuple[str, ...] = ()
    """Bars: the label of each x position."""
    matrix: tuple[tuple[float, ...], ...] = ()
    """Heatmap: rows = source rank, columns = destination rank."""
    xlog: bool = False
    ylog: bool = False
    vlines: tuple[tuple[float, str], ...] = ()
    hlines: tuple[tuple[float, str], ...] = ()
    marks: tuple[tuple[float, float, str], ...] = ()
    """Annotated points (x, y, text): the busiest rank, a crossover."""
    node_size: int | None = None
    """Heatmap: ranks per node, drawn as boundaries."""
    bands: tuple[Band, ...] = ()
    xbase: int = 2
    """The base of a log x-axis: 2 for sizes and ranks, 10 for times."""
    plain_ticks: bool = False
    """Log axes labelled 20, 50, 100, … instead of powers of ten."""
    note: str = ""
    """A text box in the lower right corner (plan's top picks, by number)."""


@dataclass(frozen=True)
class FigureSpec:
    """A whole figure: its title (with the convention), panels, and the caption below them."""

    title: str
    caption: str
    panels: tuple[Panel, ...]


def num(value: Any, scale: int | float = 1) -> float:
    """A plotted number: the exact value divided by its axis unit, rounded once to float."""
    if isinstance(value, int | Fraction):
        return float(Fraction(value) / Fraction(scale))
    return float(value) / scale


def byte_unit(values: Sequence[Any]) -> tuple[int, str]:
    """The decimal unit (B, kB, MB, GB, TB) that keeps the largest value at least 1."""
    top = max((abs(Fraction(v)) for v in values if v is not None), default=Fraction(0))
    for scale, name in SCALES:
        if top >= scale:
            return scale, name
    return 1, "B"


def spec(report: Report) -> FigureSpec:
    """The figure of one report, chosen by ``report.figure`` (sweeps: ``plots.sweeps``, plan:
    ``plots.layouts``, validate: ``plots.checks``)."""
    kinds = {
        "compare": _compare,
        "traffic": _traffic,
        "ep": _ep,
        "tp": _tp,
        "collective": _collective,
    }
    if report.figure not in kinds:
        raise ValueError(f"this report has no figure ({report.title})")
    return kinds[report.figure](report)


def _compare(report: Report) -> FigureSpec:
    rows = list(report.result)
    # Log axes: M = 1 moves no bytes and has no point on them.
    drawn = [r for r in rows if r.ep_bytes_per_rank and r.tp_bytes_per_rank]
    k, tokens = report.facts["top_k"], report.facts["tokens"]
    sizes = tuple(float(r.size) for r in drawn)
    panels = [
        Panel(
            "Bytes per GPU, one MoE layer",
            "group size M (GPUs)",
            "bytes per GPU (GB = 1e9 B)",
            "lines",
            (
                Series(
                    "EP all-to-all (dispatch + combine)",
                    sizes,
                    tuple(num(r.ep_bytes_per_rank, GB) for r in drawn),
                ),
                Series(
                    "TP all-reduce (ring)",
                    sizes,
                    tuple(num(r.tp_bytes_per_rank, GB) for r in drawn),
                ),
            ),
            xlog=True,
            ylog=True,
            vlines=((float(k), f"M = K = {k}: EP moves less beyond"),),
        )
    ]
    if drawn and getattr(drawn[0], "allreduce_seconds", None) is not None:
        panels.append(
            Panel(
                "Time per GPU, one MoE layer",
                "group size M (GPUs)",
                "time (µs)",
                "lines",
                (
                    Series(
                        "EP dispatch + combine",
                        sizes,
                        tuple(num(r.dispatch_seconds + r.combine_seconds, 1e-6) for r in drawn),
                    ),
                    Series(
                        "TP all-reduce", sizes, tuple(num(r.allreduce_seconds, 1e-6) for r in drawn)
                    ),
                ),
                xlog=True,
                ylog=True,
                vlines=((float(k), f"M = K = {k}"),),
            )
        )
    title = f"{report.title}: global batch S = {tokens:,} tokens over M GPUs, top-K = {k}"
    caption = report.caption
    if len(drawn) < len(rows):
        caption += " M = 1 moves no bytes and is not drawn on the log axes."
    return FigureSpec(title, caption, tuple(panels))


def _traffic(report: Report) -> FigureSpec:
    layered = isinstance(report.result, list)
    r = report.result[0] if layered else report.result
    n = len(r.per_rank)
    matrix = r.matrix_bytes
    scale, unit = byte_unit([x for row in matrix for x in row])
    bar_scale, bar_unit = byte_unit([v for p in r.per_rank for v in (p.send_bytes, p.recv_bytes)])
    ranks = tuple(float(i) for i in range(n))
    top = r.busiest_rank
    panels = [
        Panel(
            "Dispatch bytes, source rank → destination rank",
            "destination rank",
            "source rank",
            "heatmap",
            matrix=tuple(tuple(num(x, scale) for x in row) for row in matrix),
            node_size=r.gpus_per_node,
            series=(Series(f"bytes ({unit}; {BYTES_NOTE})", (), ()),),
        ),
        Panel(
            "Dispatch bytes per rank (combine is the transpose)",
            "rank",
            f"bytes ({bar_unit})",
            "bars",
            (
                Series("send", ranks, tuple(num(p.send_bytes, bar_scale) for p in r.per_rank)),
                Series("receive", ranks, tuple(num(p.recv_bytes, bar_scale) for p in r.per_rank)),
            ),
            categories=tuple(str(i) for i in range(n)),
            hlines=((num(r.mean_rank_recv_bytes, bar_scale), "mean receive"),),
            marks=((float(top), num(r.busiest_rank_recv_bytes, bar_scale), f"busiest rank {top}"),),
        ),
    ]
    if r.dispatch_intra_node_bytes_per_rank is not None:
        parts = (
            r.dispatch_intra_node_bytes_per_rank,
            r.dispatch_inter_node_bytes_per_rank,
            r.combine_intra_node_bytes_per_rank,
            r.combine_inter_node_bytes_per_rank,
        )
        s, u = byte_unit(parts)
        panels.append(
            Panel(
                f"Intra- and inter-node bytes ({r.gpus_per_node} ranks per node, mean)",
                "phase",
                f"bytes per rank ({u})",
                "bars",
                (
                    Series(
                        "intra-node (scale-up)", (0.0, 1.0), (num(parts[0], s), num(parts[2], s))
                    ),
                    Series(
                        "inter-node (scale-out)", (0.0, 1.0), (num(parts[1], s), num(parts[3], s))
                    ),
                ),
                categories=("dispatch", "combine"),
            )
        )
    if r.busiest_rank_recv_bytes_before is not None:
        vals = (r.busiest_rank_recv_bytes_before, r.busiest_rank_recv_bytes, r.mean_rank_recv_bytes)
        s, u = byte_unit(vals)
        panels.append(
            Panel(
                f"EPLB with {r.redundant_experts} redundant experts: before and after",
                "placement",
                f"dispatch receive bytes ({u})",
                "bars",
                (
                    Series("busiest rank", (0.0, 1.0), (num(vals[0], s), num(vals[1], s))),
                    Series("mean over ranks", (0.0, 1.0), (num(vals[2], s), num(vals[2], s))),
                ),
                categories=("before EPLB", "after EPLB"),
            )
        )
    tokens = r.input_tokens_per_rank
    title = report.title + (f" (layer 0 of {len(report.result)})" if layered else "")
    title += f": EP {r.ep}" + (
        "" if tokens is None else f", tokens b·s = {num(tokens):,.6g} per rank"
    )
    if r.hardware is not None:
        title += f", {r.hardware}"
    caption = traffic_caption(r, report.caption or None)
    return FigureSpec(title, f"{caption} Units: {BYTES_NOTE}.", tuple(panels))


def _ep(report: Report) -> FigureSpec:
    r = report.result
    vals = (
        r.dispatch_bytes_per_rank,
        r.combine_bytes_per_rank,
        r.ep_bytes_per_rank,
        r.ep_bytes_per_rank_approx,
    )
    s, u = byte_unit(vals)
    panel = Panel(
        "EP bytes per rank, one MoE layer",
        "quantity",
        f"bytes ({u}; {BYTES_NOTE})",
        "bars",
        (Series("bytes per rank", (0.0, 1.0, 2.0, 3.0), tuple(num(v, s) for v in vals)),),
        categories=("dispatch", "combine", "dispatch + combine", "≈ 4·b·s·k·h"),
    )
    title = f"{report.title}: EP {r.ep}, tokens b·s = {r.input_tokens_per_rank:,} per rank"
    return FigureSpec(title, report.caption, (panel,))


def _tp(report: Report) -> FigureSpec:
    r = report.result
    vals = (r.allreduce_bytes_per_rank, r.allreduce_bytes_per_rank_bound)
    s, u = byte_unit(vals)
    panel = Panel(
        "TP all-reduce bytes per rank, one layer output",
        "quantity",
        f"bytes ({u}; {BYTES_NOTE})",
        "bars",
        (Series("bytes per rank", (0.0, 1.0), tuple(num(v, s) for v in vals)),),
        categories=("ring all-reduce 2·(tp−1)/tp·b·s·h·β", "bound 2·b·s·h·β"),
    )
    title = f"{report.title}: TP {r.tp}, tokens b·s = {r.input_tokens_per_rank:,} per rank"
    if getattr(r, "allreduce_seconds", None) is not None:
        title += f", all-reduce {num(r.allreduce_seconds, 1e-6):,.2f} µs on {r.hardware}"
    return FigureSpec(title, report.caption, (panel,))


SIZE_AXIS = "message size (bytes, nccl-tests' size)"


def collective_panels(
    lines: dict[str, list[Any]], x: str = "bytes", xlabel: str = SIZE_AXIS
) -> tuple[Panel, ...]:
    """Time and busbw against message size (or ``x``): one line per entry of ``lines``."""

    def series(attr: str, scale: float) -> tuple[Series, ...]:
        return tuple(
            Series(
                label,
                tuple(float(getattr(r, x)) for r in part),
                tuple(num(getattr(r, attr), scale) for r in part),
                color=f"C{i % 10}",  # measured points of the same line take its colour
            )
            for i, (label, part) in enumerate(lines.items())
        )

    return (
        Panel("Time", xlabel, "time (µs)", "lines", series("seconds", 1e-6), xlog=True, ylog=True),
        Panel(
            "Bus bandwidth",
            xlabel,
            "busbw (GB/s, GB = 1e9 B)",
            "lines",
            series("busbw_bytes_per_second", GB),
            xlog=True,
        ),
    )


def _collective(report: Report) -> FigureSpec:
    r = report.result
    label = f"{r.kind} ({r.algorithm}), {r.ranks} ranks"
    return FigureSpec(report.title, report.caption, collective_panels({label: [r]}))
