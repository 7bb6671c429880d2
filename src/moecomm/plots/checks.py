"""The figure of ``moecomm validate``: the model's time against the measured time of every case,
log–log, one panel per timing convention, one colour per collective, with y = x and the ±10% and
±25% bands. Every point is a case row of the table (``validation.Check``)."""

from __future__ import annotations

from moecomm.config import TIMINGS
from moecomm.errors import MoecommError, field
from moecomm.plots.spec import Band, FigureSpec, Panel, Series, num
from moecomm.report import Report
from moecomm.validation import collective_of

BANDS = (0.25, 0.10)
"""Relative errors shaded around y = x, widest first."""
_MARGIN = 1.5
"""The diagonal and the bands reach this factor beyond the outermost points."""


def figure(report: Report) -> FigureSpec:
    rows = list(report.result)
    cases = [r for r in rows if r.scope == "case"]
    if not cases:
        raise MoecommError(
            f"{field('plot')} draws every measured case, and {field('summary_only')} lists none; "
            f"leave out {field('summary_only')}"
        )
    colours = {
        name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(map(collective_of, cases)))
    }
    panels = []
    for conv in TIMINGS:
        mine = [c for c in cases if c.timing == conv]
        if not mine:
            continue
        xs = [num(c.measured_seconds, 1e-6) for c in mine]
        ys = [num(c.predicted_seconds, 1e-6) for c in mine]
        lo, hi = min(xs + ys) / _MARGIN, max(xs + ys) * _MARGIN
        series = [
            Series(
                name,
                tuple(num(c.measured_seconds, 1e-6) for c in mine if collective_of(c) == name),
                tuple(num(c.predicted_seconds, 1e-6) for c in mine if collective_of(c) == name),
                style="points",
                color=colour,
            )
            for name, colour in colours.items()
            if any(collective_of(c) == name for c in mine)
        ]
        series.append(Series("y = x (model = measured)", (lo, hi), (lo, hi), "dashed", "black"))
        total = next(r for r in rows if r.scope == "all" and r.timing == conv)
        panels.append(
            Panel(
                f"{conv}: {total.cases} cases, median |error| {100 * total.median_abs_error:.1f}%, "
                f"worst {100 * total.worst_abs_error:.1f}%",
                "measured time (µs)",
                "model time (µs)",
                "lines",
                tuple(series),
                xlog=True,
                ylog=True,
                xbase=10,
                bands=tuple(
                    Band(
                        f"±{round(100 * e)}%",
                        (lo, hi),
                        (lo * (1 - e), hi * (1 - e)),
                        (lo * (1 + e), hi * (1 + e)),
                        alpha=0.12 if e > 0.1 else 0.22,
                    )
                    for e in BANDS
                ),
            )
        )
    sizes = [c.bytes for c in cases if c.bytes is not None]
    timings = " and ".join(t for t in TIMINGS if any(c.timing == t for c in cases))
    title = (
        f"{report.title}: model against measured time, {timings}, sizes "
        f"{min(sizes):,}–{max(sizes):,} B (nccl-tests' size)"
    )
    return FigureSpec(title, report.caption, tuple(panels))
