"""Bytes per rank of NCCL's collectives under nccl-tests' conventions, and their split over links.

X is the buffer nccl-tests prints in its size column; W is what one rank sends. Links: the
scale-up domain (NVLink, g ranks of the group on one node) and the scale-out NIC (N nodes).
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import COLLECTIVE_PER_RANK
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import N, X, b, beta, ep, g, h, k, n, s, w

_PERF = "NVIDIA/nccl-tests doc/PERFORMANCE.md"


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK)
def allreduce_wire_bytes() -> sp.Expr:
    """Bytes each rank sends in a ring all-reduce of an X-byte buffer.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: a ring all-reduce sends 2(n−1)/n of the buffer
    per rank (reduce-scatter, then all-gather).
    """
    return 2 * X * (n - 1) / n


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK)
def allgather_wire_bytes() -> sp.Expr:
    """Bytes each rank sends in a ring all-gather whose total output is X bytes.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: all-gather moves (n−1)/n of the total array;
    each rank contributes X/n and receives the other (n−1)·X/n.
    """
    return (n - 1) / n * X


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK)
def reducescatter_wire_bytes() -> sp.Expr:
    """Bytes each rank sends in a ring reduce-scatter whose total input is X bytes.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: reduce-scatter moves (n−1)/n of the total array.
    """
    return (n - 1) / n * X


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK)
def alltoall_wire_bytes() -> sp.Expr:
    """Bytes each rank sends to other ranks in an all-to-all of an X-byte send buffer.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: all-to-all busbw factor (n−1)/n; X/n goes to
    every rank, the own rank's share is a local copy.
    """
    return (n - 1) / n * X


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK)
def broadcast_wire_bytes() -> sp.Expr:
    """Bytes each rank receives (and forwards) in a pipelined ring broadcast of X bytes.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: broadcast busbw factor 1; every rank receives
    the whole buffer once.
    """
    return X


def _factor(wire: sp.Expr) -> sp.Expr:
    return sp.factor(sp.cancel(wire / X))


@formula(unit="ratio", convention=COLLECTIVE_PER_RANK)
def busbw_factor_allreduce() -> sp.Expr:
    """Bus-bandwidth factor of all-reduce: busbw = algbw · 2(n−1)/n.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md (all-reduce); allreduce_wire_bytes / X.
    """
    return _factor(allreduce_wire_bytes())


@formula(unit="ratio", convention=COLLECTIVE_PER_RANK)
def busbw_factor_allgather() -> sp.Expr:
    """Bus-bandwidth factor of all-gather and reduce-scatter: (n−1)/n.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md (all-gather, reduce-scatter); wire bytes / X.
    """
    return _factor(allgather_wire_bytes())


@formula(unit="ratio", convention=COLLECTIVE_PER_RANK)
def busbw_factor_alltoall() -> sp.Expr:
    """Bus-bandwidth factor of all-to-all: (n−1)/n.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md (alltoall); alltoall_wire_bytes / X.
    """
    return _factor(alltoall_wire_bytes())


@formula(unit="ratio", convention=COLLECTIVE_PER_RANK)
def busbw_factor_broadcast() -> sp.Expr:
    """Bus-bandwidth factor of broadcast: 1.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md (broadcast, reduce); broadcast_wire_bytes / X.
    """
    return _factor(broadcast_wire_bytes())


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; ring over N nodes of g ranks")
def ring_inter_bytes() -> sp.Expr:
    """Bytes of a ring collective that cross one rank's NIC, given W = its wire bytes (as X).

    Source: NCCL rings enter and leave each node once; with g rings in parallel, one per NIC
    (rail-aligned, as NCCL builds them on DGX nodes), each NIC carries W/g. A single node
    (N = 1) uses no NIC: the factor min(1, N−1) is 0 there.
    """
    return sp.Min(1, N - 1) * X / g


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; ring over N nodes of g ranks")
def ring_intra_bytes() -> sp.Expr:
    """Bytes of a ring collective over one rank's scale-up link, given W = its wire bytes (as X).

    Source: the rest of the ring's W: W − ring_inter_bytes, i.e. W·(g−1)/g across nodes and W on
    one node.
    """
    return X - ring_inter_bytes()


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; flat all-to-all, g ranks per node")
def alltoall_intra_bytes() -> sp.Expr:
    """Bytes of a balanced all-to-all that one rank sends to the g−1 other ranks on its node.

    Source: X/n goes to each of the n ranks (nccl-tests alltoall); g−1 of them share the node
    (the balanced split of the issue's time model).
    """
    return X * (g - 1) / n


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; flat all-to-all, g ranks per node")
def alltoall_inter_bytes() -> sp.Expr:
    """Bytes of a balanced all-to-all that one rank sends to the n−g ranks on other nodes.

    Source: X/n to each of the n−g ranks off the node; alltoall_intra_bytes + this =
    alltoall_wire_bytes.
    """
    return X * (n - g) / n


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; Tutel 2DH all-to-all, phase 1")
def alltoall_2dh_intra_bytes() -> sp.Expr:
    """Bytes one rank sends over the scale-up link in the intra-node phase of a 2D all-to-all.

    Source: Tutel (Hwang et al., arXiv 2206.03382) §3.3, 2DH all-to-all: ranks of a node first
    exchange so that each holds everything bound for its own local index on every node: (g−1)/g
    of the buffer moves over NVLink.
    """
    return X * (g - 1) / g


@formula(unit="bytes", convention=COLLECTIVE_PER_RANK + "; Tutel 2DH all-to-all, phase 2")
def alltoall_2dh_inter_bytes() -> sp.Expr:
    """Bytes one rank sends over its NIC in the inter-node phase of a 2D all-to-all.

    Source: Tutel arXiv 2206.03382 §3.3: ranks with the same local index exchange across the N
    nodes in N−1 messages of X/N bytes each (g times larger than the flat all-to-all's X/n).
    """
    return X * (N - 1) / N


_EP = COLLECTIVE_PER_RANK + "; EP all-to-all, balanced routing"


@formula(unit="bytes", convention=_EP + "; w bytes per token copy")
def ep_phase_intra_bytes() -> sp.Expr:
    """EP bytes one rank sends to the other EP ranks on its node in one phase, w bytes a copy.

    Source: the b·s·k token copies of the per-rank analysis (harleyszhang/llm_note, MoE expert-parallelism note §4) spread
    evenly over the ep ranks, g of them on the own node: alltoall_intra_bytes with X = b·s·k·w and n = ep. w is the wire format
    of one copy (token_bytes, fp8_token_bytes, message_bytes).
    """
    return alltoall_intra_bytes().xreplace({X: b * s * k * w, n: ep})


@formula(unit="bytes", convention=_EP + "; w bytes per token copy")
def ep_phase_inter_bytes() -> sp.Expr:
    """EP bytes one rank sends to EP ranks on other nodes in one phase, w bytes a copy.

    Source: alltoall_inter_bytes with X = b·s·k·w and n = ep; ep_phase_intra_bytes + this =
    ep_phase_bytes.
    """
    return alltoall_inter_bytes().xreplace({X: b * s * k * w, n: ep})


@formula(unit="bytes", convention=_EP)
def ep_intra_bytes() -> sp.Expr:
    """EP bytes one rank sends to the other EP ranks on its node (dispatch, or combine, at β).

    Source: ep_phase_intra_bytes with copies of h·β bytes (token_bytes).
    """
    return ep_phase_intra_bytes().xreplace({w: h * beta})


@formula(unit="bytes", convention=_EP)
def ep_inter_bytes() -> sp.Expr:
    """EP bytes one rank sends to EP ranks on other nodes (dispatch, or combine, at β).

    Source: ep_phase_inter_bytes with copies of h·β bytes; ep_intra_bytes + this =
    ep_dispatch_bytes (β = β_d) or ep_combine_bytes (β = β_c).
    """
    return ep_phase_inter_bytes().xreplace({w: h * beta})
