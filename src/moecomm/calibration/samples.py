"""Measured cases from nccl-tests logs and moecomm-bench/1 files, in one form for fitting and checking.

A moecomm-bench/1 file (``moecomm measure``, benchmarks/results/*.json) gives, per size,
``batched_avg_s`` (operations back to back, total / iterations: nccl-tests' method) and
``median_s`` (one operation after a barrier: per-op). In CUDA-graph files (rows with a
``timing`` of ``cuda_graph…``) both are back-to-back device times, each replay timing several
operations queued in one graph: ``median_s``, the median over replays, is taken, since a
hiccup in one replay moves the mean. An nccl-tests log gives back-to-back times only (its
out-of-place column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moecomm import safe_io
from moecomm.calibration import nccl_tests
from moecomm.errors import MoecommError, from_validation
from moecomm.units import MAX_BYTES

SCHEMA = "moecomm-bench/1"
MAX_ROWS = nccl_tests.MAX_ROWS

BENCH_KINDS = {
    "all_reduce": "all-reduce",
    "all_gather_into_tensor": "all-gather",
    "reduce_scatter_tensor": "reduce-scatter",
    "all_to_all_single": "all-to-all",
    "broadcast": "broadcast",
}
"""torch.distributed's names in moecomm-bench/1 files, and the collective each is."""

MOE_PHASE = re.compile(r"(dispatch|combine)_[a-z0-9]+")
"""A timed MoE phase's key in a run: the phase and its wire dtype."""


@dataclass(frozen=True)
class Provenance:
    """Where one file's measurements come from."""

    name: str
    tool: str
    nccl: str | None
    gpus: tuple[str, ...]
    nodes: int
    date: str | None


@dataclass(frozen=True)
class Sample:
    """One measured case: a collective (or a MoE all-to-all) of one size on one set of ranks.

    ``bytes`` is nccl-tests' size for a collective; for a MoE phase, the busiest rank's
    max(send, recv) bytes to other ranks. Times are in seconds; None where not measured.
    """

    source: str
    line: int | None
    case: str
    kind: str
    ranks: int
    nodes: int
    bytes: int
    back_to_back_s: float | None
    per_op_s: float | None
    moe: bool = False

    @property
    def gpus_per_node(self) -> int:
        return self.ranks // self.nodes


def read(path: str) -> tuple[list[Sample], Provenance]:
    """The samples of one file: an nccl-tests log or a moecomm-bench/1 JSON file."""
    where = safe_io.shown_path(path)
    text = safe_io.read_text(path, what="LOG")
    if text.lstrip().startswith("{"):
        return _bench(safe_io.read_json(path, what="LOG"), where)
    if not nccl_tests.looks_like(text):
        raise MoecommError(
            f"{where}: line 1: neither nccl-tests output (no '# nThread … nGpus …' line) nor a "
            f"{SCHEMA} JSON file"
        )
    return _log(nccl_tests.parse(text, where))


def _log(log: nccl_tests.Log) -> tuple[list[Sample], Provenance]:
    samples = [
        Sample(
            source=log.name,
            line=row.line,
            case=log.kind,
            kind=log.kind,
            ranks=log.ranks,
            nodes=log.nodes,
            bytes=row.bytes,
            back_to_back_s=row.out_of_place_us * 1e-6,
            per_op_s=None,
        )
        for row in log.rows
    ]
    tool = f"nccl-tests {log.version or '(version not printed)'} {log.test}"
    return samples, Provenance(log.name, tool, log.nccl_library, log.gpus, log.nodes, None)


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Row(_Open):
    bytes: int = Field(ge=1, le=MAX_BYTES)
    median_s: float = Field(gt=0, le=3600, allow_inf_nan=False)
    batched_avg_s: float = Field(gt=0, le=3600, allow_inf_nan=False)
    timing: str = ""


class _Collective(_Open):
    rows: list[_Row] = Field(max_length=MAX_ROWS)


class _Phase(_Open):
    median_s: float = Field(gt=0, le=3600, allow_inf_nan=False)
    batched_avg_s: float = Field(gt=0, le=3600, allow_inf_nan=False)
    max_offrank_send_or_recv_bytes: int = Field(ge=0, le=MAX_BYTES)
    timing: str = ""


class _Run(BaseModel):
    """One MoE run: T tokens per rank, and one timed phase per key ``dispatch_<dtype>`` or
    ``combine_<dtype>`` (``dispatch_bf16``, ``dispatch_fp8``, ``combine_bf16``, …)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    T: int = Field(ge=1)

    def phases(self, where: str) -> list[tuple[str, _Phase]]:
        """The timed phases, each checked; ``where`` names the run in errors."""
        out = []
        for key, value in (self.model_extra or {}).items():
            if not (MOE_PHASE.fullmatch(key) and isinstance(value, dict)):
                continue
            try:
                out.append((key, _Phase.model_validate(value)))
            except ValidationError as exc:
                raise from_validation(exc, prefix=f"{where}.{key}: ") from None
        return out


class _Moe(_Open):
    runs: list[_Run] = Field(default_factory=list, max_length=MAX_ROWS)


class _Metadata(_Open):
    world_size: int = Field(ge=2, le=2**20)
    nodes: int = Field(1, ge=1, le=2**20)
    nccl_version: str | None = None
    gpu_names: list[str] = Field(default_factory=list, max_length=2**20)
    date_utc: str | None = None
    backend: str | None = None


class _Bench(_Open):
    schema_: str = Field(alias="schema")
    metadata: _Metadata
    collectives: dict[str, _Collective] = Field(default_factory=dict)
    moe: _Moe | None = None


def _bench(data: Any, where: str) -> tuple[list[Sample], Provenance]:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise MoecommError(f"{where}: schema must be {SCHEMA!r}; got {got!r}")
    try:
        bench = _Bench.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, prefix=f"{where}: ") from None
    md = bench.metadata
    if md.world_size % md.nodes:
        raise MoecommError(
            f"{where}: metadata.world_size ({md.world_size}) must fill metadata.nodes "
            f"({md.nodes}) evenly"
        )
    name = PurePath(where).name
    samples: list[Sample] = []
    for coll, block in bench.collectives.items():
        kind = BENCH_KINDS.get(coll)
        if kind is None:
            raise MoecommError(
                f"{where}: collectives.{coll[:40]} is not one of {', '.join(BENCH_KINDS)}"
            )
        for row in block.rows:
            graph = row.timing.startswith("cuda_graph")
            samples.append(
                Sample(
                    name,
                    None,
                    kind,
                    kind,
                    md.world_size,
                    md.nodes,
                    row.bytes,
                    row.median_s if graph else row.batched_avg_s,
                    None if graph else row.median_s,
                )
            )
    for i, run in enumerate(bench.moe.runs if bench.moe is not None else []):
        for phase, rec in run.phases(f"{where}: moe.runs[{i}]"):
            if rec.max_offrank_send_or_recv_bytes == 0:
                continue
            graph = rec.timing.startswith("cuda_graph") or _graph_file(bench)
            samples.append(
                Sample(
                    name,
                    None,
                    f"moe {phase} T={run.T}",
                    "all-to-all",
                    md.world_size,
                    md.nodes,
                    rec.max_offrank_send_or_recv_bytes,
                    rec.median_s if graph else rec.batched_avg_s,
                    None if graph else rec.median_s,
                    moe=True,
                )
            )
    if not samples:
        raise MoecommError(f"{where}: no measured collectives or MoE runs")
    backend = f" ({md.backend})" if md.backend else ""
    prov = Provenance(
        name,
        f"{SCHEMA}{backend}",
        md.nccl_version,
        tuple(dict.fromkeys(md.gpu_names)),
        md.nodes,
        md.date_utc,
    )
    return samples, prov


def _graph_file(bench: _Bench) -> bool:
    """Whether the file's collectives were timed in CUDA graphs (MoE phases say so only there)."""
    return any(
        row.timing.startswith("cuda_graph")
        for block in bench.collectives.values()
        for row in block.rows
    )
