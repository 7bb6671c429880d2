"""EPLB-style placement: replicate the hottest experts, then pack replicas so that ranks balance.

Written from deepseek-ai/EPLB's published description (README): with expert groups that divide
evenly over nodes, the hierarchical policy first packs groups onto nodes so nodes balance, then
replicates experts inside each node and packs the replicas onto that node's GPUs; otherwise the
global policy replicates over all experts and packs onto all GPUs. Each replica is assumed to
carry an equal share of its expert's load. Exact Fractions throughout.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from fractions import Fraction

from moecomm.errors import MoecommError
from moecomm.traffic.matrices import Placement


def replicate(loads: Sequence[Fraction], slots: int) -> list[int]:
    """Replica counts: one each, then each extra slot to the expert with the highest load/replica.

    Ties go to the lowest expert index. A heap makes it O(slots · log E).
    """
    counts = [1] * len(loads)
    heap = [(-Fraction(x), e) for e, x in enumerate(loads)]
    heapq.heapify(heap)
    for _ in range(slots - len(loads)):
        _, best = heapq.heappop(heap)
        counts[best] += 1
        heapq.heappush(heap, (-Fraction(loads[best]) / counts[best], best))
    return counts


def pack(weights: Sequence[Fraction], bins: int, per_bin: int) -> list[int]:
    """Balanced packing: heaviest item first, into the lightest bin that still has room.

    Ties go to the lowest item, then the lowest bin. A heap of open bins makes it
    O(items · log bins).
    """
    order = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    room = [per_bin] * bins
    heap: list[tuple[Fraction, int]] = [(Fraction(0), b) for b in range(bins)]
    where = [0] * len(weights)
    for i in order:
        load, b = heapq.heappop(heap)
        where[i] = b
        room[b] -= 1
        if room[b] > 0:
            heapq.heappush(heap, (load + weights[i], b))
    return where


def _place(
    experts: Sequence[int], loads: Sequence[Fraction], slots: int, ranks: Sequence[int]
) -> dict[int, list[int]]:
    """Replicate ``experts`` into ``slots`` and pack the replicas over ``ranks`` evenly."""
    counts = replicate([loads[e] for e in experts], slots)
    items = [(e, loads[e] / c) for e, c in zip(experts, counts, strict=True) for _ in range(c)]
    where = pack([wt for _, wt in items], len(ranks), slots // len(ranks))
    out: dict[int, list[int]] = {}
    for (e, _), b in zip(items, where, strict=True):
        out.setdefault(e, []).append(ranks[b])
    return out


def eplb(
    loads: Sequence[int],
    redundant: int,
    ep: int,
    *,
    gpus_per_node: int | None = None,
    n_group: int | None = None,
) -> Placement:
    """A placement of E experts plus ``redundant`` replicas over ``ep`` ranks, balancing load."""
    num_experts = len(loads)
    slots = num_experts + redundant
    if slots % ep:
        raise MoecommError(
            f"--ep must divide the routed plus redundant experts "
            f"({num_experts} + {redundant} = {slots}); got {ep}"
        )
    weights = [Fraction(x) for x in loads]
    g = gpus_per_node or ep
    nodes = ep // g
    placed: dict[int, list[int]] = {}
    if n_group is not None and nodes > 1 and n_group % nodes == 0 and num_experts % n_group == 0:
        size = num_experts // n_group
        groups = [list(range(i * size, (i + 1) * size)) for i in range(n_group)]
        node_of = pack(
            [sum((weights[e] for e in grp), Fraction(0)) for grp in groups], nodes, n_group // nodes
        )
        for node in range(nodes):
            members = [e for gi, grp in enumerate(groups) if node_of[gi] == node for e in grp]
            ranks = list(range(node * g, (node + 1) * g))
            placed.update(_place(members, weights, slots // nodes, ranks))
    else:
        placed = _place(list(range(num_experts)), weights, slots, list(range(ep)))
    return Placement(ep, tuple(tuple(sorted(placed[e])) for e in range(num_experts)))
