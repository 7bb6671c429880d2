"""Readers for decoder-only MoE key families whose every layer uses one attention kind.

Each reader maps one family's config.json keys to :class:`moecomm.config.MoEModel` fields with
the family's own rule for which layers are MoE, as its transformers modeling code applies it
(file and class named beside each rule). Keys that look counted but are not (MTP layers, routing
scores, sliding-window spans) are acknowledged with the reason, so the counted-key rule in
:mod:`moecomm.hf_config.reader` can refuse everything else.
"""

from __future__ import annotations

from typing import Any

from moecomm.hf_config.reader import ATTENTION_KINDS, Reader, layer_fields

MTP = "multi-token-prediction layers serve speculative decoding and are not counted"
ATTENTION_ONLY = "names attention kinds per layer; every layer keeps its MoE block"


def model_type(r: Reader) -> str:
    kind = r.data.get("model_type")
    return kind if isinstance(kind, str) else ""


def group_routing(r: Reader) -> dict[str, Any]:
    """DeepSeek-style group-limited routing; n_group = 1 means no group limit at all."""
    n_group, topk_group = r.maybe("n_group"), r.maybe("topk_group")
    if n_group is not None and n_group > 1:
        if topk_group is None:
            raise r.fail(f"{r.name('topk_group')} is missing; n_group = {n_group} needs it")
        return {"n_group": n_group, "topk_group": topk_group}
    return {}


def attention_only(r: Reader, key: str = "layer_types") -> None:
    """Accept a per-layer attention-kind list when every entry is attention of some span."""
    kinds = r.str_list(key)
    if kinds is not None:
        other = sorted(set(kinds) - ATTENTION_KINDS)
        if other:
            raise r.fail(
                f"{r.name(key)} has the layer kind {other[0]!r}, which moecomm cannot read"
            )
        r.ack(key, ATTENTION_ONLY)


def sparse_from_mlp_layer_types(r: Reader, n: int, rule: list[int], what: str) -> list[int]:
    """transformers 5 writes mlp_layer_types ("dense"/"sparse"); it must agree with the rule."""
    kinds = r.str_list("mlp_layer_types", n)
    if kinds is None:
        return rule
    if set(kinds) - {"dense", "sparse"}:
        raise r.fail(f"{r.name('mlp_layer_types')} entries must be 'dense' or 'sparse'")
    listed = [i for i, kind in enumerate(kinds) if kind == "sparse"]
    if listed != rule:
        raise r.fail(f"{r.name('mlp_layer_types')} disagrees with {what}")
    return listed


def deepseek(r: Reader) -> dict[str, Any]:
    """DeepSeek V2/V3/V3.2, Kimi K2, GLM-4.5 (glm4_moe), dots.llm1 (dots1).

    modeling_deepseek_v3.DeepseekV3DecoderLayer (and the V2, Glm4Moe, Dots1 copies): the MLP is
    MoE iff layer_idx >= first_k_dense_replace; DeepSeek's own modeling code also requires
    layer_idx % moe_layer_freq == 0. The shared block is n_shared_experts x moe_intermediate_size.
    """
    family = "DeepSeek/Kimi/GLM"
    n = r.need("num_hidden_layers", family)
    k_dense = r.need("first_k_dense_replace", family, minimum=0)
    freq = r.with_default("moe_layer_freq", 1)
    rule = [i for i in range(n) if i >= k_dense and i % freq == 0]
    moe = sparse_from_mlp_layer_types(r, n, rule, "first_k_dense_replace")
    attention_only(r)
    moe_width = r.need("moe_intermediate_size", family)
    shared = r.with_default("n_shared_experts", 0, minimum=0)
    r.ack("num_nextn_predict_layers", MTP)
    r.ack("topk_method", "selects the routing algorithm; n_group/topk_group carry its limit")
    r.ack_matching(r"^index_", "the DSA indexer picks attention keys, not experts")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("n_routed_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": moe_width,
        "shared_expert_intermediate_size": shared * moe_width if shared else None,
        "intermediate_size": r.maybe("intermediate_size"),
        **group_routing(r),
        **mla_fields(r),
    }


def mla_fields(r: Reader) -> dict[str, Any]:
    """Multi-head latent attention sizes (DeepSeek-V2 arXiv 2405.04434 §2.1), where given."""
    names = ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")
    # q_lora_rank null or 0: a full query projection (DeepSeek-V2-Lite).
    return {name: r.maybe(name) for name in names} | {
        "q_lora_rank": r.maybe("q_lora_rank", minimum=0) or None
    }


def bailing(r: Reader) -> dict[str, Any]:
    """Ling / Ring (bailing_moe, bailing_moe_v2): inclusionAI's modeling_bailing_moe.py.

    BailingMoeDecoderLayer: MoE iff layer_idx >= first_k_dense_replace; the shared block is one
    MLP of num_shared_experts x moe_intermediate_size.
    """
    family = "Ling (bailing_moe)"
    n = r.need("num_hidden_layers", family)
    k_dense = r.need("first_k_dense_replace", family, minimum=0)
    width = r.need("moe_intermediate_size", family)
    shared = r.need("num_shared_experts", family, minimum=0)
    r.ack("num_nextn_predict_layers", MTP)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(k_dense, n), r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": shared * width if shared else None,
        "intermediate_size": r.maybe("intermediate_size"),
        **group_routing(r),
    }


def afmoe(r: Reader) -> dict[str, Any]:
    """Trinity (afmoe): modeling_afmoe.AfmoeDecoderLayer is MoE iff layer_idx >= num_dense_layers;
    AfmoeSparseMoeBlock adds one shared AfmoeMLP of moe_intermediate_size x num_shared_experts.
    transformers routes without expert groups, so group counts above 1 are refused."""
    family = "Trinity (afmoe)"
    cls = "AfmoeConfig"
    n = r.need("num_hidden_layers", family)
    dense = r.with_default("num_dense_layers", 1, minimum=0, cls=cls)
    width = r.need("moe_intermediate_size", family)
    shared = r.with_default("num_shared_experts", 2, minimum=0, cls=cls)
    for key in ("n_group", "num_expert_groups", "topk_group", "num_limited_groups"):
        groups = r.maybe(key)
        if groups is not None and groups > 1:
            raise r.fail(f"{r.name(key)} = {groups}: AfmoeConfig routes without expert groups")
    attention_only(r)
    r.ack("global_attn_every_n_layers", "chooses full or sliding attention per layer")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(dense, n), r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": shared * width if shared else None,
        "intermediate_size": r.maybe("intermediate_size") if dense else None,
    }


def local_experts(r: Reader) -> dict[str, Any]:
    """Mixtral, Phi-MoE, gpt-oss, MiniMax-Text-01: every decoder layer is an MoE layer.

    modeling_mixtral.MixtralDecoderLayer (and PhiMoe, GptOss, MiniMax): one sparse MoE block per
    layer, experts as wide as intermediate_size, no shared expert.
    """
    family = "Mixtral/Phi-MoE/gpt-oss/MiniMax"
    n = r.need("num_hidden_layers", family)
    if model_type(r).startswith("minimax"):
        minimax_mixers(r, n)
        moe = every_layer_unless(r, n)
    else:
        attention_only(r)
        moe = list(range(n))
    no_shared_expert(r, "shared_intermediate_size")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("num_local_experts", family),
        "top_k": r.need_any(("num_experts_per_tok", "experts_per_token"), family),
        "moe_intermediate_size": r.need("intermediate_size", family),
    }


def no_shared_expert(r: Reader, key: str) -> None:
    """The family's modeling code builds no shared expert: a positive width cannot be read."""
    width = r.maybe(key, minimum=0)
    if width:
        raise r.fail(
            f"{r.name(key)} = {width} asks for a shared expert, which the "
            f"{model_type(r) or 'family'} modeling code does not build"
        )
    r.ack("shared_moe_mode", "gates a shared expert, and there is none")


def minimax_mixers(r: Reader, n: int) -> None:
    """MiniMax layers mix lightning (linear) and softmax attention; attn_type_list: 0 and 1."""
    kinds = r.str_list("layer_types", n)
    if kinds is None:
        raw = r.value("attn_type_list")
        if raw is None:
            return
        if not isinstance(raw, list) or len(raw) != n or set(raw) - {0, 1}:
            raise r.fail(f"{r.name('attn_type_list')} must hold one 0 or 1 per layer")
        kinds = ["full_attention" if kind == 1 else "linear_attention" for kind in raw]
    counts: dict[str, int] = {}
    for kind in kinds:
        label = "attention" if kind in ATTENTION_KINDS else None
        if kind == "linear_attention":
            label = "linear attention"
        if label is None:
            raise r.fail(f"{r.name('layer_types')} has the layer kind {kind!r}")
        counts[label] = counts.get(label, 0) + 1
    if "linear attention" in counts:
        r.mixers = list(counts.items())


def minimax_m2(r: Reader) -> dict[str, Any]:
    """MiniMax-M2: every layer MoE; the expert width is intermediate_size.

    modeling_minimax_m2.MiniMaxM2DecoderLayer builds one MiniMaxM2SparseMoeBlock per layer whose
    experts use config.intermediate_size; mlp_intermediate_size is not the expert's width and no
    layer of the model uses it.
    """
    family = "MiniMax-M2"
    n = r.need("num_hidden_layers", family)
    minimax_mixers(r, n)
    no_shared_expert(r, "shared_intermediate_size")
    r.ack("mlp_intermediate_size", "not an expert width: MiniMaxM2 has no dense MLP layer")
    r.ack_matching(r"mtp", MTP)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(n), r),
        "num_experts": r.need("num_local_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "moe_intermediate_size": r.need("intermediate_size", family),
    }


def llama4(r: Reader) -> dict[str, Any]:
    family = "Llama 4"
    n = r.need("num_hidden_layers", family)
    if r.has("moe_layers"):
        moe = r.int_list("moe_layers")
        r.read.add("interleave_moe_layer_step")
    else:
        step = r.with_default("interleave_moe_layer_step", 1)
        moe = list(range(step - 1, n, step))  # as Llama4TextConfig derives moe_layers
    attention_only(r)
    r.ack("no_rope_layers", "chooses which attention layers skip RoPE")
    r.ack("no_rope_layer_interval", "chooses which attention layers skip RoPE")
    width = r.need("intermediate_size", family)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("num_local_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        # Llama4TextMoe always adds one shared expert as wide as a routed one.
        "num_shared_experts": 1,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": width,
        "intermediate_size": r.maybe("intermediate_size_mlp"),
    }


_NO_SHARED_QWEN = frozenset(
    {"qwen3_moe", "qwen3_vl_moe", "qwen3_vl_moe_text", "qwen3_omni_moe_text", "olmoe"}
)


def qwen(r: Reader) -> dict[str, Any]:
    """Qwen2-MoE, Qwen3-MoE, Qwen3-VL-MoE (text_config), OLMoE.

    modeling_qwen3_moe.Qwen3MoeDecoderLayer (and Qwen2Moe, Qwen3VLMoeText): MoE iff
    layer_idx not in mlp_only_layers and (layer_idx + 1) % decoder_sparse_step == 0. OLMoE has
    neither key: every layer is MoE, experts as wide as intermediate_size.
    """
    family = "Qwen2/Qwen3 MoE/OLMoE"
    kind = model_type(r)
    n = r.need("num_hidden_layers", family)
    if kind == "olmoe":
        moe = every_layer_unless(r, n)
    else:
        step = r.with_default("decoder_sparse_step", 1)
        if not r.has("mlp_only_layers"):
            r.default_note("mlp_only_layers", [], None)
        dense = set(r.int_list("mlp_only_layers"))
        moe = [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    attention_only(r)
    r.ack("max_window_layers", "bounds sliding-window attention, not the MoE layers")
    if kind in _NO_SHARED_QWEN:
        no_shared_expert(r, "shared_expert_intermediate_size")
        shared_width = None
    elif kind == "qwen2_moe":
        shared_width = r.with_default("shared_expert_intermediate_size", 5632, minimum=0) or None
    else:
        shared_width = r.maybe("shared_expert_intermediate_size", minimum=0) or None
    has_moe_width = r.has("moe_intermediate_size")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": 1 if shared_width else 0,
        # OLMoE-style configs give the expert width as intermediate_size and have no dense FFN.
        "moe_intermediate_size": r.need(
            "moe_intermediate_size" if has_moe_width else "intermediate_size", family
        ),
        "shared_expert_intermediate_size": shared_width,
        "intermediate_size": r.maybe("intermediate_size") if has_moe_width else None,
    }


def every_layer_unless(r: Reader, n: int) -> list[int]:
    """A family whose code has no sparse-step keys: present ones must say 'every layer'."""
    step = r.maybe("decoder_sparse_step")
    dense = r.int_list("mlp_only_layers")
    if (step is not None and step != 1) or dense:
        raise r.fail(
            f"{r.name('decoder_sparse_step')} / {r.name('mlp_only_layers')} ask for dense "
            f"layers, which the {model_type(r)} modeling code does not build"
        )
    return list(range(n))


def dbrx(r: Reader) -> dict[str, Any]:
    family = "DBRX"
    ffn = r.value("ffn_config")
    if not isinstance(ffn, dict):
        raise r.fail(f"{r.name('ffn_config')} must be an object; got {ffn!r}")
    f = Reader(ffn, r.where, prefix=r.name("ffn_config."))
    n = r.need("n_layers", family)
    fields: dict[str, Any] = {
        "hidden_size": r.need("d_model", family),
        "num_layers": n,
        **layer_fields(n, range(n), r),
        "num_experts": f.need("moe_num_experts", family),
        "top_k": f.need("moe_top_k", family),
        "moe_intermediate_size": f.need("ffn_hidden_size", family),
        "num_attention_heads": r.maybe("n_heads"),
    }
    attn = r.data.get("attn_config")
    if isinstance(attn, dict):
        fields["num_key_value_heads"] = Reader(attn, r.where, "attn_config.").maybe("kv_n_heads")
    return fields


def ernie(r: Reader) -> dict[str, Any]:
    family = "ERNIE 4.5"
    n = r.need("num_hidden_layers", family)
    if isinstance(r.data.get("moe_num_experts"), list):
        raise r.fail(
            f"{r.name('moe_num_experts')} is a list (a multimodal ERNIE); moecomm reads "
            "text models with one expert count"
        )
    start = r.with_default("moe_layer_start_index", 1, minimum=0)
    interval = r.with_default("moe_layer_interval", 1)
    # Ernie4_5_MoeConfig turns an absent or -1 end index into the last layer.
    end = n - 1
    r.read.add("moe_layer_end_index")
    if r.data.get("moe_layer_end_index") not in (None, -1):
        end = r.need("moe_layer_end_index", family, minimum=0)
    else:
        r.notes.append(f"{r.name('moe_layer_end_index')} absent or -1: the last layer, {end}")
    # Ernie4_5_MoeDecoderLayer: MoE iff (i + 1) % interval == 0 and start <= i <= end.
    moe = [i for i in range(n) if (i + 1) % interval == 0 and start <= i <= end]
    width = r.need("moe_intermediate_size", family)
    shared = r.with_default("moe_num_shared_experts", 0, minimum=0)
    gate = r.value("moe_gate")
    if gate not in (None, "topk"):
        raise r.fail(f"{r.name('moe_gate')} = {gate!r}: moecomm reads the top-k gate only")
    r.ack("moe_use_aux_free", "adds a routing bias; the number of experts chosen is moe_k")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("moe_num_experts", family),
        "top_k": r.need("moe_k", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": shared * width if shared else None,
        "intermediate_size": r.maybe("intermediate_size"),
    }


def hunyuan(r: Reader) -> dict[str, Any]:
    family = "Hunyuan"
    n = r.need("num_hidden_layers", family)
    experts = r.need("num_experts", family)
    if experts == 1:
        raise r.fail(f"{r.name('num_experts')} is 1: a dense model has no expert traffic")
    skipped = r.maybe("moe_layer_num_skipped", minimum=0)
    if skipped:
        raise r.fail(f"{r.name('moe_layer_num_skipped')} must be 0 to be read; got {skipped}")
    mixed = r.flag("use_mixed_mlp_moe")
    if mixed is None:
        raise r.fail(f"{r.name('use_mixed_mlp_moe')} must be true or false; got None")
    for key in ("moe_drop_tokens", "moe_random_routing_dropped_token"):
        if r.flag(key):
            raise r.fail(f"{r.name(key)} is true: tokens dropped at capacity are not modelled")
    if r.has("moe_intermediate_size"):
        width = r.per_layer("moe_intermediate_size", family)
        r.ack("intermediate_size", "is the width of the shared MLP, counted by num_shared_expert")
    else:
        # HunYuanMoEV1Experts: experts as wide as intermediate_size when no moe width is given.
        width = r.need("intermediate_size", family)
    # The shared MLP exists only when use_mixed_mlp_moe is true (HunYuan MoE modeling code).
    shared = r.per_layer("num_shared_expert", family, minimum=0) if mixed else 0
    r.read.add("num_shared_expert")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(n), r),
        "num_experts": experts,
        "top_k": r.per_layer("moe_topk", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
    }


def aria(r: Reader) -> dict[str, Any]:
    """Aria (text_config of AriaForConditionalGeneration).

    modeling_aria.AriaTextDecoderLayer: every layer is an AriaTextMoELayer. Its grouped experts
    are intermediate_size wide (AriaGroupedExpertsMLP); the shared block (AriaSharedExpertsMLP)
    is intermediate_size x moe_num_shared_experts. AriaTextConfig defaults: moe_num_experts 8,
    moe_topk 2, moe_num_shared_experts 2; published configs often leave the last one out. Where
    both width keys are given they must agree (the ported checkpoints set both).
    """
    family = "Aria"
    n = r.need("num_hidden_layers", family)
    if model_type(r) == "aria_moe_lm":
        # Rhymes' own moe_lm.py (AriaMoELMConfig): experts of moe_intermediate_size; its
        # intermediate_size is an unused LlamaConfig field.
        width = r.need("moe_intermediate_size", family)
        r.ack("intermediate_size", "an unused LlamaConfig field in AriaMoELMConfig")
    else:
        width = r.need_any(("intermediate_size", "moe_intermediate_size"), family)
    shared = r.with_default("moe_num_shared_experts", 2, minimum=0, cls="AriaTextConfig")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(n), r),
        "num_experts": r.need("moe_num_experts", family),
        "top_k": r.need_any(("moe_topk", "num_experts_per_tok"), family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": shared * width if shared else None,
    }
