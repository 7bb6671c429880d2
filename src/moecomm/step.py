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
from moecomm.config import MoEModel, Phase, check_ep_nodes
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
) -> Number:
    """One balanced EP all-to-all (DeepEP: one latency per link); 0 for ep = 1."""
    v = {"b": tokens, "s": 1, "k": k, "h": model.hidden_size, "beta": beta, "ep": ep, "g": g}
    intra, inter = ev("ep_intra_bytes", v), ev("ep_inter_bytes", v)
    time = ep_alltoall_time(ev, intra, inter, hw, ep=ep, per_node=g, ops=ops)
    return ops.where(ep > 1, time, 0)


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
    tp, dp, ep, edp, etp, pp = sizes
    k = _selections(model, lay)
    g = ep_ranks_per_node(ep, hw.gpus_per_node, etp, ops)
    dispatch = _a2a(ev, tokens, model, k, ep, lay.dispatch_bytes_per_element, hw, g, ops)
    combine = _a2a(ev, tokens, model, k, ep, lay.combine_bytes_per_element, hw, g, ops)
    # TP ranks are adjacent (Megatron order); the group holds tp·T tokens of h activations.
    act = tokens * tp * model.hidden_size * lay.activation_bytes
    tp_attn = _tp_pair(ev, act, tp, lay.sequence_parallel, hw, ops)
    tp_mlp = tp_attn
    act_moe = tokens * etp * model.hidden_size * lay.activation_bytes
    tp_moe = _tp_pair(ev, act_moe, etp, lay.sequence_parallel, hw, ops)
    shared = 0 if lay.shared_as_routed else model.num_shared_experts
    flops = ev(
        "expert_flops",
        {
            "T": tokens,
            "k": model.top_k + model.num_shared_experts - shared,
            "h": model.hidden_size,
            "d_ff": model.moe_intermediate_size,
            "d_s": shape["d_s"],
            "n_s": shared,
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
        grad = _ring(ev, "all-reduce", dense * lay.grad_bytes, dp, tp, hw, ops) + _ring(
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
    return Components(
        g, dispatch, combine, tp_attn, tp_mlp, tp_moe, flops, compute,
        ep_step, tp_step, grad, pp_step, compute_step,
    )  # fmt: skip


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
    sizes = Sizes(lay.tp, lay.dp, lay.ep, lay.edp, lay.etp, lay.pp)
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
    )
