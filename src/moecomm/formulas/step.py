"""The step model's counts: passes of a step, totals over a pipeline stage, ring steps.

Every number ``moecomm step`` and ``moecomm plan`` add up is one of these expressions; the
per-layer times they add come from ``link_time`` and ``compute``.
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    L,
    L_moe,
    N,
    n,
    pp,
    r_p,
    t,
    t_a2a,
    t_ar,
    t_attn,
    t_c,
    t_d,
    t_mlp,
    t_moe,
    t_pp,
    tau,
)

STEP_PER_RANK = "per rank, one step; totals over the layers / pp of one pipeline stage"


@formula(unit="count", convention="per step; τ = 1 in training, 0 in inference")
def compute_passes() -> sp.Expr:
    """Forward-pass GEMM equivalents in one step: 1 in inference, 3 in training.

    Source: Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training on GPU
    Clusters", sec. 5.1): the backward pass costs twice the forward pass's FLOPs (the gradients
    of the inputs and of the weights), so a training step is 3× the forward GEMMs.
    """
    return 1 + 2 * tau


@formula(unit="count", convention="per step; τ = 1 in training, 0 in inference")
def comm_passes() -> sp.Expr:
    """Times each forward collective runs in one step: 1 in inference, 2 in training.

    Source: Megatron-LM's conjugate operators (Shoeybi et al. 2019, sec. 3: f is an identity
    forward and an all-reduce backward, g the reverse), and the EP all-to-all's backward, which
    sends the gradients of dispatch and combine back the same way.
    """
    return 1 + tau


@formula(unit="seconds", convention=STEP_PER_RANK)
def ep_step_seconds() -> sp.Expr:
    """EP dispatch and combine of one step, over the MoE layers of one pipeline stage.

    Source: comm_passes × (t_d + t_c) per MoE layer × L_moe / pp; layers are spread evenly over
    the pp stages (the average stage).
    """
    return comm_passes() * (t_d + t_c) * L_moe / pp


@formula(unit="seconds", convention=STEP_PER_RANK)
def tp_step_seconds() -> sp.Expr:
    """TP collectives of one step: attention in every layer, dense MLPs, expert-TP in MoE layers.

    Source: Megatron-LM (Shoeybi et al. 2019, sec. 3): one all-reduce (or reduce-scatter +
    all-gather under sequence parallelism) after attention and one after each MLP, per pass.
    """
    return comm_passes() * (t_attn * L + t_mlp * (L - L_moe) + t_moe * L_moe) / pp


@formula(unit="seconds", convention=STEP_PER_RANK)
def expert_compute_step_seconds() -> sp.Expr:
    """Expert GEMMs of one step: compute_passes × t per MoE layer × L_moe / pp.

    Source: compute_passes (Narayanan et al. 2021, sec. 5.1) over the MoE layers of the average
    pipeline stage; t per layer is compute_seconds of expert_flops.
    """
    return compute_passes() * t * L_moe / pp


@formula(unit="seconds", convention="per rank, one step; one stage boundary")
def pp_step_seconds() -> sp.Expr:
    """Pipeline hand-offs of one step: the activations forward (and their gradients back).

    Source: 1F1B pipelining (Narayanan et al. 2021): one send of the stage's output per pass.
    """
    return comm_passes() * t_pp


@formula(unit="count", convention="per rank, one ring collective over N nodes")
def ring_messages_out() -> sp.Expr:
    """Ring steps that cross a node boundary: r_p passes of N − 1 boundaries each.

    Source: NCCL's ring algorithm (nccl-tests doc/PERFORMANCE.md): an all-reduce passes twice
    around the ring (reduce-scatter, then all-gather), every other ring collective once; a ring
    over N nodes enters and leaves each node once.
    """
    return r_p * (N - 1)


@formula(unit="count", convention="per rank, one ring collective over N nodes")
def ring_messages_up() -> sp.Expr:
    """Ring steps over the scale-up link: r_p·(n − 1) steps in all, less those across nodes.

    Source: NCCL's ring algorithm: n − 1 steps per pass (nccl-tests doc/PERFORMANCE.md).
    """
    return r_p * (n - 1) - ring_messages_out()


@formula(unit="ratio", convention="per MoE layer, global batch S over M GPUs")
def ep_tp_time_ratio() -> sp.Expr:
    """EP's dispatch plus combine over TP's all-reduce: EP is faster when this is below 1.

    Source: the global-batch analysis (Zhihu / llm_note EP-vs-TP note, §4): EP moves a dispatch
    and a combine of S/M tokens per GPU where TP all-reduces all S tokens.
    """
    return 2 * t_a2a / t_ar
