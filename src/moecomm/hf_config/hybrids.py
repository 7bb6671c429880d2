"""Readers for hybrid MoE families: layers that mix attention with Mamba, convolution or linear
attention. Besides the MoE shape, each reports its layers by sequence mixer (``Reader.mixers``):
those mixers move no EP traffic, but users size the rest of the model by them.
"""

from __future__ import annotations

from typing import Any

from moecomm.hf_config.families import (
    MTP,
    attention_only,
    every_layer_unless,
    group_routing,
    model_type,
)
from moecomm.hf_config.reader import Reader, layer_fields, mixer_kinds


def jamba(r: Reader) -> dict[str, Any]:
    """Jamba: JambaConfig makes layer i attention iff i % attn_layer_period == attn_layer_offset
    (else Mamba) and MoE iff i % expert_layer_period == expert_layer_offset."""
    family = "Jamba"
    n = r.need("num_hidden_layers", family)
    period = r.with_default("expert_layer_period", 2)
    offset = r.with_default("expert_layer_offset", 1, minimum=0)
    attn_period = r.with_default("attn_layer_period", 8)
    attn_offset = r.with_default("attn_layer_offset", 4, minimum=0)
    attention = sum(1 for i in range(n) if i % attn_period == attn_offset)
    r.mixers = [("Mamba", n - attention), ("attention", attention)]
    width = r.need("intermediate_size", family)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, (i for i in range(n) if i % period == offset), r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "moe_intermediate_size": width,
        "intermediate_size": width,
    }


def lfm2_moe(r: Reader) -> dict[str, Any]:
    """LFM2-MoE: modeling_lfm2_moe.Lfm2MoeDecoderLayer uses a dense Lfm2MoeMLP of
    intermediate_size iff layer_idx < num_dense_layers, else Lfm2MoeSparseMoeBlock (experts of
    moe_intermediate_size, no shared expert). layer_types: "conv" is a short convolution, any
    other entry attention."""
    family = "LFM2-MoE"
    n = r.need("num_hidden_layers", family)
    dense = r.with_default("num_dense_layers", 2, minimum=0, cls="Lfm2MoeConfig")
    kinds = r.str_list("layer_types", n)
    if kinds is None:
        raise r.fail(f"{r.name('layer_types')} is missing; the {family} key family needs it")
    r.mixers = mixer_kinds(r, "layer_types", kinds, {"conv": "short conv"})
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(dense, n), r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "moe_intermediate_size": r.need("moe_intermediate_size", family),
        "intermediate_size": r.maybe("intermediate_size") if dense else None,
    }


_GRANITE_SHARED_DEFAULT = {"granitemoeshared": 0, "granitemoehybrid": 1024}
_GRANITE_CLASS = {
    "granitemoe": "GraniteMoeConfig",
    "granitemoeshared": "GraniteMoeSharedConfig",
    "granitemoehybrid": "GraniteMoeHybridConfig",
}


def granite(r: Reader) -> dict[str, Any]:
    """GraniteMoE (granitemoe), GraniteMoeShared and GraniteMoeHybrid.

    Every decoder layer has a block_sparse_moe of num_local_experts experts of intermediate_size
    (a layer with 0 experts is dense). GraniteMoeShared adds a shared_mlp of
    shared_intermediate_size when that is not 0; GraniteMoeHybridDecoderLayer always adds one,
    on Mamba layers ("mamba" / "linear_attention" in layer_types) and attention layers alike.
    """
    family = "GraniteMoE"
    kind = model_type(r)
    n = r.need("num_hidden_layers", family)
    experts = r.need("num_local_experts", family, minimum=0)
    if experts == 0:
        raise r.fail(f"{r.name('num_local_experts')} is 0: a dense model has no expert traffic")
    if kind == "granitemoehybrid":
        granite_mixers(r, n)
    else:
        attention_only(r)
    if kind in _GRANITE_SHARED_DEFAULT:
        shared_width = r.with_default(
            "shared_intermediate_size",
            _GRANITE_SHARED_DEFAULT[kind],
            minimum=0,
            cls=_GRANITE_CLASS[kind],
        )
    else:
        shared_width = r.maybe("shared_intermediate_size", minimum=0) or 0
        if shared_width:
            raise r.fail(
                f"{r.name('shared_intermediate_size')} = {shared_width}: GraniteMoe builds no "
                "shared MLP (model_type granitemoeshared does)"
            )
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, range(n), r),
        "num_experts": experts,
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": 1 if shared_width else 0,
        "moe_intermediate_size": r.need("intermediate_size", family),
        "shared_expert_intermediate_size": shared_width or None,
    }


def granite_mixers(r: Reader, n: int) -> None:
    listed = {k: r.str_list(k, n) for k in ("layer_types", "layers_block_type")}
    found = {k: v for k, v in listed.items() if v is not None}
    if len(found) == 2 and listed["layer_types"] != listed["layers_block_type"]:
        raise r.fail(f"{r.name('layer_types')} and {r.name('layers_block_type')} disagree")
    if not found:
        r.default_note("layer_types", "every layer Mamba", "GraniteMoeHybridConfig")
        r.mixers = [("Mamba", n)]
        return
    key, kinds = next(iter(found.items()))
    names = {"mamba": "Mamba", "linear_attention": "Mamba"}
    r.mixers = mixer_kinds(r, key, kinds, names)


_NEMOTRON_BLOCKS = {"M": "mamba", "E": "moe", "*": "attention", "-": "mlp"}
_NEMOTRON_NAMES = {
    "mamba": "mamba",
    "linear_attention": "mamba",
    "attention": "attention",
    "full_attention": "attention",
    "moe": "moe",
    "mlp": "mlp",
}


def nemotron_blocks(r: Reader) -> list[str]:
    """The block list from hybrid_override_pattern (M, E, *, -) or a layers_block_type list."""
    found: dict[str, list[str]] = {}
    pattern = r.value("hybrid_override_pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or set(pattern) - set(_NEMOTRON_BLOCKS):
            raise r.fail(
                f"{r.name('hybrid_override_pattern')} must be a string of M, E, * and -; "
                f"got {pattern!r}"
            )
        found["hybrid_override_pattern"] = [_NEMOTRON_BLOCKS[c] for c in pattern]
    for key in ("layers_block_type", "layer_types"):
        kinds = r.str_list(key)
        if kinds is not None:
            other = sorted(set(kinds) - set(_NEMOTRON_NAMES))
            if other:
                raise r.fail(f"{r.name(key)} has the block kind {other[0]!r}")
            found[key] = [_NEMOTRON_NAMES[k] for k in kinds]
    if not found:
        raise r.fail(
            f"{r.name('hybrid_override_pattern')} is missing; the Nemotron-H key family needs it"
        )
    blocks = next(iter(found.values()))
    if any(v != blocks for v in found.values()):
        raise r.fail(f"{' and '.join(r.name(k) for k in found)} disagree")
    return blocks


def nemotron_h(r: Reader) -> dict[str, Any]:
    """Nemotron-H: one mixer per block, from hybrid_override_pattern — M Mamba-2, E MoE,
    * attention, - MLP (NemotronHConfig._pattern_to_list). The layer count is the pattern's
    length. NemotronHMoE: n_routed_experts experts of moe_intermediate_size, top
    num_experts_per_tok, plus one shared MLP of moe_shared_expert_intermediate_size."""
    family = "Nemotron-H"
    cls = "NemotronHConfig"
    blocks = nemotron_blocks(r)
    n = len(blocks)
    declared = r.maybe("num_hidden_layers")
    if declared is not None and declared != n:
        raise r.fail(
            f"{r.name('num_hidden_layers')} = {declared} but the block pattern has {n} blocks"
        )
    latent = r.value("moe_latent_size")
    if latent is not None:
        raise r.fail(
            f"{r.name('moe_latent_size')} = {latent!r}: latent MoE dispatches tokens narrower "
            "than hidden_size, which moecomm's model cannot express"
        )
    shared = r.with_default("n_shared_experts", 1, minimum=0, cls=cls)
    if shared != 1:
        raise r.fail(
            f"{r.name('n_shared_experts')} = {shared}: NemotronHMoE builds exactly one shared MLP"
        )
    shared_width = r.with_default("moe_shared_expert_intermediate_size", 7688, cls=cls)
    r.mixers = [
        (label, blocks.count(kind))
        for kind, label in (("mamba", "Mamba"), ("attention", "attention"))
        if kind in blocks
    ]
    if "mlp" in blocks:
        dense_width = r.need("intermediate_size", family)
    else:
        r.ack("intermediate_size", "sizes MLP (-) blocks, and the pattern has none")
        dense_width = None
    r.ack("n_groups", "Mamba-2 state groups, not expert groups")
    r.ack("moe_shared_expert_overlap", "schedules the shared MLP; it does not change its size")
    r.ack_matching(r"mtp|nextn", MTP)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, (i for i, kind in enumerate(blocks) if kind == "moe"), r),
        "num_experts": r.need("n_routed_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": 1,
        "moe_intermediate_size": r.need("moe_intermediate_size", family),
        "shared_expert_intermediate_size": shared_width,
        "intermediate_size": dense_width,
        **group_routing(r),
    }


def qwen3_next(r: Reader) -> dict[str, Any]:
    """Qwen3-Next and Qwen3.5-MoE: Gated DeltaNet (linear attention) and full attention layers.

    modeling_qwen3_next.Qwen3NextDecoderLayer: MoE iff layer_idx not in mlp_only_layers and
    (layer_idx + 1) % decoder_sparse_step == 0 (Qwen3.5-MoE: every layer). Qwen3NextSparseMoeBlock
    always adds one gated shared expert of shared_expert_intermediate_size. Without layer_types,
    the config makes layer i full attention iff (i + 1) % full_attention_interval == 0.
    """
    family = "Qwen3-Next"
    kind = model_type(r)
    cls = "Qwen3NextConfig" if kind == "qwen3_next" else "Qwen3_5MoeTextConfig"
    n = r.need("num_hidden_layers", family)
    if kind == "qwen3_next":
        step = r.with_default("decoder_sparse_step", 1, cls=cls)
        if not r.has("mlp_only_layers"):
            r.default_note("mlp_only_layers", [], cls)
        dense = set(r.int_list("mlp_only_layers"))
        moe = [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    else:
        moe = every_layer_unless(r, n)
    kinds = r.str_list("layer_types", n)
    if kinds is None:
        interval = r.with_default("full_attention_interval", 4, cls=cls)
        kinds = [
            "full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(n)
        ]
    else:
        r.read.add("full_attention_interval")
    r.mixers = mixer_kinds(r, "layer_types", kinds, {"linear_attention": "linear attention"})
    r.ack_matching(r"mtp", MTP)
    r.ack("max_window_layers", "bounds sliding-window attention, not the MoE layers")
    has_dense = len(moe) < n
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **layer_fields(n, moe, r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": 1,
        "moe_intermediate_size": r.need("moe_intermediate_size", family),
        "shared_expert_intermediate_size": r.with_default(
            "shared_expert_intermediate_size", 512, cls=cls
        ),
        "intermediate_size": r.need("intermediate_size", family)
        if has_dense
        else r.maybe("intermediate_size"),
    }
