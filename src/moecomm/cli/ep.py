"""``moecomm ep``: EP all-to-all bytes per rank per MoE layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import build, emit
from moecomm.cli.options import (
    FLAGS,
    dtype,
    dtype_choice,
    dtype_option,
    format_option,
    model_options,
    resolve_model,
    resolve_routing,
    resolve_workload,
    routing_options,
    routing_used,
    workload_options,
)
from moecomm.config import EPConfig
from moecomm.render import render_record
from moecomm.traffic import ep_traffic


@click.command("ep")
@model_options
@workload_options
@click.option("--ep", "ep_size", type=int, help="Expert-parallel group size.")
@dtype_option
@click.option(
    "--dispatch-dtype", type=dtype_choice, help="Dispatch element type [default: --dtype]."
)
@click.option("--combine-dtype", type=dtype_choice, help="Combine element type [default: --dtype].")
@routing_options
@format_option
def command(
    preset: str | None,
    hidden: int | None,
    topk: int | None,
    experts: int | None,
    batch: int | None,
    seq: int | None,
    tokens: int | None,
    ep_size: int | None,
    dtype: str,
    dispatch_dtype: str | None,
    combine_dtype: str | None,
    fmt: str,
    **routing: Any,
) -> None:
    """EP all-to-all bytes per rank for one MoE layer, balanced routing (the seed's first analysis).

    Counts the b·s tokens on this rank, each sent to its top-k experts; (ep−1)/ep of the copies
    leave the rank in dispatch and come back in combine.

    Routing-aware options (--dedup, --count, --gpus-per-node, --scale-block, --header-bytes,
    --n-group/--topk-group, --capacity-factor, --pad, --imbalance, --export-matrix) switch to
    exact expectations under uniform top-k routing; see docs/traffic.md.

    Example: moecomm ep --preset deepseek-v3 --batch 4 --seq 4096 --ep 64
    """
    cfg = build(
        EPConfig,
        {
            "model": resolve_model(preset, hidden, topk, experts),
            "workload": resolve_workload(batch, seq, tokens),
            "ep": ep_size,
            "dispatch_dtype": _dtype(dispatch_dtype, dtype),
            "combine_dtype": _dtype(combine_dtype, dtype),
        },
        FLAGS,
    )
    if routing_used(routing):
        from moecomm.cli.routing_view import export, render_traffic
        from moecomm.expected import expected_traffic

        routed = expected_traffic(cfg, resolve_routing(routing))
        export(routing["export_matrix"], [routed])
        emit(render_traffic([routed], fmt, layered=False))
        return
    result = ep_traffic(cfg)
    caption = f"Convention: {result.convention}. GB = 1e9 B."
    if result.expectation:
        caption += " Fractions are exact expectations under balanced routing."
    emit(render_record(result, fmt, title="EP all-to-all per rank, one MoE layer", caption=caption))


_dtype = dtype
