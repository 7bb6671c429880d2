"""``moecomm ep``: EP all-to-all bytes per rank per MoE layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import build, emit
from moecomm.cli.options import (
    FLAGS,
    deployment_option,
    dtype,
    dtype_choice,
    dtype_option,
    first_given,
    format_option,
    load_deployment,
    model_options,
    resolve_model,
    resolve_routing,
    resolve_workload,
    routing_defaults,
    routing_options,
    routing_used,
    workload_options,
)
from moecomm.config import EPConfig
from moecomm.render import render_record
from moecomm.traffic import ep_traffic


@click.command("ep")
@deployment_option
@model_options
@workload_options
@click.option("--ep", "ep_size", type=int, help="Expert-parallel group size.")
@click.option("--redundant-experts", type=int, help="Extra expert replicas (EPLB) [default: 0].")
@dtype_option
@click.option(
    "--dispatch-dtype", type=dtype_choice, help="Dispatch element type [default: --dtype]."
)
@click.option("--combine-dtype", type=dtype_choice, help="Combine element type [default: --dtype].")
@routing_options
@format_option
def command(
    deployment: str | None,
    preset: str | None,
    hf_config: str | None,
    hidden: int | None,
    topk: int | None,
    experts: int | None,
    batch: int | None,
    seq: int | None,
    tokens: int | None,
    ep_size: int | None,
    redundant_experts: int | None,
    dtype_name: str | None,
    dispatch_dtype: str | None,
    combine_dtype: str | None,
    fmt: str,
    **routing: Any,
) -> None:
    """EP all-to-all bytes per rank for one MoE layer, balanced routing (the seed's first analysis).

    Counts the b·s tokens on this rank, each sent to its top-k experts; (ep−1)/ep of the copies
    leave the rank in dispatch and come back in combine.

    A --deployment fills the model, ep, redundant experts and the dispatch/combine dtypes;
    explicit flags (and --preset or --hf-config for the model) override it.

    Routing-aware options (--dedup, --count, --gpus-per-node, --scale-block, --header-bytes,
    --n-group/--topk-group, --capacity-factor, --pad, --imbalance, --export-matrix) switch to
    exact expectations under uniform top-k routing; see docs/traffic.md. With a --deployment,
    its scale block, header bytes and GPUs per node are their defaults.

    Example: moecomm ep --preset deepseek-v3 --batch 4 --seq 4096 --ep 64
    """
    dep = load_deployment(deployment)
    cfg = build(
        EPConfig,
        {
            "model": resolve_model(preset, hf_config, hidden, topk, experts, dep),
            "workload": resolve_workload(batch, seq, tokens),
            "ep": first_given(ep_size, None if dep is None else dep.ep),
            "redundant_experts": first_given(
                redundant_experts, None if dep is None else dep.redundant_experts, 0
            ),
            "dispatch_dtype": _dtype(
                dispatch_dtype, dtype_name, None if dep is None else dep.dispatch_dtype
            ),
            "combine_dtype": _dtype(
                combine_dtype, dtype_name, None if dep is None else dep.combine_dtype
            ),
        },
        FLAGS,
    )
    if routing_used(routing):
        from moecomm.cli.routing_view import export, render_traffic
        from moecomm.expected import expected_traffic

        routed = expected_traffic(cfg, resolve_routing(routing, routing_defaults(dep)))
        export(routing["export_matrix"], [routed])
        emit(render_traffic([routed], fmt, layered=False))
        return
    result = ep_traffic(cfg)
    caption = f"Convention: {result.convention}. GB = 1e9 B."
    if result.expectation:
        caption += " Fractions are exact expectations under balanced routing."
    emit(render_record(result, fmt, title="EP all-to-all per rank, one MoE layer", caption=caption))


_dtype = dtype
