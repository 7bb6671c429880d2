"""Weights and optimizer state per GPU, for capacity planning."""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import MEMORY_PER_GPU
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    E,
    L,
    L_moe,
    R,
    V,
    W_dense,
    beta_w,
    d_ff,
    d_h,
    d_i,
    d_s,
    dp,
    edp,
    ep,
    etp,
    h,
    n_h,
    n_kv,
    n_s,
    pp,
    tp,
)


@formula(unit="count", convention="whole model; parameters")
def dense_params() -> sp.Expr:
    """Parameters outside the routed experts: attention, dense MLPs, shared experts, embeddings.

    Source: attention as q, k, v, o projections h·(2·n_h + 2·n_kv)·d_h (Vaswani et al. 2017 with
    grouped KV heads; an estimate for MLA models); gated MLPs 3·h·d_i (dense layers) and
    3·h·d_s per shared expert (config.json sizes); input and output embeddings 2·V·h.
    """
    attention = L * h * (2 * n_h + 2 * n_kv) * d_h
    dense_mlp = (L - L_moe) * 3 * h * d_i
    shared = L_moe * n_s * 3 * h * d_s
    return attention + dense_mlp + shared + 2 * V * h


@formula(unit="count", convention=MEMORY_PER_GPU + "; parameters")
def expert_params_per_gpu() -> sp.Expr:
    """Routed-expert parameters on one GPU, redundant replicas included.

    Source: each of the ep ranks holds (E + R)/ep experts (R redundant replicas, DeepSeek-V3 tech
    report §3.4), three h × d_ff matrices each, split over etp, for the L_moe/pp MoE layers of
    its pipeline stage.
    """
    return (E + R) / ep * 3 * h * d_ff / etp * L_moe / pp


@formula(unit="count", convention=MEMORY_PER_GPU + "; parameters")
def dense_params_per_gpu() -> sp.Expr:
    """Dense parameters on one GPU: sharded by TP and by the pipeline, replicated over DP.

    Source: Megatron-LM (Shoeybi et al. arXiv 1909.08053) splits attention and MLP weights over
    tp; pipeline stages hold 1/pp of the layers.
    """
    return W_dense / (tp * pp)


@formula(unit="bytes", convention=MEMORY_PER_GPU + "; inference")
def inference_memory_bytes() -> sp.Expr:
    """Weight bytes per GPU for inference: all parameters on the GPU at β_w bytes each.

    Source: expert_params_per_gpu + dense_params_per_gpu at the published weight dtype
    (DeepSeek-V3 ships FP8 weights). KV cache and activations are not counted.
    """
    return (
        expert_params_per_gpu() + dense_params_per_gpu().xreplace({W_dense: dense_params()})
    ) * beta_w


@formula(unit="bytes", convention=MEMORY_PER_GPU + "; training, ZeRO-1")
def train_memory_bytes() -> sp.Expr:
    """Bytes per GPU for mixed-precision Adam training with ZeRO-1 optimizer sharding.

    Source: Rajbhandari et al., ZeRO (arXiv 1910.02054) §3.1 and §5.1: 2 bytes of fp16/bf16
    weights and 2 of gradients per parameter, plus K = 12 bytes of optimizer state sharded over
    the data-parallel ranks (dp for dense parameters, edp for expert parameters). Activations
    are not counted.
    """
    dense = dense_params_per_gpu().xreplace({W_dense: dense_params()})
    return expert_params_per_gpu() * (4 + sp.Integer(12) / edp) + dense * (4 + sp.Integer(12) / dp)
