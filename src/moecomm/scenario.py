"""Routing-aware EP traffic per rank: wire formats, dedup, node split, capacity, imbalance, matrices.

Closed-form scenarios (balanced or uniform routing, an imbalance factor) evaluate the formulas in
``formulas/routing.py``; data scenarios (expert counts, top-k ids, EPLB) count exactly through
``routing``. Both end in the same ``TrafficResult``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from moecomm import formulas as F
from moecomm.config import RoutingConfig
from moecomm.dtypes import DType
from moecomm.errors import MoecommError
from moecomm.results import convention_field, quantity
from moecomm.routing import CopyMatrices, Matrix, scale, transpose, zeros
from moecomm.units import Exact, normalize

CONVENTION = "per rank, per MoE layer; dispatch sends tokens to experts, combine sends them back"


@dataclass(frozen=True)
class Wire:
    """Bytes per token copy in each phase, and the sizes they come from."""

    hidden: int
    dispatch_dtype: DType
    combine_dtype: DType
    scale_block: int | None
    header_bytes: int

    def _token(self, dtype: DType) -> int:
        if self.scale_block is not None and dtype is DType.FP8:
            v = F.value("fp8_token_bytes", {"h": self.hidden, "N_sb": self.scale_block})
        else:
            v = F.value("token_bytes", {"h": self.hidden, "beta": dtype.bytes})
        assert isinstance(v, int)
        return v

    @property
    def dispatch_copy_bytes(self) -> int:
        v = F.value(
            "message_bytes", {"w": self._token(self.dispatch_dtype), "hdr": self.header_bytes}
        )
        assert isinstance(v, int)
        return v

    @property
    def combine_copy_bytes(self) -> int:
        return self._token(self.combine_dtype)


def make_wire(
    hidden: int, dispatch: DType, combine: DType, scale_block: int | None, header_bytes: int
) -> Wire:
    if scale_block is not None:
        if DType.FP8 not in (dispatch, combine):
            raise MoecommError(
                f"--scale-block applies to fp8 only; got --dispatch-dtype {dispatch.value} "
                f"and --combine-dtype {combine.value}"
            )
        if hidden % scale_block:
            raise MoecommError(
                f"--scale-block must divide the hidden size ({hidden}); got {scale_block}"
            )
    return Wire(hidden, dispatch, combine, scale_block, header_bytes)


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
