"""``moecomm tp``: TP all-reduce bytes per rank per layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    SWEEP,
    SWEEP_HELP,
    dtype_option,
    force_option,
    format_option,
    hardware_options,
    hidden_option,
    link,
    plot_option,
    progress,
    save_plot,
    source_options,
    sweep_workload_options,
)


@click.command("tp")
@source_options
@hidden_option
@sweep_workload_options
@click.option("--tp", metavar=SWEEP, help="Tensor-parallel group size." + SWEEP_HELP)
@dtype_option
@hardware_options
@plot_option
@force_option
@format_option
def command(fmt: str, plot: str | None, force: bool, **kw: Any) -> None:
    """TP all-reduce bytes per rank for one layer output of [b·s, h] (ring algorithm).

    Also prints the bound 2·b·s·h·β of the global-batch analysis, which does not shrink as tp
    grows.

    A --deployment fills tp (its attention TP) and the model; explicit flags override it.

    With --hardware, adds allreduce_seconds (ring, ranks filling nodes). --plot FILE draws
    the bytes (docs/plots.md).

    Sweeps: --tokens, --batch, --seq and --tp take a comma list or a range; one row per point.

    Example: moecomm tp --hidden 7168 --batch 1 --seq 4096 --tp 8
    """
    from moecomm import api

    report = api.sweep("tp", link=link(kw), progress=progress(fmt, "tp sweep"), **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
