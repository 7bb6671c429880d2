"""Expert-parallel all-to-all volume per rank: the per-rank analysis (b·s tokens on one rank).

The analysis is §4 ("MoE 通讯量分析", first analysis) of the MoE expert-parallelism note in
harleyszhang/llm_note (3-llm_infer/llm_parallel/MoE专家并行详解.md), which cites
zhuanlan.zhihu.com/p/13997146226 ("MoE 训练到底是开 TP 还是 EP？") for its EP volume analysis.
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import EP_PER_RANK
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import b, beta_c, beta_d, ep, h, k, s, w


@formula(unit="ratio", convention=EP_PER_RANK)
def ep_leave_fraction() -> sp.Expr:
    """Share of a rank's routed copies that go to another rank under balanced routing.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: experts spread evenly over the ep
    ranks of the group, so (ep−1)/ep of the b·s·k copies leave the rank.
    """
    return (ep - 1) / ep


@formula(unit="tokens", convention=EP_PER_RANK)
def ep_tokens_sent() -> sp.Expr:
    """Token copies each EP rank sends in dispatch (and receives back in combine).

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis (the note cites
    zhuanlan.zhihu.com/p/13997146226): [b, s, h] becomes [b·s·topk, h] after gating, and each rank
    sends b·s·topk·(ep−1)/ep of them.
    """
    return b * s * k * ep_leave_fraction()


@formula(unit="bytes", convention=EP_PER_RANK)
def ep_dispatch_bytes() -> sp.Expr:
    """Bytes each EP rank sends in the dispatch all-to-all.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: 2·b·s·h·topk·(ep−1)/ep in half
    precision; β_d bytes per element in general.
    """
    return ep_phase_bytes().xreplace({w: h * beta_d})


@formula(unit="bytes", convention=EP_PER_RANK)
def ep_combine_bytes() -> sp.Expr:
    """Bytes each EP rank sends in the combine all-to-all (the same rows, back).

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: dispatch and combine move the same
    amount; β_c bytes per element for the combine dtype.
    """
    return ep_phase_bytes().xreplace({w: h * beta_c})


@formula(unit="bytes", convention=EP_PER_RANK)
def ep_total_bytes() -> sp.Expr:
    """Bytes each EP rank sends in one MoE layer's dispatch plus combine.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: 4·b·s·h·topk·(ep−1)/ep in half
    precision.
    """
    return ep_dispatch_bytes() + ep_combine_bytes()


@formula(unit="bytes", convention=EP_PER_RANK + " (approximation)")
def ep_total_bytes_approx() -> sp.Expr:
    """Half-precision approximation 4·b·s·k·h of dispatch plus combine, ignoring (ep−1)/ep.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: "≈ 4·b·s·topk·h".
    """
    return 4 * b * s * k * h


@formula(unit="bytes", convention=EP_PER_RANK + "; w bytes per token copy")
def ep_phase_bytes() -> sp.Expr:
    """Bytes each EP rank sends in one phase (dispatch or combine) when a token copy is w bytes.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis (ep_tokens_sent copies per phase). w
    is the wire format of one copy: token_bytes (h·β), or fp8_token_bytes (h + 4·h/N_sb, DeepSeek-V3 §3.3, DeepEP)
    plus message_bytes' header in dispatch.
    """
    return ep_tokens_sent() * w
