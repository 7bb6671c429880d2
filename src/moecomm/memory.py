"""Memory per GPU, item by item, for one layout (``moecomm step``) or many at once (``plan``).

Every item is a formula of ``formulas/memory.py``; this module only gathers the symbol values
(sizes of the layout, dtypes of the weights, tokens in flight) and picks the recompute choice.
Sizes are ints for one layout, or integer numpy arrays (one element per layout) with ``ops``
= ``vector.NUMPY`` and ``ev`` = ``vector.evaluate_exact``: the same code, exact either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from moecomm import formulas as F
from moecomm.config import MemoryOptions, MoEModel, Phase, stage_layers
from moecomm.elementwise import SCALAR, Ops
from moecomm.step import shared_block

Number = Any
Evaluate = Callable[[str, Mapping[str, Number]], Number]
Recompute = Literal["none", "selective", "full"]
RECOMPUTE: tuple[Recompute, ...] = ("none", "selective", "full")
"""Activation recomputation choices, cheapest in compute first (Korthikanti et al. 2022)."""

KV_BYTES = 2
"""bf16 KV cache (SGLang's and vLLM's default kv_cache_dtype 'auto' for bf16 models)."""

ITEMS = ("weights", "gradients", "optimizer", "activations", "kv_cache")
"""The memory items, in the order they are listed; their sum is the total per GPU."""

_FP4 = {"mxfp4": (Fraction(1, 2), 1, 32), "nvfp4": (Fraction(1, 2), 1, 16)}
"""(element bytes, scale bytes, weights per scale): OCP MX v1.0 (E8M0 per 32); NVIDIA NVFP4
(E4M3 per 16)."""


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU of each item (exact), the total, what may be used, and the recompute."""

    items: dict[str, Number]
    total: Number
    usable: Number
    recompute: Number
    """Index into RECOMPUTE (an int, or an int array over layouts); -1 in inference."""


def weight_dtype_bytes(model: MoEModel, phase: Phase) -> tuple[Fraction, Fraction, Fraction]:
    """Bytes per weight of (routed experts, other linear layers, vocabulary matrices).

    Training holds bf16 weights (Megatron's 6 + 12/dp bytes per parameter). Inference holds
    the published checkpoint: fp8 with block scales where quant_block_size is given, MXFP4 or
    NVFP4 experts where expert_dtype says so; DeepSeek's fp8 checkpoints keep bf16 embeddings.
    """
    if phase == "train":
        return Fraction(2), Fraction(2), Fraction(2)
    native = model.native_dtype.bytes
    block = model.quant_block_size
    scaled = native == 1 and block is not None
    linear = Fraction(
        F.value(
            "weight_element_bytes",
            {"beta": native, "beta_s": 4 if scaled else 0, "N_blk": block * block if block else 1},
        )
    )
    vocab = Fraction(2 if native == 1 else native)
    if model.expert_dtype is None:
        return linear, linear, vocab
    element, scale, per = _FP4[model.expert_dtype]
    experts = F.value("weight_element_bytes", {"beta": element, "beta_s": scale, "N_blk": per})
    return Fraction(experts), linear, vocab


def attention_params(model: MoEModel) -> int:
    """Attention parameters of one layer: MLA where the model has it, else grouped-query."""
    heads = model.num_attention_heads or 1
    if model.mla:
        v: dict[str, Any] = {
            "h": model.hidden_size,
            "n_h": heads,
            "r_kv": model.kv_lora_rank,
            "d_r": model.qk_rope_head_dim,
            "d_n": model.qk_nope_head_dim,
            "d_v": model.v_head_dim,
        }
        if model.q_lora_rank is None:
            return int(F.value("mla_direct_q_attention_params", v))
        return int(F.value("mla_attention_params", v | {"r_q": model.q_lora_rank}))
    return int(
        F.value(
            "gqa_attention_params",
            {
                "h": model.hidden_size,
                "n_h": heads,
                "n_kv": model.num_key_value_heads or heads,
                "d_h": head_dim(model),
            },
        )
    )


def head_dim(model: MoEModel) -> int:
    heads = model.num_attention_heads or 1
    return model.head_dim or max(1, model.hidden_size // heads)


def memory(
    model: MoEModel,
    phase: Phase,
    tokens: Number,
    sizes: tuple[Number, ...],
    inputs: MemoryOptions,
    *,
    redundant: int,
    device_bytes: int,
    ev: Evaluate,
    ops: Ops = SCALAR,
    schedule: str | None = None,
    vpp: int = 1,
) -> Memory:
    """Every memory item of one GPU of the largest pipeline stage, for one layout or many.

    ``sizes`` is (tp, dp, ep, edp, etp, pp), or with cp seventh: the dense optimizer state is
    sharded over dp·cp ranks.

    Under ``schedule`` dualpipe each GPU keeps two copies of its parameters (weights and
    gradients) and PP + 1 micro-batches of activations (DeepSeek-V3 tech report Table 2); under
    interleaved with ``vpp`` virtual stages, pp + (pp − 1)/vpp micro-batches.

    ``tokens`` is T, the tokens per rank of one micro-batch (decode: requests per rank); an
    attention group of tp ranks holds T·tp of them (sequence parallelism). Training counts
    weights, fp32 gradients, the distributed optimizer's state and 1F1B activations (pp
    micro-batches in flight on the first stage); inference counts weights at their dtypes, the
    KV cache (decode: T·tp requests of ``context`` tokens; prefill: the T·tp tokens in flight)
    and one layer's activations.
    """
    tp, dp, ep, edp, etp, pp = tuple(sizes)[:6]
    cp = tuple(sizes)[6] if len(sizes) > 6 else 1
    layers, moe_layers = model.num_layers or 1, model.num_moe_layers or 0
    _, most, _ = stage_layers(layers, pp)
    stage_moe = ops.minimum(most, moe_layers)
    n_s, d_s = shared_block(model)
    heads = model.num_attention_heads or 1
    beta_e, beta_w, beta_x = weight_dtype_bytes(model, phase)
    shape = {"h": model.hidden_size, "L_s": most, "L_sm": stage_moe, "tp": tp}
    w_e = ev(
        "stage_expert_params",
        shape
        | {"E": model.num_experts, "R": redundant, "ep": ep, "d_ff": model.moe_intermediate_size,
           "etp": etp},
    )  # fmt: skip
    w_d = ev(
        "stage_dense_params",
        shape
        | {"P_attn": attention_params(model), "d_i": model.intermediate_size or 0, "n_s": n_s,
           "d_s": d_s, "E": model.num_experts},
    )  # fmt: skip
    n_emb = ops.where(pp == 1, 2, 1)
    w_x = ev(
        "stage_vocab_params",
        {"n_emb": n_emb, "V": model.vocab_size or 0, "h": model.hidden_size, "tp": tp},
    )
    copies = 2 if phase == "train" and schedule == "dualpipe" else 1
    params = {"W_e": w_e, "W_d": w_d, "W_x": w_x, "c_w": copies}
    items: dict[str, Number] = {
        "weights": ev(
            "weight_bytes", params | {"beta_e": beta_e, "beta_w": beta_w, "beta_x": beta_x}
        ),
        "gradients": 0,
        "optimizer": 0,
        "activations": 0,
        "kv_cache": 0,
    }
    usable = ev("usable_memory_bytes", {"M_gpu": device_bytes, "f_h": inputs.headroom})
    layer = {
        "T": tokens,
        "h": model.hidden_size,
        "n_h": heads,
        "s": inputs.seq,
        "E": model.num_experts,
        "k": model.top_k,
        "etp": etp,
        "d_ff": model.moe_intermediate_size,
        "n_s": n_s,
        "d_s": d_s,
        "d_i": model.intermediate_size or 0,
    }
    recompute: Number = -1  # inference: nothing to recompute
    if phase == "train":
        items["gradients"] = ev("gradient_bytes", params)
        # Megatron-Core shards the dense optimizer over the data-parallel group with context
        # parallelism (optimizer/__init__.py: get_data_parallel_group(with_context_parallel=True)).
        items["optimizer"] = ev("optimizer_bytes", params | {"dp": dp * cp, "edp": edp})
        in_flight = ev("dualpipe_in_flight", {"pp": pp}) if schedule == "dualpipe" else pp
        if schedule == "interleaved" and vpp > 1:
            in_flight = ev("interleaved_in_flight", {"pp": pp, "v_pp": vpp})
        stage = {"L_s": most, "L_sm": stage_moe, "n_mb": in_flight}
        choices = [
            ev("activation_bytes", layer | stage | {"c_sc": 1}),
            ev("activation_bytes", layer | stage | {"c_sc": 0}),
            ev("full_recompute_activation_bytes", {"T": tokens, "h": model.hidden_size} | stage),
        ]
        if inputs.recompute is not None:
            recompute = RECOMPUTE.index(inputs.recompute)
            items["activations"] = choices[recompute]
        else:
            base = items["weights"] + items["gradients"] + items["optimizer"]
            fits_none = base + choices[0] <= usable
            fits_selective = base + choices[1] <= usable
            recompute = ops.where(fits_none, 0, ops.where(fits_selective, 1, 2))
            items["activations"] = ops.where(
                fits_none, choices[0], ops.where(fits_selective, choices[1], choices[2])
            )
    else:
        items["activations"] = ev("moe_layer_activation_bytes", layer | {"c_sc": 0})
        cached = tokens * tp * (inputs.context if phase == "decode" else 1)
        kv = {"N_ctx": cached, "L_s": most, "beta_kv": KV_BYTES}
        if model.mla:
            items["kv_cache"] = ev(
                "mla_kv_cache_bytes",
                kv | {"r_kv": model.kv_lora_rank, "d_r": model.qk_rope_head_dim},
            )
        else:
            n_kv = model.num_key_value_heads or heads
            per_rank = ops.maximum(1, n_kv // tp)
            items["kv_cache"] = ev(
                "gqa_kv_cache_bytes", kv | {"n_kvr": per_rank, "d_h": head_dim(model)}
            )
    total = sum(items[name] for name in ITEMS)
    return Memory(items, total, usable, recompute)


def kv_bytes_per_token(model: MoEModel) -> int:
    """KV-cache bytes of one token over all layers, one rank holding every kv head (tp = 1)."""
    layers = model.num_layers or 1
    kv: dict[str, Any] = {"N_ctx": 1, "L_s": layers, "beta_kv": KV_BYTES}
    if model.mla:
        v: dict[str, Any] = kv | {"r_kv": model.kv_lora_rank, "d_r": model.qk_rope_head_dim}
        return int(F.value("mla_kv_cache_bytes", v))
    heads = model.num_attention_heads or 1
    v = kv | {"n_kvr": model.num_key_value_heads or heads, "d_h": head_dim(model)}
    return int(F.value("gqa_kv_cache_bytes", v))


def read_bytes(mem: Memory) -> Number:
    """Bytes one inference step reads from device memory: the stage's weights and KV cache."""
    return mem.items["weights"] + mem.items["kv_cache"]
