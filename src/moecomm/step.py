"""Whole-model step totals: EP, TP and gradient collectives beside the expert GEMMs, per rank.

One function, ``step_times``, serves ``moecomm step`` (exact evaluation through the generated
evaluators) and ``moecomm plan`` (float evaluation through ``formulas.fast`` over thousands of
layouts); the tests check the two against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from moecomm import formulas as F
from moecomm.config import MoEModel, Phase
from moecomm.errors import MoecommError
from moecomm.results import convention_field, quantity
from moecomm.timing import Links, ep_ranks_per_node
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
    layers_per_gpu: Exact = quantity("layers per GPU (layers / pp)", "count")
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
        "DeepSeek estimate (β_d+β_c)·T·k·h/B_out per layer", "duration"
    )
    decode_token_seconds_estimate: float | None = quantity(
        "DeepSeek estimate × layers × 2 micro-batches", "duration"
    )


def _ring(ev: Evaluate, kind: str, buffer: Number, n: int, stride: int, hw: Links) -> Number:
    """A ring collective over n ranks placed ``stride`` apart (Megatron order)."""
    if n <= 1:
        return 0
    per_node = max(1, hw.gpus_per_node // stride)
    g, nodes = (n, 1) if n <= per_node else (per_node, -(-n // per_node))
    wire_name = {
        "all-reduce": "allreduce_wire_bytes",
        "all-gather": "allgather_wire_bytes",
        "reduce-scatter": "reducescatter_wire_bytes",
    }[kind]
    wire = ev(wire_name, {"X": buffer, "n": n})
    parts = {"X": wire, "g": g, "N": nodes}
    passes = 2 if kind == "all-reduce" else 1
    m_out = passes * (nodes - 1)
    values = {
        **hw.values(),
        "x_up": ev("ring_intra_bytes", parts),
        "x_out": ev("ring_inter_bytes", parts),
        "m_up": passes * (n - 1) - m_out,
        "m_out": m_out,
    }
    return ev("collective_seconds", values)


def _tp_pair(ev: Evaluate, buffer: Number, n: int, sp: bool, hw: Links) -> Number:
    """One TP all-reduce of the activations, or reduce-scatter + all-gather under SP."""
    if sp:
        return _ring(ev, "reduce-scatter", buffer, n, 1, hw) + _ring(
            ev, "all-gather", buffer, n, 1, hw
        )
    return _ring(ev, "all-reduce", buffer, n, 1, hw)


def _a2a(
    ev: Evaluate,
    tokens: Number,
    model: MoEModel,
    k: int,
    lay: StepLayout,
    beta: Exact,
    hw: Links,
    g: int,
) -> Number:
    v = {"b": tokens, "s": 1, "k": k, "h": model.hidden_size, "beta": beta, "ep": lay.ep, "g": g}
    values = {
        **hw.values(),
        "x_up": ev("ep_intra_bytes", v),
        "x_out": ev("ep_inter_bytes", v),
        "m_up": min(g - 1, 1),
        "m_out": min(lay.ep - g, 1),
    }
    return ev("collective_seconds", values)


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
    if model.moe_intermediate_size is None:
        raise MoecommError("moe_intermediate_size is required for expert FLOPs")
    k = model.top_k + (model.num_shared_experts if lay.shared_as_routed else 0)
    g = ep_ranks_per_node(lay.ep, hw.gpus_per_node, lay.etp)
    if lay.ep > g and lay.ep % g:
        raise MoecommError(
            f"ep must be at most, or a multiple of, the EP ranks per node ({g}); got {lay.ep}"
        )
    dispatch = (
        _a2a(ev, tokens, model, k, lay, lay.dispatch_bytes_per_element, hw, g) if lay.ep > 1 else 0
    )
    combine = (
        _a2a(ev, tokens, model, k, lay, lay.combine_bytes_per_element, hw, g) if lay.ep > 1 else 0
    )
    # TP ranks are adjacent (Megatron order); the group holds tp·T tokens of h activations.
    act = tokens * lay.tp * model.hidden_size * lay.activation_bytes
    tp_attn = _tp_pair(ev, act, lay.tp, lay.sequence_parallel, hw) if lay.tp > 1 else 0
    tp_mlp = tp_attn
    tp_moe = (
        _tp_pair(
            ev,
            tokens * lay.etp * model.hidden_size * lay.activation_bytes,
            lay.etp,
            lay.sequence_parallel,
            hw,
        )
        if lay.etp > 1
        else 0
    )
    routed_k = model.top_k
    shared = 0 if lay.shared_as_routed else model.num_shared_experts
    flops = ev(
        "expert_flops",
        {
            "T": tokens,
            "k": routed_k + model.num_shared_experts - shared,
            "h": model.hidden_size,
            "d_ff": model.moe_intermediate_size,
            "d_s": shape["d_s"],
            "n_s": shared,
            "etp": lay.etp,
        },
    )
    passes = 3 if phase == "train" else 1  # forward + backward (2× the forward GEMMs)
    comm_passes = 2 if phase == "train" else 1
    compute = ev("compute_seconds", {"F": flops, "P": peak_flops, "eta_c": compute_efficiency})
    ep_layer = dispatch + combine
    exposed = (
        ev("overlap_exposed_seconds", {"t_comm": ep_layer, "t": compute}) if compute else ep_layer
    )
    per_gpu = Fraction(1, lay.pp)
    ep_step = comm_passes * ep_layer * moe_layers * per_gpu
    tp_step = (
        comm_passes
        * (tp_attn * layers + tp_mlp * (layers - moe_layers) + tp_moe * moe_layers)
        * per_gpu
    )
    grad = 0
    if phase == "train":
        dense = ev(
            "dense_params_per_gpu",
            {"W_dense": dense_param_count(model, ev), "tp": lay.tp, "pp": lay.pp},
        )
        experts = ev(
            "expert_params_per_gpu",
            shape | {"R": lay.redundant_experts, "ep": lay.ep, "etp": lay.etp, "pp": lay.pp},
        )
        grad = _ring(ev, "all-reduce", dense * lay.grad_bytes, lay.dp, lay.tp, hw) + _ring(
            ev, "all-reduce", experts * lay.grad_bytes, lay.edp, lay.etp * lay.ep, hw
        )
    compute_step = passes * compute * moe_layers * per_gpu
    pp_step: Number = 0
    if lay.pp > 1:
        # One stage hands its T·h activations to the next (and gradients back in training);
        # stages sit world/pp ranks apart, so across nodes once that reaches a node.
        act_one = tokens * model.hidden_size * lay.activation_bytes
        stride = lay.tp * lay.dp
        remote = stride >= hw.gpus_per_node
        values = {
            **hw.values(),
            "x_up": 0 if remote else act_one,
            "x_out": act_one if remote else 0,
            "m_up": 0 if remote else 1,
            "m_out": 1 if remote else 0,
        }
        pp_step = comm_passes * ev("collective_seconds", values)
    estimate_layer = estimate = None
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
        layers_per_gpu=Fraction(layers, lay.pp) if layers % lay.pp else layers // lay.pp,
        routed_per_token=k,
        ep_ranks_per_node=g,
        dispatch_seconds_per_layer=float(dispatch),
        combine_seconds_per_layer=float(combine),
        tp_attention_seconds_per_layer=float(tp_attn),
        tp_mlp_seconds_per_layer=float(tp_mlp),
        expert_flops_per_layer=flops,
        expert_compute_seconds_per_layer=float(compute),
        comm_compute_ratio=float(ep_layer / compute) if compute else 0.0,
        overlap_hides_alltoall=bool(exposed == 0),
        exposed_ep_seconds_per_layer=float(exposed),
        ep_seconds_per_step=float(ep_step),
        tp_seconds_per_step=float(tp_step),
        grad_seconds_per_step=float(grad),
        pp_seconds_per_step=float(pp_step),
        comm_seconds_per_step=float(ep_step + tp_step + grad + pp_step),
        compute_seconds_per_step=float(compute_step),
        decode_layer_seconds_estimate=estimate_layer,
        decode_token_seconds_estimate=estimate,
    )
