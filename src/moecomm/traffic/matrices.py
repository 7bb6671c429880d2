"""Exact token-copy matrices from routing data (expert counts or top-k ids) and an expert placement.

Plain integer (or Fraction, for expectations) arithmetic: these are data, not closed forms. On
balanced inputs they agree with the formulas in ``formulas/routing.py`` (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from moecomm.errors import MoecommError, field
from moecomm.units import Exact, normalize

Dedup = Literal["copies", "rank", "node"]
DEDUP_MODES: tuple[Dedup, ...] = ("copies", "rank", "node")

Matrix = list[list[Exact]]


@dataclass(frozen=True)
class Placement:
    """Where each expert lives: ``replicas[e]`` lists the ranks holding a copy of expert e."""

    ep: int
    replicas: tuple[tuple[int, ...], ...]

    @property
    def num_experts(self) -> int:
        return len(self.replicas)

    @classmethod
    def contiguous(cls, num_experts: int, ep: int) -> Placement:
        """Expert e on rank e // (E/ep): the Megatron-Core and DeepSpeed default."""
        per = num_experts // ep
        return cls(ep, tuple((e // per,) for e in range(num_experts)))

    def slots_per_rank(self) -> list[int]:
        out = [0] * self.ep
        for ranks in self.replicas:
            for r in ranks:
                out[r] += 1
        return out


@dataclass(frozen=True)
class CopyMatrices:
    """Token copies rank i sends rank j in dispatch, split by link; combine is the transpose.

    ``intra`` holds copies inside a node (NVLink), ``inter`` copies between nodes (network). The
    diagonal is zero unless the rank's traffic to itself is counted (``--count logical``).
    """

    intra: Matrix
    inter: Matrix
    dropped: list[Exact]
    """Copies each source rank dropped at capacity (0 when dropless)."""

    @property
    def ep(self) -> int:
        return len(self.intra)

    def total(self) -> Matrix:
        """intra + inter, cell by cell (computed once: matrices are frozen)."""
        cached: Matrix | None = self.__dict__.get("_total")
        if cached is None:
            cached = [
                [_add(a, b) for a, b in zip(ri, rx, strict=True)]
                for ri, rx in zip(self.intra, self.inter, strict=True)
            ]
            object.__setattr__(self, "_total", cached)
        return cached


def _add(a: Exact, b: Exact) -> Exact:
    # Most cells of a split matrix are 0 on one link: skip the Fraction arithmetic then.
    if not b:
        return a
    if not a:
        return b
    return normalize(a + b)


MAX_MATRIX_RANKS = 512
"""Largest EP group whose ranks × ranks matrix is built: 262,144 exact cells, a few seconds.
EP 320 (DeepSeek-V3 decode) and NVL72-wide groups fit; the balanced closed forms (`moecomm ep`
without routing options) have no such limit."""


def zeros(n: int) -> Matrix:
    if n > MAX_MATRIX_RANKS:
        raise MoecommError(
            f"{field('ep')} must be at most {MAX_MATRIX_RANKS} for a ranks × ranks traffic matrix; "
            f"got {n}"
        )
    return [[0] * n for _ in range(n)]


def node_of(rank: int, gpus_per_node: int | None) -> int:
    return rank if gpus_per_node is None else rank // gpus_per_node


def pair_matrices(
    ep: int,
    gpus_per_node: int | None,
    pair: Callable[[int, int], Exact],
    count_self: bool,
) -> CopyMatrices:
    """Matrices from a per-pair copy count (rank i to rank j), classified by node."""
    intra, inter = zeros(ep), zeros(ep)
    for i in range(ep):
        for jj in range(ep):
            if i == jj and not count_self:
                continue
            same = node_of(i, gpus_per_node) == node_of(jj, gpus_per_node)
            (intra if same else inter)[i][jj] = pair(i, jj)
    return CopyMatrices(intra, inter, [0] * ep)


def split(count: int, parts: int, offset: int = 0) -> list[int]:
    """``count`` split into ``parts`` near-equal ints; the remainder goes to parts offset, offset+1…"""
    base, rem = divmod(count, parts)
    return [base + (1 if (p - offset) % parts < rem else 0) for p in range(parts)]


def from_counts(
    counts: Sequence[Sequence[int]],
    placement: Placement,
    *,
    gpus_per_node: int | None,
    count_self: bool,
    capacity: int | Sequence[int] | None = None,
    pad: bool = False,
) -> CopyMatrices:
    """Copies per (source rank, expert) → matrices, one copy per (token, expert).

    A count for an expert with n replicas is split into n near-equal parts, the remainder going
    to replicas starting at the source rank's index (so sources spread it). With a capacity (one
    for all sources, or one per source rank), each (source, expert) keeps at most that many
    copies; with ``pad`` it sends exactly that many.
    """
    ep = placement.ep
    intra, inter = zeros(ep), zeros(ep)
    dropped: list[Exact] = [0] * ep
    caps = [capacity] * len(counts) if capacity is None or isinstance(capacity, int) else capacity
    for src, row in enumerate(counts):
        cap = caps[src]
        for e, c in enumerate(row):
            kept = c
            if cap is not None:
                kept = min(c, cap)
                dropped[src] += c - kept
                if pad:
                    kept = cap
            ranks = placement.replicas[e]
            for dst, part in zip(ranks, split(kept, len(ranks), src % len(ranks)), strict=True):
                if dst == src and not count_self:
                    continue
                same = node_of(src, gpus_per_node) == node_of(dst, gpus_per_node)
                (intra if same else inter)[src][dst] += part
    return CopyMatrices(intra, inter, dropped)


def from_topk(
    topk_ids: Sequence[Sequence[Sequence[int]]],
    placement: Placement,
    *,
    dedup: Dedup,
    gpus_per_node: int | None,
    count_self: bool,
) -> CopyMatrices:
    """Exact copies from the router's chosen expert ids per token per source rank (-1 = masked).

    A selection of an expert with n replicas goes to its replicas in turn (per source rank).
    ``copies``: one copy per (token, expert). ``rank``: one per (token, destination rank).
    ``node``: one network copy per (token, destination node) to the rank with the source's local
    index there, which forwards one NVLink copy per (token, destination rank) of its node.
    """
    ep = placement.ep
    g = gpus_per_node if gpus_per_node is not None else ep
    intra, inter = zeros(ep), zeros(ep)

    def add(src: int, dst: int, n: int = 1, *, network: bool | None = None) -> None:
        if dst == src and not count_self:
            return
        if network is None:
            network = src // g != dst // g
        (inter if network else intra)[src][dst] += n

    for src, tokens in enumerate(topk_ids):
        turn = [0] * placement.num_experts
        for ids in tokens:
            dests: list[int] = []
            for e in ids:
                if e < 0:
                    continue
                ranks = placement.replicas[e]
                dests.append(ranks[turn[e] % len(ranks)])
                turn[e] += 1
            if dedup == "copies":
                for d in dests:
                    add(src, d)
            elif dedup == "rank":
                for d in set(dests):
                    add(src, d)
            else:
                local = src % g
                by_node: dict[int, set[int]] = {}
                for d in dests:
                    by_node.setdefault(d // g, set()).add(d)
                for node, ranks_hit in by_node.items():
                    fwd = node * g + local
                    add(src, fwd, network=True)
                    for d in ranks_hit:
                        add(fwd, d, network=False)
    return CopyMatrices(intra, inter, [0] * ep)


def scale(m: Matrix, factor: Exact) -> Matrix:
    """Every cell times ``factor``, exactly. Expectation matrices repeat a few values, so each
    distinct value is multiplied once."""
    done: dict[Exact, Exact] = {}

    def one(x: Exact) -> Exact:
        if isinstance(x, int) and isinstance(factor, int):
            return x * factor
        y = done.get(x)
        if y is None:
            y = done[x] = normalize(Fraction(x) * factor)
        return y

    return [[one(x) for x in row] for row in m]


def transpose(m: Matrix) -> Matrix:
    return [list(col) for col in zip(*m, strict=True)]


def check_ranks(placement: Placement, where: str) -> None:
    """Every replica on a rank inside the EP group, every expert somewhere."""
    for e, ranks in enumerate(placement.replicas):
        if not ranks:
            raise MoecommError(f"{where}: expert {e} has no rank")
        bad = [r for r in ranks if not 0 <= r < placement.ep]
        if bad:
            raise MoecommError(
                f"{where}: expert {e} is placed on rank {bad[0]}, outside 0..{placement.ep - 1}"
            )
