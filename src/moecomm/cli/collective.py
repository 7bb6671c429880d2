"""``moecomm collective``: time, algbw and busbw of one NCCL collective on given hardware."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    SWEEP_HELP,
    force_option,
    format_option,
    hardware_options,
    link,
    plot_option,
    progress,
    save_plot,
)
from moecomm.errors import MoecommError, field


@click.command("collective")
@click.argument("kind", metavar="KIND[,KIND…]")
@click.option(
    "--bytes",
    "nbytes",
    required=True,
    metavar="SIZE|LIST|A:B:xF",
    help="Buffer size as nccl-tests counts it (e.g. 16MiB)." + SWEEP_HELP,
)
@click.option(
    "--ranks", "-n", required=True, metavar="N|LIST", help="Ranks n taking part." + SWEEP_HELP
)
@click.option(
    "--algorithm",
    type=click.Choice(["ring", "flat", "2dh"]),
    help="ring (all but all-to-all), flat or 2dh (Tutel's hierarchical all-to-all).",
)
@hardware_options
@plot_option
@click.option(
    "--measured",
    multiple=True,
    metavar="FILE",
    help="With --plot: draw the measured cases of FILE (an nccl-tests log or a moecomm-bench/1 "
    "file; repeatable) of the same collectives, ranks and nodes.",
)
@force_option
@format_option
def command(
    kind: str, fmt: str, plot: str | None, force: bool, measured: tuple[str, ...], **kw: Any
) -> None:
    """Time, algbw and busbw of one collective, under nccl-tests' conventions.

    --bytes counts what nccl-tests' size column counts: the buffer of all-reduce and broadcast,
    the total output of all-gather, the total input of reduce-scatter, each rank's send buffer
    of all-to-all. Time = fixed latency + the slower of the scale-up and scale-out links, each
    latency × messages + bytes / (bandwidth × efficiency). Ranks fill nodes of --gpus-per-node.
    --plot FILE draws time and busbw against the size (docs/plots.md); --measured LOG adds the
    measured points of an nccl-tests log or moecomm measure file.

    KIND is all-reduce, all-gather, reduce-scatter, all-to-all or broadcast. Sweeps: a comma
    list of kinds, --bytes 1KiB:1GiB:x2 or --ranks 8,16,32 give one row per point, and --plot
    one line per kind (or ranks value).

    Example: moecomm collective all-reduce --bytes 1GiB --ranks 8 --hardware h100-sxm
    """
    from moecomm import api

    if measured and plot is None:
        raise MoecommError(
            f"{field('measured')} is drawn on a figure: it needs {field('plot')} FILE"
        )
    report = api.sweep(
        "collective", kind=kind, link=link(kw), progress=progress(fmt, "collective sweep"), **kw
    )
    save_plot(report, plot, force, measured)
    emit(report.render(fmt))
