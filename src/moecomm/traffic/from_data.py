"""Traffic from routing data: expert counts, top-k ids, sampled synthetic routing, EPLB placement.

Counts are exact integers from the data; nothing here is an expectation.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate

from moecomm import formulas as F
from moecomm.config import MAX_EXPERTS, RoutingConfig
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.hardware import Links
from moecomm.traffic.eplb import eplb
from moecomm.traffic.expected import Capacity, capacity
from moecomm.traffic.matrices import CopyMatrices, Placement, check_ranks, from_counts, from_topk
from moecomm.traffic.result import Setting, TrafficResult, on_hardware, result
from moecomm.units import Exact, exact_text
from moecomm.wire import Wire

Counts = list[list[int]]
TopkIds = list[list[list[int]]]


@dataclass(frozen=True)
class Data:
    """One layer's routing: per-source expert counts, or top-k ids (which also give counts)."""

    counts: Counts | None = None
    topk_ids: TopkIds | None = None

    def expert_counts(self, num_experts: int) -> Counts:
        if self.counts is not None:
            return self.counts
        assert self.topk_ids is not None
        out = []
        for tokens in self.topk_ids:
            row = [0] * num_experts
            for ids in tokens:
                for e in ids:
                    if e >= 0:
                        row[e] += 1
            out.append(row)
        return out

    def tokens(self) -> int | None:
        if self.topk_ids is None:
            return None
        sizes = {len(t) for t in self.topk_ids}
        return sizes.pop() if len(sizes) == 1 else None


MAX_MISSES = 64
"""Repeated experts a token's draw may hit before its next expert is drawn from those left."""

MAX_SAMPLED_TOKENS = 4_000_000
"""Most tokens (over all ranks) that zipf routing samples one by one in plain Python."""

MAX_SLOT_RANKS = 2**20
"""Most expert slots × EP ranks counted from routing data (DeepSeek-V3 decode: 288 × 320)."""

MAX_SAMPLED_WORK = 2**28
"""Most tokens · ep · experts of one sampled routing (a token may scan every expert once)."""

MAX_SAMPLED_DRAWS = 2**24
"""Most expert draws (tokens · ep · top-k) of one sampled routing: about ten seconds at worst."""


def zipf_ids(
    num_experts: int, top_k: int, ep: int, tokens: int, exponent: float, seed: int
) -> TopkIds:
    """Sampled routing: each token picks top_k distinct experts, expert e weighted (e+1)^−S.

    Sequential weighted draws without replacement from ``random.Random(seed)``.
    """
    if tokens * ep > MAX_SAMPLED_TOKENS:
        raise MoecommError(
            f"{f('tokens')} × {f('ep')} must be at most {MAX_SAMPLED_TOKENS} for sampled routing; "
            f"got {tokens * ep}"
        )
    if tokens * ep * num_experts > MAX_SAMPLED_WORK:
        raise MoecommError(
            f"{f('tokens')} × {f('ep')} × {f('num_experts')} must be at most {MAX_SAMPLED_WORK} for "
            f"sampled routing; got {tokens * ep * num_experts}: lower {f('tokens')}"
        )
    if tokens * ep * top_k > MAX_SAMPLED_DRAWS:
        raise MoecommError(
            f"{f('tokens')} × {f('ep')} × {f('top_k')} must be at most {MAX_SAMPLED_DRAWS} expert "
            f"draws for sampled routing; got {tokens * ep * top_k}: lower {f('tokens')}"
        )
    rng = random.Random(seed)
    weights = [(e + 1) ** -exponent for e in range(num_experts)]
    cum = list(accumulate(weights))
    population = range(num_experts)
    out: TopkIds = []
    for _ in range(ep):
        rank = []
        for _ in range(tokens):
            chosen: list[int] = []
            misses = 0
            while len(chosen) < top_k:
                if misses > MAX_MISSES:
                    # The experts left carry little weight: draw the rest from them at once
                    # (Efraimidis-Spirakis keys u^(1/w)), the same distribution as drawing with
                    # replacement until each new one comes.
                    taken = set(chosen)
                    keys = sorted(
                        (
                            (math.log(1.0 - rng.random()) / weights[e], e)
                            for e in population
                            if e not in taken
                        ),
                        reverse=True,
                    )
                    chosen += [e for _, e in keys[: top_k - len(chosen)]]
                    break
                for e in rng.choices(population, cum_weights=cum, k=top_k - len(chosen)):
                    if e not in chosen and len(chosen) < top_k:
                        chosen.append(e)
                    else:
                        misses += 1
            rank.append(chosen)
        out.append(rank)
    return out


def capacities(
    data: Data, rc: RoutingConfig, num_experts: int, top_k: int | None
) -> list[Capacity]:
    """Megatron-Core capacity per source rank (``expected.capacity``), from its own tokens.

    With top-k ids the tokens are counted; with expert counts, tokens·k is the row's sum.
    """
    if rc.capacity_factor is None:
        return []
    if top_k is None:
        raise MoecommError(
            f"{f('capacity_factor')} with routing data needs {f('top_k')} (or {f('preset')})"
        )
    if data.topk_ids is not None:
        tokens: list[Exact] = [len(rank) for rank in data.topk_ids]
    else:
        tokens = [Fraction(sum(row), top_k) for row in data.expert_counts(num_experts)]
    return [capacity(t, top_k, num_experts, rc.capacity_factor) for t in tokens]


def limits(caps: Sequence[Capacity], counts: Counts, pad: bool, top_k: int) -> list[int]:
    """Copies each (source rank, expert) keeps, or with ``pad`` sends: C where Megatron-Core
    drops (C ≤ T); above the tokens (C > T) every copy, padded to all T tokens."""
    out = []
    for src, (cap, row) in enumerate(zip(caps, counts, strict=True)):
        if cap.drops:
            out.append(cap.slots)
        elif not pad:
            out.append(max(row, default=0))  # keeps every copy
        elif isinstance(cap.tokens, int):
            out.append(cap.tokens)
        else:
            raise MoecommError(
                f"--pad with a capacity above the tokens pads each expert to the rank's tokens,"
                f" which must be whole: rank {src}'s expert counts sum to {sum(row)}, not a"
                f" multiple of the top-k ({top_k})"
            )
    return out


def matrices(
    data: Data,
    placement: Placement,
    rc: RoutingConfig,
    num_experts: int,
    top_k: int | None = None,
) -> CopyMatrices:
    if rc.dedup != "copies" and data.topk_ids is None:
        raise MoecommError(
            f"{f('dedup')} {rc.dedup} needs {f('topk_ids')}: expert counts do not say which selections "
            "share a token"
        )
    if data.topk_ids is not None and rc.dedup != "copies":
        return from_topk(
            data.topk_ids,
            placement,
            dedup=rc.dedup,
            gpus_per_node=rc.gpus_per_node,
            count_self=rc.count_self,
        )
    counts = data.expert_counts(num_experts)
    caps = capacities(data, rc, num_experts, top_k)
    kept = None
    if caps:
        assert top_k is not None  # capacities() refuses a capacity factor without it
        kept = limits(caps, counts, rc.pad, top_k)
    return from_counts(
        counts,
        placement,
        gpus_per_node=rc.gpus_per_node,
        count_self=rc.count_self,
        capacity=kept,
        pad=rc.pad,
    )


def data_traffic(
    data: Data,
    *,
    ep: int,
    num_experts: int,
    wire: Wire,
    rc: RoutingConfig,
    scenario: str,
    placement: Placement | None = None,
    redundant: int | None = None,
    top_k: int | None = None,
    links: Links | None = None,
) -> TrafficResult:
    """Exact traffic of one layer's routing data, optionally re-placed EPLB-style.

    With ``links``, bytes split by the hardware's nodes and the result carries times (before and
    after EPLB).
    """
    rc = on_hardware(rc, ep, links)
    g = rc.gpus_per_node
    if g is not None and ep % g:
        raise MoecommError(f"{f('gpus_per_node')} must divide {f('ep')} ({ep}); got {g}")
    if placement is None:
        if num_experts % ep:
            raise MoecommError(
                f"{f('ep')} must divide the number of routed experts ({num_experts}); got {ep}"
            )
        placement = Placement.contiguous(num_experts, ep)
    check_ranks(placement, "placement")
    before: CopyMatrices | None = None
    slots = num_experts + (redundant or 0)
    if slots * ep > MAX_SLOT_RANKS:
        raise MoecommError(
            f"expert slots × {f('ep')} must be at most {MAX_SLOT_RANKS} for routing data; got "
            f"{slots} × {ep}: lower {f('ep')} or {f('redundant_experts')}"
        )
    if redundant is not None:
        if num_experts + redundant > MAX_EXPERTS:
            raise MoecommError(
                f"routed plus {f('redundant_experts')} must be at most {MAX_EXPERTS} expert slots; "
                f"got {num_experts} + {redundant}"
            )
        before = matrices(data, placement, rc, num_experts, top_k)
        loads = [sum(col) for col in zip(*data.expert_counts(num_experts), strict=True)]
        placement = eplb(loads, redundant, ep, gpus_per_node=g, n_group=rc.n_group)
    mats = matrices(data, placement, rc, num_experts, top_k)
    caps = capacities(data, rc, num_experts, top_k)
    if caps:
        scenario = f"{scenario}; {_capacity_text(caps, rc.pad)}"
    setting = Setting(
        scenario=scenario,
        ep=ep,
        wire=wire,
        routing=rc,
        n_group=rc.n_group,
        topk_group=rc.topk_group,
        tokens=data.tokens(),
        redundant_experts=redundant,
        before=before,
        expert_capacity=max(c.slots for c in caps) if caps else None,
        links=links,
    )
    return result(setting, mats)


def _capacity_text(caps: Sequence[Capacity], pad: bool) -> str:
    """The capacity rule in words: one rank's, or the largest and where nothing is dropped."""
    if len(set(caps)) == 1:
        return caps[0].text(pad)
    top = max(caps, key=lambda c: c.slots)
    text = (
        f"capacity per source rank from its own tokens, as Megatron-Core rounds it: ceil((T·k/E)·F)"
        f" in doubles (largest C = {top.slots}; T·k·F/E = {exact_text(top.exact)} exactly)"
    )
    above = sum(not c.drops for c in caps)
    if above:
        text += (
            f"; on {above} of {len(caps)} ranks C > T, so nothing is dropped there"
            " (Megatron-Core drops only when C ≤ T)"
        )
    return text


def distinct_per_token(ids: Sequence[Sequence[int]], placement: Placement, unit: int) -> float:
    """Mean distinct destination units (ranks when unit = 1, nodes when unit = G) per token."""
    seen = [len({placement.replicas[e][0] // unit for e in t if e >= 0}) for t in ids]
    return sum(seen) / len(seen)


__all__ = ["Data", "F", "data_traffic", "zipf_ids"]
