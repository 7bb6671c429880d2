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
    T,
    beta,
    d_h,
    n,
    n_b,
    n_kv,
    n_m,
    o_t,
    o_v,
    pp,
    r_f,
    r_p,
    t,
    t_a2a,
    t_ac,
    t_ar,
    t_attn,
    t_c,
    t_cp,
    t_d,
    t_dc,
    t_ex,
    t_g,
    t_mb,
    t_mlp,
    t_moe,
    t_pp,
    tau,
    tp,
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


@formula(unit="seconds", convention=STEP_PER_RANK + "; compute of one micro-batch")
def stage_compute_seconds() -> sp.Expr:
    """Compute of one micro-batch on one stage: attention in every layer, dense MLPs, experts.

    Source: compute_passes (forward 1, training 3: Narayanan et al. 2021 §5.1) × per-layer
    compute (attention t_ac, dense MLP t_dc, expert GEMMs t) over the layers / pp of the stage.
    Full activation recomputation (r_f = 1) runs each layer's forward pass again in training:
    one more pass (Korthikanti et al. 2022 §4.2); selective recompute's scores are not counted.
    """
    return (compute_passes() + r_f * tau) * (t_ac * L + t_dc * (L - L_moe) + t * L_moe) / pp


@formula(unit="seconds", convention=STEP_PER_RANK + "; EP left exposed")
def exposed_ep_step_seconds() -> sp.Expr:
    """EP all-to-all left exposed over the stage's MoE layers.

    Source: with overlap (o_v = 1) the dispatch and combine of one micro-batch run under the
    attention and expert compute of the other (DeepSeek-V3 tech report §3.4 two-micro-batch
    overlap in prefill and decode): only max(0, comm − compute) shows; without (o_v = 0, 1F1B)
    all of it does. In training DualPipe overlaps "the computation and communication within a
    pair of individual forward and backward chunks" (§3.2.1, Figure 4; deepseek-ai/profile-data:
    one forward and one backward chunk per overlapped cell): the forward and backward all-to-alls
    (comm_passes = 2 of them) run under the forward and backward compute (compute_passes = 3
    forward equivalents, the backward costing twice the forward), so per layer
    max(0, 2·comm − 3·compute) shows.
    """
    per_layer = sp.Max(0, comm_passes() * (t_d + t_c) - o_v * compute_passes() * (t_ac + t))
    return per_layer * L_moe / pp


@formula(unit="seconds", convention=STEP_PER_RANK + "; TP left exposed")
def exposed_tp_step_seconds() -> sp.Expr:
    """TP collectives left exposed over the stage's layers: all of them (o_t = 0), or what they
    add to the communication that outlasts the other micro-batch's compute (o_t = 1).

    Source: DeepSeek-V3 tech report arXiv 2412.19437 §3.4.1: 'in the prefilling stage, to improve
    the throughput and hide the overhead of all-to-all and TP communication, we simultaneously
    process two micro-batches ... overlapping the attention and MoE of one micro-batch with the
    dispatch and combine of another'. A MoE layer's TP (t_attn + t_moe) joins its all-to-all
    under the attention and expert compute; what shows beyond exposed_ep_step_seconds is TP's.
    A dense layer's TP (t_attn + t_mlp) runs under its attention and MLP compute.
    """
    comm = comm_passes() * (t_d + t_c)
    work = compute_passes() * (t_ac + t)
    moe = sp.Max(0, comm + comm_passes() * (t_attn + t_moe) - work) - sp.Max(0, comm - work)
    dense = sp.Max(0, comm_passes() * (t_attn + t_mlp) - compute_passes() * (t_ac + t_dc))
    hidden = (moe * L_moe + dense * (L - L_moe)) / pp
    return (1 - o_t) * tp_step_seconds() + o_t * hidden


@formula(unit="bytes", convention="per rank, one layer; the keys and values of its sequence chunk")
def cp_kv_chunk_bytes() -> sp.Expr:
    """Keys and values one context-parallel rank holds for its chunk of the sequence and sends
    round the CP ring: T·tp tokens (its chunk, before sequence parallelism splits it over tp)
    × n_kv kv heads of this rank × d_h × 2 (K and V) × β bytes.

    Source: Megatron-Core context parallelism (docs/source/api-guide/context_parallel.rst): each
    GPU computes attention for its chunk and exchanges K and V with the others in a ring of
    point-to-point transfers, an all-gather of KV forward and, backward, an all-gather of KV and
    a reduce-scatter of its gradients.
    """
    return 2 * T * tp * n_kv * d_h * beta


@formula(unit="seconds", convention=STEP_PER_RANK + "; CP left exposed")
def cp_step_seconds() -> sp.Expr:
    """Context-parallel KV exchange left exposed over the stage's layers.

    Source: Megatron-Core context_parallel.rst: forward all-gathers KV, backward all-gathers KV
    and reduce-scatters dKV (compute_passes = 1 or 3 of t_cp, the ring all-gather of
    cp_kv_chunk_bytes per rank); TransformerEngine's ring attention sends the next chunk while
    computing attention on the current one, so each pass shows only what outlasts its attention
    compute (forward t_ac, backward twice that).
    """
    return compute_passes() * sp.Max(0, t_cp - t_ac) * L / pp


@formula(unit="seconds", convention="per rank, one step of n_m micro-batches")
def pipeline_step_seconds() -> sp.Expr:
    """A step of n_m micro-batches of t_mb each through the pipeline, with its bubble.

    Source: Narayanan et al. 2021 §2.2: 1F1B idles (pp − 1) micro-batch times per step,
    interleaving with v stages per rank (pp − 1)/v; DualPipe (DeepSeek-V3 §3.2.1, Table 2)
    (pp/2 − 1) times (F&B + B − 3W), taken here as pp/2 − 1 micro-batch times.
    """
    return t_mb * (n_m + n_b)


@formula(unit="seconds", convention="per rank, one training step")
def train_step_seconds() -> sp.Expr:
    """Training step: the pipelined micro-batches plus the gradient reduction left exposed.

    Source: Megatron-LM --overlap-grad-reduce overlaps the data-parallel reduction with the
    backward pass (2/3 of t_ex, Narayanan et al. 2021 §5.1) of the last micro-batch.
    """
    return pipeline_step_seconds() + sp.Max(0, t_g - sp.Rational(2, 3) * t_ex)


@formula(unit="tokens/s", convention="tokens per second per GPU")
def tokens_per_second_per_gpu() -> sp.Expr:
    """Throughput per GPU: n_m micro-batches of T tokens per rank, each crossing pp stages.

    Source: every GPU processes T tokens of a micro-batch for its stage; a token needs all pp
    stages, so the job finishes gpus/pp · n_m · T tokens per step, n_m·T/pp per GPU.
    """
    return n_m * T / (pp * t)
