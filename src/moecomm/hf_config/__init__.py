"""Read a Hugging Face ``config.json`` into an MoE model shape, from any of the known key families.

Each family names the same quantities differently; a reader per family maps its keys to
:class:`moecomm.config.MoEModel`. The family is chosen by ``model_type`` (of the nested
``text_config`` first); a file whose ``model_type`` no family lists is tried against the key
families by their marker keys. Which layers are MoE is computed as a set of layer indices with
the family's own rule (as its transformers modeling code applies it) and then written as
``first_moe_layer``, ``moe_layer_step`` and ``non_moe_layers``.

The rule (docs/presets.md): every key that changes a counted quantity is read, or the file is
refused with one line naming it. Core shape keys (hidden size, layers, experts, top-k, expert
width) must be present; other counted keys that are absent take the default of the family's
transformers config class, and every such default is recorded in :attr:`HFModel.defaults`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from moecomm import safe_io
from moecomm.config import MoEModel
from moecomm.dtypes import DType
from moecomm.errors import MoecommError, validation_lines
from moecomm.hf_config import encdec, families, hybrids
from moecomm.hf_config.reader import Reader

__all__ = ["FAMILIES", "HFModel", "config_file", "parse", "read"]

_TORCH_DTYPES = {
    "bfloat16": DType.BF16,
    "float16": DType.FP16,
    "float32": DType.FP32,
}

ADD_A_FAMILY = "to add a family see docs/presets.md (Adding a key family)"


@dataclass(frozen=True)
class HFModel:
    """A model shape read from a config.json, with the family that was read and the defaults used.

    ``mixers`` lists a hybrid's layers by sequence mixer, e.g. ``(("Mamba", 23), ("attention",
    6))``; it is empty for models whose every layer is attention. Mixers move no EP traffic.
    """

    model: MoEModel
    family: str
    path: str
    notes: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()
    mixers: tuple[tuple[str, int], ...] = ()
    model_type: str | None = None

    @property
    def attention_layers(self) -> int | None:
        return dict(self.mixers).get("attention", 0) if self.mixers else None

    @property
    def mamba_layers(self) -> int | None:
        return dict(self.mixers).get("Mamba", 0) if self.mixers else None


@dataclass(frozen=True)
class Family:
    """One key family: the model_type values it reads, its marker keys and its reader."""

    name: str
    model_types: frozenset[str]
    matches: Callable[[Reader], bool]
    read: Callable[[Reader], dict[str, Any]]


def _never(r: Reader) -> bool:
    return False


FAMILIES: tuple[Family, ...] = (
    Family("DBRX", frozenset({"dbrx"}), lambda r: r.has("ffn_config"), families.dbrx),
    Family(
        "DeepSeek/Kimi/GLM",
        frozenset(
            {
                "deepseek",
                "deepseek_v2",
                "deepseek_v3",
                "deepseek_v32",
                "kimi_k2",
                "glm4_moe",
                "glm4_moe_lite",
                "glm4v_moe_text",
                "dots1",
            }
        ),
        lambda r: r.has("n_routed_experts"),
        families.deepseek,
    ),
    Family(
        "ERNIE 4.5", frozenset({"ernie4_5_moe"}), lambda r: r.has("moe_num_experts"), families.ernie
    ),
    Family(
        "Hunyuan",
        frozenset({"hunyuan", "hunyuan_v1_moe"}),
        lambda r: r.has("moe_topk"),
        families.hunyuan,
    ),
    Family(
        "Llama 4",
        frozenset({"llama4", "llama4_text"}),
        lambda r: (
            r.has("num_local_experts")
            and (r.has("interleave_moe_layer_step") or r.has("moe_layers"))
        ),
        families.llama4,
    ),
    Family(
        "Mixtral/Phi-MoE/gpt-oss/MiniMax",
        frozenset({"mixtral", "phimoe", "gpt_oss", "minimax", "minimax_text_01", "minimax_m1"}),
        lambda r: r.has("num_local_experts"),
        families.local_experts,
    ),
    Family(
        "Jamba",
        frozenset({"jamba"}),
        lambda r: r.has("expert_layer_period") and r.has("num_experts"),
        hybrids.jamba,
    ),
    Family(
        "Switch Transformers",
        frozenset({"switch_transformers"}),
        lambda r: r.data.get("model_type") == "switch_transformers",
        encdec.switch,
    ),
    Family(
        "Qwen2/Qwen3 MoE/OLMoE",
        frozenset(
            {
                "qwen2_moe",
                "qwen3_moe",
                "qwen3_vl_moe",
                "qwen3_vl_moe_text",
                "qwen3_omni_moe_text",
                "olmoe",
            }
        ),
        lambda r: r.has("num_experts"),
        families.qwen,
    ),
    Family(
        "Aria",
        frozenset({"aria", "aria_text", "aria_text_model", "aria_moe_lm"}),
        _never,
        families.aria,
    ),
    Family("LFM2-MoE", frozenset({"lfm2_moe"}), _never, hybrids.lfm2_moe),
    Family(
        "GraniteMoE",
        frozenset({"granitemoe", "granitemoeshared", "granitemoehybrid"}),
        _never,
        hybrids.granite,
    ),
    Family("Nemotron-H", frozenset({"nemotron_h"}), _never, hybrids.nemotron_h),
    Family(
        "Qwen3-Next",
        frozenset({"qwen3_next", "qwen3_5_moe", "qwen3_5_moe_text"}),
        _never,
        hybrids.qwen3_next,
    ),
    Family("MiniMax-M2", frozenset({"minimax_m2"}), _never, families.minimax_m2),
    Family("Trinity (afmoe)", frozenset({"afmoe"}), _never, families.afmoe),
    Family(
        "Ling (bailing_moe)", frozenset({"bailing_moe", "bailing_moe_v2"}), _never, families.bailing
    ),
)
"""Key families: looked up by model_type, else tried in this order by their marker keys."""

_EXPERT_KEYS = "n_routed_experts, num_local_experts, num_experts, moe_num_experts or ffn_config.moe_num_experts"

_NESTED = (
    ("text_config",),
    ("language_config",),
    ("llm_config",),
    ("thinker_config", "text_config"),
)
"""Where multimodal configs keep their language model, in the order tried."""


def _text_part(data: dict[str, Any], where: str) -> Reader:
    """The part that describes the language model: a nested text config when there is one."""
    for path in _NESTED:
        part: Any = data
        for key in path:
            part = part.get(key) if isinstance(part, dict) else None
        if isinstance(part, dict):
            return Reader(part, where, prefix=".".join(path) + ".")
    return Reader(data, where)


def _identity(top: dict[str, Any], r: Reader) -> str:
    """How a refusal names the model: its model_type and architectures."""
    kinds = [k for k in (r.data.get("model_type"), top.get("model_type")) if isinstance(k, str)]
    archs = top.get("architectures") or r.data.get("architectures")
    shown = f"model_type {kinds[0]!r}" if kinds else ""
    if isinstance(archs, list) and archs and all(isinstance(a, str) for a in archs):
        shown = f"{shown} ({', '.join(archs)})" if shown else f"architectures {', '.join(archs)}"
    return shown or "this config"


def _family(top: dict[str, Any], r: Reader) -> tuple[Family | None, bool]:
    """The family for a config, and whether its model_type is one the family lists."""
    for kind in (r.data.get("model_type"), top.get("model_type")):
        for family in FAMILIES:
            if isinstance(kind, str) and kind in family.model_types:
                if kind != r.data.get("model_type"):
                    r.data = {**r.data, "model_type": kind}
                return family, True
    return next((f for f in FAMILIES if f.matches(r)), None), False


def _dtype(top: dict[str, Any], r: Reader) -> dict[str, Any]:
    quant = top.get("quantization_config") or r.data.get("quantization_config")
    if isinstance(quant, dict) and quant.get("quant_method") == "fp8":
        out: dict[str, Any] = {"native_dtype": DType.FP8}
        block = quant.get("weight_block_size")
        if isinstance(block, list) and block and all(b == block[0] for b in block):
            out["quant_block_size"] = block[0]
        return out
    name = r.data.get("torch_dtype") or r.data.get("dtype") or top.get("torch_dtype")
    name = name or top.get("dtype")
    if isinstance(quant, dict) and quant.get("quant_method") == "mxfp4":
        # gpt-oss: MXFP4 experts; modules_to_not_convert (attention, router, embeddings,
        # lm_head) stay at torch_dtype.
        rest = _TORCH_DTYPES.get(name, DType.BF16) if isinstance(name, str) else DType.BF16
        return {"native_dtype": rest, "expert_dtype": "mxfp4"}
    if isinstance(name, str) and name in _TORCH_DTYPES:
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


def _read_family(family: Family, listed: bool, top: dict[str, Any], r: Reader) -> dict[str, Any]:
    """Run a family's reader, then refuse any counted key it neither read nor acknowledged."""
    try:
        fields = family.read(r)
    except MoecommError as exc:
        if listed:
            raise
        raise MoecommError(
            f"{exc} ({_identity(top, r)} is not a known MoE family; {ADD_A_FAMILY})"
        ) from None
    unread = r.unread()
    if unread:
        key = r.name(unread[0])
        if listed:
            raise r.fail(
                f"{key} changes a counted quantity and the {family.name} reader does not read it "
                f"({_identity(top, r)}); {ADD_A_FAMILY}"
            )
        raise r.fail(
            f"{_identity(top, r)} is not a known MoE family: {key} changes a counted quantity "
            f"and the {family.name} key family does not read it; {ADD_A_FAMILY}"
        )
    if not listed:
        r.notes.append(
            f"{_identity(top, r)} is read with the {family.name} key family's rule "
            "(every counted key in the file is one that family reads)"
        )
    return fields


def parse(data: Any, where: str) -> HFModel:
    """Derive the MoE model shape from a loaded config.json object."""
    if not isinstance(data, dict):
        raise MoecommError(
            f"{where}: a config.json must hold a JSON object; got {type(data).__name__}"
        )
    r = _text_part(data, where)
    family, listed = _family(data, r)
    if family is None:
        raise MoecommError(
            f"{where}: {_identity(data, r)} is a dense model or an unknown MoE key family: "
            f"none of {_EXPERT_KEYS} is present; {ADD_A_FAMILY}"
        )
    fields = _read_family(family, listed, data, r)
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
        raise MoecommError("; ".join(validation_lines(exc, prefix=f"{where}: "))) from None
    if r.mixers:
        shown = ", ".join(f"{count} {kind}" for kind, count in r.mixers)
        r.notes.append(f"layers by sequence mixer: {shown} (mixers move no EP traffic)")
    kind = r.data.get("model_type")
    return HFModel(
        model=model,
        family=family.name,
        path=where,
        notes=tuple(r.notes),
        defaults=tuple(r.defaults),
        mixers=tuple(r.mixers),
        model_type=kind if isinstance(kind, str) else None,
    )


def read(path: str | Path) -> HFModel:
    """Read a config.json (or a folder holding one) into an MoE model shape."""
    file = config_file(path)
    data = safe_io.read_json(
        file, max_bytes=safe_io.MAX_CONFIG_BYTES, max_values=safe_io.MAX_CONFIG_VALUES
    )
    return parse(data, safe_io.shown_path(file))
