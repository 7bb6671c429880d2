"""``moecomm ep``: EP all-to-all bytes per rank per MoE layer."""

from __future__ import annotations

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


@click.command("ep")
@model_options
@sweep_workload_options
@click.option("--ep", metavar=SWEEP, help="Expert-parallel group size." + SWEEP_HELP)
@click.option("--redundant-experts", type=int, help="Extra expert replicas (EPLB) [default: 0].")
@dtype_option
@wire_options
@hardware_options
@routing_options
@plot_option
@format_option
def command(fmt: str, export_matrix: str | None, plot: str | None, force: bool, **kw: Any) -> None:
    """EP all-to-all bytes per rank for one MoE layer, balanced routing (per-rank analysis).

    Counts the b·s tokens on this rank, each sent to its top-k experts; (ep−1)/ep of the copies
    leave the rank in dispatch and come back in combine.

    A --deployment fills the model, ep, redundant experts, the dispatch/combine dtypes and the
    wire format (fp8 scale block, dispatch header); explicit flags (and --preset or --hf-config
    for the model) override it.

    Wire format: a copy is h·β bytes; --scale-block N makes an fp8 copy h + 4·h/N bytes (one fp32
    scale per N channels) and --header-bytes adds a header to each dispatched copy. They apply to
    every output (JSON dispatch_copy_bytes, combine_copy_bytes) and switch nothing.

    With --hardware, adds dispatch_seconds and combine_seconds: EP ranks fill nodes of the
    hardware's scale-up domain (or --gpus-per-node); the busiest rank's max(send, recv) on each
    link sets the time, one latency per link (DeepEP-style kernels).

    Routing-aware options (--dedup, --count, --gpus-per-node without --hardware, --n-group/
    --topk-group, --capacity-factor, --pad, --imbalance, --export-matrix, --plot) switch to
    exact expectations under uniform top-k routing, timed the same way with --hardware; see
    docs/traffic.md. --plot draws the rank × rank matrix and the per-rank bytes (docs/plots.md).

    Sweeps: --tokens, --batch, --seq and --ep take a comma list or a range (128:8192:x2,
    1024:4096:+1024); one row per point, and --plot draws one line per value of the second
    swept option.

    Example: moecomm ep --preset deepseek-v3 --batch 4 --seq 4096 --ep 64
    """
    from moecomm import api

    routing = {k: v for k, v in ((k, kw.pop(k)) for k in ROUTING) if v is not None}
    matrices = export_matrix is not None or plot is not None
    report = api.sweep(
        "ep",
        link=link(kw, node_split=True),
        matrices=matrices,
        progress=progress(fmt, "ep sweep"),
        **routing,
        **kw,
    )
    if export_matrix is not None:
        report.export_matrices(export_matrix, force=force)
    save_plot(report, plot, force)
    emit(report.render(fmt))
