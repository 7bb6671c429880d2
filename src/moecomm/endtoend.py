"""End-to-end step time: compute beside communication, memory-bound decode, pipeline bubble.

One function, ``end_to_end``, for ``moecomm step`` (numbers, exact) and ``moecomm plan`` (numpy
arrays, one element per layout). It adds to ``step.components`` (communication and expert
GEMMs) the attention and dense-MLP compute, the roofline against device-memory bandwidth, the
overlap rule of the phase and the pipeline schedule, and turns them into the figures a
deployment is judged by: step time and tokens/s per GPU; TTFT in prefill, TPOT in decode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from moecomm.config import MoEModel, Phase, ScheduleOptions
from moecomm.elementwise import SCALAR, Ops
from moecomm.hardware import Links
from moecomm.memory import RECOMPUTE, attention_params, head_dim
from moecomm.step import Components

Number = Any
Evaluate = Callable[[str, Mapping[str, Number]], Number]

OVERLAP = (
    "EP overlaps computation in prefill and decode (two micro-batches, DeepSeek-V3 §3.4) and "
    "under DualPipe in training; not under 1F1B or interleaved; TP collectives overlap only in "
    "prefill (DeepSeek-V3 §3.4.1)"
)
"""The overlap rules, stated in captions."""


@dataclass(frozen=True)
class EndToEnd:
    """The parts of one step on one GPU and what they add up to (arrays over layouts in plan)."""

    attention_seconds_per_layer: Number
    dense_mlp_seconds_per_layer: Number
    compute_seconds: Number
    """Compute of one micro-batch on the stage (FLOPs at the achieved rate)."""
    hbm_seconds: Number
    """Device-memory reads of one step (inference: weights and KV cache); 0 in training."""
    exposed_ep_seconds: Number
    micro_batch_seconds: Number
    micro_batches: Number
    bubble: Number
    """Pipeline bubble, in micro-batch times."""
    step_seconds: Number
    tokens_per_second_per_gpu: Number
    latency_seconds: Number
    """TTFT in prefill, TPOT in decode, the step in training: pp stages of one micro-batch."""
    work_seconds: Number
    """Compute of one micro-batch, or the device-memory reads where those take longer."""
    tp_seconds: Number
    """TP collectives of one micro-batch left exposed (all of them but in prefill's overlap)."""
    pp_seconds: Number
    """Pipeline hand-offs of one micro-batch."""
    cp_seconds: Number = 0
    """Context-parallel KV exchange of one micro-batch left exposed (0 at cp 1)."""


def bubble(sched: ScheduleOptions, pp: Number, ops: Ops = SCALAR) -> Number:
    """Idle micro-batch times per step of the training schedule (Narayanan et al. 2021 §2.2;
    DualPipe, DeepSeek-V3 Table 2, taken as pp/2 − 1)."""
    if sched.schedule == "dualpipe":
        return ops.maximum(0, pp / 2 - 1)
    if sched.schedule == "interleaved":
        return (pp - 1) / sched.vpp
    return pp - 1


def end_to_end(
    model: MoEModel,
    phase: Phase,
    tokens: Number,
    sizes: tuple[Number, Number, Number, Number, Number, Number],
    comps: Components,
    read_bytes: Number,
    sched: ScheduleOptions,
    hw: Links,
    *,
    compute_efficiency: float,
    peak_flops: int,
    context: int,
    seq: int,
    recompute: Number = 0,
    micro_batches: Number | None = None,
    ev: Evaluate,
    ops: Ops = SCALAR,
) -> EndToEnd:
    """One step of one GPU from its parts; see the module docstring and the formulas it uses.

    ``read_bytes``: what one inference step reads from device memory (the stage's weights and
    KV cache, ``memory.read_bytes``); ``recompute``: index into ``memory.RECOMPUTE`` (2 = full
    recompute, which adds a forward pass).
    """
    pp = sizes[5]
    layers, moe_layers = model.num_layers or 1, model.num_moe_layers or 0
    heads = model.num_attention_heads or 1
    if model.mla:
        d_qk = (model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0)
        d_v = model.v_head_dim or 0
    else:
        d_qk = d_v = head_dim(model)
    attended = context if phase == "decode" else seq / 2
    attn = {"P_attn": attention_params(model), "T": tokens, "n_h": heads, "d_qk": d_qk,
            "d_v": d_v, "n_att": attended}  # fmt: skip
    flops_mlp = ev(
        "dense_mlp_flops",
        {"h": model.hidden_size, "d_i": model.intermediate_size or 0, "T": tokens},
    )
    rate = {"P": peak_flops, "eta_c": compute_efficiency}
    # The scores run at the bf16 rate (DeepSeek-V3 §3.3: attention operators stay in BF16).
    t_ac = ev("attention_seconds", attn | rate | {"P_s": min(peak_flops, hw.bf16_flops)})
    t_dc = ev("compute_seconds", {"F": flops_mlp} | rate)
    tau = 1 if phase == "train" else 0
    full = ops.where(recompute == RECOMPUTE.index("full"), 1, 0)
    compute = ev(
        "stage_compute_seconds",
        {"tau": tau, "r_f": full, "t_ac": t_ac, "t_dc": t_dc, "t": comps.compute, "L": layers,
         "L_moe": moe_layers, "pp": pp},
    )  # fmt: skip
    hbm: Number = 0
    work = compute
    if phase != "train" and hw.hbm_bytes_per_second:
        hbm = ev("hbm_seconds", {"x_hbm": read_bytes, "B_hbm": hw.hbm_bytes_per_second})
        work = ops.maximum(compute, hbm)
    exposed = ev(
        "exposed_ep_step_seconds",
        {"tau": tau, "t_d": comps.dispatch, "t_c": comps.combine, "t_ac": t_ac, "t": comps.compute,
         "o_v": 1 if sched.overlaps(phase) else 0, "L_moe": moe_layers, "pp": pp},
    )  # fmt: skip
    # Prefill's two micro-batches hide TP beside the all-to-all (DeepSeek-V3 §3.4.1).
    tp_hidden = 1 if phase == "prefill" and sched.overlaps(phase) else 0
    tp_shown = ev(
        "exposed_tp_step_seconds",
        {"tau": tau, "t_d": comps.dispatch, "t_c": comps.combine, "t_ac": t_ac, "t": comps.compute,
         "t_dc": t_dc, "t_attn": comps.tp_attn, "t_mlp": comps.tp_mlp, "t_moe": comps.tp_moe,
         "o_t": tp_hidden, "L": layers, "L_moe": moe_layers, "pp": pp},
    )  # fmt: skip
    # Context parallelism's ring exchange of K and V, under the attention compute (0 at cp 1).
    cp_shown = ev("cp_step_seconds", {"tau": tau, "t_cp": comps.cp_exchange, "t_ac": t_ac,
                                      "L": layers, "pp": pp})  # fmt: skip
    t_mb = work + exposed + tp_shown + cp_shown + comps.pp_step
    if phase == "train":
        m = micro_batches if micro_batches is not None else sched.micro_batches
        if m is None:
            m = 4 * pp
        idle = bubble(sched, pp, ops)
        step = ev(
            "train_step_seconds",
            {"t_mb": t_mb, "n_m": m, "n_b": idle, "t_g": comps.grad, "t_ex": compute},
        )
        latency = step
    else:
        m, idle = 1, 0
        step = t_mb
        latency = pp * t_mb
    rate_tokens = ev("tokens_per_second_per_gpu", {"n_m": m, "T": tokens, "pp": pp, "t": step})
    return EndToEnd(
        t_ac, t_dc, compute, hbm, exposed, t_mb, m, idle, step, rate_tokens, latency, work,
        tp_shown, comps.pp_step, cp_shown,
    )  # fmt: skip
