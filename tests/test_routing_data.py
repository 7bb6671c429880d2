"""Data-driven accounting: DeepEP conventions and published table, agreement with the formulas,
matrix properties, dedup ordering, capacity, EPLB."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import formulas as F
from moecomm.config import EPConfig, MoEModel, RoutingConfig, Workload
from moecomm.dtypes import DType
from moecomm.traffic.eplb import eplb
from moecomm.traffic.expected import expected_traffic
from moecomm.traffic.from_data import Data, data_traffic
from moecomm.traffic.matrices import Placement, from_counts, from_topk
from moecomm.wire import make_wire

H = 7168
FP8_LL = make_wire(H, DType.FP8, DType.BF16, 128, 16)  # DeepEP low-latency: 7408 B / 14336 B
FP8 = make_wire(H, DType.FP8, DType.BF16, 128, 0)  # DeepEP normal kernels: 7392 B


def _uniform_ids(rng: random.Random, ep: int, tokens: int, e: int, k: int) -> list[list[list[int]]]:
    return [[rng.sample(range(e), k) for _ in range(tokens)] for _ in range(ep)]


# DeepEP README, low-latency kernels on H800 + CX7 (BRIEF.md): EP -> (dispatch µs, GB/s),
# (combine µs, GB/s). 128 tokens, h 7168, top-8, 256 experts... scaled as in DeepEP's test:
# num_experts = 288 // ep * ep is not needed for bytes; each rank masks 10 (token, slot) pairs.
DEEPEP_LL = {
    8: ((77, 98), (114, 127)),
    16: ((118, 63), (195, 74)),
    32: ((155, 48), (273, 53)),
    64: ((173, 43), (314, 46)),
    128: ((192, 39), (369, 39)),
    256: ((194, 39), (360, 40)),
}


@pytest.mark.parametrize("ep", sorted(DEEPEP_LL))
def test_deepep_low_latency_table(ep: int) -> None:
    """Bytes per rank ÷ latency reproduces every GB/s cell within ±1 (--count logical).

    The convention that does it: every unmasked (token, expert) selection counts once, traffic
    to the rank itself included: (1024 − 10) × 7408 B dispatch, (1024 − 10) × 14336 B combine.
    """
    rng = random.Random(ep)
    e = 256
    ids = _uniform_ids(rng, ep, 128, e, 8)
    for rank in ids:
        masked = rng.sample([(t, s) for t in range(128) for s in range(8)], 10)
        for t, s in masked:
            rank[t][s] = -1
    rc = RoutingConfig(count="logical")
    r = data_traffic(Data(topk_ids=ids), ep=ep, num_experts=e, wire=FP8_LL, rc=rc, scenario="t")
    (d_us, d_gbs), (c_us, c_gbs) = DEEPEP_LL[ep]
    for row in r.per_rank:
        assert row.send_bytes == 1014 * 7408
        assert row.combine_recv_bytes == 1014 * 14336
        assert abs(row.send_bytes / (d_us * 1e-6) / 1e9 - d_gbs) <= 1
        assert abs(row.combine_recv_bytes / (c_us * 1e-6) / 1e9 - c_gbs) <= 1


@pytest.mark.parametrize("tokens", [128, 4096])
def test_deepseek_v3_deepep_normal_conventions(tokens: int) -> None:
    """Intranode: one copy per (token, rank); internode: one per (token, node), own node included,
    then NVLink rows per (token, rank) received: counted independently here, to the byte."""
    rng = random.Random(tokens)
    e, k = 256, 8
    ep, g = (16, 8) if tokens == 128 else (32, 8)
    ids = _uniform_ids(rng, ep, tokens, e, k)
    per = e // ep
    place = Placement.contiguous(e, ep)
    logical = RoutingConfig(count="logical", dedup="rank")
    r = data_traffic(Data(topk_ids=ids), ep=ep, num_experts=e, wire=FP8, rc=logical, scenario="t")
    for src in range(ep):
        pairs = sum(len({x // per for x in t}) for t in ids[src])
        assert r.per_rank[src].send_bytes == pairs * 7392
    node = RoutingConfig(count="logical", dedup="node", gpus_per_node=g)
    m = from_topk(ids, place, dedup="node", gpus_per_node=g, count_self=True)
    rn = data_traffic(Data(topk_ids=ids), ep=ep, num_experts=e, wire=FP8, rc=node, scenario="t")
    for src in range(ep):
        rdma = sum(len({x // per // g for x in t}) for t in ids[src])
        assert sum(m.inter[src]) * 7392 == rdma * 7392
        nvl_recv = sum(1 for s in ids for t in s if src in {x // per for x in t})
        assert sum(row[src] for row in m.intra) == nvl_recv
    assert rn.dispatch_inter_node_bytes_per_rank == Fraction(
        sum(sum(len({x // per // g for x in t}) for t in s) for s in ids) * 7392, ep
    )


def _cfg(tokens: int, ep: int, e: int = 64, k: int = 6) -> EPConfig:
    return EPConfig(
        model=MoEModel(hidden_size=16, num_experts=e, top_k=k),
        workload=Workload(tokens=tokens),
        ep=ep,
    )


@pytest.mark.parametrize("count", ["wire", "logical"])
@pytest.mark.parametrize("g", [None, 2, 4])
def test_balanced_counts_equal_formulas(count: str, g: int | None) -> None:
    cfg = _cfg(tokens=64, ep=8)  # 64 tokens × 6 / 64 experts = 6 copies per expert
    rc = RoutingConfig(count=count, gpus_per_node=g)  # type: ignore[arg-type]
    closed = expected_traffic(cfg, rc)
    counts = [[6] * 64 for _ in range(8)]
    wire = make_wire(16, DType.BF16, DType.BF16, None, 0)
    data = data_traffic(Data(counts=counts), ep=8, num_experts=64, wire=wire, rc=rc, scenario="d")
    assert data.matrix_bytes == closed.matrix_bytes
    assert data.dispatch_bytes_per_rank == closed.dispatch_bytes_per_rank
    lam = 1 if count == "logical" else 0
    v = {"b": 64, "s": 1, "k": 6, "ep": 8, "lam": lam}
    assert closed.dispatch_copies_per_rank == F.value("copies_sent", v)
    if g is not None:
        intra = F.value("copies_sent_intra_node", {**v, "G": g})
        assert closed.dispatch_intra_node_bytes_per_rank == intra * 32


def test_capacity_balanced_counts_equal_formulas() -> None:
    cfg = _cfg(tokens=64, ep=8)
    for pad in (False, True):
        rc = RoutingConfig(capacity_factor=Fraction(1, 2), pad=pad)
        closed = expected_traffic(cfg, rc)
        assert closed.expert_capacity == 3
        place = Placement.contiguous(64, 8)
        m = from_counts(
            [[6] * 64] * 8, place, gpus_per_node=None, count_self=False, capacity=3, pad=pad
        )
        copies = [[x // 32 for x in row] for row in closed.matrix_bytes]  # 16 × bf16 per copy
        assert m.total() == copies
        assert closed.dropped_copies_per_rank == 64 * 3 == m.dropped[0]


def test_imbalance_factor() -> None:
    cfg = _cfg(tokens=64, ep=8)
    r = expected_traffic(cfg, RoutingConfig(imbalance=Fraction(3)))
    assert r.busiest_rank == 0
    assert r.imbalance == 3
    assert r.busiest_rank_recv_bytes == 3 * r.mean_rank_recv_bytes
    v = {"b": 64, "s": 1, "k": 6, "ep": 8, "lam": 0, "X_imb": 3}
    assert r.busiest_rank_recv_bytes == F.value("imbalance_busiest_recv_copies", v) * 32


def test_monte_carlo_dedup_copies_match_formulas() -> None:
    rng = random.Random(7)
    e, k, ep, g, t = 32, 4, 8, 4, 4000
    ids = _uniform_ids(rng, ep, t, e, k)
    place = Placement.contiguous(e, ep)
    p_rank = F.value("unit_hit_probability", {"E": e, "k": k, "U": ep, "n_g": 1, "k_g": 1})
    p_node = F.value("unit_hit_probability", {"E": e, "k": k, "U": ep // g, "n_g": 1, "k_g": 1})
    base = {"b": t, "s": 1, "ep": ep, "G": g, "lam": 0}
    rank = from_topk(ids, place, dedup="rank", gpus_per_node=g, count_self=False)
    node = from_topk(ids, place, dedup="node", gpus_per_node=g, count_self=False)
    mean = lambda m: sum(map(sum, m)) / ep  # noqa: E731
    want_rank = F.value("rank_dedup_copies_sent", {**base, "p": p_rank})
    want_rdma = F.value("node_dedup_copies_sent_inter_node", {**base, "p": p_node})
    want_nvl = F.value("node_dedup_copies_sent_intra_node", {**base, "p": p_rank})
    for got, want in (
        (mean(rank.total()), want_rank),
        (mean(node.inter), want_rdma),
        (mean(node.intra), want_nvl),
    ):
        assert abs(got - float(want)) < 0.02 * float(want)


counts_st = st.integers(2, 4).flatmap(
    lambda ep: st.lists(
        st.lists(st.integers(0, 30), min_size=ep * 2, max_size=ep * 2), min_size=ep, max_size=ep
    )
)


@settings(max_examples=40, deadline=None)
@given(counts=counts_st, logical=st.booleans())
def test_matrix_sums_are_send_and_recv(counts: list[list[int]], logical: bool) -> None:
    ep = len(counts)
    rc = RoutingConfig(count="logical" if logical else "wire", gpus_per_node=1)
    wire = make_wire(8, DType.BF16, DType.FP32, None, 3)
    r = data_traffic(Data(counts=counts), ep=ep, num_experts=2 * ep, wire=wire, rc=rc, scenario="d")
    for i, row in enumerate(r.per_rank):
        assert sum(r.matrix_bytes[i]) == row.send_bytes
        assert sum(m[i] for m in r.matrix_bytes) == row.recv_bytes
        assert sum(r.combine_matrix_bytes[i]) == row.combine_send_bytes
    assert r.busiest_rank_bytes == max(max(x.send_bytes, x.recv_bytes) for x in r.per_rank)


ids_st = st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(
    lambda ng: st.lists(
        st.lists(
            st.lists(st.integers(-1, 4 * ng[0] * ng[1] - 1), min_size=1, max_size=4),
            min_size=1,
            max_size=6,
        ),
        min_size=ng[0] * ng[1],
        max_size=ng[0] * ng[1],
    ).map(lambda ids: (ng[1], ids))
)


@settings(max_examples=60, deadline=None)
@given(data=ids_st, logical=st.booleans())
def test_copies_ge_rank_ge_node(data: tuple[int, list[list[list[int]]]], logical: bool) -> None:
    g, ids = data
    ep = len(ids)
    place = Placement.contiguous(4 * ep, ep)
    m = {
        d: from_topk(ids, place, dedup=d, gpus_per_node=g, count_self=logical)  # type: ignore[arg-type]
        for d in ("copies", "rank", "node")
    }
    net = {d: sum(map(sum, x.inter)) for d, x in m.items()}
    total = {d: sum(map(sum, x.total())) for d, x in m.items()}
    # Copies per (token, expert) ≥ per (token, rank) ≥ per (token, node).
    assert total["copies"] >= total["rank"] >= net["node"]
    if not logical:  # network bytes (logical node mode counts the own node as DeepEP does)
        assert net["copies"] >= net["rank"] >= net["node"]


@settings(max_examples=40, deadline=None)
@given(counts=counts_st, cap=st.integers(0, 40))
def test_padding_never_sends_less(counts: list[list[int]], cap: int) -> None:
    ep = len(counts)
    place = Placement.contiguous(2 * ep, ep)
    kw = {"gpus_per_node": None, "count_self": False}
    padded = from_counts(counts, place, capacity=cap, pad=True, **kw)  # type: ignore[arg-type]
    capped = from_counts(counts, place, capacity=cap, **kw)  # type: ignore[arg-type]
    dropless = from_counts(counts, place, **kw)  # type: ignore[arg-type]
    total = lambda m: sum(map(sum, m.total()))  # noqa: E731
    assert total(padded) >= total(capped)
    if cap >= max(map(max, counts)):
        assert total(padded) >= total(dropless) == total(capped)


def test_eplb_balances_hot_expert() -> None:
    loads = [100, 1, 1, 1, 1, 1, 1, 1]
    p = eplb(loads, 8, 4, gpus_per_node=2, n_group=2)
    assert len(p.replicas[0]) >= 4
    assert p.slots_per_rank() == [4, 4, 4, 4]
    counts = [[25, 1, 1, 1, 1, 1, 1, 1]] * 4
    wire = make_wire(8, DType.BF16, DType.BF16, None, 0)
    r = data_traffic(
        Data(counts=counts),
        ep=4,
        num_experts=8,
        wire=wire,
        rc=RoutingConfig(count="logical"),
        scenario="d",
        redundant=8,
    )
    assert r.imbalance_before is not None and r.imbalance < r.imbalance_before
