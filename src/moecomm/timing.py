"""Times of collectives on real hardware, evaluated from the formula layer's time model.

The time rules, on the links of ``hardware.Links``:

- ``alltoall_seconds(intra_bytes, inter_bytes, links, intra_peers=, inter_peers=)`` times an
  all-to-all from the busiest rank's max(send, recv) bytes on each link;
- ``collective(kind, nbytes, ranks, links)`` times one NCCL collective under nccl-tests'
  conventions, with algbw and busbw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from moecomm import formulas as F
from moecomm.config import check_ep_nodes
from moecomm.elementwise import SCALAR, Ops
from moecomm.errors import MoecommError
from moecomm.formulas import conventions
from moecomm.hardware import Links
from moecomm.results import convention_field, quantity
from moecomm.units import Exact

Kind = Literal["all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast"]
KINDS: tuple[Kind, ...] = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast")
Algorithm = Literal["ring", "flat", "2dh"]

_WIRE = {
    "all-reduce": ("allreduce_wire_bytes", "busbw_factor_allreduce", 2),
    "all-gather": ("allgather_wire_bytes", "busbw_factor_allgather", 1),
    "reduce-scatter": ("reducescatter_wire_bytes", "busbw_factor_allgather", 1),
    "broadcast": ("broadcast_wire_bytes", "busbw_factor_broadcast", 1),
    "all-to-all": ("alltoall_wire_bytes", "busbw_factor_alltoall", 1),
}
"""Wire-bytes formula, bus-bandwidth factor and ring passes (steps per rank) of each kind."""

BUFFER = {
    "all-reduce": "the buffer on each rank (input = output)",
    "all-gather": "the total output (each rank contributes bytes/ranks)",
    "reduce-scatter": "the total input (each rank keeps bytes/ranks)",
    "all-to-all": "each rank's send buffer (bytes/ranks to every rank, itself included)",
    "broadcast": "the buffer, from one root",
}
"""What --bytes counts for each kind, as nccl-tests' size column counts it."""


def placement(ranks: int, per_node: int) -> tuple[int, int]:
    """(g, N): ranks of a contiguous group on one node, and nodes it spans."""
    if ranks <= per_node:
        return ranks, 1
    if ranks % per_node:
        raise MoecommError(
            f"ranks must be at most, or a multiple of, the GPUs per node ({per_node}); got {ranks}"
        )
    return per_node, ranks // per_node


Evaluate = Callable[[str, Mapping[str, Any]], Any]
"""Evaluates a named formula: exactly (``F.value``), as floats, or over numpy arrays."""


def timed(ev: Evaluate, values: Mapping[str, Any], hw: Links) -> Any:
    """collective_seconds on ``values`` under the hardware's timing convention.

    back-to-back is collective_seconds itself; per-op adds the launch and synchronisation cost
    τ_op (per_op_seconds) that ``values`` carries from ``Links.values``.
    """
    seconds = ev("collective_seconds", values)
    if hw.timing == "per-op":
        return ev("per_op_seconds", {"t_comm": seconds, "tau_op": values["tau_op"]})
    return seconds


def link_time(
    x_up: Exact,
    x_out: Exact,
    m_up: int,
    m_out: int,
    hw: Links,
    *,
    kind: str,
    ranks: int,
    nodes: int = 1,
) -> float:
    """collective_seconds (per-op where chosen) for given bytes and messages on each link."""
    values = {
        **hw.values(kind, nodes, ranks=ranks),
        "x_up": x_up,
        "x_out": x_out,
        "m_up": m_up,
        "m_out": m_out,
    }
    return float(timed(F.value, values, hw))


def alltoall_seconds(
    intra_bytes: Exact,
    inter_bytes: Exact,
    hw: Links,
    *,
    intra_peers: int,
    inter_peers: int,
    per_peer_latency: bool = True,
) -> float:
    """Time of an all-to-all given the busiest rank's max(send, recv) bytes on each link.

    ``intra_peers`` ranks are reached over the scale-up link, ``inter_peers`` over the NIC; both
    links run at once and the slower sets the time (collective_seconds). With
    ``per_peer_latency`` (NCCL's all-to-all: one send/recv pair per peer) each peer costs one
    latency; without it (GPU-initiated kernels such as DeepEP, all messages in flight together)
    each link costs one latency. A fitted all-to-all (``Links.fits``) has one fixed latency.
    """
    if per_peer_latency:
        m_up, m_out = intra_peers, inter_peers
    else:
        m_up, m_out = min(intra_peers, 1), min(inter_peers, 1)
    nodes = 2 if inter_peers else 1
    ranks = intra_peers + inter_peers + 1
    return link_time(
        intra_bytes, inter_bytes, m_up, m_out, hw, kind="all-to-all", ranks=ranks, nodes=nodes
    )


def ring_time(
    ev: Evaluate,
    kind: Kind,
    nbytes: Any,
    ranks: Any,
    g: Any,
    nodes: Any,
    hw: Links,
    ops: Ops = SCALAR,
) -> Any:
    """The one ring rule: a ring collective of an nccl-tests-size buffer over ``ranks`` ranks,
    ``g`` of them on each of ``nodes`` nodes. Works on numbers or arrays, through ``ev``."""
    wire, _, passes = _WIRE[kind]
    parts = {"X": ev(wire, {"X": nbytes, "n": ranks}), "g": g, "N": nodes}
    steps = {"r_p": passes, "n": ranks, "N": nodes}
    values = {
        **hw.values(kind, nodes, ops, ranks),
        "x_up": ev("ring_intra_bytes", parts),
        "x_out": ev("ring_inter_bytes", parts),
        "m_up": ev("ring_messages_up", steps),
        "m_out": ev("ring_messages_out", steps),
    }
    return timed(ev, values, hw)


def link_bytes(
    kind: str, nbytes: Exact, ranks: int, g: int, nodes: int
) -> tuple[Exact, Exact, Exact, Exact]:
    """(x_up, x_out, m_up, m_out): one rank's bytes and messages on each link in one operation.

    ``nbytes`` is nccl-tests' size. Ring collectives follow ring_intra/inter_bytes and NCCL's
    ring steps; the flat all-to-all sends X/n to each peer (one message per peer); send-recv
    (sendrecv_perf: each rank sends its buffer to the next) crosses a NIC once the ranks span
    nodes.
    """
    if kind == "send-recv":
        return (nbytes, 0, 1, 0) if nodes == 1 else (0, nbytes, 0, 1)
    v: dict[str, Exact] = {"X": nbytes, "n": ranks, "g": g, "N": nodes}
    if kind == "all-to-all":
        x_up, x_out = F.value("alltoall_intra_bytes", v), F.value("alltoall_inter_bytes", v)
        return x_up, x_out, g - 1, ranks - g
    wire, _, passes = _WIRE[kind]
    parts = {"X": F.value(wire, {"X": nbytes, "n": ranks}), "g": g, "N": nodes}
    steps = {"r_p": passes, "n": ranks, "N": nodes}
    return (
        F.value("ring_intra_bytes", parts),
        F.value("ring_inter_bytes", parts),
        F.value("ring_messages_up", steps),
        F.value("ring_messages_out", steps),
    )


def ring_seconds(kind: Kind, nbytes: Exact, ranks: int, hw: Links, per_node: int) -> float:
    """Time of a ring collective of an nccl-tests-size buffer over ranks spread per_node a node."""
    g, nodes = placement(ranks, per_node)
    return float(ring_time(F.value, kind, nbytes, ranks, g, nodes, hw))


@dataclass(frozen=True)
class CollectiveResult:
    """Time, algbw and busbw of one collective under nccl-tests' conventions."""

    convention: str = convention_field()
    kind: str = quantity("collective", "text")
    algorithm: str = quantity("algorithm", "text")
    ranks: int = quantity("ranks n", "ranks")
    gpus_per_node: int = quantity("GPUs per node", "ranks")
    nodes: int = quantity("nodes", "count")
    bytes: int = quantity("size (nccl-tests)", "bytes")
    buffer: str = quantity("size counts", "text", show=False)
    wire_bytes_per_rank: Exact = quantity("bytes sent per rank", "bytes")
    intra_bytes_per_rank: Exact = quantity("scale-up bytes (busiest rank)", "bytes")
    inter_bytes_per_rank: Exact = quantity("scale-out bytes (busiest rank)", "bytes")
    seconds: float = quantity("time", "duration")
    algbw_bytes_per_second: float = quantity("algbw", "rate")
    busbw_bytes_per_second: float = quantity("busbw", "rate")
    busbw_factor: Exact = quantity("busbw factor", "ratio")
    hardware: str = quantity("hardware", "text", show=False)
    efficiency: float = quantity("efficiency", "ratio", show=False)


def collective(
    kind: Kind, nbytes: int, ranks: int, hw: Links, *, algorithm: Algorithm | None = None
) -> CollectiveResult:
    """One collective of ``nbytes`` (nccl-tests size) over ``ranks`` ranks on ``hw``."""
    if kind not in KINDS:
        raise MoecommError(f"collective must be one of {', '.join(KINDS)}; got {kind!r}")
    algo: Algorithm = algorithm or ("flat" if kind == "all-to-all" else "ring")
    if (kind == "all-to-all") != (algo in ("flat", "2dh")):
        allowed = "flat, 2dh" if kind == "all-to-all" else "ring"
        raise MoecommError(f"--algorithm for {kind} must be one of {allowed}; got {algo!r}")
    g, nodes = placement(ranks, hw.gpus_per_node)
    wire_name, factor_name, _ = _WIRE[kind]
    wire = F.value(wire_name, {"X": nbytes, "n": ranks})
    factor = F.value(factor_name, {"n": ranks})
    v: dict[str, Exact] = {"X": nbytes, "n": ranks, "g": g, "N": nodes}
    if algo == "ring":
        x_up, x_out, _, _ = link_bytes(kind, nbytes, ranks, g, nodes)
        seconds = ring_seconds(kind, nbytes, ranks, hw, hw.gpus_per_node)
    elif algo == "flat":
        x_up, x_out, _, _ = link_bytes(kind, nbytes, ranks, g, nodes)
        seconds = alltoall_seconds(x_up, x_out, hw, intra_peers=g - 1, inter_peers=ranks - g)
    else:
        x_up, x_out = F.value("alltoall_2dh_intra_bytes", v), F.value("alltoall_2dh_inter_bytes", v)
        hv = hw.values(kind, nodes, ranks=ranks)
        seconds = float(F.value("alltoall_2dh_seconds", {**hv, **v}))
        if hw.timing == "per-op":
            tau = hv["tau_op"]
            seconds = float(F.value("per_op_seconds", {"t_comm": Fraction(seconds), "tau_op": tau}))
    return CollectiveResult(
        convention=f"{conventions.COLLECTIVE_PER_RANK}; {conventions.LINK_TIME}",
        kind=kind,
        algorithm=algo,
        ranks=ranks,
        gpus_per_node=hw.gpus_per_node,
        nodes=nodes,
        bytes=nbytes,
        buffer=BUFFER[kind],
        wire_bytes_per_rank=wire,
        intra_bytes_per_rank=x_up,
        inter_bytes_per_rank=x_out,
        seconds=seconds,
        algbw_bytes_per_second=nbytes / seconds,
        busbw_bytes_per_second=float(nbytes * Fraction(factor)) / seconds,
        busbw_factor=factor,
        hardware=hw.name,
        efficiency=hw.efficiency,
    )


@dataclass(frozen=True)
class EPTimes:
    """Time of one MoE layer's dispatch and combine, from the per-rank bytes on each link."""

    ep_ranks_per_node: int = quantity("EP ranks per node (g)", "ranks")
    dispatch_intra_bytes_per_rank: Exact = quantity("dispatch bytes over scale-up", "bytes")
    dispatch_inter_bytes_per_rank: Exact = quantity("dispatch bytes over scale-out", "bytes")
    combine_intra_bytes_per_rank: Exact = quantity("combine bytes over scale-up", "bytes")
    combine_inter_bytes_per_rank: Exact = quantity("combine bytes over scale-out", "bytes")
    dispatch_seconds: float = quantity("dispatch time", "duration")
    combine_seconds: float = quantity("combine time", "duration")
    hardware: str = quantity("hardware", "text", show=False)
    efficiency: float = quantity("efficiency", "ratio", show=False)


def ep_ranks_per_node(ep: Any, per_node: int, stride: Any = 1, ops: Ops = SCALAR) -> Any:
    """EP ranks on one node when EP ranks sit ``stride`` apart (etp, Megatron order).

    Ints give an int; with ``ops`` = ``moecomm.vector.NUMPY``, arrays give an array.
    """
    return ops.maximum(1, ops.minimum(ep, per_node // stride))


EP_TIME = (
    "EP times: the busiest rank's max(send, recv) bytes on each link (scale-up, scale-out), copies "
    "a rank keeps left out; both links at once, one latency per link (GPU-initiated kernels such "
    "as DeepEP's, all messages in flight together; NCCL's all-to-all would pay one per peer)"
)
"""The convention of every EP dispatch/combine time, stated in captions."""


def ep_alltoall_seconds(
    intra_bytes: Exact, inter_bytes: Exact, hw: Links, *, ep: int, per_node: int
) -> float:
    """Time of one EP dispatch or combine from the busiest rank's max(send, recv) on each link.

    The one EP time rule, for balanced (``ep``) and routing-aware (``traffic``) byte counts alike:
    ``per_node`` EP ranks share a node, so ``per_node − 1`` peers are reached over the scale-up
    link and ``ep − per_node`` over the NIC; messages are all in flight at once, as DeepEP's
    kernels run, so each link in use costs one latency.
    """
    return float(ep_alltoall_time(F.value, intra_bytes, inter_bytes, hw, ep=ep, per_node=per_node))


def ep_alltoall_time(
    ev: Evaluate,
    intra_bytes: Any,
    inter_bytes: Any,
    hw: Links,
    *,
    ep: Any,
    per_node: Any,
    ops: Ops = SCALAR,
) -> Any:
    """ep_alltoall_seconds on numbers or arrays: one latency per link in use."""
    values = {
        **hw.values("all-to-all", ops.where(ep > per_node, 2, 1), ops, ep),
        "x_up": intra_bytes,
        "x_out": inter_bytes,
        "m_up": ops.minimum(per_node - 1, 1),
        "m_out": ops.minimum(ep - per_node, 1),
    }
    return timed(ev, values, hw)


def ep_link_times(
    tokens: Exact, topk: int, ep: int, copy_bytes: int, hw: Links, per_node: int
) -> tuple[Exact, Exact, float]:
    """(intra bytes, inter bytes, seconds) of one balanced EP all-to-all of tokens·k copies.

    Each copy is ``copy_bytes`` on the wire (``Wire``: dtype, fp8 scales, header).
    """
    check_ep_nodes(ep, per_node)
    v: dict[str, Exact] = {"b": tokens, "s": 1, "k": topk, "w": copy_bytes}
    v.update({"ep": ep, "g": per_node})
    intra, inter = F.value("ep_phase_intra_bytes", v), F.value("ep_phase_inter_bytes", v)
    return intra, inter, ep_alltoall_seconds(intra, inter, hw, ep=ep, per_node=per_node)


def ep_times(
    tokens: int, topk: int, ep: int, dispatch_copy_bytes: int, combine_copy_bytes: int, hw: Links
) -> EPTimes:
    """Dispatch and combine times of the balanced EP all-to-all (ranks fill nodes)."""
    g = ep_ranks_per_node(ep, hw.gpus_per_node)
    d_up, d_out, d_s = ep_link_times(tokens, topk, ep, dispatch_copy_bytes, hw, g)
    c_up, c_out, c_s = ep_link_times(tokens, topk, ep, combine_copy_bytes, hw, g)
    return EPTimes(g, d_up, d_out, c_up, c_out, d_s, c_s, hw.name, hw.efficiency)


@dataclass(frozen=True)
class TPTimes:
    """Time of one TP all-reduce of the layer output."""

    allreduce_seconds: float = quantity("all-reduce time (ring)", "duration")
    hardware: str = quantity("hardware", "text", show=False)
    efficiency: float = quantity("efficiency", "ratio", show=False)


def tp_times(buffer_bytes: int, tp: int, hw: Links) -> TPTimes:
    """Ring all-reduce of the [tokens, h] buffer over tp ranks filling nodes."""
    return TPTimes(
        ring_seconds("all-reduce", buffer_bytes, tp, hw, hw.gpus_per_node), hw.name, hw.efficiency
    )


@dataclass(frozen=True)
class CompareTimes:
    """EP and TP times at one group size M of the global-batch analysis."""

    dispatch_seconds: float = quantity("EP dispatch", "duration")
    combine_seconds: float = quantity("EP combine", "duration")
    allreduce_seconds: float = quantity("TP all-reduce", "duration")
    ep_faster: bool = quantity("EP faster", "flag")


def compare_times(
    tokens: int, hidden: int, topk: int, size: int, beta: int, hw: Links
) -> CompareTimes:
    """EP dispatch/combine of S/M tokens per GPU against the all-reduce of all S tokens."""
    g = ep_ranks_per_node(size, hw.gpus_per_node)
    copy = F.value("token_bytes", {"h": hidden, "beta": beta})
    assert isinstance(copy, int)
    _, _, a2a = ep_link_times(Fraction(tokens, size), topk, size, copy, hw, g)
    ar = ring_seconds("all-reduce", tokens * hidden * beta, size, hw, hw.gpus_per_node)
    if ar <= 0:  # one rank: nothing to all-reduce, nothing to compare
        return CompareTimes(a2a, a2a, ar, False)
    ratio = F.value("ep_tp_time_ratio", {"t_a2a": Fraction(a2a), "t_ar": Fraction(ar)})
    return CompareTimes(a2a, a2a, ar, ratio < 1)
