"""Routing-aware EP traffic per rank: wire formats, dedup, node split, capacity, imbalance, matrices.

Closed-form scenarios (balanced or uniform routing, an imbalance factor) evaluate the formulas in
``formulas/routing.py``; data scenarios (expert counts, top-k ids, EPLB) count exactly through
``routing``. Both end in the same ``TrafficResult``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from moecomm.config import RoutingConfig, check_ep_nodes
from moecomm.hardware import Links
from moecomm.results import convention_field, quantity
from moecomm.timing import ep_alltoall_seconds, ep_ranks_per_node
from moecomm.traffic.matrices import CopyMatrices, Matrix, scale, transpose, zeros
from moecomm.units import Exact, normalize
from moecomm.wire import Wire

CONVENTION = "per rank, per MoE layer; dispatch sends tokens to experts, combine sends them back"


@dataclass(frozen=True)
class RankTraffic:
    """Bytes one rank sends and receives in one MoE layer."""

    rank: int = quantity("rank", "ranks")
    send_bytes: Exact = quantity("dispatch send", "bytes")
    recv_bytes: Exact = quantity("dispatch recv", "bytes")
    combine_send_bytes: Exact = quantity("combine send", "bytes")
    combine_recv_bytes: Exact = quantity("combine recv", "bytes")


@dataclass(frozen=True)
class TrafficResult:
    """Routing-aware EP traffic for one MoE layer: means per rank, the busiest rank, matrices."""

    convention: str = convention_field()
    scenario: str = quantity("routing", "text")
    input_tokens_per_rank: Exact | None = quantity("tokens on this rank (b·s)", "tokens")
    ep: int = quantity("EP size", "ranks")
    gpus_per_node: int | None = quantity("GPUs per node", "ranks")
    dedup: str = quantity("dedup (one copy per …)", "text")
    count: str = quantity("count", "text")
    dispatch_dtype: str = quantity("dispatch dtype", "text")
    combine_dtype: str = quantity("combine dtype", "text")
    scale_block: int | None = quantity("fp8 scale block (channels)", "count")
    header_bytes: int = quantity("header per dispatched message", "bytes", show=False)
    n_group: int | None = quantity("expert groups (n_group)", "count")
    topk_group: int | None = quantity("groups per token (topk_group)", "count")
    dispatch_copy_bytes: int = quantity("bytes per dispatched copy", "bytes")
    combine_copy_bytes: int = quantity("bytes per combined copy", "bytes")
    expected_distinct_ranks_per_token: Exact | None = quantity(
        "expected distinct ranks per token", "ranks"
    )
    expected_distinct_nodes_per_token: Exact | None = quantity(
        "expected distinct nodes per token", "ranks"
    )
    dispatch_copies_per_rank: Exact = quantity("dispatch copies sent (mean)", "tokens")
    dispatch_bytes_per_rank: Exact = quantity("dispatch bytes (mean)", "bytes")
    combine_bytes_per_rank: Exact = quantity("combine bytes (mean)", "bytes")
    ep_bytes_per_rank: Exact = quantity("dispatch + combine bytes (mean)", "bytes")
    dispatch_intra_node_bytes_per_rank: Exact | None = quantity("dispatch intra-node", "bytes")
    dispatch_inter_node_bytes_per_rank: Exact | None = quantity("dispatch inter-node", "bytes")
    combine_intra_node_bytes_per_rank: Exact | None = quantity("combine intra-node", "bytes")
    combine_inter_node_bytes_per_rank: Exact | None = quantity("combine inter-node", "bytes")
    capacity_factor: Fraction | None = quantity("capacity factor", "ratio")
    pad: bool | None = quantity("padded to capacity", "flag")
    expert_capacity: int | None = quantity("expert capacity per source rank", "tokens")
    dropped_copies_per_rank: Exact | None = quantity("dropped copies (mean)", "tokens")
    busiest_rank: int = quantity("busiest rank (dispatch recv)", "ranks")
    busiest_rank_recv_bytes: Exact = quantity("busiest rank dispatch recv", "bytes")
    mean_rank_recv_bytes: Exact = quantity("mean dispatch recv", "bytes")
    busiest_rank_bytes: Exact = quantity("busiest max(send, recv)", "bytes")
    imbalance: Exact = quantity("imbalance (max/mean recv)", "ratio")
    redundant_experts: int | None = quantity("redundant experts (EPLB)", "count")
    busiest_rank_recv_bytes_before: Exact | None = quantity("busiest recv before EPLB", "bytes")
    imbalance_before: Exact | None = quantity("imbalance before EPLB", "ratio")
    dispatch_busiest_intra_node_bytes: Exact | None = quantity(
        "dispatch max(send, recv) on scale-up, busiest rank", "bytes"
    )
    dispatch_busiest_inter_node_bytes: Exact | None = quantity(
        "dispatch max(send, recv) on scale-out, busiest rank", "bytes"
    )
    combine_busiest_intra_node_bytes: Exact | None = quantity(
        "combine max(send, recv) on scale-up, busiest rank", "bytes"
    )
    combine_busiest_inter_node_bytes: Exact | None = quantity(
        "combine max(send, recv) on scale-out, busiest rank", "bytes"
    )
    dispatch_seconds: float | None = quantity("dispatch time", "duration")
    combine_seconds: float | None = quantity("combine time", "duration")
    dispatch_seconds_before: float | None = quantity("dispatch time before EPLB", "duration")
    combine_seconds_before: float | None = quantity("combine time before EPLB", "duration")
    hardware: str | None = quantity("hardware", "text", show=False)
    efficiency: float | None = quantity("efficiency", "ratio", show=False)
    per_rank: list[RankTraffic] = quantity("per rank", "text", show=False)
    matrix_bytes: Matrix = quantity("dispatch matrix", "text", show=False)
    combine_matrix_bytes: Matrix = quantity("combine matrix", "text", show=False)


@dataclass(frozen=True)
class Setting:
    """Everything a traffic result reports besides the matrices."""

    scenario: str
    ep: int
    wire: Wire
    routing: RoutingConfig
    n_group: int | None
    topk_group: int | None
    tokens: Exact | None = None
    distinct_ranks: Exact | None = None
    distinct_nodes: Exact | None = None
    expert_capacity: int | None = None
    redundant_experts: int | None = None
    before: CopyMatrices | None = None
    links: Links | None = None
    """With hardware, the result carries dispatch and combine times (``routing`` split by node)."""


def on_hardware(rc: RoutingConfig, ep: int, links: Links | None) -> RoutingConfig:
    """With hardware, bytes split by its nodes: min(ep, GPUs per node) EP ranks share one.

    The same placement as the balanced EP times (``timing.ep_ranks_per_node``); --gpus-per-node
    reaches here through the hardware's override.
    """
    if links is None:
        return rc
    g = ep_ranks_per_node(ep, links.gpus_per_node)
    check_ep_nodes(ep, g)
    return rc.model_copy(update={"gpus_per_node": g})


def link_busiest(m: Matrix) -> Exact:
    """Max over ranks of max(sent, received) on one link; copies a rank keeps cross no link."""
    n = len(m)
    sent = [sum((m[i][j] for j in range(n) if j != i), Fraction(0)) for i in range(n)]
    received = [sum((m[i][j] for i in range(n) if i != j), Fraction(0)) for j in range(n)]
    return normalize(max([Fraction(0), *sent, *received]))


@dataclass(frozen=True)
class LinkTimes:
    """The busiest rank's bytes on each link in dispatch and combine, and the times they take."""

    dispatch_intra: Exact
    dispatch_inter: Exact
    combine_intra: Exact
    combine_inter: Exact
    dispatch_seconds: float
    combine_seconds: float


def link_times(setting: Setting, mats: CopyMatrices) -> LinkTimes:
    """Dispatch and combine times of one scenario's copy matrices on ``setting.links``.

    Combine sends the transposed matrix, and max(sent, received) does not change under
    transposition, so both phases have the same busiest copies, priced at their own bytes.
    """
    links, g = setting.links, setting.routing.gpus_per_node
    assert links is not None and g is not None  # on_hardware sets the split with the links
    up, out = link_busiest(mats.intra), link_busiest(mats.inter)
    d, c = setting.wire.dispatch_copy_bytes, setting.wire.combine_copy_bytes
    d_up, d_out = normalize(Fraction(up) * d), normalize(Fraction(out) * d)
    c_up, c_out = normalize(Fraction(up) * c), normalize(Fraction(out) * c)
    return LinkTimes(
        d_up,
        d_out,
        c_up,
        c_out,
        ep_alltoall_seconds(d_up, d_out, links, ep=setting.ep, per_node=g),
        ep_alltoall_seconds(c_up, c_out, links, ep=setting.ep, per_node=g),
    )


def _mean(values: Sequence[Exact]) -> Exact:
    return normalize(Fraction(sum(values, 0)) / len(values))


def _row_sums(m: Matrix) -> list[Exact]:
    return [normalize(Fraction(sum(r, 0))) for r in m]


def _col_sums(m: Matrix) -> list[Exact]:
    return _row_sums(transpose(m))


def _busiest(recv: Sequence[Exact]) -> tuple[int, Exact, Exact, Exact]:
    top = max(range(len(recv)), key=lambda r: (recv[r], -r))
    mean = _mean(recv)
    ratio = normalize(Fraction(recv[top]) / Fraction(mean)) if mean else 1
    return top, recv[top], mean, ratio


def result(setting: Setting, mats: CopyMatrices) -> TrafficResult:
    """The typed result of one scenario from its dispatch copy matrices."""
    wire, rc = setting.wire, setting.routing
    d, c = wire.dispatch_copy_bytes, wire.combine_copy_bytes
    disp = scale(mats.total(), d)
    comb = scale(transpose(mats.total()), c)
    send, recv = _row_sums(disp), _col_sums(disp)
    csend, crecv = _row_sums(comb), _col_sums(comb)
    top, top_recv, mean_recv, ratio = _busiest(recv)
    split = rc.gpus_per_node is not None
    copies = _mean(_row_sums(mats.total()))

    def part(m: Matrix, per: int) -> Exact | None:
        return _mean(_row_sums(scale(m, per))) if split else None

    before_recv: Exact | None = None
    before_ratio: Exact | None = None
    if setting.before is not None:
        _, before_recv, _, before_ratio = _busiest(_col_sums(scale(setting.before.total(), d)))
    times = link_times(setting, mats) if setting.links is not None else None
    times_before = (
        link_times(setting, setting.before)
        if setting.links is not None and setting.before is not None
        else None
    )
    return TrafficResult(
        convention=f"{CONVENTION}; {_count_text(rc)}",
        scenario=setting.scenario,
        input_tokens_per_rank=setting.tokens,
        ep=setting.ep,
        gpus_per_node=rc.gpus_per_node,
        dedup=rc.dedup,
        count=rc.count,
        dispatch_dtype=wire.dispatch_dtype.value,
        combine_dtype=wire.combine_dtype.value,
        scale_block=wire.scale_block,
        header_bytes=wire.header_bytes,
        n_group=setting.n_group,
        topk_group=setting.topk_group,
        dispatch_copy_bytes=d,
        combine_copy_bytes=c,
        expected_distinct_ranks_per_token=setting.distinct_ranks,
        expected_distinct_nodes_per_token=setting.distinct_nodes,
        dispatch_copies_per_rank=copies,
        dispatch_bytes_per_rank=_mean(send),
        combine_bytes_per_rank=_mean(csend),
        ep_bytes_per_rank=normalize(Fraction(_mean(send)) + Fraction(_mean(csend))),
        dispatch_intra_node_bytes_per_rank=part(mats.intra, d),
        dispatch_inter_node_bytes_per_rank=part(mats.inter, d),
        combine_intra_node_bytes_per_rank=part(transpose(mats.intra), c),
        combine_inter_node_bytes_per_rank=part(transpose(mats.inter), c),
        capacity_factor=rc.capacity_factor,
        pad=rc.pad if rc.capacity_factor is not None else None,
        expert_capacity=setting.expert_capacity,
        dropped_copies_per_rank=_mean(mats.dropped) if rc.capacity_factor is not None else None,
        busiest_rank=top,
        busiest_rank_recv_bytes=top_recv,
        mean_rank_recv_bytes=mean_recv,
        busiest_rank_bytes=max(max(a, b) for a, b in zip(send, recv, strict=True)),
        imbalance=ratio,
        redundant_experts=setting.redundant_experts,
        busiest_rank_recv_bytes_before=before_recv,
        imbalance_before=before_ratio,
        dispatch_busiest_intra_node_bytes=None if times is None else times.dispatch_intra,
        dispatch_busiest_inter_node_bytes=None if times is None else times.dispatch_inter,
        combine_busiest_intra_node_bytes=None if times is None else times.combine_intra,
        combine_busiest_inter_node_bytes=None if times is None else times.combine_inter,
        dispatch_seconds=None if times is None else times.dispatch_seconds,
        combine_seconds=None if times is None else times.combine_seconds,
        dispatch_seconds_before=None if times_before is None else times_before.dispatch_seconds,
        combine_seconds_before=None if times_before is None else times_before.combine_seconds,
        hardware=None if setting.links is None else setting.links.name,
        efficiency=None if setting.links is None else setting.links.efficiency,
        per_rank=[RankTraffic(r, send[r], recv[r], csend[r], crecv[r]) for r in range(setting.ep)],
        matrix_bytes=disp,
        combine_matrix_bytes=comb,
    )


def _count_text(rc: RoutingConfig) -> str:
    what = {
        "copies": "one copy per (token, expert)",
        "rank": "one copy per (token, destination rank)",
        "node": "one network copy per (token, destination node), forwarded over NVLink",
    }[rc.dedup]
    own = (
        "traffic to the rank itself counted (logical)"
        if rc.count_self
        else "bytes that leave the rank (wire)"
    )
    return f"{what}; {own}"


def empty(ep: int) -> CopyMatrices:
    return CopyMatrices(zeros(ep), zeros(ep), [0] * ep)
