"""The global-batch analysis: EP against TP for one batch of S tokens on M GPUs.

§4 ("MoE 通讯量分析", second analysis) of the MoE expert-parallelism note in harleyszhang/llm_note,
which cites zhuanlan.zhihu.com/p/13997146226 ("MoE 训练到底是开 TP 还是 EP？"). Each expression is
derived from the per-rank analysis by substitution, not written out again.
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import SCALING_PER_GPU
from moecomm.formulas.ep import ep_total_bytes
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import D, K, M, S, b, beta, beta_c, beta_d, ep, h, k, s, tp
from moecomm.formulas.tp import tp_allreduce_bytes


@formula(unit="bytes", convention=SCALING_PER_GPU)
def scaling_ep_bytes() -> sp.Expr:
    """Bytes per GPU for EP dispatch plus combine when each of M GPUs holds S/M tokens.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, global-batch analysis (the note cites
    zhuanlan.zhihu.com/p/13997146226): K·S/M·D elements in dispatch and again in combine, of which
    (M−1)/M leave the GPU; ep_total_bytes with b·s = S/M, h = D, k = K, ep = M.
    """
    subs = {b: S / M, s: sp.Integer(1), h: D, k: K, ep: M, beta_d: beta, beta_c: beta}
    return ep_total_bytes().xreplace(subs)


@formula(unit="bytes", convention=SCALING_PER_GPU)
def scaling_tp_bytes() -> sp.Expr:
    """Bytes per GPU for the TP all-reduce when all M GPUs hold all S tokens.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, global-batch analysis (2·S·D per GPU, not shrinking
    with M), with the ring factor 2(M−1)/M of nccl-tests; tp_allreduce_bytes with b·s = S, h = D, tp = M.
    """
    return tp_allreduce_bytes().xreplace({b: S, s: sp.Integer(1), h: D, tp: M})


@formula(unit="ratio", convention=SCALING_PER_GPU)
def scaling_ratio() -> sp.Expr:
    """EP bytes over TP bytes per GPU for M ≥ 2: K/M, so EP moves less once M > K.

    At M = 1 neither moves a byte (0/0): the K/M of this expression compares nothing. Source: harleyszhang/llm_note, MoE expert-parallelism note §4, global-batch analysis: "when K/M ≪
    1, EP moves far less than TP".
    """
    return sp.cancel(scaling_ep_bytes() / scaling_tp_bytes())


@formula(unit="ranks", convention=SCALING_PER_GPU)
def scaling_crossover_size() -> sp.Expr:
    """Smallest integer M at which EP moves fewer bytes per GPU than TP.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, global-batch analysis: scaling_ratio = K/M < 1 exactly
    when M > K, so the smallest such integer M is K + 1.
    """
    (root,) = sp.solve(sp.Eq(scaling_ratio(), 1), M)
    return sp.floor(root) + 1
