"""Expert GEMM work per rank and its time, beside the communication it may hide."""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import COMPUTE_PER_RANK
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    B,
    B_hbm,
    F_ops,
    L,
    P_attn,
    P_peak,
    P_s,
    T,
    beta_c,
    beta_d,
    d_ff,
    d_i,
    d_qk,
    d_s,
    d_v,
    eta_c,
    etp,
    h,
    k,
    mu,
    n_att,
    n_h,
    n_s,
    t,
    t_comm,
    x_hbm,
)


@formula(unit="count", convention=COMPUTE_PER_RANK + "; FLOPs")
def expert_flops() -> sp.Expr:
    """Expert GEMM FLOPs of one rank in one MoE layer's forward pass.

    Source: a gated expert has three h × d_ff matrices (gate, up, down; DeepSeek-V3 config.json
    moe_intermediate_size), 2 FLOPs per multiply-add (Kaplan et al. arXiv 2001.08361 §2.1: ≈ 2N
    per token). Balanced routing gives each rank T·k (token, expert) pairs; shared experts run on
    the rank's own T tokens; expert TP splits each matrix over etp ranks.
    """
    routed = 2 * 3 * h * d_ff * T * k
    shared = 2 * 3 * h * d_s * n_s * T
    return (routed + shared) / etp


@formula(unit="seconds", convention=COMPUTE_PER_RANK)
def compute_seconds() -> sp.Expr:
    """Time of F FLOPs at the peak rate times an efficiency.

    Source: roofline at a fixed fraction of peak (Williams et al., CACM 2009); peak from the
    hardware preset's datasheet figure.
    """
    return F_ops / (P_peak * eta_c)


@formula(unit="seconds", convention="per micro-batch; two-micro-batch overlap")
def overlap_exposed_seconds() -> sp.Expr:
    """Communication left exposed when it overlaps the other micro-batch's computation.

    Source: DeepSeek-V3 tech report arXiv 2412.19437 §3.4.1/§3.4.2: two micro-batches run at
    once, the attention and MoE of one overlapping the dispatch and combine of the other; the
    all-to-all is hidden when it takes no longer than that computation.
    """
    return sp.Max(0, t_comm - t)


@formula(unit="seconds", convention="per MoE layer; DeepSeek's decode estimate")
def ep_decode_layer_seconds_estimate() -> sp.Expr:
    """DeepSeek's estimate of one decode layer's EP dispatch plus combine over the NIC.

    Source: Zhao et al., 'Insights into DeepSeek-V3' (ISCA '25, arXiv 2505.09343), inference-speed
    discussion: (1 B + 2 B) × 32 tokens × 9 experts × 7K / 50 GB/s = 120.96 µs — FP8 dispatch,
    BF16 combine, every (token, expert) selection crossing the 400 Gb/s NIC.
    """
    return (beta_d + beta_c) * T * k * h / B


@formula(unit="seconds", convention="per output token; DeepSeek's decode estimate")
def ep_decode_token_seconds_estimate() -> sp.Expr:
    """DeepSeek's time per output token: the layer estimate over L layers and μ micro-batches.

    Source: arXiv 2505.09343, same passage: with two micro-batches computation and communication
    alternate, so each layer costs 2 × 120.96 µs; over 61 layers 14.76 ms per token.
    """
    return ep_decode_layer_seconds_estimate() * L * mu


@formula(unit="count", convention=COMPUTE_PER_RANK + "; FLOPs, forward")
def attention_flops() -> sp.Expr:
    """Attention FLOPs of one rank in one layer's forward pass.

    Source: 2 FLOPs per weight per token (Kaplan et al. arXiv 2001.08361 §2.1) for the
    projections (P_attn per layer, split over tp; the group's T·tp tokens), plus the scores and
    the weighted sum, 2·n_h·(d_qk + d_v) per query and key (Narayanan et al. 2021 §5.1 counts
    4·s²·h for full attention; a causal query attends to n_att = s/2 keys on average, a decode
    query to its whole context); heads split over tp.
    """
    return 2 * P_attn * T + attention_score_flops()


@formula(unit="count", convention=COMPUTE_PER_RANK + "; FLOPs, forward")
def attention_score_flops() -> sp.Expr:
    """The scores and weighted sum of attention_flops: 2·n_h·(d_qk + d_v) per query and key.

    Source: as attention_flops (Narayanan et al. 2021 §5.1), the part outside the projections.
    """
    return 2 * T * n_h * (d_qk + d_v) * n_att


@formula(unit="seconds", convention=COMPUTE_PER_RANK)
def attention_seconds() -> sp.Expr:
    """Attention compute: the projections at the GEMM rate P, the scores at the bf16 rate P_s.

    Source: DeepSeek-V3 tech report arXiv 2412.19437 §3.3: the linear layers' GEMMs run in FP8,
    while 'the attention operators' keep their original precision (BF16); FlashAttention and
    FlashMLA compute the scores in BF16. For a model without FP8 GEMMs P = P_s.
    """
    projections = attention_flops() - attention_score_flops()
    return projections / (P_peak * eta_c) + attention_score_flops() / (P_s * eta_c)


@formula(unit="count", convention=COMPUTE_PER_RANK + "; FLOPs, forward")
def dense_mlp_flops() -> sp.Expr:
    """FLOPs of one rank in a dense (gated) MLP layer's forward pass: 2·3·h·d_i per token.

    Source: three h × d_i matrices (gate, up, down), 2 FLOPs per multiply-add (Kaplan et al.
    2020), split over tp for the group's T·tp tokens.
    """
    return 6 * h * d_i * T


@formula(unit="seconds", convention="per GPU, one pass over its memory")
def hbm_seconds() -> sp.Expr:
    """Time to read x_hbm bytes from device memory: the memory-bound side of the roofline.

    Source: roofline model (Williams et al., CACM 2009); in decode every step reads the stage's
    weights and its KV cache once (Pope et al. arXiv 2211.05102 §2), at the datasheet bandwidth.
    """
    return x_hbm / B_hbm
