"""Encoder–decoder MoE (Switch Transformers): both stacks are counted as one list of layers.

Convention: layers are counted over both stacks, encoder first — indices 0..E-1 are encoder
blocks and E..E+D-1 decoder blocks — so ``num_layers`` is E + D and every MoE block, in either
stack, is one MoE layer. Each token crosses the encoder's MoE layers once per input token and
the decoder's once per output token; moecomm reports per-layer volumes for one token count.
"""

from __future__ import annotations

from typing import Any

from moecomm.hf_config.reader import Reader, layer_fields

CLS = "SwitchTransformersConfig"


def sparse_step(r: Reader, stack: str, count: int) -> int:
    """SwitchTransformersConfig: step = count // num_sparse_<stack>_layers (count when that is 0).

    Older configs give <stack>_sparse_step itself; where both are present they must agree.
    """
    given = r.maybe(f"{stack}_sparse_step", minimum=0)
    sparse_key = f"num_sparse_{stack}_layers"
    if r.has(sparse_key) or given is None:
        sparse = r.with_default(sparse_key, 3, minimum=0, cls=CLS)
        derived = count // sparse if sparse > 0 else count
        if given is not None and given != derived:
            raise r.fail(
                f"{r.name(f'{stack}_sparse_step')} = {given} disagrees with "
                f"{r.name(sparse_key)} = {sparse} ({count} // {sparse} = {derived})"
            )
        return derived
    return given


def sparse_blocks(count: int, step: int) -> list[int]:
    # SwitchTransformersStack: block i is sparse iff i % step == 1 (every block when step == 1).
    return [i for i in range(count) if step > 0 and (step == 1 or i % step == 1)]


def switch(r: Reader) -> dict[str, Any]:
    family = "Switch Transformers"
    enc = r.need("num_layers", family)
    dec = r.with_default("num_decoder_layers", enc)
    enc_step = sparse_step(r, "encoder", enc)
    dec_step = sparse_step(r, "decoder", dec)
    moe = sparse_blocks(enc, enc_step) + [enc + i for i in sparse_blocks(dec, dec_step)]
    selected = r.maybe("num_selected_experts")
    if selected not in (None, 1):
        raise r.fail(
            f"{r.name('num_selected_experts')} = {selected}: SwitchTransformersTop1Router "
            "routes every token to one expert"
        )
    r.notes.append("Switch routing is top-1 by design (SwitchTransformersTop1Router)")
    r.notes.append(
        f"layers counted over both stacks, encoder first: 0..{enc - 1} encoder, "
        f"{enc}..{enc + dec - 1} decoder"
    )
    width = r.need("d_ff", family)
    return {
        "hidden_size": r.need("d_model", family),
        "num_layers": enc + dec,
        **layer_fields(enc + dec, moe, r),
        "num_experts": r.need("num_experts", family),
        "top_k": 1,
        "moe_intermediate_size": width,
        "intermediate_size": width,
        "num_attention_heads": r.maybe("num_heads"),
    }
