"""Measured points on a collective figure (``collective --plot FILE --measured LOG``).

The files are read by the calibration readers (``calibration.samples.read``: nccl-tests logs and
moecomm-bench/1 files), and a case is drawn on the line of the model with the same collective,
rank count and node count. Its time is the file's (back-to-back: nccl-tests' out-of-place time or
``batched_avg_s``; per-op: ``median_s``); its busbw is the size × the model row's busbw factor
(nccl-tests' definition, which depends on the collective and the rank count only) / that time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from moecomm import safe_io
from moecomm.config import TIMINGS
from moecomm.errors import MoecommError, field
from moecomm.plots.spec import GB, FigureSpec, Series, num
from moecomm.report import Report
from moecomm.validation import measured as measured_time

MARKERS = {"back-to-back": "x", "per-op": "+"}


def lines(report: Report) -> dict[str, list[Any]]:
    """The model's lines of a collective figure, in drawing order, each with its rows."""
    if report.figure == "collective":
        r = report.result
        return {f"{r.kind} ({r.algorithm}), {r.ranks} ranks": [r]}
    from moecomm.plots.sweeps import collective_lines

    return collective_lines(report)


def overlay(spec: FigureSpec, report: Report, paths: Sequence[str]) -> FigureSpec:
    """``spec`` (time and busbw against the size) with the measured cases of ``paths``."""
    from moecomm.calibration.samples import read

    sweep = report.figure == "sweep" and report.facts.get("command") == "collective"
    if report.figure != "collective" and not sweep:
        raise MoecommError(f"{field('measured')} draws on the figure of collective only")
    if sweep and report.facts["x"] != "nbytes":
        raise MoecommError(
            f"{field('measured')} draws measured sizes, and this figure's x-axis is "
            f"{report.facts['x']}: give {field('nbytes')} as a list or range"
        )
    model = lines(report)
    wanted = {(rows[0].kind, rows[0].ranks, rows[0].nodes): label for label, rows in model.items()}
    found: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    sources = []
    for path in paths:
        samples, prov = read(path)
        mine = [s for s in samples if not s.moe and (s.kind, s.ranks, s.nodes) in wanted]
        if not mine:
            sought = "; ".join(
                f"{kind} on {ranks} ranks, {nodes} node{'s' * (nodes > 1)}"
                for kind, ranks, nodes in wanted
            )
            raise MoecommError(
                f"{field('measured')} {safe_io.shown_path(path)} holds no case of the figure's "
                f"collectives ({sought})"
            )
        sources.append(f"{prov.name} ({prov.tool}, {len(mine)} cases)")
        for s in mine:
            label = wanted[(s.kind, s.ranks, s.nodes)]
            factor = Fraction(model[label][0].busbw_factor)
            for conv in TIMINGS:
                t = measured_time(s, conv)
                if t is not None and t > 0:
                    busbw = float(s.bytes * factor) / t
                    found.setdefault((label, conv), []).append((s.bytes, t, busbw))
    order = list(model)
    time_series, busbw_series = [], []
    for (label, timing), points in sorted(
        found.items(), key=lambda k: (order.index(k[0][0]), k[0][1])
    ):
        points.sort()
        colour = f"C{order.index(label) % 10}"
        xs = tuple(float(b) for b, _, _ in points)
        row = model[label][0]
        name = f"measured {timing}: {row.kind}, {row.ranks} ranks"
        time_series.append(
            Series(
                name,
                xs,
                tuple(num(t, 1e-6) for _, t, _ in points),
                "points",
                colour,
                MARKERS[timing],
            )
        )
        busbw_series.append(
            Series(
                name, xs, tuple(num(b, GB) for _, _, b in points), "points", colour, MARKERS[timing]
            )
        )
    time_panel, busbw_panel = spec.panels
    caption = (
        f"{spec.caption} Points: measured in {'; '.join(sources)}; busbw = size × busbw factor / "
        "measured time (nccl-tests); back-to-back ×, per-op +."
    )
    return dataclasses.replace(
        spec,
        caption=caption,
        panels=(
            dataclasses.replace(time_panel, series=time_panel.series + tuple(time_series)),
            dataclasses.replace(busbw_panel, series=busbw_panel.series + tuple(busbw_series)),
        ),
    )
