"""``moecomm traffic``: per-rank EP traffic from routing data, synthetic routing or EPLB placement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    ROUTING,
    SWEEP,
    SWEEP_HELP,
    dtype_option,
    format_option,
    hardware_options,
    link,
    model_options,
    plot_option,
    progress,
    routing_options,
    save_plot,
    sweep_workload_options,
    wire_options,
)

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("traffic")
@model_options
@sweep_workload_options
@click.option("--ep", metavar=SWEEP, help="EP size [default: from the data file]." + SWEEP_HELP)
@dtype_option
@wire_options
@routing_options
@hardware_options
@click.option("--expert-counts", type=_file, help="Per-source expert counts (JSON or CSV).")
@click.option("--topk-ids", type=_file, help="Chosen expert ids per token per rank (JSON or .npy).")
@click.option("--placement", type=_file, help="Expert → rank(s) map (JSON).")
@click.option("--redundant-experts", type=int, help="EPLB-style placement with R extra replicas.")
@click.option(
    "--routing",
    default="uniform",
    show_default=True,
    metavar="uniform|zipf:S",
    help="Synthetic routing when no data file is given: exact expectation, or sampled Zipf.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of sampled routing.")
@plot_option
@format_option
def command(fmt: str, export_matrix: str | None, plot: str | None, force: bool, **kw: Any) -> None:
    """Per-rank EP traffic for one MoE layer from routing data or synthetic routing.

    Reports send and receive bytes per rank, the ranks × ranks matrix, the busiest rank and the
    imbalance (max/mean), under the wire format, dedup and count options. Counts from data are
    exact integers; --routing uniform is an exact expectation, zipf:S a seeded sample.

    With --hardware, adds dispatch_seconds and combine_seconds (and before EPLB): bytes split by
    the hardware's nodes (or --gpus-per-node), and the busiest rank's max(send, recv) on each
    link sets the time, one latency per link (DeepEP-style kernels), as in `moecomm ep`.

    --plot FILE draws the rank × rank matrix, per-rank bytes with the busiest rank, the
    intra/inter-node split and EPLB before and after (docs/plots.md).

    Sweeps: --tokens, --batch, --seq and --ep take a comma list or a range; one row per point.

    Example: moecomm traffic --preset deepseek-v3 --expert-counts counts.json --dtype bf16
    """
    from moecomm import api

    routing = {k: v for k, v in ((k, kw.pop(k)) for k in ROUTING) if v is not None}
    report = api.sweep(
        "traffic",
        link=link(kw, node_split=True),
        progress=progress(fmt, "traffic sweep"),
        **routing,
        **kw,
    )
    if export_matrix is not None:
        report.export_matrices(export_matrix, force=force)
    save_plot(report, plot, force)
    emit(report.render(fmt))
