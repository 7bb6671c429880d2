"""Rank groups against an independent transcription of Megatron-Core's RankGenerator."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moecomm.config import ParallelLayout
from moecomm.groups import layout_groups


def megatron_groups(world: int, sizes: list[int], mask: list[bool]) -> list[list[int]]:
    """generate_masked_orthogonal_rank_groups from megatron/core/parallel_state.py, restated.

    Dimensions in order tp-cp-ep-dp-pp, the first varying fastest; masked dimensions vary inside
    a group, unmasked ones pick the group.
    """

    def prefix_product(a: list[int]) -> list[int]:
        out = [1]
        for x in a:
            out.append(out[-1] * x)
        return out

    def decompose(index: int, shape: list[int]) -> list[int]:
        stride = prefix_product(shape)
        return [(index // stride[i]) % shape[i] for i in range(len(shape))]

    masked = [s for s, m in zip(sizes, mask, strict=True) if m]
    unmasked = [s for s, m in zip(sizes, mask, strict=True) if not m]
    stride = prefix_product(sizes)
    masked_stride = [d for d, m in zip(stride, mask, strict=False) if m]
    unmasked_stride = [d for d, m in zip(stride, mask, strict=False) if not m]
    group_size = prefix_product(masked)[-1]
    groups = []
    for g in range(world // group_size):
        gi = decompose(g, unmasked)
        groups.append(
            [
                sum(a * b for a, b in zip(decompose(r, masked), masked_stride, strict=True))
                + sum(a * b for a, b in zip(gi, unmasked_stride, strict=True))
                for r in range(group_size)
            ]
        )
    return groups


ORDER = ["tp", "cp", "ep", "dp", "pp"]


def reference(layout: ParallelLayout) -> dict[str, list[list[int]]]:
    w = layout.world
    attn = [layout.tp, layout.cp, 1, layout.data_parallel, layout.pp]
    expert = [layout.expert_tp, 1, layout.ep, layout.expert_dp, layout.pp]

    def mask(*names: str) -> list[bool]:
        return [n in names for n in ORDER]

    return {
        "tp_groups": megatron_groups(w, attn, mask("tp")),
        "cp_groups": megatron_groups(w, attn, mask("cp")),
        "dp_groups": megatron_groups(w, attn, mask("dp")),
        "pp_groups": megatron_groups(w, attn, mask("pp")),
        "ep_groups": megatron_groups(w, expert, mask("ep")),
        "etp_groups": megatron_groups(w, expert, mask("tp")),
        "edp_groups": megatron_groups(w, expert, mask("dp")),
    }


@st.composite
def layouts(draw: st.DrawFn) -> ParallelLayout:
    pow2 = st.sampled_from([1, 2, 4, 8])
    tp, cp, pp, etp, ep = draw(pow2), draw(pow2), draw(pow2), draw(pow2), draw(pow2)
    dp = draw(st.sampled_from([1, 2, 3, 4]))
    world = tp * cp * dp * pp
    if world % (etp * ep * pp):
        etp, ep = 1, 1
    return ParallelLayout(world=world, tp=tp, cp=cp, pp=pp, ep=ep, etp=etp)


@given(layouts())
def test_matches_megatron_rank_generator(layout: ParallelLayout) -> None:
    ours = layout_groups(layout)
    for key, groups in reference(layout).items():
        assert getattr(ours, key) == groups, key


@given(layouts())
def test_every_kind_partitions_the_world(layout: ParallelLayout) -> None:
    ours = layout_groups(layout)
    for key in ("tp", "cp", "dp", "pp", "ep", "etp", "edp"):
        groups = getattr(ours, f"{key}_groups")
        assert sorted(r for g in groups for r in g) == list(range(layout.world)), key
        assert len({len(g) for g in groups}) == 1


def test_seed_example_and_tp_shrinks_dp() -> None:
    g = layout_groups(ParallelLayout(world=8, ep=4))
    assert g.ep_groups == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert g.edp_groups == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert layout_groups(ParallelLayout(world=8, tp=2, ep=4)).dp == 4
    assert layout_groups(ParallelLayout(world=8, tp=4, ep=4, etp=1)).dp == 2


def test_known_megatron_layout() -> None:
    # world 16, tp 2, pp 2, ep 4: expert groups skip over the etp (= tp) neighbour.
    g = layout_groups(ParallelLayout(world=16, tp=2, pp=2, ep=4))
    assert g.pp_groups[:2] == [[0, 8], [1, 9]]
    assert g.ep_groups == [[0, 2, 4, 6], [1, 3, 5, 7], [8, 10, 12, 14], [9, 11, 13, 15]]
    assert g.edp_groups == [[i] for i in range(16)]
