"""Memory per GPU, item by item, for capacity planning: weights at their dtypes, gradients,
optimizer state, activations, KV cache and headroom."""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import MEMORY_PER_GPU
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    E,
    L,
    L_moe,
    L_s,
    L_sm,
    M_gpu,
    N_blk,
    N_ctx,
    P_attn,
    R,
    T,
    V,
    W_d,
    W_dense,
    W_e,
    W_x,
    beta,
    beta_e,
    beta_kv,
    beta_s,
    beta_w,
    beta_x,
    c_sc,
    c_w,
    d_ff,
    d_h,
    d_i,
    d_n,
    d_r,
    d_s,
    d_v,
    dp,
    edp,
    ep,
    etp,
    f_h,
    h,
    k,
    n_emb,
    n_h,
    n_kv,
    n_kvr,
    n_mb,
    n_s,
    pp,
    r_kv,
    r_q,
    s,
    tp,
    v_pp,
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


STAGE = (
    "per GPU; the largest pipeline stage (L_s layers, L_sm of them MoE, and the vocabulary "
    "matrices); bytes"
)


@formula(unit="bytes", convention="per weight")
def weight_element_bytes() -> sp.Expr:
    """Bytes per weight of a block-scaled format: the element plus its share of one scale.

    Source: fp8 with one fp32 scale per 128 × 128 block (DeepSeek-V3 config.json
    quantization_config weight_block_size [128, 128]): 1 + 4/16384; MXFP4 (OCP Microscaling
    Formats spec v1.0: FP4 E2M1 elements, one E8M0 byte per 32): 1/2 + 1/32; NVFP4 (NVIDIA:
    FP4 E2M1, one FP8 E4M3 scale per 16; the one fp32 per tensor is left out): 1/2 + 1/16;
    unscaled dtypes have β_s = 0.
    """
    return beta + beta_s / N_blk


@formula(unit="count", convention="one layer; parameters")
def gqa_attention_params() -> sp.Expr:
    """Attention parameters of one layer with grouped KV heads (MHA when n_kv = n_h, MQA at 1).

    Source: q and o projections h·n_h·d_h each, k and v h·n_kv·d_h each (Vaswani et al. 2017;
    Ainslie et al. 2023, GQA); norms and biases left out.
    """
    return h * d_h * (2 * n_h + 2 * n_kv)


@formula(unit="count", convention="one layer; parameters")
def mla_attention_params() -> sp.Expr:
    """Attention parameters of one MLA layer (DeepSeek-V2/V3) with a low-rank query (r_q > 0).

    Source: DeepSeek-V2 (arXiv 2405.04434) §2.1.2 and modeling_deepseek.py: q_a_proj h × r_q,
    q_b_proj r_q × n_h(d_n + d_r); kv_a_proj_with_mqa h × (r_kv + d_r); kv_b_proj
    r_kv × n_h(d_n + d_v); o_proj n_h·d_v × h; norms left out.
    """
    q = h * r_q + r_q * n_h * (d_n + d_r)
    return q + h * (r_kv + d_r) + r_kv * n_h * (d_n + d_v) + n_h * d_v * h


@formula(unit="count", convention="one layer; parameters")
def mla_direct_q_attention_params() -> sp.Expr:
    """Attention parameters of one MLA layer whose query is a full projection (q_lora_rank null).

    Source: DeepSeek-V2-Lite config.json (q_lora_rank null) and modeling_deepseek.py: q_proj
    h × n_h(d_n + d_r); the key-value path and o_proj as in mla_attention_params.
    """
    return h * n_h * (d_n + d_r) + h * (r_kv + d_r) + r_kv * n_h * (d_n + d_v) + n_h * d_v * h


@formula(unit="count", convention=STAGE.replace("bytes", "parameters"))
def stage_expert_params() -> sp.Expr:
    """Routed-expert parameters on one GPU of the largest stage.

    Source: (E + R)/ep experts per EP rank (R redundant replicas, DeepSeek-V3 tech report §3.4),
    three h × d_ff matrices each (gate, up, down) split over etp, in L_sm MoE layers.
    """
    return (E + R) / ep * 3 * h * d_ff / etp * L_sm


@formula(unit="count", convention=STAGE.replace("bytes", "parameters"))
def stage_dense_params() -> sp.Expr:
    """Non-expert, non-vocabulary parameters on one GPU of the largest stage, split over tp.

    Source: Megatron-LM (Shoeybi et al. arXiv 1909.08053) splits attention and MLP weights over
    tp; Megatron-Core shards shared experts over tp too. Per layer: attention P_attn; a gated
    dense MLP 3·h·d_i in the L_s − L_sm dense layers; per MoE layer n_s gated shared experts
    3·h·d_s and the router's E × h matrix (not split).
    """
    return (
        L_s * P_attn + (L_s - L_sm) * 3 * h * d_i + L_sm * n_s * 3 * h * d_s
    ) / tp + L_sm * E * h


@formula(unit="count", convention=STAGE.replace("bytes", "parameters"))
def stage_vocab_params() -> sp.Expr:
    """Input embedding and output layer parameters on one GPU, vocabulary-parallel over tp.

    Source: Megatron-LM's VocabParallelEmbedding splits V × h over tp; the first stage holds
    the embedding and the last the output layer (n_emb = 2 without a pipeline, else 1: the
    largest stage is charged one). Untied matrices.
    """
    return n_emb * V * h / tp


@formula(unit="bytes", convention=STAGE)
def weight_bytes() -> sp.Expr:
    """Weights of one GPU at their dtypes: experts at β_e, other linear layers at β_w, the
    vocabulary matrices at β_x.

    Source: the quantization keys of config.json: DeepSeek-V3 ships fp8 linear weights with
    128 × 128 block scales and bf16 embeddings; gpt-oss ships MXFP4 experts
    (quantization_config quant_method mxfp4, modules_to_not_convert: attention, router,
    embeddings, lm_head) and bf16 elsewhere. Training keeps bf16 weights (β = 2). c_w copies
    of the parameters: 2 under DualPipe (DeepSeek-V3 §3.2.1: 'DualPipe requires keeping two
    copies of the model parameters'), else 1.
    """
    return c_w * (W_e * beta_e + W_d * beta_w + W_x * beta_x)


@formula(unit="bytes", convention=STAGE + "; training")
def gradient_bytes() -> sp.Expr:
    """fp32 main gradients of every parameter on the GPU.

    Source: Megatron-LM theoretical_memory_usage.py: 'num_bytes_per_parameter = 6 + 12/dp' with
    the distributed optimizer — 2 bytes of bf16 weights plus 4 of fp32 main gradients
    (--accumulate-allreduce-grads-in-fp32), not sharded; one set per copy of the parameters
    (c_w, as in weight_bytes).
    """
    return c_w * 4 * (W_e + W_d + W_x)


@formula(unit="bytes", convention=STAGE + "; training, distributed optimizer (ZeRO-1)")
def optimizer_bytes() -> sp.Expr:
    """Adam state with fp32 master weights, sharded over the data-parallel ranks.

    Source: Megatron-LM theoretical_memory_usage.py (the 12/dp of '6 + 12/dp'): fp32 master
    weight, momentum and variance (4 + 4 + 4 bytes), sharded over dp for non-expert parameters
    and over edp for expert parameters (Megatron-Core's expert data-parallel group); ZeRO stage 1
    (Rajbhandari et al. arXiv 1910.02054 §5.1). With context parallelism dp counts the dp·cp
    ranks of Megatron-Core's data-parallel group with context parallel.
    """
    return 12 * W_e / edp + 12 * (W_d + W_x) / dp


@formula(unit="bytes", convention="per rank, one layer, one micro-batch of T tokens per rank")
def dense_layer_activation_bytes() -> sp.Expr:
    """Activations a dense layer stores for its backward pass, with sequence parallelism.

    Source: Korthikanti et al. 2022 (arXiv 2205.05198) Table 2 with tensor and sequence
    parallelism, sbh(34/t + 5as/(ht)), with T = sb/t tokens per rank: attention 11·h (plus
    5·n_h·s attention-score bytes unless recomputed, c_sc = 0 under selective recompute),
    layer norms 4·h, MLP input 2·h and dropout mask h; a gated (SwiGLU) MLP of width d_i
    stores gate and up outputs 4·d_i and the activation 2·d_i (the paper's 4h GeLU MLP stores
    16h, so the paper's 34·h = 18·h + 16·h).
    """
    return T * (18 * h + 6 * d_i) + c_sc * 5 * n_h * s * T


@formula(unit="bytes", convention="per rank, one layer, one micro-batch of T tokens per rank")
def moe_layer_activation_bytes() -> sp.Expr:
    """Activations an MoE layer stores: the dense layer's terms, with the MLP per routed copy.

    Source: dense_layer_activation_bytes (Korthikanti et al. 2022) with the gated MLP applied
    to each of the T·k routed copies (balanced routing; each copy's input 2·h on etp ranks and
    its gate/up/activation outputs 6·d_ff split over etp), the n_s shared experts on the rank's
    own tokens (6·d_s each) and the router's fp32 probabilities 4·E per token.
    """
    attn = 18 * h + c_sc * 5 * n_h * s
    return T * (attn + 4 * E + k * (2 * etp * h + 6 * d_ff) + 6 * n_s * d_s)


@formula(unit="bytes", convention="per rank, one layer, one micro-batch; full recompute")
def full_recompute_layer_bytes() -> sp.Expr:
    """The one tensor a fully recomputed layer keeps: its input.

    Source: Korthikanti et al. 2022 §4.2: full activation recomputation stores 2sbh per layer,
    2·T·h per rank with sequence parallelism.
    """
    return 2 * T * h


@formula(unit="bytes", convention=STAGE + "; training, 1F1B")
def activation_bytes() -> sp.Expr:
    """Activations in flight on the first pipeline stage: n_mb micro-batches of L_s layers.

    Source: Megatron-LM theoretical_memory_usage.py: with 1F1B the first stage holds the
    activations of pp micro-batches (n_mb = min(pp, micro-batches per step)) of its layers;
    Narayanan et al. 2021 §2.2.1. The stage has L_sm MoE layers and L_s − L_sm dense ones.
    """
    dense = dense_layer_activation_bytes()
    moe = moe_layer_activation_bytes()
    return n_mb * (L_sm * moe + (L_s - L_sm) * dense)


@formula(unit="count", convention="micro-batches on the first stage; interleaved 1F1B")
def interleaved_in_flight() -> sp.Expr:
    """Micro-batches of activations the first stage holds under the interleaved schedule.

    Source: Megatron-LM theoretical_memory_usage.py: with v virtual stages per rank the first
    stage holds pp micro-batches times the penalty 1 + (pp − 1)/(pp·v) (Narayanan et al. 2021
    §2.2.2): pp + (pp − 1)/v.
    """
    return pp * (1 + (pp - 1) / (pp * v_pp))


@formula(unit="count", convention="micro-batches on the first stage; DualPipe")
def dualpipe_in_flight() -> sp.Expr:
    """Micro-batches of activations a stage holds under DualPipe.

    Source: DeepSeek-V3 technical report, Table 2: DualPipe's activation memory is PP + 1
    micro-batches (1F1B: PP).
    """
    return pp + 1


@formula(unit="bytes", convention=STAGE + "; training, 1F1B, full recompute")
def full_recompute_activation_bytes() -> sp.Expr:
    """Activations in flight under full recomputation: each layer's input only.

    Source: Korthikanti et al. 2022 §4.2 and Megatron-LM's 1F1B in-flight count (n_mb).
    """
    return n_mb * L_s * full_recompute_layer_bytes()


@formula(unit="bytes", convention=STAGE + "; inference, MLA")
def mla_kv_cache_bytes() -> sp.Expr:
    """KV cache of an MLA model: the compressed latent and the decoupled rope key per token.

    Source: DeepSeek-V2 (arXiv 2405.04434) §2.1.2: MLA caches c_KV (kv_lora_rank) and the
    shared rope key k_R (qk_rope_head_dim) per token and layer, (r_kv + d_r) elements — 576 for
    DeepSeek-V3, 70,272 B per token over 61 layers in bf16. Every tp rank of an attention group
    holds the whole latent (SGLang and vLLM replicate it); N_ctx tokens per group.
    """
    return N_ctx * L_s * (r_kv + d_r) * beta_kv


@formula(unit="bytes", convention=STAGE + "; inference, GQA/MQA/MHA")
def gqa_kv_cache_bytes() -> sp.Expr:
    """KV cache of grouped-query attention: a key and a value of d_h per kv head on the rank.

    Source: Ainslie et al. 2023 (GQA): n_kv key and value heads per token and layer; tensor
    parallelism splits them, n_kvr = n_kv/tp, and replicates one per rank when tp > n_kv
    (vLLM's QKVParallelLinear; Megatron requires tp | n_kv).
    """
    return N_ctx * L_s * 2 * n_kvr * d_h * beta_kv


@formula(unit="bytes", convention="per GPU")
def usable_memory_bytes() -> sp.Expr:
    """Device memory left for the items once the headroom is kept free.

    Source: vLLM's gpu_memory_utilization (default 0.9: 10% kept for the CUDA context, NCCL
    buffers, the allocator's fragmentation and transient buffers) and SGLang's
    mem_fraction_static play this role; f_h is the share kept free.
    """
    return M_gpu * (1 - f_h)
