"""``moecomm tp``: TP all-reduce bytes per rank per layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    dtype_option,
    force_option,
    format_option,
    hardware_options,
    hidden_option,
    link,
    plot_option,
    save_plot,
    source_options,
    workload_options,
)


@click.command("tp")
@source_options
@hidden_option
@workload_options
@click.option("--tp", type=int, help="Tensor-parallel group size.")
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

    Example: moecomm tp --hidden 7168 --batch 1 --seq 4096 --tp 8
    """
    from moecomm import api

    report = api.tp(link=link(kw), **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
