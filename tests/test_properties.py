"""Properties of the traffic model that hold for every configuration (hypothesis)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from moecomm.config import CompareConfig, EPConfig, MoEModel, TPConfig, Workload
from moecomm.dtypes import DType
from moecomm.traffic.balanced import compare, ep_traffic, tp_traffic

dtypes = st.sampled_from(list(DType))


@st.composite
def ep_configs(draw: st.DrawFn, half: bool = False) -> EPConfig:
    ep = draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64]))
    experts = ep * draw(st.integers(1, 8))
    topk = draw(st.integers(1, experts))
    d = DType.BF16 if half else draw(dtypes)
    c = DType.BF16 if half else draw(dtypes)
    return EPConfig(
        model=MoEModel(hidden_size=draw(st.integers(1, 16384)), num_experts=experts, top_k=topk),
        workload=Workload(tokens=draw(st.integers(1, 1 << 16))),
        ep=ep,
        dispatch_dtype=d,
        combine_dtype=c,
    )


@given(ep_configs(half=True))
def test_exact_is_approx_times_leave_fraction_in_half_precision(cfg: EPConfig) -> None:
    r = ep_traffic(cfg)
    assert r.ep_bytes_per_rank == r.ep_bytes_per_rank_approx * Fraction(cfg.ep - 1, cfg.ep)


@given(ep_configs(), st.integers(1, 8))
def test_volume_grows_with_tokens(cfg: EPConfig, more: int) -> None:
    bigger = cfg.model_copy(
        update={"workload": Workload(tokens=cfg.workload.tokens_per_rank + more)}
    )
    a, b = ep_traffic(cfg), ep_traffic(bigger)
    if cfg.ep == 1:
        assert a.ep_bytes_per_rank == b.ep_bytes_per_rank == 0
    else:
        assert b.ep_bytes_per_rank > a.ep_bytes_per_rank
        assert b.tokens_per_rank > a.tokens_per_rank


@given(ep_configs())
def test_volume_grows_with_topk(cfg: EPConfig) -> None:
    if cfg.model.top_k == cfg.model.num_experts or cfg.ep == 1:
        return
    more = cfg.model_copy(
        update={"model": cfg.model.model_copy(update={"top_k": cfg.model.top_k + 1})}
    )
    assert ep_traffic(more).ep_bytes_per_rank > ep_traffic(cfg).ep_bytes_per_rank


@given(ep_configs())
def test_total_is_dispatch_plus_combine_and_expectation_flag(cfg: EPConfig) -> None:
    r = ep_traffic(cfg)
    assert r.ep_bytes_per_rank == r.dispatch_bytes_per_rank + r.combine_bytes_per_rank
    integral = all(
        isinstance(x, int)
        for x in (r.tokens_per_rank, r.dispatch_bytes_per_rank, r.combine_bytes_per_rank)
    )
    assert r.expectation is not integral
    # b·s·k·(ep−1) divisible by ep <=> the token count is integral.
    t = cfg.workload.tokens_per_rank * cfg.model.top_k * (cfg.ep - 1)
    assert isinstance(r.tokens_per_rank, int) is (t % cfg.ep == 0)


@given(
    st.integers(1, 1 << 20),
    st.integers(1, 16384),
    st.integers(1, 64),
    st.lists(st.integers(1, 4096), min_size=1, max_size=8),
    dtypes,
)
def test_compare_ratio_is_k_over_m(
    tokens: int, hidden: int, k: int, sizes: list[int], d: DType
) -> None:
    result = compare(
        CompareConfig(hidden_size=hidden, top_k=k, tokens=tokens, sizes=tuple(sizes), dtype=d)
    )
    assert result.crossover_size == k + 1
    for row in result.rows:
        if row.size == 1:  # nothing moves: no ratio
            assert row.ep_bytes_per_rank == row.tp_bytes_per_rank == 0
            assert row.ratio is None and row.ratio_exact is None
        else:
            assert row.ratio_exact is not None
            assert Fraction(row.ratio_exact) == Fraction(k, row.size)
            assert row.ratio == k / row.size
            assert Fraction(row.ep_bytes_per_rank) / Fraction(row.tp_bytes_per_rank) == Fraction(
                k, row.size
            )
        assert row.ep_moves_less is (row.size > k)


@given(st.integers(1, 1 << 16), st.integers(1, 16384), st.integers(1, 512), dtypes)
def test_tp_ring_never_exceeds_the_seed_bound(tokens: int, h: int, tp: int, d: DType) -> None:
    r = tp_traffic(TPConfig(hidden_size=h, workload=Workload(tokens=tokens), tp=tp, dtype=d))
    assert r.allreduce_bytes_per_rank <= r.allreduce_bytes_per_rank_bound
    assert r.allreduce_bytes_per_rank * tp == r.allreduce_bytes_per_rank_bound * (tp - 1)
