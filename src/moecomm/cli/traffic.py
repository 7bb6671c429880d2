"""``moecomm traffic``: per-rank EP traffic from routing data, synthetic routing or EPLB placement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from moecomm.cli.base import InputError, build, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import (
    FLAGS,
    base_model,
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
    workload_options,
)
from moecomm.cli.routing_view import export, render_traffic
from moecomm.config import EPConfig
from moecomm.dtypes import DType

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("traffic")
@deployment_option
@model_options
@workload_options
@click.option("--ep", "ep_size", type=int, help="EP size [default: from the data file].")
@dtype_option
@click.option(
    "--dispatch-dtype", type=dtype_choice, help="Dispatch element type [default: --dtype]."
)
@click.option("--combine-dtype", type=dtype_choice, help="Combine element type [default: --dtype].")
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
    dtype_name: str | None,
    dispatch_dtype: str | None,
    combine_dtype: str | None,
    expert_counts: Path | None,
    topk_ids: Path | None,
    placement: Path | None,
    redundant_experts: int | None,
    routing: str,
    seed: int,
    fmt: str,
    **options: Any,
) -> None:
    """Per-rank EP traffic for one MoE layer from routing data or synthetic routing.

    Reports send and receive bytes per rank, the ranks × ranks matrix, the busiest rank and the
    imbalance (max/mean), under the wire format, dedup and count options. Counts from data are
    exact integers; --routing uniform is an exact expectation, zipf:S a seeded sample.

    With --hardware, adds dispatch_seconds and combine_seconds (and before EPLB): bytes split by
    the hardware's nodes (or --gpus-per-node), and the busiest rank's max(send, recv) on each
    link sets the time, one latency per link (DeepEP-style kernels), as in `moecomm ep`.

    Example: moecomm traffic --preset deepseek-v3 --expert-counts counts.json --dtype bf16
    """
    dep = load_deployment(deployment)
    # --gpus-per-node splits bytes by node; with --hardware it also overrides its scale-up domain.
    flags = dict(options)
    if options["hardware"] is None:
        options["gpus_per_node"] = None
    hw = pop_hardware(options)
    d_dtype = dtype(dispatch_dtype, dtype_name, None if dep is None else dep.dispatch_dtype)
    c_dtype = dtype(combine_dtype, dtype_name, None if dep is None else dep.combine_dtype)
    fp8 = DType.FP8 in (d_dtype, c_dtype)
    rc = resolve_routing(flags, routing_defaults(dep, fp8=fp8, links=hw))
    ep_size = first_given(ep_size, None if dep is None else dep.ep)
    from moecomm.traffic.files import load_counts, load_placement, load_topk_ids
    from moecomm.traffic.from_data import Data, data_traffic, zipf_ids
    from moecomm.wire import make_wire

    model = base_model(preset, hf_config, dep)
    base: dict[str, Any] = {} if model is None else model.model_dump(exclude_none=True)
    h = hidden if hidden is not None else base.get("hidden_size")
    e = experts if experts is not None else base.get("num_experts")
    k = topk if topk is not None else base.get("top_k")
    if h is None:
        raise InputError("--hidden is required (or --preset)")
    if rc.n_group is None and base.get("n_group") is not None:
        rc = rc.model_copy(update={"n_group": base["n_group"], "topk_group": base["topk_group"]})
    wire = make_wire(
        h,
        d_dtype,
        c_dtype,
        rc.scale_block,
        rc.header_bytes,
    )
    if expert_counts is not None and topk_ids is not None:
        raise InputError("give --expert-counts or --topk-ids, not both")
    if placement is not None and redundant_experts is not None:
        raise InputError("give --placement or --redundant-experts, not both")
    if redundant_experts is not None and redundant_experts < 0:
        raise InputError(f"--redundant-experts must be at least 0; got {redundant_experts}")
    layers: list[Data]
    if expert_counts is not None:
        counts = load_counts(expert_counts, ep_size, e)
        layers = [Data(counts=c) for c in counts]
        what = f"expert counts from {expert_counts.name}"
    elif topk_ids is not None:
        if e is None:
            raise InputError("--experts is required with --topk-ids (or --preset)")
        layers = [Data(topk_ids=load_topk_ids(topk_ids, ep_size, e))]
        what = f"top-k ids from {topk_ids.name}"
    elif routing == "uniform":
        if placement is not None or redundant_experts is not None:
            raise InputError(
                "--placement and --redundant-experts need --expert-counts or --topk-ids"
            )
        from moecomm.traffic.expected import expected_traffic

        cfg = build(
            EPConfig,
            {
                "model": resolve_model(preset, hf_config, hidden, topk, experts, dep),
                "workload": resolve_workload(batch, seq, tokens),
                "ep": ep_size,
                "dispatch_dtype": d_dtype,
                "combine_dtype": c_dtype,
            },
            FLAGS,
        )
        result = expected_traffic(cfg, rc, hw)
        export(options["export_matrix"], [result])
        emit(render_traffic([result], fmt, layered=False, links=hw))
        return
    else:
        exponent = _zipf(routing)
        cfg = build(
            EPConfig,
            {
                "model": resolve_model(preset, hf_config, hidden, topk, experts, dep),
                "workload": resolve_workload(batch, seq, tokens),
                "ep": ep_size,
            },
            FLAGS,
        )
        e, k = cfg.model.num_experts, cfg.model.top_k
        t = cfg.workload.tokens_per_rank
        layers = [Data(topk_ids=zipf_ids(e, k, cfg.ep, t, exponent, seed))]
        what = f"zipf:{routing[5:]} sampled (seed {seed}, {t} tokens per rank)"
    first = layers[0].counts or layers[0].topk_ids
    assert first is not None
    ep = ep_size if ep_size is not None else len(first)
    if e is None:
        e = len(layers[0].expert_counts(0)[0]) if layers[0].counts is not None else 0
    place = load_placement(placement, ep, e) if placement is not None else None
    results = [
        data_traffic(
            d,
            ep=ep,
            num_experts=e,
            wire=wire,
            rc=rc,
            scenario=what,
            placement=place,
            redundant=redundant_experts,
            top_k=k,
            links=hw,
        )
        for d in layers
    ]
    export(options["export_matrix"], results)
    emit(render_traffic(results, fmt, layered=len(results) > 1, links=hw))


def _zipf(text: str) -> float:
    head, _, tail = text.partition(":")
    try:
        value = float(tail) if head == "zipf" else -1.0
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(f"--routing must be uniform or zipf:S with S > 0; got {text!r}")
    return value
