"""``moecomm collective``: time, algbw and busbw of one NCCL collective on given hardware."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    force_option,
    format_option,
    hardware_options,
    link,
    plot_option,
    save_plot,
)
from moecomm.timing import KINDS


@click.command("collective")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--bytes", "nbytes", required=True, help="Buffer size as nccl-tests counts it (e.g. 16MiB)."
)
@click.option("--ranks", "-n", type=int, required=True, help="Ranks n taking part.")
@click.option(
    "--algorithm",
    type=click.Choice(["ring", "flat", "2dh"]),
    help="ring (all but all-to-all), flat or 2dh (Tutel's hierarchical all-to-all).",
)
@hardware_options
@plot_option
@force_option
@format_option
def command(kind: str, fmt: str, plot: str | None, force: bool, **kw: Any) -> None:
    """Time, algbw and busbw of one collective, under nccl-tests' conventions.

    --bytes counts what nccl-tests' size column counts: the buffer of all-reduce and broadcast,
    the total output of all-gather, the total input of reduce-scatter, each rank's send buffer
    of all-to-all. Time = fixed latency + the slower of the scale-up and scale-out links, each
    latency × messages + bytes / (bandwidth × efficiency). Ranks fill nodes of --gpus-per-node.
    --plot FILE draws time and busbw against the size (docs/plots.md).

    Example: moecomm collective all-reduce --bytes 1GiB --ranks 8 --hardware h100-sxm
    """
    from moecomm import api

    report = api.collective(kind, link=link(kw), **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
