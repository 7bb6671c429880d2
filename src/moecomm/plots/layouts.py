"""The figure of ``moecomm plan``: memory per GPU against the objective's quantity for every
layout, the Pareto front, the GPU memory limit and the top picks. Every point is a row of the
plan (``plan.Candidate``): its ``memory_bytes_per_gpu`` and the field the objective ranks by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moecomm.errors import MoecommError, field
from moecomm.plots.spec import GB, FigureSpec, Panel, Series, num
from moecomm.report import Report

LABELLED = 5
"""Top picks labelled with their layout (at most --top of them)."""
_LATENCY = {"prefill": "TTFT", "decode": "TPOT", "train": "step time"}


def quantity(inputs: dict[str, Any]) -> tuple[str, float, str, bool]:
    """The x-axis: the row field, its unit (seconds per axis unit, or 1), its label, and
    whether more is better. The memory objective plots memory against the step time."""
    objective, phase = inputs["objective"], inputs["phase"]
    if objective == "throughput":
        return "tokens_per_second_per_gpu", 1, "throughput (tokens/s per GPU)", True
    if objective == "latency":
        return "latency_seconds", 1e-3, f"latency: {_LATENCY[phase]} (ms)", False
    if objective == "comm" and inputs["rank_by"] == "token":
        return "comm_seconds_per_token", 1e-6, "communication per token (µs)", False
    if objective == "comm":
        return "comm_seconds_per_step", 1e-3, "communication per step, per GPU (ms)", False
    return "step_seconds", 1e-3, "step time (ms)", False


def pareto(points: Sequence[tuple[float, float]], more_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both x (the objective) and y (memory,
    less is better), ordered along x."""
    order = sorted(
        range(len(points)),
        key=lambda i: ((-points[i][0] if more_is_better else points[i][0]), points[i][1]),
    )
    front: list[int] = []
    for i in order:
        if not front or points[i][1] < points[front[-1]][1]:
            front.append(i)
    return front


def _tokens(inputs: dict[str, Any]) -> str:
    if inputs.get("micro_batch"):
        return f"micro-batches of {inputs['micro_batch']} × {inputs['seq']:,} tokens"
    if inputs.get("tokens_per_gpu"):
        return f"{inputs['tokens_per_gpu']:,} tokens per GPU"
    if inputs.get("concurrency") is not None:
        return f"{inputs['concurrency']:,} requests in flight"
    return f"global batch {inputs['global_batch']:,} tokens"


def _spread(values: Sequence[float]) -> bool:
    """Log axis: all positive and spread over more than a factor 10."""
    return bool(values) and min(values) > 0 and max(values) > 10 * min(values)


def figure(report: Report) -> FigureSpec:
    rows = list(report.result)
    if not rows or not hasattr(rows[0], "memory_bytes_per_gpu"):
        raise MoecommError(
            f"{field('plot')} draws memory and time, which {field('launch')} rows do not hold; "
            f"leave out {field('launch')}"
        )
    inputs = (report.envelope or {})["inputs"]
    name, unit, label, more = quantity(inputs)
    xy = [(num(getattr(r, name), unit), num(r.memory_bytes_per_gpu, GB)) for r in rows]
    fits = [i for i, r in enumerate(rows) if r.fits]
    over = [i for i, r in enumerate(rows) if not r.fits]
    among = fits or list(range(len(rows)))
    front = [among[i] for i in pareto([xy[i] for i in among], more)]
    series = [
        Series(
            f"{len(fits):,} layouts that fit",
            tuple(xy[i][0] for i in fits),
            tuple(xy[i][1] for i in fits),
            "points",
            "C0",
        ),
        Series(
            f"{len(over):,} layouts that do not fit",
            tuple(xy[i][0] for i in over),
            tuple(xy[i][1] for i in over),
            "points",
            "C7",
            marker="x",
        ),
        Series(
            f"Pareto front of the layouts {'that fit' if fits else '(none fits)'} ({len(front)})",
            tuple(xy[i][0] for i in front),
            tuple(xy[i][1] for i in front),
            color="C3",
        ),
    ]
    usable = rows[0].usable_bytes_per_gpu
    device = inputs["memory_bytes_per_gpu"]
    hlines = [(num(usable, GB), f"usable memory {num(usable, GB):g} GB per GPU")]
    if device != usable:
        hlines.append((num(device, GB), f"GPU memory {num(device, GB):g} GB"))
    top = min(LABELLED, report.table_rows or LABELLED, len(rows))
    marks = tuple((*xy[i], f"#{rows[i].rank}") for i in range(top))
    note = "\n".join(
        f"#{r.rank}: tp {r.tp}"
        + (f" cp {r.cp}" if r.cp > 1 else "")
        + f" dp {r.dp} ep {r.ep} edp {r.edp} etp {r.etp} pp {r.pp}"
        + ("" if r.fits else " (does not fit)")
        for r in rows[:top]
    )
    xs, ys = [x for x, _ in xy], [y for _, y in xy] + [y for y, _ in hlines]
    panel = Panel(
        f"Every layout: memory per GPU against {label.split(' (')[0]}; top {top} labelled",
        label,
        "memory per GPU, largest pipeline stage (GB = 1e9 B)",
        "lines",
        tuple(s for s in series if s.x),
        xlog=_spread(xs),
        ylog=_spread(ys),
        xbase=10,
        hlines=tuple(hlines),
        marks=marks,
        plain_ticks=True,
        note=f"Top {top} by {label.split(' (')[0]}:\n{note}",
    )
    title = (
        f"{report.title}: memory per GPU against {label}; {inputs['phase']}, "
        f"{_tokens(inputs)}, {inputs['hardware']}; GB = 1e9 B"
    )
    return FigureSpec(title, report.caption, (panel,))
