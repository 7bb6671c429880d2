"""The library: one function per job, each returning the ``Report`` that the CLI renders.

Every function takes keyword arguments named as the config fields are (``hidden_size``,
``top_k``, ``ep``, ``capacity_factor``, ...), or names of presets, deployments and hardware, and
resolves them through ``resolve`` with one precedence: explicit values, then ``preset`` or
``hf_config`` (or a ``model`` built in Python), then the ``deployment``. Bad input raises
``MoecommError`` naming the field, the rule and the value. Example::

    import moecomm
    report = moecomm.ep(preset="deepseek-v3", tokens=4096, ep=64)
    report.result.ep_bytes_per_rank   # 924844032
    print(report.render("table"))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from moecomm import resolve as R
from moecomm.config import (
    DEFAULT_TOKENS,
    CompareConfig,
    EPConfig,
    MoEModel,
    ParallelLayout,
    PlanConfig,
    RoutingConfig,
    StepConfig,
    TPConfig,
    build,
    derive_data_parallel,
)
from moecomm.dtypes import DType
from moecomm.errors import MoecommError, shown
from moecomm.errors import field as f
from moecomm.hardware import Links
from moecomm.report import Report, traffic_report
from moecomm.results import merge
from moecomm.units import parse_bytes, parse_sizes
from moecomm.wire import Wire

ROUTING_FIELDS = (
    "dedup",
    "count",
    "n_group",
    "topk_group",
    "capacity_factor",
    "pad",
    "imbalance",
)
"""Options of routing-aware EP traffic (docs/traffic.md), besides the node split."""


def _links(
    hardware: str | None, link: dict[str, Any] | None, required: bool = False
) -> Links | None:
    return R.hardware(hardware, link, required=required)


def _routing(
    options: dict[str, Any], wire: Wire, gpus_per_node: int | None, links: Links | None
) -> RoutingConfig:
    data = {k: options.get(k) for k in ROUTING_FIELDS}
    data["scale_block"] = wire.scale_block
    data["header_bytes"] = wire.header_bytes
    data["gpus_per_node"] = links.gpus_per_node if links is not None else gpus_per_node
    return build(RoutingConfig, data)


def _ep_config(
    *,
    model: MoEModel | None,
    preset: str | None,
    hf_config: str | None,
    dep: Any,
    hidden_size: int | None,
    top_k: int | None,
    num_experts: int | None,
    batch: int | None,
    seq: int | None,
    tokens: int | None,
    ep: int | None,
    redundant_experts: int | None,
    dtype: str | None,
    dispatch_dtype: str | None,
    combine_dtype: str | None,
) -> EPConfig:
    shape = R.model(
        model,
        preset=preset,
        hf_config=hf_config,
        dep=dep,
        hidden_size=hidden_size,
        top_k=top_k,
        num_experts=num_experts,
    )
    d, c = R.dtypes(dispatch_dtype, combine_dtype, dtype, dep)
    return build(
        EPConfig,
        {
            "model": shape,
            "workload": {"batch": batch, "seq": seq, "tokens": tokens},
            "ep": R.first(ep, None if dep is None else dep.ep),
            "redundant_experts": R.first(
                redundant_experts, None if dep is None else dep.redundant_experts, 0
            ),
            "dispatch_dtype": d,
            "combine_dtype": c,
        },
    )


def ep(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    top_k: int | None = None,
    num_experts: int | None = None,
    batch: int | None = None,
    seq: int | None = None,
    tokens: int | None = None,
    ep: int | None = None,
    redundant_experts: int | None = None,
    dtype: str | None = None,
    dispatch_dtype: str | None = None,
    combine_dtype: str | None = None,
    scale_block: int | None = None,
    header_bytes: int | None = None,
    gpus_per_node: int | None = None,
    matrices: bool = False,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
    **routing: Any,
) -> Report:
    """EP all-to-all bytes per rank for one MoE layer (``moecomm ep``).

    Balanced routing by default (the per-rank analysis); any routing option (``dedup``,
    ``count``, ``n_group``/``topk_group``, ``capacity_factor``, ``pad``, ``imbalance``), a node
    split (``gpus_per_node`` without hardware) or ``matrices=True`` gives exact expectations
    under uniform routing with rank × rank matrices. ``hardware`` adds times; ``link`` holds its
    overrides (``bw_intra``/``bw_inter`` in GB/s, ``latency_intra``/``latency_inter`` in µs,
    ``efficiency``), and ``gpus_per_node`` then overrides its scale-up domain.
    """
    _known(routing, ROUTING_FIELDS)
    dep = R.deployment(deployment)
    link = dict(link or {})
    if hardware is not None and gpus_per_node is not None:
        link["gpus_per_node"] = gpus_per_node
    hw = _links(hardware, link)
    split = gpus_per_node if hardware is None else None
    cfg = _ep_config(
        model=model,
        preset=preset,
        hf_config=hf_config,
        dep=dep,
        hidden_size=hidden_size,
        top_k=top_k,
        num_experts=num_experts,
        batch=batch,
        seq=seq,
        tokens=tokens,
        ep=ep,
        redundant_experts=redundant_experts,
        dtype=dtype,
        dispatch_dtype=dispatch_dtype,
        combine_dtype=combine_dtype,
    )
    wire = Wire.of(
        R.wire_format(
            cfg.model.hidden_size,
            cfg.dispatch_dtype,
            cfg.combine_dtype,
            scale_block=scale_block,
            header_bytes=header_bytes,
            dep=dep,
        )
    )
    dep_split = dep.gpus_per_node if dep is not None and hw is None else None
    rc = _routing(routing, wire, R.first(split, dep_split), hw)
    if matrices or split is not None or any(v is not None for v in routing.values()):
        from moecomm.traffic.expected import expected_traffic

        result = expected_traffic(cfg, rc, hw)
        return traffic_report([result], None if hw is None else hw.caption())
    from moecomm.traffic.balanced import ep_traffic

    out: Any = ep_traffic(cfg, wire)
    caption = f"Convention: {out.convention}. GB = 1e9 B."
    if out.expectation:
        caption += (
            " ≈: an exact expectation under balanced routing, rounded (exact p/q in JSON and CSV)."
        )
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
        out = merge(out, times)
        caption += f" {EP_TIME}. {hw.caption()}"
    return Report(
        out, "EP all-to-all per rank, one MoE layer", caption, skip_none=True, figure="ep"
    )


def tp(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    batch: int | None = None,
    seq: int | None = None,
    tokens: int | None = None,
    tp: int | None = None,
    dtype: str | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
) -> Report:
    """TP ring all-reduce bytes per rank for one layer output (``moecomm tp``)."""
    hw = _links(hardware, link)
    dep = R.deployment(deployment)
    base = R.base_model(model, preset=preset, hf_config=hf_config, dep=dep)
    d, _ = R.dtypes(None, None, dtype)
    cfg = build(
        TPConfig,
        {
            "hidden_size": R.first(hidden_size, None if base is None else base.hidden_size),
            "workload": {"batch": batch, "seq": seq, "tokens": tokens},
            "tp": R.first(tp, None if dep is None else dep.tp),
            "dtype": d,
        },
    )
    from moecomm.traffic.balanced import tp_traffic

    out: Any = tp_traffic(cfg)
    caption = f"Convention: {out.convention}. GB = 1e9 B."
    if hw is not None:
        from moecomm.timing import tp_times

        buffer = cfg.workload.tokens_per_rank * cfg.hidden_size * cfg.dtype.bytes
        out = merge(out, tp_times(buffer, cfg.tp, hw))
        caption += " " + hw.caption()
    return Report(out, "TP all-reduce per rank, one layer", caption, figure="tp")


def compare(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    top_k: int | None = None,
    tokens: int = 4096,
    sizes: str | Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    dtype: str | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
) -> Report:
    """EP against TP bytes per GPU for S tokens over M GPUs (``moecomm compare``)."""
    hw = _links(hardware, link)
    base = R.base_model(model, preset=preset, hf_config=hf_config, dep=R.deployment(deployment))
    d, _ = R.dtypes(None, None, dtype)
    cfg = build(
        CompareConfig,
        {
            "hidden_size": R.first(hidden_size, None if base is None else base.hidden_size),
            "top_k": R.first(top_k, None if base is None else base.top_k),
            "tokens": tokens,
            "sizes": parse_sizes(sizes, "sizes") if isinstance(sizes, str) else tuple(sizes),
            "dtype": d,
        },
    )
    from moecomm.traffic.balanced import compare as compare_sizes

    result = compare_sizes(cfg)
    first = next((i for i, r in enumerate(result.rows) if r.ep_moves_less), None)
    caption = (
        f"Convention: {result.convention}. Bytes exact; GB = 1e9 B. "
        f"EP moves less once M > K = {cfg.top_k}: from M = {result.crossover_size}"
        + ("" if first is None else f" (highlighted: M = {result.rows[first].size})")
        + "."
    )
    rows: list[Any] = list(result.rows)
    if hw is not None:
        from moecomm.timing import compare_times

        rows = [
            merge(
                r,
                compare_times(cfg.tokens, cfg.hidden_size, cfg.top_k, r.size, cfg.dtype.bytes, hw),
            )
            for r in result.rows
        ]
        caption += " " + hw.caption()
    return Report(
        rows,
        "EP vs TP per GPU, one MoE layer",
        caption,
        "rows",
        highlight=first,
        figure="compare",
        facts={"top_k": cfg.top_k, "tokens": cfg.tokens},
    )


GROUP_FIELDS = ("tp_groups", "cp_groups", "dp_groups", "pp_groups", "ep_groups", "etp_groups")


def groups(
    *,
    deployment: str | None = None,
    world: int | None = None,
    tp: int | None = None,
    cp: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    ep: int | None = None,
    etp: int | None = None,
    edp: int | None = None,
    listed: bool = True,
) -> Report:
    """The ranks of every parallel group in Megatron-Core's order tp-cp-ep-dp-pp."""
    from moecomm.groups import layout_groups
    from moecomm.render import MAX_GROUPS_SHOWN

    dep = R.deployment(deployment)
    given = {"world": world, "tp": tp, "cp": cp, "pp": pp, "ep": ep, "etp": etp}
    sizes = dict(given)
    if dep is not None:
        sizes = {name: R.first(value, getattr(dep, name)) for name, value in given.items()}
    # dp and edp are derived sizes: keep the deployment's only while no other size changed.
    keep = dep is not None and all(v is None for v in given.values())
    sizes["dp"] = R.first(dp, dep.dp if dep is not None and keep else None)
    sizes["edp"] = R.first(edp, dep.edp if dep is not None and keep else None)
    if sizes["world"] is None:
        raise MoecommError(f"{f('world')} is required without {f('deployment')}")
    layout = build(ParallelLayout, sizes)
    result = layout_groups(layout)
    caption = f"Convention: {result.convention}."
    if listed and any(
        len(getattr(result, name)) > MAX_GROUPS_SHOWN for name in (*GROUP_FIELDS, "edp_groups")
    ):
        caption += (
            f" Only the first {MAX_GROUPS_SHOWN} groups of each kind are listed;"
            " --format json lists all."
        )
    title = f"Parallel groups of {layout.world} ranks"
    if deployment is not None:
        title += f" ({deployment})"
    return Report(result, title, caption)


def collective(
    kind: str,
    *,
    nbytes: int | str,
    ranks: int,
    algorithm: str | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
) -> Report:
    """Time, algbw and busbw of one collective under nccl-tests' conventions."""
    from moecomm.config import MAX_RANKS
    from moecomm.timing import collective as one

    hw = _links(hardware, link, required=True)
    assert hw is not None
    size = parse_bytes(nbytes, "bytes") if isinstance(nbytes, str) else nbytes
    if not 2 <= ranks <= MAX_RANKS:  # one rank moves no bytes: there is no bandwidth to report
        raise MoecommError(f"{f('ranks')} must lie in 2..{MAX_RANKS}; got {ranks}")
    result = one(kind, size, ranks, hw, algorithm=algorithm)  # type: ignore[arg-type]
    caption = (
        f"The size (nccl-tests') counts {result.buffer}. busbw = algbw × {result.busbw_factor} "
        f"(nccl-tests). {hw.caption()}"
    )
    title = f"{kind} of {result.bytes} B over {ranks} ranks ({result.algorithm})"
    return Report(result, title, caption, figure="collective")


def traffic(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    top_k: int | None = None,
    num_experts: int | None = None,
    batch: int | None = None,
    seq: int | None = None,
    tokens: int | None = None,
    ep: int | None = None,
    dtype: str | None = None,
    dispatch_dtype: str | None = None,
    combine_dtype: str | None = None,
    scale_block: int | None = None,
    header_bytes: int | None = None,
    gpus_per_node: int | None = None,
    expert_counts: str | Path | None = None,
    topk_ids: str | Path | None = None,
    placement: str | Path | None = None,
    redundant_experts: int | None = None,
    routing: str = "uniform",
    seed: int = 0,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
    **options: Any,
) -> Report:
    """Per-rank EP traffic from routing data, synthetic routing or EPLB (``moecomm traffic``)."""
    from moecomm.traffic.scenarios import TrafficInputs, run

    _known(options, ROUTING_FIELDS)
    dep = R.deployment(deployment)
    link = dict(link or {})
    if hardware is not None and gpus_per_node is not None:
        link["gpus_per_node"] = gpus_per_node
    hw = _links(hardware, link)
    d, c = R.dtypes(dispatch_dtype, combine_dtype, dtype, dep)
    base = R.base_model(model, preset=preset, hf_config=hf_config, dep=dep)
    h = R.first(hidden_size, None if base is None else base.hidden_size)
    if h is None:
        raise MoecommError(f"{f('hidden_size')} is required (or {f('preset')})")
    wire = Wire.of(
        R.wire_format(h, d, c, scale_block=scale_block, header_bytes=header_bytes, dep=dep)
    )
    split = R.first(gpus_per_node if hardware is None else None, dep and dep.gpus_per_node)
    rc = _routing(options, wire, split, hw)
    if rc.n_group is None and base is not None and base.n_group is not None:
        rc = rc.model_copy(update={"n_group": base.n_group, "topk_group": base.topk_group})
    inputs = TrafficInputs(
        base=base,
        hidden_size=hidden_size,
        top_k=top_k,
        num_experts=num_experts,
        batch=batch,
        seq=seq,
        tokens=tokens,
        ep=R.first(ep, None if dep is None else dep.ep),
        dispatch_dtype=d,
        combine_dtype=c,
        expert_counts=None if expert_counts is None else Path(expert_counts),
        topk_ids=None if topk_ids is None else Path(topk_ids),
        placement=None if placement is None else Path(placement),
        redundant_experts=redundant_experts,
        routing=routing,
        seed=seed,
    )
    results = run(inputs, wire, rc, hw)
    return traffic_report(results, None if hw is None else hw.caption())


def step(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    top_k: int | None = None,
    num_experts: int | None = None,
    num_layers: int | None = None,
    moe_intermediate_size: int | None = None,
    phase: str | None = None,
    tokens: int | None = None,
    tp: int | None = None,
    cp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
    etp: int | None = None,
    dp: int | None = None,
    edp: int | None = None,
    sequence_parallel: bool | None = None,
    dispatch_dtype: str | None = None,
    combine_dtype: str | None = None,
    scale_block: int | None = None,
    header_bytes: int | None = None,
    shared_as_routed: bool | None = None,
    redundant_experts: int | None = None,
    dedup: str | None = None,
    compute_efficiency: float | None = None,
    context: int | None = None,
    seq: int | None = None,
    recompute: str | None = None,
    headroom: Any = None,
    schedule: str | None = None,
    vpp: int | None = None,
    micro_batches: int | None = None,
    micro_batch: int | None = None,
    overlap: bool | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
) -> Report:
    """Communication, expert compute and memory of one whole-model step per rank (``step``)."""
    from moecomm.endtoend import OVERLAP, end_to_end
    from moecomm.launch import flags
    from moecomm.memory import ITEMS, RECOMPUTE, memory, read_bytes, weight_dtype_bytes
    from moecomm.step import Sizes, StepLayout, components, exact, step_times

    dep = R.deployment(deployment)
    hw = _links(R.first(hardware, None if dep is None else dep.hardware), link, required=True)
    assert hw is not None
    shape = R.model(
        model,
        preset=preset,
        hf_config=hf_config,
        dep=dep,
        hidden_size=hidden_size,
        top_k=top_k,
        num_experts=num_experts,
        num_layers=num_layers,
        moe_intermediate_size=moe_intermediate_size,
    )

    def pick(name: str, value: Any, default: Any) -> Any:
        return R.first(value, None if dep is None else getattr(dep, name, None), default)

    chosen_phase = pick("phase", phase, "train")
    sizes = {
        name: pick(name, value, 1)
        for name, value in (("tp", tp), ("pp", pp), ("ep", ep), ("etp", etp))
    }
    # dp and edp are derived sizes: keep the deployment's only while no other size changed.
    keep = all(v is None for v in (tp, ep, etp, cp))
    sizes["cp"] = pick("cp", cp, 1)
    sizes["dp"], sizes["edp"], derived = derive_data_parallel(
        sizes["tp"],
        sizes["ep"],
        sizes["etp"],
        pick("dp", dp, None) if keep else dp,
        pick("edp", edp, None) if keep else edp,
        cp=sizes["cp"],
    )
    redundant = R.first(redundant_experts, None if dep is None else dep.redundant_experts, 0)
    auto_shared = (
        dep is not None
        and chosen_phase == "decode"
        and dep.redundant_experts > 0
        and sizes["ep"] == dep.world
    )
    cfg = build(
        StepConfig,
        {
            "model": shape,
            "phase": chosen_phase,
            "tokens": _step_tokens(
                tokens, micro_batch, seq, sizes, DEFAULT_TOKENS.get(str(chosen_phase), 4096)
            ),
            **sizes,
            "sequence_parallel": pick("sequence_parallel", sequence_parallel, False),
            "redundant_experts": redundant,
            "shared_as_routed": R.first(shared_as_routed, None) or auto_shared,
            "compute_efficiency": compute_efficiency,
            "gpus_per_node": hw.gpus_per_node,
            "memory": _memory_options(context, seq, recompute, headroom),
            "run": _schedule_options(schedule, vpp, micro_batches, overlap),
        },
    )
    d, c = R.dtypes(dispatch_dtype, combine_dtype, None, dep)
    fmt = R.wire_format(
        shape.hidden_size, d, c, scale_block=scale_block, header_bytes=header_bytes, dep=dep
    )
    wire = Wire.of(fmt)
    lay = StepLayout(
        tp=cfg.tp,
        pp=cfg.pp,
        ep=cfg.ep,
        etp=cfg.etp,
        dp=cfg.dp,
        edp=cfg.edp,
        sequence_parallel=cfg.sequence_parallel,
        dispatch_bytes_per_element=wire.dispatch_bytes_per_element,
        combine_bytes_per_element=wire.combine_bytes_per_element,
        redundant_experts=cfg.redundant_experts,
        shared_as_routed=cfg.shared_as_routed,
        dedup=_dedup(dedup, dep),
        cp=cfg.cp,
    )
    peak = hw.peak_flops(d is DType.FP8)
    ce = cfg.compute_efficiency
    result = step_times(
        cfg.model, cfg.phase, cfg.tokens, lay, hw, compute_efficiency=ce, peak_flops=peak
    )
    caption = (
        f"Convention: {result.convention}. Layout tp={cfg.tp} cp={cfg.cp} pp={cfg.pp} ep={cfg.ep} "
        f"etp={cfg.etp} dp={cfg.dp} edp={cfg.edp}{' +SP' if cfg.sequence_parallel else ''}"
        + (f" ({' and '.join(derived)} derived: tp·dp = ep·etp·edp)" if derived else "")
        + "; "
        f"dispatch {d.value} ({lay.dispatch_bytes_per_element} B/element), combine {c.value}. "
        f"Compute at {peak / 1e12:g} TFLOP/s × {ce:g}. Memory of one GPU of the largest "
        f"stage, {cfg.memory.headroom} of {hw.memory_bytes / 1e9:g} GB kept free: "
        f"{memory_caption(shape, cfg.phase, cfg.memory)}. Step time: {OVERLAP}; "
        f"{_schedule_caption(cfg.phase, cfg.run)}"
        + (
            f"; compute against {hw.hbm_bytes_per_second / 1e12:g} TB/s device memory (roofline)"
            if hw.hbm_bytes_per_second and cfg.phase != "train"
            else ""
        )
        + f". {hw.caption()}"
    )
    mem = memory(
        cfg.model,
        cfg.phase,
        cfg.tokens,
        (cfg.tp, cfg.dp, cfg.ep, cfg.edp, cfg.etp, cfg.pp, cfg.cp),
        cfg.memory,
        redundant=cfg.redundant_experts,
        device_bytes=hw.memory_bytes,
        ev=exact,
        schedule=cfg.run.schedule,
        vpp=cfg.run.vpp,
    )
    names = dict(
        zip(ITEMS, ("weight", "gradient", "optimizer", "activation", "kv_cache"), strict=True)
    )
    sizes6 = (cfg.tp, cfg.dp, cfg.ep, cfg.edp, cfg.etp, cfg.pp)
    parts = components(
        cfg.model,
        cfg.phase,
        cfg.tokens,
        Sizes(*sizes6, cfg.cp),
        lay,
        hw,
        compute_efficiency=ce,
        peak_flops=peak,
    )
    e2e = end_to_end(
        cfg.model,
        cfg.phase,
        cfg.tokens,
        sizes6,
        parts,
        read_bytes(mem),
        cfg.run,
        hw,
        compute_efficiency=ce,
        peak_flops=peak,
        context=cfg.memory.context,
        seq=cfg.memory.seq,
        recompute=mem.recompute,
        ev=exact,
    )
    training = cfg.phase == "train"
    result = replace(
        result,
        **{
            f"{names[item]}_bytes": mem.items[item]
            for item in ITEMS
            if training or item not in ("gradients", "optimizer")
            if not training or item != "kv_cache"
        },
        memory_bytes_per_gpu=mem.total,
        usable_bytes_per_gpu=mem.usable,
        recompute=RECOMPUTE[mem.recompute] if training else None,
        fits=bool(mem.total <= mem.usable),
        attention_seconds_per_layer=float(e2e.attention_seconds_per_layer),
        dense_mlp_seconds_per_layer=float(e2e.dense_mlp_seconds_per_layer),
        stage_compute_seconds=float(e2e.compute_seconds),
        hbm_seconds=float(e2e.hbm_seconds) if not training else None,
        exposed_ep_seconds_per_step=float(e2e.exposed_ep_seconds),
        exposed_tp_seconds_per_step=float(e2e.tp_seconds),
        cp_seconds_per_step=float(e2e.cp_seconds) if cfg.cp > 1 else None,
        micro_batch_seconds=float(e2e.micro_batch_seconds),
        micro_batches=int(e2e.micro_batches),
        pipeline_bubble=e2e.bubble if training else None,
        step_seconds=float(e2e.step_seconds),
        tokens_per_second_per_gpu=float(e2e.tokens_per_second_per_gpu),
        ttft_seconds=float(e2e.latency_seconds) if cfg.phase == "prefill" else None,
        tpot_seconds=float(e2e.latency_seconds) if cfg.phase == "decode" else None,
        launch=flags(
            cfg.model.num_layers or 1,
            (cfg.tp, cfg.dp, cfg.ep, cfg.edp, cfg.etp, cfg.pp),
            cp=cfg.cp,
            vpp=cfg.run.vpp,
            phase=cfg.phase,
            gpus_per_node=hw.gpus_per_node,
            redundant=cfg.redundant_experts,
            recompute=RECOMPUTE[mem.recompute] if training else None,
        ),
        layout={
            "tp": cfg.tp,
            "cp": cfg.cp,
            "pp": cfg.pp,
            "ep": cfg.ep,
            "etp": cfg.etp,
            "dp": cfg.dp,
            "edp": cfg.edp,
            "derived": list(derived),
            "sequence_parallel": cfg.sequence_parallel,
        },
        dtypes={
            "dispatch": d.value,
            "dispatch_bytes_per_element": lay.dispatch_bytes_per_element,
            "combine": c.value,
            "combine_bytes_per_element": lay.combine_bytes_per_element,
            "activations": "bf16",
            "gradients": "bf16" if cfg.phase == "train" else None,
            "weights": "bf16" if training else shape.native_dtype.value,
            "expert_weights": "bf16"
            if training
            else (shape.expert_dtype or shape.native_dtype.value),
            "weight_bytes_per_element": dict(
                zip(
                    ("experts", "other", "vocabulary"),
                    weight_dtype_bytes(cfg.model, cfg.phase),
                    strict=True,
                )
            ),
            "kv_cache": None if training else "bf16",
        },
    )
    return Report(result, f"One {cfg.phase} step per rank", caption, skip_none=True)


def plan(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    gpus: int | None = None,
    phase: str | None = None,
    tokens_per_gpu: int | None = None,
    global_batch: int | None = None,
    redundant_experts: int | None = None,
    dispatch_dtype: str | None = None,
    combine_dtype: str | None = None,
    scale_block: int | None = None,
    header_bytes: int | None = None,
    sequence_parallel: bool = False,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
    rank_by: str = "token",
    top: int = 10,
    compute_efficiency: float | None = None,
    concurrency: int | None = None,
    context: int | None = None,
    seq: int | None = None,
    recompute: str | None = None,
    headroom: Any = None,
    launch: str | None = None,
    dedup: str | None = None,
    objective: str | None = None,
    tpot_max: float | None = None,
    ttft_max: float | None = None,
    min_ep: int | None = None,
    micro_batch: int | None = None,
    schedule: str | None = None,
    vpp: int | None = None,
    micro_batches: int | None = None,
    overlap: bool | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every valid layout of ``gpus`` GPUs, best first, with memory per GPU (``moecomm plan``).

    ``launch`` (megatron, sglang or vllm): each row with the flags that launch it.
    """
    from moecomm.endtoend import OVERLAP
    from moecomm.plan import Goal, MicroBatch
    from moecomm.plan import plan as search
    from moecomm.step import StepLayout

    dep = R.deployment(deployment)
    hw = _links(R.first(hardware, None if dep is None else dep.hardware), link, required=True)
    assert hw is not None
    shape = R.model(model, preset=preset, hf_config=hf_config, dep=dep)
    cfg = build(
        PlanConfig,
        {
            "model": shape,
            "gpus": R.first(gpus, None if dep is None else dep.world),
            "phase": R.first(phase, None if dep is None else dep.phase),
            "tokens_per_gpu": tokens_per_gpu,
            "global_batch": global_batch,
            "redundant_experts": R.first(
                redundant_experts, None if dep is None else dep.redundant_experts
            ),
            # a deployment's sequence parallelism holds for every layout, as in step
            "sequence_parallel": sequence_parallel or (dep is not None and dep.sequence_parallel),
            "allow_tp_across_nodes": allow_tp_across_nodes,
            "max_pp": max_pp,
            "rank_by": rank_by,
            "top": top,
            "compute_efficiency": compute_efficiency,
            "concurrency": concurrency,
            "memory": _memory_options(context, seq, recompute, headroom),
            "run": _schedule_options(schedule, vpp, micro_batches, overlap),
            "objective": objective,
            "tpot_max": tpot_max,
            "ttft_max": ttft_max,
            "min_ep": min_ep,
            "micro_batch": micro_batch,
        },
    )
    d, c = R.dtypes(dispatch_dtype, combine_dtype, None, dep)
    wire = Wire.of(
        R.wire_format(
            shape.hidden_size, d, c, scale_block=scale_block, header_bytes=header_bytes, dep=dep
        )
    )
    base = StepLayout(
        sequence_parallel=cfg.sequence_parallel,
        dispatch_bytes_per_element=wire.dispatch_bytes_per_element,
        combine_bytes_per_element=wire.combine_bytes_per_element,
        redundant_experts=cfg.redundant_experts,
        dedup=_dedup(dedup, dep),
    )
    candidates = search(
        shape,
        cfg.gpus,
        hw,
        cfg.phase,
        tokens_per_gpu=cfg.tokens,
        global_batch=None if cfg.micro_batch else cfg.batch_in_all,
        base=base,
        compute_efficiency=cfg.compute_efficiency,
        peak_flops=hw.peak_flops(d is DType.FP8),
        memory_inputs=cfg.memory,
        schedule=cfg.run,
        goal=Goal(cfg.objective, cfg.rank_by, cfg.latency_max_seconds),
        allow_tp_across_nodes=cfg.allow_tp_across_nodes,
        max_pp=cfg.pp_limit,
        min_ep=cfg.min_ep,
        micro_batch=(
            MicroBatch(cfg.micro_batch, cfg.memory.seq, cfg.global_batch)
            if cfg.micro_batch
            else None
        ),
        progress=progress,
    )
    name = preset or hf_config or (dep.model if dep is not None else "the model")
    experts = shape.num_experts + cfg.redundant_experts
    if not candidates:
        raise MoecommError(
            f"no valid layout of {cfg.gpus} GPUs for {name}"
            + (f" with {f('min_ep')} {cfg.min_ep}" if cfg.min_ep is not None else "")
            + f" (ep must divide {experts} experts, tp the heads and FFN widths, etp the expert "
            "width, pp the layers; groups align to nodes)"
        )
    fitting = sum(x.fits for x in candidates)
    if cfg.micro_batch:
        tokens_text = (
            f"micro-batches of {cfg.micro_batch} × {cfg.memory.seq} tokens (seq·b/tp per GPU)"
            + (f", global batch {cfg.global_batch} tokens" if cfg.global_batch else "")
        )
    elif cfg.tokens:
        tokens_text = f"{cfg.tokens} tokens per GPU"
    elif cfg.concurrency is not None:
        tokens_text = f"{cfg.concurrency} requests in all (concurrency·pp/gpus per GPU)"
    else:
        tokens_text = f"global batch {cfg.global_batch} tokens"
    mem = cfg.memory
    usable = hw.memory_bytes * (1 - mem.headroom)
    caption = (
        f"{len(candidates)} layouts of {cfg.gpus} GPUs, {fitting} fit in "
        f"{float(usable) / 1e9:g} GB ({hw.memory_bytes / 1e9:g} GB less {mem.headroom} headroom). "
        f"{cfg.phase}, {tokens_text} at each MoE layer; comm per step per GPU of one pipeline "
        f"stage; comm / token = comm per step / tokens of the whole job per step. Memory per GPU "
        f"of the largest stage: {memory_caption(shape, cfg.phase, mem)}. Ranked by "
        f"{_objective_text(cfg)}; latency = {_latency_text(cfg.phase)}. Step time: {OVERLAP}; "
        f"{_schedule_caption(cfg.phase, cfg.run)}. {hw.caption()}"
    )
    envelope: dict[str, Any] = {
        "inputs": {
            "model": name,
            "hardware": hw.name,
            "gpus": cfg.gpus,
            "gpus_per_node": hw.gpus_per_node,
            "phase": cfg.phase,
            "tokens_per_gpu": cfg.tokens,
            "global_batch": cfg.global_batch,
            "rank_by": cfg.rank_by,
            "redundant_experts": cfg.redundant_experts,
            "dispatch_dtype": d.value,
            "dispatch_bytes_per_element": wire.dispatch_bytes_per_element,
            "combine_dtype": c.value,
            "combine_bytes_per_element": wire.combine_bytes_per_element,
            "weights_dtype": shape.native_dtype.value,
            "memory_bytes_per_gpu": hw.memory_bytes,
        },
        "conventions": {
            "layout": "tp·dp·pp = etp·ep·edp·pp = gpus; every rule of config.layout_rules holds",
            "comm_seconds_per_step": (
                "seconds of EP, TP, gradient and pipeline collectives in one step on one GPU, "
                "over the layers of its pipeline stage (average stage)"
            ),
            "comm_seconds_per_token": (
                "comm_seconds_per_step divided by the tokens the whole job processes in that "
                "step (tokens per GPU · gpus / pp): the communication cost of one token"
            ),
            "memory_bytes_per_gpu": "bytes, exact; GB = 1e9 B",
            "order": (
                "layouts that fit and meet the latency limit first, by the objective; then those "
                "that miss the limit, by latency; then those that do not fit, by memory"
            ),
            "tokens_per_second_per_gpu": (
                "tokens the whole job finishes per second, over its GPUs (n_m·T/(pp·step))"
            ),
            "latency_seconds": "TTFT in prefill, TPOT in decode, the step time in training",
        },
    }
    envelope["inputs"] |= {
        "concurrency": cfg.concurrency,
        "context": mem.context,
        "seq": mem.seq,
        "recompute": mem.recompute,
        "headroom": mem.headroom,
        "launch": launch,
        "dedup": base.dedup,
        "objective": cfg.objective,
        "tpot_max_ms": cfg.tpot_max,
        "ttft_max_ms": cfg.ttft_max,
        "min_ep": cfg.min_ep,
        "micro_batch": cfg.micro_batch,
        "schedule": cfg.run.schedule,
        "micro_batches": cfg.run.micro_batches,
    }
    envelope["conventions"] |= {
        "memory_items": (
            "weight_bytes + gradient_bytes + optimizer_bytes + activation_bytes + "
            "kv_cache_bytes = memory_bytes_per_gpu, for one GPU of the largest pipeline stage; "
            "fits when at most usable_bytes_per_gpu (device memory less the headroom)"
        ),
        "recompute": "training: the recompute choice given, else the cheapest that fits",
    }
    rows: list[Any] = candidates
    if launch is not None:
        rows = [_launch_row(x, shape, cfg.phase, hw.gpus_per_node, cfg, launch) for x in candidates]
    return Report(
        rows,
        f"Layouts of {name} on {cfg.gpus} × {hw.name}"
        + (f", launched with {launch}" if launch else ""),
        caption,
        "rows",
        highlight=0,
        table_rows=cfg.top,
        envelope=envelope,
        figure="plan",
    )


def _launch_row(x: Any, shape: MoEModel, phase: Any, per_node: int, cfg: Any, launch: str) -> Any:
    from moecomm.launch import flags
    from moecomm.plan import LaunchRow

    sizes = (x.tp, x.dp, x.ep, x.edp, x.etp, x.pp)
    by_framework = flags(
        shape.num_layers or 1,
        sizes,
        phase=phase,
        gpus_per_node=per_node,
        redundant=cfg.redundant_experts,
        recompute=x.recompute if phase == "train" else None,
        vpp=cfg.run.vpp,
        cp=x.cp,
    )
    return LaunchRow(
        x.rank, *sizes[:6], fits=x.fits, flags=by_framework[launch], launch=by_framework, cp=x.cp
    )


def _memory_options(
    context: int | None, seq: int | None, recompute: str | None, headroom: Any
) -> dict[str, Any]:
    given = {"context": context, "seq": seq, "recompute": recompute, "headroom": headroom}
    return {k: v for k, v in given.items() if v is not None}


def _dedup(dedup: str | None, dep: Any) -> str:
    """EP copies: given, else the deployment's, else one per (token, expert)."""
    chosen = R.first(dedup, None if dep is None else dep.dedup, "copies")
    if chosen not in ("copies", "node"):
        raise MoecommError(f"{f('dedup')} must be copies or node here; got {chosen}")
    return str(chosen)


def _objective_text(cfg: Any) -> str:
    text = {
        "throughput": "tokens/s per GPU",
        "latency": _latency_text(cfg.phase),
        "memory": "memory per GPU",
        "comm": f"communication per {cfg.rank_by}",
    }[cfg.objective]
    limit = cfg.latency_max_seconds
    if limit is not None:
        text += f", among layouts with latency at most {limit * 1e3:g} ms"
    return text


def _latency_text(phase: str) -> str:
    return {"prefill": "TTFT", "decode": "TPOT", "train": "step time"}[phase]


def _step_tokens(
    tokens: int | None,
    micro_batch: int | None,
    seq: int | None,
    sizes: dict[str, Any],
    default: int,
) -> Any:
    """Tokens per rank: given, or b·s over the tp·cp ranks that split a micro-batch's sequences."""
    if micro_batch is None:
        return R.first(tokens, default)
    if tokens is not None:
        raise MoecommError(f"give {f('tokens')} or {f('micro_batch')}, not both")
    if not isinstance(micro_batch, int) or micro_batch < 1:
        return micro_batch  # the model names the bound
    length = seq if seq is not None else 4096
    split = sizes["tp"] * sizes["cp"]
    if (micro_batch * length) % split:
        raise MoecommError(
            f"{f('micro_batch')}·{f('seq')} must be a multiple of tp·cp ({split}); "
            f"got {micro_batch}·{length} = {micro_batch * length}"
        )
    return micro_batch * length // split


def _schedule_options(
    schedule: str | None, vpp: int | None, micro_batches: int | None, overlap: bool | None
) -> dict[str, Any]:
    given = {"schedule": schedule, "vpp": vpp, "micro_batches": micro_batches, "overlap": overlap}
    return {k: v for k, v in given.items() if v is not None}


def _schedule_caption(phase: str, run: Any) -> str:
    if phase != "train":
        return "one micro-batch per step"
    m = run.micro_batches if run.micro_batches is not None else "4·pp"
    schedule = run.schedule or "1f1b"
    vpp = f" (vpp {run.vpp})" if schedule == "interleaved" else ""
    return f"{schedule}{vpp} schedule, {m} micro-batches per step"


def memory_caption(shape: MoEModel, phase: str, mem: Any) -> str:
    """What the memory items count, in words, for a caption."""
    from moecomm.memory import weight_dtype_bytes

    experts, linear, vocab = weight_dtype_bytes(shape, phase)  # type: ignore[arg-type]
    weights = f"weights {experts} B/expert weight, {linear} B/other, {vocab} B/vocabulary"
    if phase == "train":
        recompute = mem.recompute or "cheapest that fits"
        return (
            f"{weights}; fp32 grads 4 B; distributed-optimizer state 12 B over dp·cp (edp for "
            f"experts); 1F1B activations of pp micro-batches, seq {mem.seq}, recompute "
            f"{recompute}"
        )
    cached = f"{mem.context} tokens per request" if phase == "decode" else "the prompt tokens"
    return f"{weights}; bf16 KV cache of {cached}; one layer's activations"


_JOBS: dict[str, Callable[..., Report]] = {
    "ep": ep,
    "tp": tp,
    "traffic": traffic,
    "collective": collective,
}

SWEEPS = {
    "ep": ("tokens", "batch", "seq", "ep"),
    "tp": ("tokens", "batch", "seq", "tp"),
    "traffic": ("tokens", "batch", "seq", "ep"),
    "collective": ("kind", "nbytes", "ranks"),
}
"""The options each job sweeps: a comma list or a range (``moecomm.sweep``)."""


def sweep(job: str, *, progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> Report:
    """``ep``, ``tp``, ``traffic`` or ``collective`` over comma lists or ranges of its sizes.

    ``sweep("ep", preset="deepseek-v3", tokens="128:8192:x2", ep="8,64")`` runs ``ep`` at every
    point and returns one row per point (one value each: exactly the job's own report).
    """
    from moecomm.sweep import run

    swept = {name: kwargs.pop(name, None) for name in SWEEPS[job]}
    return run(_JOBS[job], job, swept, kwargs, progress=progress)


def report(
    *,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    tokens: int = 4096,
    ep: int | None = None,
    tp: int | None = None,
    phase: str | None = None,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
    stem: str = "report",
    figures: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """One scenario as a LaTeX document (``moecomm report``): a ``document.Document``.

    Runs ep, tp, compare (S = tokens × ep), traffic (uniform routing) and step on the same
    inputs, typesets the formulas with their values, and draws the figures as PDF when
    matplotlib is installed (``figures``: None draws them when it is). ``stem`` names the
    figure files (STEM-compare.pdf, …). ``Document.write(path, pdf=True)`` writes it.
    """
    from fractions import Fraction

    from moecomm import document as D
    from moecomm import presets as P
    from moecomm.dtypes import DType

    dep = R.deployment(deployment)
    ep_size = R.first(ep, None if dep is None else dep.ep)
    if ep_size is None:
        raise MoecommError(f"{f('ep')} is required (or {f('deployment')})")
    tp_size = R.first(tp, None if dep is None else dep.tp, 1)
    hw = R.first(hardware, None if dep is None else dep.hardware)
    if hw is None:
        raise MoecommError(f"{f('hardware')} is required (or {f('deployment')})")
    if figures is None:
        from moecomm.plots import available

        figures = available()
    src: dict[str, Any] = {
        "model": model,
        "preset": preset,
        "hf_config": hf_config,
        "deployment": deployment,
    }
    on: dict[str, Any] = {"hardware": hw, "link": link}
    shape = R.model(model, preset=preset, hf_config=hf_config, dep=dep)
    sizes = sorted({2**i for i in range(7)} | {ep_size})
    jobs: dict[str, Callable[[], Report]] = {
        "ep": lambda: _JOBS["ep"](**src, tokens=tokens, ep=ep_size, **on),
        "tp": lambda: _JOBS["tp"](**src, tokens=tokens, tp=tp_size, **on),
        "compare": lambda: compare(**src, tokens=tokens * ep_size, sizes=sizes, **on),
        "traffic": lambda: traffic(**src, tokens=tokens, ep=ep_size, **on),
        "step": lambda: step(**src, tokens=tokens, ep=ep_size, tp=tp_size, phase=phase, **on),
    }
    notes: list[str] = []
    if dep is not None and dep.redundant_experts:
        # Placing redundant experts needs routing data (moecomm traffic --expert-counts).
        del jobs["traffic"]
        notes.append(
            f"No traffic table or matrix: the deployment's {dep.redundant_experts} redundant "
            "experts are placed from routing data (moecomm traffic --expert-counts or "
            "--topk-ids), which a report does not have."
        )
    total = len(jobs) + (3 if figures else 0)
    reports: dict[str, Report] = {}
    for name, job in jobs.items():
        reports[name] = job()
        if progress is not None:
            progress(len(reports), total)
    pictures: dict[str, bytes] = {}
    if figures:
        from moecomm import plots

        top = max(8192, tokens)
        sweep_tokens = ",".join(str(t) for t in sorted({*(2**i for i in range(7, 14)), top}))
        drawn: dict[str, Report] = {k: reports[k] for k in ("compare", "traffic") if k in reports}
        eps = ",".join(map(str, sorted({8, ep_size})))
        drawn["sweep"] = sweep("ep", **src, tokens=sweep_tokens, ep=eps, **on)
        done = len(jobs)

        def render(r: Report) -> bytes:
            nonlocal done
            data = plots.render(r, "pdf")
            done += 1
            if progress is not None:
                progress(done, total)
            return data

        pictures = D.figure_files(drawn, render, stem)
    e = reports["ep"].result
    element = (
        Fraction(e.dispatch_copy_bytes, shape.hidden_size),
        Fraction(e.combine_copy_bytes, shape.hidden_size),
    )
    sources: list[tuple[str, str]] = []
    if preset is not None or dep is not None:
        name = preset or (dep.model if dep is not None else "")
        sources.append((f"model {name}", P.load(P.MODELS, name).source))
    if isinstance(hw, str):
        spec = P.load(P.HARDWARE, hw)
        sources.append((f"hardware {hw}", spec.source))
        sources += [(f"hardware {hw}: {k}", v) for k, v in spec.sources.items()]
    scenario = D.Scenario(
        model=preset or hf_config or (dep.model if dep is not None else "the model"),
        hardware=str(hw),
        tokens=tokens,
        ep=ep_size,
        tp=tp_size,
        hidden_size=shape.hidden_size,
        top_k=shape.top_k,
        num_experts=shape.num_experts,
        tp_element_bytes=DType(reports["tp"].result.dtype).bytes,
        sources=tuple(sources),
        notes=tuple(notes),
    )
    return D.build(scenario, reports, pictures, element)


def calibrate(
    logs: Sequence[str],
    *,
    output: str,
    base: str | None = None,
    name: str | None = None,
    min_bytes: int | str = 2**20,
    force: bool = False,
    date: str | None = None,
) -> Report:
    """Fit the time model to nccl-tests logs or moecomm-bench/1 files; write a hardware TOML.

    Each collective kind gets a latency, a peak bandwidth and a ramp per link and rank count,
    and a per-op cost where per-op times were measured (docs/time-model.md). The file keeps
    ``base``'s links, memory and compute (by default the built-in preset of the GPU in the
    logs) and records the fit's residuals and provenance. Nothing is written on any error.
    """
    from moecomm import presets as P
    from moecomm import safe_io
    from moecomm.calibration.run import calibrate as fit

    if not logs:
        raise MoecommError(f"{f('logs')} must name at least one log or measurement file")
    size = parse_bytes(min_bytes, "min_bytes") if isinstance(min_bytes, str) else min_bytes
    if date is not None:
        import datetime as dt

        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise MoecommError(f"{f('date')} must be a date YYYY-MM-DD; got {date!r}") from None
    safe_io.check_writable(output, force=force, what="output")
    chosen = name if name is not None else Path(output).name.removesuffix(".toml")
    if len(chosen) > 100 or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", chosen):
        where = "" if name is not None else " (the output file's name; pass --name)"
        raise MoecommError(
            f"{f('name')} must be lower-case letters, digits, '.', '_' or '-' (at most 100); "
            f"got {shown(chosen)}{where}"
        )
    done = fit(list(logs), name=chosen, base=base, min_bytes=size, date=date)
    text = P.hardware_toml(done.preset)
    P.validate_hardware_toml(text, safe_io.shown_path(output))  # reads back as written
    safe_io.write_text_atomic(output, text, force=force, what="output")
    cal = done.preset.calibration
    assert cal is not None
    caption = (
        f"Wrote {safe_io.shown_path(output)} (--hardware accepts it): {done.preset.name}, "
        f"links, memory and compute of preset {cal.base}. Law: t = α + x·(x + 2ν)/((x + ν)·B) "
        f"for x bytes per rank on the link (busbw bytes), fitted by least squares on relative "
        f"error to sizes ≥ {size} B; back-to-back from nccl-tests logs and CUDA-graph runs "
        "(eager batched averages only where a kind has none), per-op τ from eager medians. "
        f"Files: {', '.join(cal.logs)}. GB = 1e9 B."
    )
    return Report(done.rows, f"Calibrated time model ({len(done.rows)} fits)", caption, "rows")


def validate(
    measurements: Sequence[str],
    *,
    hardware: str | None = None,
    link: dict[str, Any] | None = None,
    min_bytes: int | str = 2**20,
    summary_only: bool = False,
) -> Report:
    """The time model against measured times: every case, then medians and worst per group.

    Cases come from nccl-tests logs (back-to-back) and moecomm-bench/1 files (back-to-back:
    ``batched_avg_s``; per-op: ``median_s`` of eager runs). ``link`` may hold ``timing`` to
    check one convention; by default each case is checked in every convention measured.
    """
    from moecomm import validation as V
    from moecomm.calibration.samples import read
    from moecomm.config import TIMINGS

    hw = _links(hardware, link, required=True)
    assert hw is not None
    if not measurements:
        raise MoecommError(f"{f('measurements')} must name at least one file")
    size = parse_bytes(min_bytes, "min_bytes") if isinstance(min_bytes, str) else min_bytes
    samples = [s for path in measurements for s in read(path)[0] if s.bytes >= size]
    conventions = [hw.timing] if (link or {}).get("timing") else list(TIMINGS)
    found = V.cases(samples, hw, conventions)
    if not found:
        raise MoecommError(f"no measured case of at least {size} bytes (--min-bytes)")
    rows = ([] if summary_only else found) + V.summaries(found)
    caption = (
        f"Error = model / measured − 1, cases of ≥ {size} B (nccl-tests' size; a MoE phase: the "
        "busiest rank's bytes to other ranks). back-to-back against nccl-tests' out-of-place "
        "time and batched_avg_s (an eager run's is bound by its host's launch rate at small "
        "sizes); per-op against eager runs' median_s. Each case on its own ranks and nodes. "
        f"{hw.caption(timing=False)}"
    )
    title = f"Time model against {len(found)} measured cases ({hw.name})"
    return Report(rows, title, caption, "rows", figure="validate")


def measure(**options: Any) -> Report | None:
    """Time collectives and MoE dispatch/combine on every rank of a torchrun world
    (``moecomm measure``); rank 0 writes the measurement file and gets the summary, the other
    ranks None. Options: ``moecomm.measure.job.measure``."""
    from moecomm.measure.job import measure as run

    return run(**options)


def formula(name: str) -> Any:
    """One formula of the registry (sympy expression, LaTeX, source); see ``moecomm formula``."""
    from moecomm import formulas as F

    return F.get(name)


def _known(options: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
