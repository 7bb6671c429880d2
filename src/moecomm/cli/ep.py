"""``moecomm ep``: EP all-to-all bytes per rank per MoE layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import build, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import (
    FLAGS,
    ROUTING_KEYS,
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
from moecomm.dtypes import DType
from moecomm.render import render_record
from moecomm.results import merge
from moecomm.traffic.balanced import ep_traffic
from moecomm.wire import make_wire


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
@hardware_options
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
    **options: Any,
) -> None:
    """EP all-to-all bytes per rank for one MoE layer, balanced routing (the seed's first analysis).

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
    --topk-group, --capacity-factor, --pad, --imbalance, --export-matrix) switch to exact
    expectations under uniform top-k routing, timed the same way with --hardware; see
    docs/traffic.md.

    Example: moecomm ep --preset deepseek-v3 --batch 4 --seq 4096 --ep 64
    """
    # --gpus-per-node serves the time model with --hardware, else the routing-aware split.
    keys = [k for k in (*ROUTING_KEYS, "export_matrix") if k != "gpus_per_node"]
    routing = {key: options.pop(key) for key in keys}
    routing["gpus_per_node"] = options["gpus_per_node"] if options["hardware"] is None else None
    if routing["gpus_per_node"] is not None:
        options["gpus_per_node"] = None
    hw = pop_hardware(options)
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
    fp8 = DType.FP8 in (cfg.dispatch_dtype, cfg.combine_dtype)
    rc = resolve_routing(routing, routing_defaults(dep, fp8=fp8, links=hw))
    if routing_used(routing):
        from moecomm.cli.routing_view import export, render_traffic
        from moecomm.traffic.expected import expected_traffic

        result_routed = expected_traffic(cfg, rc, hw)
        export(routing["export_matrix"], [result_routed])
        emit(render_traffic([result_routed], fmt, layered=False, links=hw))
        return
    wire = make_wire(
        cfg.model.hidden_size,
        cfg.dispatch_dtype,
        cfg.combine_dtype,
        rc.scale_block,
        rc.header_bytes,
    )
    result: Any = ep_traffic(cfg, wire)
    caption = f"Convention: {result.convention}. GB = 1e9 B."
    if result.expectation:
        caption += " Fractions are exact expectations under balanced routing."
    if hw is not None:
        from moecomm.timing import EP_TIME, ep_times

        times = ep_times(
            cfg.workload.tokens_per_rank,
            cfg.model.top_k,
            cfg.ep,
            wire.dispatch_copy_bytes,
            wire.combine_copy_bytes,
            hw,
        )
        result = merge(result, times)
        caption += f" {EP_TIME}. {hw.caption()}"
    emit(
        render_record(
            result,
            fmt,
            title="EP all-to-all per rank, one MoE layer",
            caption=caption,
            skip_none=True,
        )
    )


_dtype = dtype
