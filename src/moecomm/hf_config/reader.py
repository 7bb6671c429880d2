"""Typed access to one config.json object that records every key it reads, and the counted-key rule.

The rule behind issue 13: a key whose name says it changes a counted quantity (layers, which
layers are MoE, experts, shared experts, top-k, expert width) is either read by the family's
reader or acknowledged by it with a reason; anything else present in the file makes the file a
refusal, because a value moecomm did not read could make its numbers wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import reduce
from math import gcd
from typing import Any

from moecomm.errors import MoecommError

COUNTED = re.compile(
    r"expert|moe|dense|sparse|shared|layer|top_?k|intermediate|d_ff|ffn|pattern|n_group"
)
"""Key names that may change a counted quantity."""

NOT_COUNTED = re.compile(
    r"norm|drop|init|eps|coef|jitter|noise|loss|logit|multiplier|factor|scal|bias|_act|act_fn"
    r"|kernel|dtype|cache|capacity|^mamba_|^ssm_|^linear_|^conv_"
)
"""Names that match COUNTED but describe numerics, training, or a sequence mixer's own shape."""

MAX_LAYERS = 100_000
"""Layer counts above this are refused: the reader lists layers, and no model has so many."""

LAYER_COUNTS = frozenset({"num_hidden_layers", "num_layers", "num_decoder_layers", "n_layers"})

ATTENTION_KINDS = frozenset(
    {
        "full_attention",
        "sliding_attention",
        "attention",
        "chunked_attention",
        "local_attention",
        "indexed_attention",
        "deepseek_sparse_attention",
    }
)
"""Per-layer kinds that are softmax attention of some span (transformers' layer_types spellings)."""


class Reader:
    """Typed access to one config's keys; every error names the file and the key."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = "") -> None:
        self.data = data
        self.where = where
        self.prefix = prefix
        self.notes: list[str] = []
        self.defaults: list[str] = []
        self.read: set[str] = set()
        self.acknowledged: dict[str, str] = {}
        self.mixers: list[tuple[str, int]] = []
        """Layers by sequence mixer, for hybrids: (kind, count), e.g. ("Mamba", 23)."""

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def name(self, key: str) -> str:
        return self.prefix + key

    def fail(self, text: str) -> MoecommError:
        return MoecommError(f"{self.where}: {text}")

    def value(self, key: str) -> Any:
        """The raw value of a key (None when absent), marked as read."""
        self.read.add(key)
        return self.data.get(key)

    def ack(self, key: str, reason: str) -> None:
        """Record a counted-looking key that the family's modeling code does not count."""
        if key in self.data:
            self.acknowledged[key] = reason

    def ack_matching(self, pattern: str, reason: str) -> None:
        for key in self.data:
            if re.search(pattern, key):
                self.ack(key, reason)

    def _int(self, key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            rule = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
            raise self.fail(f"{self.name(key)} must be {rule}; got {value!r}")
        if key in LAYER_COUNTS and value > MAX_LAYERS:
            raise self.fail(f"{self.name(key)} must be at most {MAX_LAYERS}; got {value}")
        return value

    def need(self, key: str, family: str, minimum: int = 1) -> int:
        self.read.add(key)
        if not self.has(key):
            raise self.fail(f"{self.name(key)} is missing; the {family} key family needs it")
        return self._int(key, self.data[key], minimum)

    def need_any(self, keys: Iterable[str], family: str, minimum: int = 1) -> int:
        keys = tuple(keys)
        self.read.update(keys)
        found = [k for k in keys if self.has(k)]
        if not found:
            names = " or ".join(self.name(k) for k in keys)
            raise self.fail(f"{names} is missing; the {family} key family needs it")
        values = {k: self._int(k, self.data[k], minimum) for k in found}
        if len(set(values.values())) > 1:
            shown = ", ".join(f"{self.name(k)} = {v}" for k, v in values.items())
            raise self.fail(f"{shown} disagree; they must be equal")
        return values[found[0]]

    def default_note(self, key: str, default: Any, cls: str | None) -> None:
        where = "transformers default" if cls is None else f"transformers {cls} default"
        note = f"{self.name(key)} absent: {default} ({where})"
        self.notes.append(note)
        self.defaults.append(note)

    def optional(
        self, key: str, default: int | None, minimum: int = 1, cls: str | None = None
    ) -> int | None:
        self.read.add(key)
        if self.has(key):
            return self._int(key, self.data[key], minimum)
        if default is not None:
            self.default_note(key, default, cls)
        return default

    def with_default(self, key: str, default: int, minimum: int = 1, cls: str | None = None) -> int:
        """An optional key whose class default is an integer: never None."""
        value = self.optional(key, default, minimum, cls)
        assert value is not None
        return value

    def maybe(self, key: str, minimum: int = 1) -> int | None:
        """An optional key that is left out of the model when absent (no default applies)."""
        self.read.add(key)
        return self._int(key, self.data[key], minimum) if self.has(key) else None

    def per_layer(self, key: str, family: str, minimum: int = 1) -> int:
        """A key that may be one integer or a list with one equal value per layer (Hunyuan)."""
        self.read.add(key)
        if not self.has(key):
            raise self.fail(f"{self.name(key)} is missing; the {family} key family needs it")
        value = self.data[key]
        if isinstance(value, list):
            if not value:
                raise self.fail(f"{self.name(key)} must not be an empty list")
            items = [self._int(key, v, minimum) for v in value]
            if len(set(items)) > 1:
                raise self.fail(
                    f"{self.name(key)} must be the same for every layer; got {sorted(set(items))}"
                )
            return items[0]
        return self._int(key, value, minimum)

    def int_list(self, key: str) -> list[int]:
        self.read.add(key)
        if not self.has(key):
            return []
        value = self.data[key]
        if not isinstance(value, list):
            raise self.fail(f"{self.name(key)} must be a list of layer indices; got {value!r}")
        return [self._int(key, v, 0) for v in value]

    def str_list(self, key: str, length: int | None = None) -> list[str] | None:
        """A list of strings (per-layer kinds), or None when absent."""
        self.read.add(key)
        if not self.has(key):
            return None
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{self.name(key)} must be a list of strings; got {value!r}")
        if length is not None and len(value) != length:
            raise self.fail(
                f"{self.name(key)} has {len(value)} entries; num_hidden_layers is {length}"
            )
        return value

    def flag(self, key: str) -> bool | None:
        """A boolean key, or None when absent."""
        self.read.add(key)
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.fail(f"{self.name(key)} must be true or false; got {value!r}")

    def unread(self) -> list[str]:
        """Counted-looking keys that are present but neither read nor acknowledged, in file order."""
        return [
            key
            for key, value in self.data.items()
            if value is not None
            and key not in self.read
            and key not in self.acknowledged
            and COUNTED.search(key)
            and not NOT_COUNTED.search(key)
        ]


def layer_fields(num_layers: int, moe: Iterable[int], r: Reader) -> dict[str, Any]:
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


def mixer_kinds(
    r: Reader, key: str, kinds: list[str], names: dict[str, str]
) -> list[tuple[str, int]]:
    """Count per-layer sequence-mixer kinds; `names` maps a family's spellings to a label."""
    counts: dict[str, int] = {}
    for kind in kinds:
        label = "attention" if kind in ATTENTION_KINDS else names.get(kind)
        if label is None:
            raise r.fail(f"{r.name(key)} has the layer kind {kind!r}, which moecomm cannot read")
        counts[label] = counts.get(label, 0) + 1
    return list(counts.items())
