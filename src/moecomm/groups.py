"""Which ranks form each parallel group, in Megatron-Core's RankGenerator order.

Megatron-Core (``megatron/core/parallel_state.py``) lays ranks out in the order tp-cp-ep-dp-pp,
the first dimension varying fastest. Attention uses tp·cp·dp·pp (ep = 1); the expert side uses
etp·ep·edp·pp over the same world (cp = 1), "MoE parallel folding". A group of a dimension is the
set of ranks that differ only along that dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from moecomm.config import ParallelLayout
from moecomm.errors import MoecommError, field
from moecomm.results import convention_field, quantity

ORDER = ("tp", "cp", "ep", "dp", "pp")
"""Megatron-Core's default rank order, fastest-varying first."""

Groups = list[list[int]]


def orthogonal_groups(sizes: dict[str, int], along: set[str]) -> Groups:
    """Groups of ranks that vary along the ``along`` dimensions and agree on all others.

    Dimensions are taken in ORDER, the first varying fastest. Groups are listed in order of
    their fixed coordinates, and ranks inside a group in order of their varying coordinates,
    as Megatron-Core's generate_masked_orthogonal_rank_groups lists them.
    """
    dims = [d for d in ORDER if d in sizes]
    stride = {}
    acc = 1
    for d in dims:
        stride[d] = acc
        acc *= sizes[d]
    inner = [d for d in dims if d in along]
    outer = [d for d in dims if d not in along]

    def offsets(names: list[str]) -> list[int]:
        out = [0]
        for d in names:  # first name fastest
            out = [o + i * stride[d] for i in range(sizes[d]) for o in out]
        return out

    return [[base + off for off in offsets(inner)] for base in offsets(outer)]


@dataclass(frozen=True)
class GroupLayout:
    """Every group of one layout, attention side and expert side."""

    convention: str = convention_field()
    world: int = quantity("world", "ranks")
    tp: int = quantity("tp", "ranks")
    cp: int = quantity("cp", "ranks")
    dp: int = quantity("dp", "ranks")
    pp: int = quantity("pp", "ranks")
    ep: int = quantity("ep", "ranks")
    etp: int = quantity("etp", "ranks")
    edp: int = quantity("edp", "ranks")
    tp_groups: Groups = quantity("TP groups", "groups")
    cp_groups: Groups = quantity("CP groups", "groups")
    dp_groups: Groups = quantity("DP groups", "groups")
    pp_groups: Groups = quantity("PP groups", "groups")
    ep_groups: Groups = quantity("EP groups", "groups")
    etp_groups: Groups = quantity("ETP groups", "groups")
    edp_groups: Groups = quantity("EDP (expert data parallel) groups", "groups")


MAX_LISTED_RANKS = 1 << 16
"""Largest world whose groups are listed rank by rank (65,536 ranks: seven lists of them)."""


def layout_groups(layout: ParallelLayout) -> GroupLayout:
    """All groups of a layout, following Megatron-Core's default order tp-cp-ep-dp-pp."""
    if layout.world > MAX_LISTED_RANKS:
        raise MoecommError(
            f"{field('world')} must be at most {MAX_LISTED_RANKS} to list its groups; "
            f"got {layout.world}"
        )
    attn = {"tp": layout.tp, "cp": layout.cp, "ep": 1, "dp": layout.data_parallel, "pp": layout.pp}
    # The expert side reuses the same order with etp in tp's place and edp in dp's place.
    expert = {
        "tp": layout.expert_tp,
        "cp": 1,
        "ep": layout.ep,
        "dp": layout.expert_dp,
        "pp": layout.pp,
    }
    assert prod(attn.values()) == prod(expert.values()) == layout.world
    etp_note = "" if layout.etp is not None else " (etp defaults to tp, as in Megatron-Core)"
    return GroupLayout(
        convention=(
            "Megatron-Core order tp-cp-ep-dp-pp; attention tp·cp·dp·pp, experts etp·ep·edp·pp"
            + etp_note
        ),
        world=layout.world,
        tp=layout.tp,
        cp=layout.cp,
        dp=layout.data_parallel,
        pp=layout.pp,
        ep=layout.ep,
        etp=layout.expert_tp,
        edp=layout.expert_dp,
        tp_groups=orthogonal_groups(attn, {"tp"}),
        cp_groups=orthogonal_groups(attn, {"cp"}),
        dp_groups=orthogonal_groups(attn, {"dp"}),
        pp_groups=orthogonal_groups(attn, {"pp"}),
        ep_groups=orthogonal_groups(expert, {"ep"}),
        etp_groups=orthogonal_groups(expert, {"tp"}),
        edp_groups=orthogonal_groups(expert, {"dp"}),
    )
