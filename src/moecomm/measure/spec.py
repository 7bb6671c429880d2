"""What ``moecomm measure`` measures: its validated options and the sizes of the collectives sweep.

Pure Python, no torch: every rule on the options is checked here, before a process group exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from moecomm import formulas as F
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.timing import KINDS, Kind

MAX_SWEEP_BYTES = 2**36
"""Largest collective buffer of the size sweep (64 GiB): an all-gather's whole output."""

MAX_ITERS = 10_000
"""Most timed iterations (or warm-up calls) per size."""

MAX_GRAPH_OPS = 1000
"""Most operations captured in one CUDA graph."""

MAX_TOKEN_SIZES = 64
"""Most token counts in one MoE sweep."""

MAX_MEASURE_TOKENS = 2**20
"""Most tokens per rank of one MoE run."""

MAX_SEED = 2**63 - 1

Backend = Literal["nccl", "gloo"]
SweepDType = Literal["bf16", "fp16", "fp32"]
Dedup = Literal["copies", "rank"]


class Collective(BaseModel):
    """How one collective kind is called and counted (NVIDIA/nccl-tests doc/PERFORMANCE.md)."""

    model_config = ConfigDict(frozen=True)

    key: str
    """Its name in the measurement file: the torch.distributed call."""
    busbw_formula: str
    size_convention: str


COLLECTIVES: dict[Kind, Collective] = {
    "all-reduce": Collective(
        key="all_reduce",
        busbw_formula="busbw_factor_allreduce",
        size_convention="bytes = per-rank buffer (input = output)",
    ),
    "all-gather": Collective(
        key="all_gather_into_tensor",
        busbw_formula="busbw_factor_allgather",
        size_convention="bytes = total OUTPUT buffer (n x per-rank input); "
        "per-rank input = bytes/n",
    ),
    "reduce-scatter": Collective(
        key="reduce_scatter_tensor",
        busbw_formula="busbw_factor_allgather",
        size_convention="bytes = total INPUT buffer (n x per-rank output); "
        "per-rank output = bytes/n",
    ),
    "all-to-all": Collective(
        key="all_to_all_single",
        busbw_formula="busbw_factor_alltoall",
        size_convention="bytes = per-rank send buffer (= receive buffer); "
        "bytes/n to each rank incl. self",
    ),
    "broadcast": Collective(
        key="broadcast",
        busbw_formula="busbw_factor_broadcast",
        size_convention="bytes = buffer size, root 0",
    ),
}
"""Each kind of ``moecomm collective``, as the measurement file names and counts it."""


def busbw_factor(kind: Kind, ranks: int) -> float:
    """nccl-tests' bus-bandwidth factor of ``kind`` over ``ranks`` (the formula layer's)."""
    return float(F.value(COLLECTIVES[kind].busbw_formula, {"n": ranks}))


def parse_collectives(text: str) -> tuple[Kind, ...]:
    """``all-reduce,broadcast`` (any of KINDS, each once), or ``none``."""
    if text.strip() == "none":
        return ()
    parts = [p.strip() for p in text.split(",")] if len(text) <= 200 else [text[:64]]
    for p in parts:
        if p not in KINDS:
            raise MoecommError(
                f"{f('collectives')} must be none or a comma-separated list of "
                f"{', '.join(KINDS)}; got {p!r}"
            )
    if len(set(parts)) != len(parts):
        raise MoecommError(f"{f('collectives')} must name each collective once; got {text!r}")
    return tuple(k for k in KINDS if k in parts)


class MeasureConfig(BaseModel):
    """The options of one measurement run (everything but the model, read by ``resolve``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collectives: tuple[Kind, ...] = KINDS
    min_bytes: int = Field(8 * 2**10, ge=1, le=MAX_SWEEP_BYTES)
    max_bytes: int = Field(2**30, ge=1, le=MAX_SWEEP_BYTES)
    iters: int = Field(20, ge=1, le=MAX_ITERS)
    warmup: int = Field(5, ge=0, le=MAX_ITERS)
    moe_iters: int = Field(20, ge=1, le=MAX_ITERS)
    dtype: SweepDType = "bf16"
    backend: Backend | None = None
    cuda_graph: int = Field(0, ge=0, le=MAX_GRAPH_OPS)
    tokens: tuple[int, ...] = ()
    seed: int = Field(0, ge=0, le=MAX_SEED)
    dedup: Dedup = "copies"
    save_routing_max_tokens: int = Field(128, ge=0, le=MAX_MEASURE_TOKENS)

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.min_bytes > self.max_bytes:
            raise MoecommError(
                f"{f('min_bytes')} must be at most {f('max_bytes')} ({self.max_bytes}); "
                f"got {self.min_bytes}"
            )
        if self.cuda_graph and self.backend == "gloo":
            raise MoecommError(f"{f('cuda_graph')} needs {f('backend')} nccl; got gloo")
        if len(self.tokens) > MAX_TOKEN_SIZES:
            raise MoecommError(
                f"{f('tokens')} must list at most {MAX_TOKEN_SIZES} token counts; "
                f"got {len(self.tokens)}"
            )
        for t in self.tokens:
            if not 1 <= t <= MAX_MEASURE_TOKENS:
                raise MoecommError(
                    f"{f('tokens')} must lie in 1..{MAX_MEASURE_TOKENS} per rank; got {t}"
                )
        return self


def sweep(min_bytes: int, max_bytes: int) -> Iterator[int]:
    """The sizes of the sweep: min_bytes, doubling, up to max_bytes (nccl-tests' ``-f 2``)."""
    size = min_bytes
    while size <= max_bytes:
        yield size
        size *= 2


def buffer_elements(size: int, element_bytes: int, ranks: int) -> int:
    """Elements of a ``size``-byte buffer, rounded down to a multiple of ``ranks`` (0: skipped)."""
    count = size // element_bytes
    return count - count % ranks
