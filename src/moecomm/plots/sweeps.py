"""The figure of a sweep: a quantity against the first swept option, one line per value of the
second (``moecomm.sweep``)."""

from __future__ import annotations

from typing import Any

from moecomm.plots.spec import GB, FigureSpec, Panel, Series, collective_panels, num
from moecomm.report import Report

AXES = {
    "tokens": "tokens b·s per rank",
    "batch": "micro-batch b per rank",
    "seq": "sequence length s",
    "ep": "EP size (ranks)",
    "tp": "TP size (ranks)",
    "nbytes": "message size (bytes, nccl-tests' size)",
    "ranks": "ranks n",
}
"""The x-axis label of each sweepable option."""

SHOWN = {"nbytes": "bytes", "kind": "collective"}
"""Names of swept options in titles, where they differ from the option."""

BYTES = {
    "ep": ("ep_bytes_per_rank", "EP dispatch + combine bytes per rank (GB = 1e9 B)"),
    "traffic": ("ep_bytes_per_rank", "EP dispatch + combine bytes per rank, mean (GB = 1e9 B)"),
    "tp": ("allreduce_bytes_per_rank", "TP all-reduce bytes per rank (GB = 1e9 B)"),
}
TIMES = {
    "ep": ("dispatch_seconds", "combine_seconds"),
    "traffic": ("dispatch_seconds", "combine_seconds"),
    "tp": ("allreduce_seconds",),
}


def _groups(report: Report) -> dict[str, list[tuple[int, Any]]]:
    """Rows by the value of the line option (one group without one), each with its x value."""
    facts = report.facts
    x, line = facts["x"], facts["line"]
    groups: dict[str, list[tuple[int, Any]]] = {}
    for point, row in zip(facts["points"], report.result, strict=True):
        value = point[line] if line is not None else None
        label = "" if line is None else (value if isinstance(value, str) else f"{line} = {value:,}")
        groups.setdefault(label, []).append((point[x], row))
    return groups


def collective_lines(report: Report) -> dict[str, list[Any]]:
    """A collective sweep's lines: the rows of each value of the line option."""
    return {label or "time": [row for _, row in part] for label, part in _groups(report).items()}


def figure(report: Report) -> FigureSpec:
    facts = report.facts
    command, x = facts["command"], facts["x"]
    groups = _groups(report)
    xs = [p[x] for p in facts["points"]]
    xlog = len(set(xs)) > 2 and max(xs) >= 4 * min(xs)
    if command == "collective":
        panels = collective_panels(collective_lines(report), {"nbytes": "bytes"}.get(x, x), AXES[x])
    else:
        field, ylabel = BYTES[command]
        panels = (
            Panel(
                "Bytes per rank, one layer",
                AXES[x],
                ylabel,
                "lines",
                tuple(
                    Series(
                        label or ylabel.split(" (")[0],
                        tuple(float(v) for v, _ in part),
                        tuple(num(getattr(r, field), GB) for _, r in part),
                    )
                    for label, part in groups.items()
                ),
                xlog=xlog,
                ylog=xlog,
            ),
        )
        first = report.result[0]
        if getattr(first, TIMES[command][0], None) is not None:
            panels += (
                Panel(
                    "Time, one layer",
                    AXES[x],
                    "time (µs): " + " + ".join(t.replace("_seconds", "") for t in TIMES[command]),
                    "lines",
                    tuple(
                        Series(
                            label or "time",
                            tuple(float(v) for v, _ in part),
                            tuple(
                                num(sum(getattr(r, t) for t in TIMES[command]), 1e-6)
                                for _, r in part
                            ),
                        )
                        for label, part in groups.items()
                    ),
                    xlog=xlog,
                    ylog=xlog,
                ),
            )
    swept = ", ".join(
        f"{SHOWN.get(name, name)} over {len(vals)} values" for name, vals in facts["values"].items()
    )
    title = f"{report.title.removesuffix(': one row per point')}: sweep of {swept}"
    return FigureSpec(title, report.caption, panels)
