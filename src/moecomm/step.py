"""Whole-model step totals: EP, TP and gradient collectives beside the expert GEMMs, per rank.

One function, ``components``, is the step model. It serves ``moecomm step`` (``step_times``:
exact evaluation through the generated evaluators) and ``moecomm plan`` (numpy arrays through
``formulas.vector``, one element per layout, or floats through ``formulas.fast`` where numpy is
missing); the tests check each against exact evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from moecomm import formulas as F
from moecomm.config import MoEModel, Phase, check_ep_nodes, stage_layers
from moecomm.elementwise import SCALAR, Ops
from moecomm.errors import MoecommError
from moecomm.hardware import Links
from moecomm.results import convention_field, quantity
from moecomm.timing import Kind, ep_alltoall_time, ep_ranks_per_node, ring_time, timed
from moecomm.units import Exact

Number = Any
Evaluate = Callable[[str, Mapping[str, Number]], Number]


def exact(name: str, values: Mapping[str, Number]) -> Number:
    return F.value(
        name, {k: v if isinstance(v, int | Fraction) else Fraction(v) for k, v in values.items()}
    )


def approx(name: str, values: Mapping[str, Number]) -> Number:
    return F.fast(name)(**{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class StepLayout:
    """The parallel sizes and wire formats that a step is timed under."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    etp: int = 1
    dp: int = 1
    edp: int = 1
    sequence_parallel: bool = False
    dispatch_bytes_per_element: Exact = 2
    """Dispatch bytes per hidden element, FP8 scales and headers included (e.g. 1 + 4/128)."""
    combine_bytes_per_element: Exact = 2
    activation_bytes: int = 2
    grad_bytes: int = 2
    redundant_experts: int = 0
    shared_as_routed: bool = False
    """DeepSeek decode: the shared expert is one more routed selection (top-k + 1)."""
    cp: int = 1
    """Context-parallel size (``step --cp``; ``plan`` passes each layout's in ``Sizes``)."""
    dedup: str = "copies"
    """copies: one copy per (token, expert); node: DeepEP's normal kernels, one copy per
    destination node over the network, forwarded over NVLink to each chosen rank."""


@dataclass(frozen=True)
class StepResult:
    """Communication and expert compute of one step, per rank (per GPU)."""

    convention: str = convention_field()
    phase: str = quantity("phase", "text")
    hardware: str = quantity("hardware", "text")
    efficiency: float = quantity("link efficiency η", "ratio")
    compute_efficiency: float = quantity("compute efficiency", "ratio")
    tokens_per_rank: Exact = quantity("tokens per rank at the MoE (T)", "tokens")
    layers: int = quantity("layers (all, attention TP)", "count")
    moe_layers: int = quantity("MoE layers", "count")
    stage_layers: str = quantity("layers per pipeline stage (first/middle/last)", "text")
    routed_per_token: int = quantity("expert selections per token", "count")
    ep_ranks_per_node: int = quantity("EP ranks per node", "ranks")
    dispatch_seconds_per_layer: float = quantity("EP dispatch / MoE layer", "duration")
    combine_seconds_per_layer: float = quantity("EP combine / MoE layer", "duration")
    tp_attention_seconds_per_layer: float = quantity("TP attention collectives / layer", "duration")
    tp_mlp_seconds_per_layer: float = quantity("TP MLP collectives / dense layer", "duration")
    expert_flops_per_layer: Exact = quantity("expert FLOPs / MoE layer", "count")
    expert_compute_seconds_per_layer: float = quantity("expert GEMMs / MoE layer", "duration")
    comm_compute_ratio: float = quantity("EP comm / expert compute", "ratio")
    overlap_hides_alltoall: bool = quantity("two-micro-batch overlap hides EP", "flag")
    exposed_ep_seconds_per_layer: float = quantity("EP left exposed / MoE layer", "duration")
    ep_seconds_per_step: float = quantity("EP per step", "duration")
    tp_seconds_per_step: float = quantity("TP per step", "duration")
    grad_seconds_per_step: float = quantity("gradient reduction (DP + EDP) per step", "duration")
    pp_seconds_per_step: float = quantity("pipeline send/recv per step", "duration")
    comm_seconds_per_step: float = quantity("communication per step", "duration")
    compute_seconds_per_step: float = quantity("expert compute per step", "duration")
    decode_layer_seconds_estimate: float | None = quantity(
        "DeepSeek's formula (β_d+β_c)·T·k·h/B_out per layer, at this step's inputs", "duration"
    )
    decode_token_seconds_estimate: float | None = quantity(
        "DeepSeek's formula × layers × 2 micro-batches, at this step's inputs", "duration"
    )
    decode_layer_seconds_published: float | None = quantity(
        "DeepSeek's published figure per layer (1+2 B, T 32, k 9, h 7K, 50 GB/s)", "duration"
    )
    attention_seconds_per_layer: float | None = quantity("attention compute / layer", "duration")
    dense_mlp_seconds_per_layer: float | None = quantity(
        "dense MLP compute / dense layer", "duration"
    )
    stage_compute_seconds: float | None = quantity(
        "compute of one micro-batch on the stage (all layers)", "duration"
    )
    hbm_seconds: float | None = quantity(
        "device-memory reads per step (weights + KV at HBM bandwidth)", "duration"
    )
    exposed_ep_seconds_per_step: float | None = quantity("EP left exposed per step", "duration")
    exposed_tp_seconds_per_step: float | None = quantity("TP left exposed per step", "duration")
    cp_seconds_per_step: float | None = quantity(
        "CP exchange of keys and values left exposed per step", "duration"
    )
    micro_batch_seconds: float | None = quantity(
        "one micro-batch on the stage (roofline compute + exposed comm)", "duration"
    )
    micro_batches: int | None = quantity("micro-batches per step", "count")
    pipeline_bubble: Exact | None = quantity("pipeline bubble (micro-batch times)", "count")
    step_seconds: float | None = quantity("step time", "duration")
    tokens_per_second_per_gpu: float | None = quantity("tokens / s per GPU", "ratio")
    ttft_seconds: float | None = quantity(
        "TTFT (prefill of T tokens per rank, pp stages)", "duration"
    )
    tpot_seconds: float | None = quantity("TPOT (one decode step, pp stages)", "duration")
    weight_bytes: Exact | None = quantity("memory: weights", "bytes")
    gradient_bytes: Exact | None = quantity("memory: fp32 gradients", "bytes")
    optimizer_bytes: Exact | None = quantity("memory: optimizer state (ZeRO-1)", "bytes")
    activation_bytes: Exact | None = quantity("memory: activations", "bytes")
    kv_cache_bytes: Exact | None = quantity("memory: KV cache", "bytes")
    memory_bytes_per_gpu: Exact | None = quantity("memory per GPU (sum)", "bytes")
    usable_bytes_per_gpu: Exact | None = quantity("memory usable (less headroom)", "bytes")
    recompute: str | None = quantity("activation recompute", "text")
    fits: bool | None = quantity("fits", "flag")
    layout: dict[str, Any] | None = quantity("layout", "text", show=False)
    """Parallel sizes (and which were derived), for the JSON; the caption states them."""
    dtypes: dict[str, Any] | None = quantity("dtypes", "text", show=False)
    launch: dict[str, str] | None = quantity("launch flags", "text", show=False)
    """Flags that launch this layout in Megatron-LM, SGLang and vLLM, for the JSON."""
    """Element types and bytes per element of the wire, weights and activations, for the JSON."""


DEEPSEEK_PUBLISHED = {
    "beta_d": 1,
    "beta_c": 2,
    "T": 32,
    "k": 9,
    "h": 7000,
    "B": 50 * 10**9,
}
"""The inputs of DeepSeek's own decode estimate, 120.96 µs per layer (Zhao et al., arXiv
2505.09343): FP8 dispatch without scales, BF16 combine, 32 tokens, 9 experts, '7K', 50 GB/s.
This step's row uses the deployment's own wire bytes and bandwidth instead."""


def stage_text(layers: int, pp: int) -> str:
    """Layers per pipeline stage: one number for an even split, else first/middle/last."""
    first, middle, last = stage_layers(layers, pp)
    if first == middle == last:
        return str(middle)
    return f"{first}/{middle}/{last}" if pp > 2 else f"{first}/{last}"


def _ring(
    ev: Evaluate, kind: Kind, buffer: Number, n: Number, stride: Number, hw: Links, ops: Ops
) -> Number:
    """A ring collective over n ranks placed ``stride`` apart (Megatron order); 0 for n = 1."""
    per_node = ops.maximum(1, hw.gpus_per_node // stride)
    nodes = -(-n // per_node)
    time = ring_time(ev, kind, buffer, n, ops.minimum(n, per_node), nodes, hw, ops)
    return ops.where(n > 1, time, 0)


def _tp_pair(ev: Evaluate, buffer: Number, n: Number, sp: bool, hw: Links, ops: Ops) -> Number:
    """One TP all-reduce of the activations, or reduce-scatter + all-gather under SP."""
    if sp:
        return _ring(ev, "reduce-scatter", buffer, n, 1, hw, ops) + _ring(
            ev, "all-gather", buffer, n, 1, hw, ops
        )
    return _ring(ev, "all-reduce", buffer, n, 1, hw, ops)


def _a2a(
    ev: Evaluate,
    tokens: Number,
    model: MoEModel,
    k: int,
    ep: Number,
    beta: Exact,
    hw: Links,
    g: Number,
    ops: Ops,
    dedup: str = "copies",
    redundant: int = 0,
) -> Number:
    """One balanced EP all-to-all (DeepEP: one latency per link); 0 for ep = 1."""
    v = {"b": tokens, "s": 1, "k": k, "h": model.hidden_size, "beta": beta, "ep": ep, "g": g}
    if dedup == "node":
        # DeepEP normal kernels: one copy per (token, destination node) over the network, then
        # one per (token, chosen rank) over NVLink; expected counts (traffic.expected).
        p_node = _per_ep(ep, g, ops, lambda e, gg: _hit(model, k, redundant, e // gg, "nodes"))
        p_rank = _per_ep(ep, g, ops, lambda e, gg: _hit(model, k, redundant, e, "ranks"))
        d = {"b": tokens, "s": 1, "ep": ep, "G": g, "lam": 0}
        copy = model.hidden_size * beta
        intra = ev("node_dedup_copies_sent_intra_node", d | {"p": p_rank}) * copy
        inter = ev("node_dedup_copies_sent_inter_node", d | {"p": p_node}) * copy
    else:
        intra, inter = ev("ep_intra_bytes", v), ev("ep_inter_bytes", v)
    time = ep_alltoall_time(ev, intra, inter, hw, ep=ep, per_node=g, ops=ops)
    return ops.where(ep > 1, time, 0)


def _hit(model: MoEModel, k: int, redundant: int, units: int, what: str) -> Exact:
    """Probability that a token reaches one given rank or node, group-limited where the groups
    nest with the units, else as if unlimited (more units reached: an upper bound)."""
    from moecomm.traffic.expected import hit_probability

    slots = model.num_experts + redundant
    try:
        return hit_probability(slots, k, units, model.n_group, model.topk_group, what)
    except MoecommError:
        return hit_probability(slots, k, units, None, None, what)


def _per_ep(ep: Number, g: Number, ops: Ops, fn: Callable[[int, int], Exact]) -> Number:
    """fn(ep, g) for one layout, or mapped over arrays (one exact evaluation per distinct pair)."""
    if not hasattr(ep, "shape"):
        return fn(int(ep), int(g))
    import numpy as np

    pairs = np.stack(np.broadcast_arrays(ep, g)).reshape(2, -1).T.astype(np.int64)
    table = {(e, gg): float(fn(e, gg)) for e, gg in {tuple(x) for x in pairs.tolist()}}
    out = np.array([table[(e, gg)] for e, gg in pairs.tolist()], dtype=np.float64)
    return out.reshape(np.broadcast(ep, g).shape)


def dense_param_count(model: MoEModel, ev: Evaluate = exact) -> Number:
    """dense_params of a model preset (attention estimated from its head counts)."""
    heads = model.num_attention_heads or 1
    return ev("dense_params", _shape(model) | {"n_h": heads})


def _shape(model: MoEModel) -> dict[str, Number]:
    layers = model.num_layers
    if layers is None:
        raise MoecommError("num_layers is required for whole-model totals (give --layers)")
    heads = model.num_attention_heads or 1
    head_dim = model.head_dim or max(1, model.hidden_size // heads)
    return {
        "L": layers,
        "L_moe": model.num_moe_layers or 0,
        "h": model.hidden_size,
        "n_kv": model.num_key_value_heads or heads,
        "d_h": head_dim,
        "d_i": model.intermediate_size or 0,
        "d_s": model.shared_expert_intermediate_size or model.moe_intermediate_size or 0,
        "n_s": model.num_shared_experts,
        "V": model.vocab_size or 0,
        "E": model.num_experts,
        "d_ff": model.moe_intermediate_size or 0,
    }


def shared_block(model: MoEModel) -> tuple[int, int]:
    """(1, width of the shared-expert block) or (0, 0): a config's shared width (e.g.
    DeepSeek-V2's 2 × 1536 = 3072) covers all its shared experts, so it is counted once."""
    if not model.num_shared_experts:
        return 0, 0
    width = model.shared_expert_intermediate_size
    if width is None:
        width = model.num_shared_experts * (model.moe_intermediate_size or 0)
    return 1, width


def _selections(model: MoEModel, lay: StepLayout) -> int:
    """Expert selections per token on the wire: top-k, plus the shared expert in DeepSeek decode."""
    return model.top_k + (model.num_shared_experts if lay.shared_as_routed else 0)


class Sizes(NamedTuple):
    """The parallel sizes of a layout: ints for one layout, arrays for many (``vector.NUMPY``)."""

    tp: Number
    dp: Number
    ep: Number
    edp: Number
    etp: Number
    pp: Number
    cp: Number = 1


class Components(NamedTuple):
    """What one step costs on one rank, by part: per layer, then per step of a pipeline stage."""

    ep_ranks_per_node: Number
    dispatch: Number
    combine: Number
    tp_attn: Number
    tp_mlp: Number
    tp_moe: Number
    flops: Number
    compute: Number
    ep_step: Number
    tp_step: Number
    grad: Number
    pp_step: Number
    compute_step: Number
    cp_exchange: Number = 0
    """Context-parallel ring all-gather of the keys and values per layer (forward); 0 at cp 1."""

    @property
    def comm_step(self) -> Number:
        return self.ep_step + self.tp_step + self.grad + self.pp_step


def components(
    model: MoEModel,
    phase: Phase,
    tokens: Number,
    sizes: Sizes,
    lay: StepLayout,
    hw: Links,
    *,
    compute_efficiency: float,
    peak_flops: int,
    ev: Evaluate = exact,
    ops: Ops = SCALAR,
) -> Components:
    """The step model: every part of one step on one rank, for one layout or for arrays of them.

    ``sizes`` gives the parallel sizes (``lay``'s own are ignored); ``lay`` the wire formats.
    Branches on the sizes go through ``ops``, so the same code serves ``step_times`` (numbers,
    exact or float) and ``moecomm plan`` (numpy arrays, one element per layout).
    """
    shape = _shape(model)
    layers, moe_layers = int(shape["L"]), int(shape["L_moe"])
    if model.moe_intermediate_size is None:
        raise MoecommError("moe_intermediate_size is required for expert FLOPs")
    tp, dp, ep, edp, etp, pp, cp = sizes
    k = _selections(model, lay)
    g = ep_ranks_per_node(ep, hw.gpus_per_node, etp, ops)
    wire: dict[str, Any] = {"dedup": lay.dedup, "redundant": lay.redundant_experts}
    dispatch = _a2a(ev, tokens, model, k, ep, lay.dispatch_bytes_per_element, hw, g, ops, **wire)
    combine = _a2a(ev, tokens, model, k, ep, lay.combine_bytes_per_element, hw, g, ops, **wire)
    # TP ranks are adjacent (Megatron order); the group holds tp·T tokens of h activations.
    act = tokens * tp * model.hidden_size * lay.activation_bytes
    tp_attn = _tp_pair(ev, act, tp, lay.sequence_parallel, hw, ops)
    tp_mlp = tp_attn
    act_moe = tokens * etp * model.hidden_size * lay.activation_bytes
    tp_moe = _tp_pair(ev, act_moe, etp, lay.sequence_parallel, hw, ops)
    shared = 0 if lay.shared_as_routed else model.num_shared_experts
    blocks, width = shared_block(model) if shared else (0, 0)
    flops = ev(
        "expert_flops",
        {
            # Megatron-Core all-gathers the tokens of the etp ranks of an expert-TP group, each
            # rank then runs 1/etp of every expert on all of them: T·etp tokens over etp.
            "T": tokens * etp,
            "k": model.top_k + model.num_shared_experts - shared,
            "h": model.hidden_size,
            "d_ff": model.moe_intermediate_size,
            "d_s": width,
            "n_s": blocks,
            "etp": etp,
        },
    )
    tau = 1 if phase == "train" else 0
    compute = ev("compute_seconds", {"F": flops, "P": peak_flops, "eta_c": compute_efficiency})
    ep_step = ev(
        "ep_step_seconds",
        {"tau": tau, "t_d": dispatch, "t_c": combine, "L_moe": moe_layers, "pp": pp},
    )
    tp_step = ev(
        "tp_step_seconds",
        {
            "tau": tau,
            "t_attn": tp_attn,
            "t_mlp": tp_mlp,
            "t_moe": tp_moe,
            "L": layers,
            "L_moe": moe_layers,
            "pp": pp,
        },
    )
    grad: Number = 0
    if phase == "train":
        dense = ev(
            "dense_params_per_gpu",
            {"W_dense": dense_param_count(model, ev), "tp": tp, "pp": pp},
        )
        experts = ev(
            "expert_params_per_gpu",
            shape | {"R": lay.redundant_experts, "ep": ep, "etp": etp, "pp": pp},
        )
        # Dense gradients reduce over the data- and context-parallel ranks (Megatron-Core's
        # dp-cp group), tp apart.
        grad = _ring(ev, "all-reduce", dense * lay.grad_bytes, dp * cp, tp, hw, ops) + _ring(
            ev, "all-reduce", experts * lay.grad_bytes, edp, etp * ep, hw, ops
        )
    # One stage hands its T·h activations to the next (and gradients back in training); stages
    # sit world/pp ranks apart, so across nodes once that reaches a node.
    act_one = tokens * model.hidden_size * lay.activation_bytes
    remote = tp * dp >= hw.gpus_per_node
    values = {
        **hw.values("send-recv", ops.where(remote, 2, 1), ops),
        "x_up": ops.where(remote, 0, act_one),
        "x_out": ops.where(remote, act_one, 0),
        "m_up": ops.where(remote, 0, 1),
        "m_out": ops.where(remote, 1, 0),
    }
    hand_off = ev("pp_step_seconds", {"tau": tau, "t_pp": timed(ev, values, hw)})
    pp_step = ops.where(pp > 1, hand_off, 0)
    compute_step = ev(
        "expert_compute_step_seconds", {"tau": tau, "t": compute, "L_moe": moe_layers, "pp": pp}
    )
    chunk = ev("cp_kv_chunk_bytes", _kv_shape(model, tp, ops) | {"T": tokens, "tp": tp,
               "beta": lay.activation_bytes})  # fmt: skip
    # CP ranks sit tp apart (Megatron's order tp-cp-ep-dp-pp); all-gather of cp chunks; 0 at cp 1.
    cp_exchange = _ring(ev, "all-gather", chunk * cp, cp, tp, hw, ops)
    return Components(
        g, dispatch, combine, tp_attn, tp_mlp, tp_moe, flops, compute,
        ep_step, tp_step, grad, pp_step, compute_step, cp_exchange,
    )  # fmt: skip


def _kv_shape(model: MoEModel, tp: Number, ops: Ops) -> dict[str, Number]:
    """kv heads on one tp rank (n_kv/tp, or one replicated) and their mean K/V head width."""
    heads = model.num_attention_heads or 1
    if model.mla:
        n_kv, width = heads, Fraction((model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim
                                        or 0) + (model.v_head_dim or 0), 2)  # fmt: skip
    else:
        n_kv = model.num_key_value_heads or heads
        width = Fraction(model.head_dim or max(1, model.hidden_size // heads))
    per_rank = n_kv / tp if hasattr(tp, "shape") else Fraction(n_kv) / tp
    return {"n_kv": ops.maximum(1, per_rank), "d_h": width}


def step_times(
    model: MoEModel,
    phase: Phase,
    tokens: Exact,
    lay: StepLayout,
    hw: Links,
    *,
    compute_efficiency: float,
    peak_flops: int,
    ev: Evaluate = exact,
) -> StepResult:
    """Communication and expert compute of one step on one rank (its pipeline stage's layers)."""
    shape = _shape(model)
    layers, moe_layers = int(shape["L"]), int(shape["L_moe"])
    g = ep_ranks_per_node(lay.ep, hw.gpus_per_node, lay.etp)
    check_ep_nodes(lay.ep, g)
    sizes = Sizes(lay.tp, lay.dp, lay.ep, lay.edp, lay.etp, lay.pp, lay.cp)
    c = components(
        model,
        phase,
        tokens,
        sizes,
        lay,
        hw,
        compute_efficiency=compute_efficiency,
        peak_flops=peak_flops,
        ev=ev,
    )
    ep_layer = c.dispatch + c.combine
    exposed = ev("overlap_exposed_seconds", {"t_comm": ep_layer, "t": c.compute})
    k = _selections(model, lay)
    estimate_layer = estimate = published = None
    if phase == "decode":
        v = {
            "beta_d": lay.dispatch_bytes_per_element,
            "beta_c": lay.combine_bytes_per_element,
            "T": tokens,
            "k": k,
            "h": model.hidden_size,
            "B": hw.values()["B_out"] * hw.values()["eta"],
            "L": layers,
            "mu": 2,
        }
        estimate_layer = float(ev("ep_decode_layer_seconds_estimate", v))
        estimate = float(ev("ep_decode_token_seconds_estimate", v))
        published = float(ev("ep_decode_layer_seconds_estimate", DEEPSEEK_PUBLISHED))
    return StepResult(
        convention=(
            f"per rank, one {phase} step; T tokens per rank at each MoE layer"
            + (" (requests per rank in decode)" if phase == "decode" else "")
            + "; balanced routing; totals over the layers / pp of one pipeline stage"
        ),
        phase=phase,
        hardware=hw.name,
        efficiency=hw.efficiency,
        compute_efficiency=compute_efficiency,
        tokens_per_rank=tokens,
        layers=layers,
        moe_layers=moe_layers,
        stage_layers=stage_text(layers, lay.pp),
        routed_per_token=k,
        ep_ranks_per_node=g,
        dispatch_seconds_per_layer=float(c.dispatch),
        combine_seconds_per_layer=float(c.combine),
        tp_attention_seconds_per_layer=float(c.tp_attn),
        tp_mlp_seconds_per_layer=float(c.tp_mlp),
        expert_flops_per_layer=c.flops,
        expert_compute_seconds_per_layer=float(c.compute),
        comm_compute_ratio=float(ep_layer / c.compute) if c.compute else 0.0,
        overlap_hides_alltoall=bool(exposed == 0),
        exposed_ep_seconds_per_layer=float(exposed),
        ep_seconds_per_step=float(c.ep_step),
        tp_seconds_per_step=float(c.tp_step),
        grad_seconds_per_step=float(c.grad),
        pp_seconds_per_step=float(c.pp_step),
        comm_seconds_per_step=float(c.comm_step),
        compute_seconds_per_step=float(c.compute_step),
        decode_layer_seconds_estimate=estimate_layer,
        decode_token_seconds_estimate=estimate,
        decode_layer_seconds_published=published,
        attention_seconds_per_layer=None,
        dense_mlp_seconds_per_layer=None,
        stage_compute_seconds=None,
        hbm_seconds=None,
        exposed_ep_seconds_per_step=None,
        exposed_tp_seconds_per_step=None,
        cp_seconds_per_step=None,
        micro_batch_seconds=None,
        micro_batches=None,
        pipeline_bubble=None,
        step_seconds=None,
        tokens_per_second_per_gpu=None,
        ttft_seconds=None,
        tpot_seconds=None,
        weight_bytes=None,
        gradient_bytes=None,
        optimizer_bytes=None,
        activation_bytes=None,
        kv_cache_bytes=None,
        memory_bytes_per_gpu=None,
        usable_bytes_per_gpu=None,
        recompute=None,
        fits=None,
        layout=None,
        dtypes=None,
        launch=None,
    )
