"""Read a Hugging Face ``config.json`` into an MoE model shape, from any of the known key families.

Each family names the same quantities differently; a reader per family maps its keys to
:class:`moecomm.config.MoEModel`. Which layers are MoE is computed as a set of layer indices with
the family's own rule (as its transformers modeling code applies it) and then written as
``first_moe_layer``, ``moe_layer_step`` and ``non_moe_layers``. Required keys that are missing
are errors; optional keys that are absent take the default of the family's transformers config
class, and every such default is recorded in :attr:`HFModel.notes`. See docs/presets.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from math import gcd
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from moecomm import safe_io
from moecomm.config import MoEModel
from moecomm.dtypes import DType
from moecomm.errors import MoecommError, validation_lines

_TORCH_DTYPES = {
    "bfloat16": DType.BF16,
    "float16": DType.FP16,
    "float32": DType.FP32,
}


@dataclass(frozen=True)
class HFModel:
    """A model shape read from a config.json, with the family that was read and the defaults used."""

    model: MoEModel
    family: str
    path: str
    notes: tuple[str, ...] = ()


class _Reader:
    """Typed access to one config's keys; every error names the file and the key."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = "") -> None:
        self.data = data
        self.where = where
        self.prefix = prefix
        self.notes: list[str] = []

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _name(self, key: str) -> str:
        return self.prefix + key

    def fail(self, text: str) -> MoecommError:
        return MoecommError(f"{self.where}: {text}")

    def _int(self, key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            rule = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
            raise self.fail(f"{self._name(key)} must be {rule}; got {value!r}")
        return value

    def need(self, key: str, family: str, minimum: int = 1) -> int:
        if not self.has(key):
            raise self.fail(f"{self._name(key)} is missing; the {family} key family needs it")
        return self._int(key, self.data[key], minimum)

    def need_any(self, keys: Iterable[str], family: str, minimum: int = 1) -> int:
        keys = tuple(keys)
        found = [k for k in keys if self.has(k)]
        if not found:
            names = " or ".join(self._name(k) for k in keys)
            raise self.fail(f"{names} is missing; the {family} key family needs it")
        values = {k: self._int(k, self.data[k], minimum) for k in found}
        if len(set(values.values())) > 1:
            shown = ", ".join(f"{self._name(k)} = {v}" for k, v in values.items())
            raise self.fail(f"{shown} disagree; they must be equal")
        return values[found[0]]

    def optional(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        if self.has(key):
            return self._int(key, self.data[key], minimum)
        if default is not None:
            self.notes.append(f"{self._name(key)} absent: {default} (transformers default)")
        return default

    def maybe(self, key: str, minimum: int = 1) -> int | None:
        """An optional key that is left out of the model when absent (no default applies)."""
        return self._int(key, self.data[key], minimum) if self.has(key) else None

    def per_layer(self, key: str, family: str, minimum: int = 1) -> int:
        """A key that may be one integer or a list with one equal value per layer (Hunyuan)."""
        if not self.has(key):
            raise self.fail(f"{self._name(key)} is missing; the {family} key family needs it")
        value = self.data[key]
        if isinstance(value, list):
            if not value:
                raise self.fail(f"{self._name(key)} must not be an empty list")
            items = [self._int(key, v, minimum) for v in value]
            if len(set(items)) > 1:
                raise self.fail(
                    f"{self._name(key)} must be the same for every layer; got {sorted(set(items))}"
                )
            return items[0]
        return self._int(key, value, minimum)

    def int_list(self, key: str) -> list[int]:
        if not self.has(key):
            return []
        value = self.data[key]
        if not isinstance(value, list):
            raise self.fail(f"{self._name(key)} must be a list of layer indices; got {value!r}")
        return [self._int(key, v, 0) for v in value]


def _layer_fields(num_layers: int, moe: Iterable[int], r: _Reader) -> dict[str, Any]:
    """first_moe_layer, moe_layer_step and non_moe_layers that reproduce a set of MoE layers."""
    layers = sorted({i for i in moe if 0 <= i < num_layers})
    if not layers:
        raise r.fail(
            f"no layer of {num_layers} is an MoE layer: a dense model has no expert traffic"
        )
    first = layers[0]
    step = reduce(gcd, (i - first for i in layers[1:]), 0) or 1
    chosen = set(layers)
    holes = tuple(i for i in range(first, num_layers, step) if i not in chosen)
    return {"first_moe_layer": first, "moe_layer_step": step, "non_moe_layers": holes}


def _deepseek(r: _Reader) -> dict[str, Any]:
    family = "DeepSeek/Kimi/GLM"
    n = r.need("num_hidden_layers", family)
    k_dense = r.need("first_k_dense_replace", family, minimum=0)
    freq = r.optional("moe_layer_freq", 1)
    assert freq is not None
    moe_width = r.need("moe_intermediate_size", family)
    shared = r.optional("n_shared_experts", 0, minimum=0) or 0
    fields: dict[str, Any] = {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, (i for i in range(n) if i >= k_dense and i % freq == 0), r),
        "num_experts": r.need("n_routed_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": moe_width,
        "shared_expert_intermediate_size": shared * moe_width if shared else None,
        "intermediate_size": r.maybe("intermediate_size"),
    }
    n_group, topk_group = r.maybe("n_group"), r.maybe("topk_group")
    # n_group = 1 (Kimi K2, GLM-4.5, DeepSeek-V2-Lite) means no group limit at all.
    if n_group is not None and n_group > 1:
        if topk_group is None:
            raise r.fail(f"{r._name('topk_group')} is missing; n_group = {n_group} needs it")
        fields |= {"n_group": n_group, "topk_group": topk_group}
    return fields


def _local_experts(r: _Reader) -> dict[str, Any]:
    family = "Mixtral/Phi-MoE/gpt-oss/MiniMax"
    n = r.need("num_hidden_layers", family)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, range(n), r),
        "num_experts": r.need("num_local_experts", family),
        "top_k": r.need_any(("num_experts_per_tok", "experts_per_token"), family),
        "moe_intermediate_size": r.need("intermediate_size", family),
    }


def _llama4(r: _Reader) -> dict[str, Any]:
    family = "Llama 4"
    n = r.need("num_hidden_layers", family)
    if r.has("moe_layers"):
        moe = r.int_list("moe_layers")
    else:
        step = r.optional("interleave_moe_layer_step", 1)
        assert step is not None
        moe = list(range(step - 1, n, step))  # as Llama4TextConfig derives moe_layers
    width = r.need("intermediate_size", family)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, moe, r),
        "num_experts": r.need("num_local_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        # Llama4TextMoe always adds one shared expert as wide as a routed one.
        "num_shared_experts": 1,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": width,
        "intermediate_size": r.maybe("intermediate_size_mlp"),
    }


def _qwen(r: _Reader) -> dict[str, Any]:
    family = "Qwen2/Qwen3 MoE/OLMoE"
    n = r.need("num_hidden_layers", family)
    step = r.optional("decoder_sparse_step", 1)
    assert step is not None
    if not r.has("mlp_only_layers"):
        r.notes.append(f"{r._name('mlp_only_layers')} absent: [] (transformers default)")
    dense = set(r.int_list("mlp_only_layers"))
    moe = [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    shared_width = r.maybe("shared_expert_intermediate_size", minimum=0) or None
    has_moe_width = r.has("moe_intermediate_size")
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, moe, r),
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


def _jamba(r: _Reader) -> dict[str, Any]:
    family = "Jamba"
    n = r.need("num_hidden_layers", family)
    period = r.optional("expert_layer_period", 2)
    offset = r.optional("expert_layer_offset", 1, minimum=0)
    assert period is not None and offset is not None
    width = r.need("intermediate_size", family)
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, (i for i in range(n) if i % period == offset), r),
        "num_experts": r.need("num_experts", family),
        "top_k": r.need("num_experts_per_tok", family),
        "moe_intermediate_size": width,
        "intermediate_size": width,
    }


def _dbrx(r: _Reader) -> dict[str, Any]:
    family = "DBRX"
    ffn = r.data["ffn_config"]
    if not isinstance(ffn, dict):
        raise r.fail(f"{r._name('ffn_config')} must be an object; got {ffn!r}")
    f = _Reader(ffn, r.where, prefix=r._name("ffn_config."))
    n = r.need("n_layers", family)
    fields: dict[str, Any] = {
        "hidden_size": r.need("d_model", family),
        "num_layers": n,
        **_layer_fields(n, range(n), r),
        "num_experts": f.need("moe_num_experts", family),
        "top_k": f.need("moe_top_k", family),
        "moe_intermediate_size": f.need("ffn_hidden_size", family),
        "num_attention_heads": r.maybe("n_heads"),
    }
    attn = r.data.get("attn_config")
    if isinstance(attn, dict):
        fields["num_key_value_heads"] = _Reader(attn, r.where, "attn_config.").maybe("kv_n_heads")
    return fields


def _ernie(r: _Reader) -> dict[str, Any]:
    family = "ERNIE 4.5"
    n = r.need("num_hidden_layers", family)
    if isinstance(r.data["moe_num_experts"], list):
        raise r.fail(
            f"{r._name('moe_num_experts')} is a list (a multimodal ERNIE); moecomm reads "
            "text models with one expert count"
        )
    start = r.optional("moe_layer_start_index", 1, minimum=0)
    interval = r.optional("moe_layer_interval", 1)
    # Ernie4_5_MoeConfig turns an absent or -1 end index into the last layer.
    end = n - 1
    if r.data.get("moe_layer_end_index") not in (None, -1):
        end = r.need("moe_layer_end_index", family, minimum=0)
    else:
        r.notes.append(f"{r._name('moe_layer_end_index')} absent or -1: the last layer, {end}")
    assert start is not None and interval is not None
    # Ernie4_5_MoeDecoderLayer: MoE iff (i + 1) % interval == 0 and start <= i <= end.
    moe = [i for i in range(n) if (i + 1) % interval == 0 and start <= i <= end]
    width = r.need("moe_intermediate_size", family)
    shared = r.optional("moe_num_shared_experts", 0, minimum=0) or 0
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, moe, r),
        "num_experts": r.need("moe_num_experts", family),
        "top_k": r.need("moe_k", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": width,
        "shared_expert_intermediate_size": shared * width if shared else None,
        "intermediate_size": r.maybe("intermediate_size"),
    }


def _hunyuan(r: _Reader) -> dict[str, Any]:
    family = "Hunyuan"
    n = r.need("num_hidden_layers", family)
    experts = r.need("num_experts", family)
    if experts == 1:
        raise r.fail(f"{r._name('num_experts')} is 1: a dense model has no expert traffic")
    skipped = r.maybe("moe_layer_num_skipped", minimum=0)
    if skipped:
        raise r.fail(f"{r._name('moe_layer_num_skipped')} must be 0 to be read; got {skipped}")
    mixed = r.data.get("use_mixed_mlp_moe")
    if not isinstance(mixed, bool):
        raise r.fail(f"{r._name('use_mixed_mlp_moe')} must be true or false; got {mixed!r}")
    # The shared MLP exists only when use_mixed_mlp_moe is true (HunYuan MoE modeling code).
    shared = r.per_layer("num_shared_expert", family, minimum=0) if mixed else 0
    return {
        "hidden_size": r.need("hidden_size", family),
        "num_layers": n,
        **_layer_fields(n, range(n), r),
        "num_experts": experts,
        "top_k": r.per_layer("moe_topk", family),
        "num_shared_experts": shared,
        "moe_intermediate_size": r.per_layer("moe_intermediate_size", family),
    }


def _switch(r: _Reader) -> dict[str, Any]:
    family = "Switch Transformers"
    enc = r.need("num_layers", family)
    dec = r.optional("num_decoder_layers", enc)
    assert dec is not None

    def sparse(count: int, step: int) -> list[int]:
        # SwitchTransformersStack: block i is sparse iff i % step == 1 (every block when step == 1).
        return [i for i in range(count) if step > 0 and (step == 1 or i % step == 1)]

    enc_step = r.need("encoder_sparse_step", family, minimum=0)
    dec_step = r.need("decoder_sparse_step", family, minimum=0)
    moe = sparse(enc, enc_step) + [enc + i for i in sparse(dec, dec_step)]
    r.notes.append("Switch routing is top-1 by design (SwitchTransformersTop1Router)")
    r.notes.append(
        f"layers counted encoder first: 0..{enc - 1} encoder, {enc}..{enc + dec - 1} decoder"
    )
    width = r.need("d_ff", family)
    return {
        "hidden_size": r.need("d_model", family),
        "num_layers": enc + dec,
        **_layer_fields(enc + dec, moe, r),
        "num_experts": r.need("num_experts", family),
        "top_k": 1,
        "moe_intermediate_size": width,
        "intermediate_size": width,
        "num_attention_heads": r.maybe("num_heads"),
    }


Family = tuple[str, Callable[[_Reader], bool], Callable[[_Reader], dict[str, Any]]]

FAMILIES: tuple[Family, ...] = (
    ("DBRX", lambda r: r.has("ffn_config"), _dbrx),
    ("DeepSeek/Kimi/GLM", lambda r: r.has("n_routed_experts"), _deepseek),
    ("ERNIE 4.5", lambda r: r.has("moe_num_experts"), _ernie),
    ("Hunyuan", lambda r: r.has("moe_topk"), _hunyuan),
    (
        "Llama 4",
        lambda r: (
            r.has("num_local_experts")
            and (r.has("interleave_moe_layer_step") or r.has("moe_layers"))
        ),
        _llama4,
    ),
    ("Mixtral/Phi-MoE/gpt-oss/MiniMax", lambda r: r.has("num_local_experts"), _local_experts),
    ("Jamba", lambda r: r.has("expert_layer_period") and r.has("num_experts"), _jamba),
    (
        "Switch Transformers",
        lambda r: r.data.get("model_type") == "switch_transformers",
        _switch,
    ),
    ("Qwen2/Qwen3 MoE/OLMoE", lambda r: r.has("num_experts"), _qwen),
)
"""Key families in the order they are tried: the first whose marker keys are present reads."""

_EXPERT_KEYS = "n_routed_experts, num_local_experts, num_experts, moe_num_experts or ffn_config.moe_num_experts"


def _text_part(data: dict[str, Any], where: str) -> _Reader:
    """The part that describes the language model: a nested text_config when there is one."""
    text = data.get("text_config")
    if isinstance(text, dict):
        return _Reader(text, where, prefix="text_config.")
    return _Reader(data, where)


def _dtype(top: dict[str, Any], r: _Reader) -> dict[str, Any]:
    quant = top.get("quantization_config") or r.data.get("quantization_config")
    if isinstance(quant, dict) and quant.get("quant_method") == "fp8":
        out: dict[str, Any] = {"native_dtype": DType.FP8}
        block = quant.get("weight_block_size")
        if isinstance(block, list) and block and all(b == block[0] for b in block):
            out["quant_block_size"] = block[0]
        return out
    name = r.data.get("torch_dtype") or r.data.get("dtype") or top.get("torch_dtype")
    if name in _TORCH_DTYPES:
        return {"native_dtype": _TORCH_DTYPES[name]}
    if isinstance(quant, dict) and isinstance(quant.get("quant_method"), str):
        r.notes.append(
            f"quantization {quant['quant_method']!r} has no native_dtype here: bf16 recorded"
        )
    elif name is None:
        r.notes.append("torch_dtype absent: native_dtype bf16 assumed")
    else:
        r.notes.append(
            f"torch_dtype {name!r} is not one of {', '.join(_TORCH_DTYPES)}: bf16 assumed"
        )
    return {"native_dtype": DType.BF16}


def config_file(path: str | Path) -> Path:
    """The config.json a path names: the file itself, or the one inside a folder."""
    if not str(path):
        raise MoecommError("the config path must name a config.json or its folder; got ''")
    p = Path(path)
    if os.path.isdir(p):  # never raises, unlike Path.is_dir on a name too long
        inner = p / "config.json"
        if not os.path.lexists(inner):
            raise MoecommError(f"{safe_io.shown_path(path)}: the folder holds no config.json")
        return inner
    try:
        os.lstat(p)
    except FileNotFoundError:
        raise MoecommError(f"{safe_io.shown_path(path)}: no such file or folder") from None
    except (OSError, ValueError):
        pass  # read_json words every other problem
    return p


def parse(data: Any, where: str) -> HFModel:
    """Derive the MoE model shape from a loaded config.json object."""
    if not isinstance(data, dict):
        raise MoecommError(
            f"{where}: a config.json must hold a JSON object; got {type(data).__name__}"
        )
    r = _text_part(data, where)
    found = next(((name, read) for name, matches, read in FAMILIES if matches(r)), None)
    if found is None:
        kind = data.get("model_type")
        what = f"model_type {kind!r}" if isinstance(kind, str) else "this config"
        raise MoecommError(
            f"{where}: {what} is a dense model or an unknown MoE key family: "
            f"none of {_EXPERT_KEYS} is present"
        )
    family, read = found
    fields = read(r)
    fields |= {
        "num_attention_heads": fields.get("num_attention_heads") or r.maybe("num_attention_heads"),
        "num_key_value_heads": fields.get("num_key_value_heads") or r.maybe("num_key_value_heads"),
        "head_dim": r.maybe("head_dim"),
        "vocab_size": r.maybe("vocab_size"),
        **_dtype(data, r),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        model = MoEModel.model_validate(fields)
    except ValidationError as exc:
        raise MoecommError("\n".join(validation_lines(exc, prefix=f"{where}: "))) from None
    return HFModel(model=model, family=family, path=where, notes=tuple(r.notes))


def read(path: str | Path) -> HFModel:
    """Read a config.json (or a folder holding one) into an MoE model shape."""
    file = config_file(path)
    data = safe_io.read_json(
        file, max_bytes=safe_io.MAX_CONFIG_BYTES, max_values=safe_io.MAX_CONFIG_VALUES
    )
    return parse(data, safe_io.shown_path(file))
