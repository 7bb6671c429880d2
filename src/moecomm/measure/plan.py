"""The MoE runs of a measurement: routing, and the exact bytes each rank sends to each rank.

Pure Python, no torch. Routing is sampled (uniform or Zipf, seeded) or read from a top-k file by
the functions ``moecomm traffic`` uses, and every byte matrix is that of ``moecomm traffic``
(``from_data.data_traffic``) for the same routing, wire format and dedup, counted ``logical``
(the diagonal is the copy a rank keeps: ``all_to_all_single`` moves it locally).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from moecomm.config import MoEModel, RoutingConfig, build
from moecomm.errors import MoecommError
from moecomm.measure.launch import Launch
from moecomm.measure.spec import MeasureConfig
from moecomm.traffic.files import load_topk_ids
from moecomm.traffic.from_data import Data, TopkIds, data_traffic, zipf_ids
from moecomm.traffic.result import link_busiest
from moecomm.traffic.scenarios import zipf_exponent
from moecomm.wire import Wire

Phase = Literal["dispatch", "combine"]
Matrix = list[list[int]]


@dataclass(frozen=True)
class Variant:
    """One timed all-to-all: a phase in one wire format (both phases of ``wire`` in one dtype)."""

    phase: Phase
    wire: Wire

    @property
    def dtype(self) -> str:
        d = self.wire.dispatch_dtype if self.phase == "dispatch" else self.wire.combine_dtype
        return d.value

    @property
    def name(self) -> str:
        """Its key in the file: ``dispatch_bf16``, ``dispatch_fp8``, ``combine_bf16``…"""
        return f"{self.phase}_{self.dtype}"

    @property
    def copy_bytes(self) -> int:
        """Bytes of one row (one token copy) on the wire: ``wire.py``'s formulas."""
        w = self.wire
        return w.dispatch_copy_bytes if self.phase == "dispatch" else w.combine_copy_bytes

    def describe(self) -> dict[str, object]:
        return {
            "phase": self.phase,
            "dtype": self.dtype,
            "copy_bytes": self.copy_bytes,
            "scale_block": self.wire.scale_block if self.dtype == "fp8" else None,
            "header_bytes": self.wire.header_bytes if self.phase == "dispatch" else 0,
        }


@dataclass(frozen=True)
class Routing:
    """Where the routing comes from: a top-k file, or sampled ``uniform`` / ``zipf:S``."""

    routing: str | None = None
    seed: int = 0
    topk_ids: Path | None = None

    def exponent(self) -> float:
        """Zipf's S; uniform routing is S = 0 (every expert weighs 1)."""
        if self.routing is None or self.routing == "uniform":
            return 0.0
        return zipf_exponent(self.routing)

    def text(self, tokens: int | None = None) -> str:
        """The routing in words; with ``tokens``, that of one run."""
        if self.topk_ids is not None:
            return f"top-k ids from {self.topk_ids.name}"
        name = self.routing or "uniform"
        per = "" if tokens is None else f", {tokens} tokens per rank"
        how = (
            f"as `moecomm traffic --routing {name} --seed {self.seed}`"
            if name != "uniform"
            else "Zipf with S = 0: every expert weighs 1"
        )
        return (
            f"{name} sampled (seed {self.seed}{per}): k distinct experts per token drawn by "
            f"moecomm.traffic.from_data.zipf_ids, {how}"
        )


@dataclass(frozen=True)
class MoeRun:
    """One token count: routing, copies and exact bytes per (source rank, destination rank)."""

    tokens: int | None
    """Tokens on every rank (None when a top-k file gives ranks different counts)."""
    tokens_per_rank: list[int]
    routing: str
    copies: Matrix
    """Rows (token copies) rank i sends rank j in dispatch, the diagonal included."""
    expert_counts: Matrix
    topk_ids: TopkIds | None
    send_bytes: dict[str, Matrix]
    """Per variant, the bytes rank i sends rank j: ``moecomm traffic``'s matrix."""

    def splits(self, variant: Variant, rank: int) -> tuple[list[int], list[int]]:
        """(input, output) split sizes in rows of ``rank``'s ``all_to_all_single``."""
        sent = [row[rank] for row in self.copies]  # what rank received in dispatch
        own = self.copies[rank]
        return (own, sent) if variant.phase == "dispatch" else (sent, own)

    def offrank_busiest(self, variant: Variant) -> int:
        """Max over ranks of max(bytes sent to, received from other ranks)."""
        value = link_busiest(self.send_bytes[variant.name])  # type: ignore[arg-type]
        assert isinstance(value, int)
        return value


def check_world(world: int, model: MoEModel) -> None:
    """The EP group is the whole world: every rank holds E/world experts."""
    if model.num_experts % world:
        raise MoecommError(
            f"the world size ({world} ranks) must divide the number of routed experts "
            f"({model.num_experts}): it is the EP size"
        )


def moe_runs(
    model: MoEModel,
    variants: list[Variant],
    routing: Routing,
    tokens: tuple[int, ...],
    world: int,
    *,
    dedup: str = "copies",
    save_max: int = 128,
) -> list[MoeRun]:
    """One run per token count (or one from the top-k file), bytes exact per variant."""
    check_world(world, model)
    e, k = model.num_experts, model.top_k
    layers: list[tuple[TopkIds, str]] = []
    if routing.topk_ids is not None:
        ids = load_topk_ids(routing.topk_ids, None, e)
        if len(ids) != world:
            raise MoecommError(
                f"{routing.topk_ids}: topk_ids must have one list per rank (the world size, "
                f"{world}); got {len(ids)}"
            )
        layers.append((ids, routing.text()))
    else:
        s = routing.exponent()
        for t in tokens:
            layers.append((zipf_ids(e, k, world, t, s, routing.seed), routing.text(t)))
    rc = build(RoutingConfig, {"dedup": dedup, "count": "logical"})
    return [_run(ids, text, model, variants, rc, world, save_max) for ids, text in layers]


def _run(
    ids: TopkIds,
    text: str,
    model: MoEModel,
    variants: list[Variant],
    rc: RoutingConfig,
    world: int,
    save_max: int,
) -> MoeRun:
    data = Data(topk_ids=ids)
    send: dict[str, Matrix] = {}
    copies: Matrix | None = None
    for v in variants:
        r = data_traffic(
            data,
            ep=world,
            num_experts=model.num_experts,
            wire=v.wire,
            rc=rc,
            scenario=text,
            top_k=model.top_k,
        )
        m = r.matrix_bytes if v.phase == "dispatch" else r.combine_matrix_bytes
        send[v.name] = [[int(x) for x in row] for row in m]
        if copies is None:
            copies = [[int(x) // r.dispatch_copy_bytes for x in row] for row in r.matrix_bytes]
    assert copies is not None
    per_rank = [len(t) for t in ids]
    tokens = data.tokens()
    return MoeRun(
        tokens=tokens,
        tokens_per_rank=per_rank,
        routing=text,
        copies=copies,
        expert_counts=data.expert_counts(model.num_experts),
        topk_ids=ids if max(per_rank) <= save_max else None,
        send_bytes=send,
    )


def digest(runs: list[MoeRun]) -> str:
    """A fingerprint of the runs' copies: every rank must have planned the same all-to-alls."""
    text = json.dumps([r.copies for r in runs], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """Everything one run needs, checked before torch is imported."""

    cfg: MeasureConfig
    launch: Launch
    argv: list[str]
    model: MoEModel | None = None
    variants: tuple[Variant, ...] = ()
    runs: tuple[MoeRun, ...] = ()
    routing: str = ""
