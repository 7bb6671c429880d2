"""Time of a transfer and of a collective: latency plus bytes over a bandwidth that ramps with size.

The scale-up (NVLink) and scale-out (NIC) links run at the same time; the slower one sets the
time. Every number comes from the hardware preset (or an override) with its source. The law and
the evidence for it are in docs/time-model.md.
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.collectives import alltoall_2dh_inter_bytes, alltoall_2dh_intra_bytes
from moecomm.formulas.conventions import LINK_TIME
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    B,
    B_out,
    B_up,
    N,
    X,
    alpha,
    alpha_0,
    alpha_out,
    alpha_up,
    eta,
    g,
    m,
    m_out,
    m_up,
    nu,
    nu_out,
    nu_up,
    t,
    t_comm,
    tau_op,
    x,
    x_out,
    x_up,
)


@formula(unit="ratio", convention="achieved bandwidth / peak bandwidth B·η; x bytes on one link")
def bandwidth_ramp() -> sp.Expr:
    """Share of the peak bandwidth a transfer of x bytes reaches: from 1/2 at small x to 1.

    Source: NCCL's protocols (src/graph/tuning.cc; NVIDIA/nccl-tests #212, #149): LL moves
    8-byte stores with flags at about half the bandwidth, Simple reaches the full bandwidth
    only at large sizes; the share (x + ν)/(x + 2ν) blends the two with one ramp length ν
    (2/3 of the peak at x = ν). Chosen from the H100 measurements in benchmarks/results
    (docs/time-model.md); ν = 0 gives the plain Hockney law (share 1). Max(·, 1) keeps the
    share defined at x = ν = 0.
    """
    return sp.Max(x + nu, 1) / sp.Max(x + 2 * nu, 1)


@formula(unit="seconds", convention=LINK_TIME)
def link_seconds() -> sp.Expr:
    """Time to push x bytes in m sequential messages over one link.

    Source: the latency–bandwidth (Hockney) model, a latency per message plus bytes over
    bandwidth, as in NCCL's own tuning model (src/graph/tuning.cc: a latency per step plus
    bytes over bus bandwidth), with an efficiency η and the share of it that x bytes reach
    (bandwidth_ramp): m·α + x·(x + 2ν)/((x + ν)·B·η).
    """
    return m * alpha + x / (B * eta * bandwidth_ramp())


@formula(unit="seconds", convention=LINK_TIME)
def collective_seconds() -> sp.Expr:
    """Time of one collective: a fixed latency plus the slower of the scale-up and scale-out links.

    Source: NCCL tuning model (src/graph/tuning.cc: base latency per algorithm and protocol, plus
    per-step hardware latency, NVLink and network separately); the busiest rank's bytes on each
    link (nccl-tests: alltoallv is bound by max(send, recv)).
    """
    up = link_seconds().xreplace({m: m_up, alpha: alpha_up, x: x_up, B: B_up, nu: nu_up})
    out = link_seconds().xreplace({m: m_out, alpha: alpha_out, x: x_out, B: B_out, nu: nu_out})
    return alpha_0 + sp.Max(up, out)


@formula(unit="seconds", convention=LINK_TIME + "; per-op: one operation in place")
def per_op_seconds() -> sp.Expr:
    """Time of one operation in place (per-op), from its back-to-back time t_comm.

    Source: back-to-back is what nccl-tests reports (many operations queued, total time /
    iterations: launches overlap with the previous operation). An eager MoE layer runs one
    operation at a time after its inputs are ready, so each pays its launch and the ranks'
    synchronisation, τ_op; measured as median_s − batched_avg_s in benchmarks/results.
    """
    return t_comm + tau_op


@formula(unit="seconds", convention=LINK_TIME + "; Tutel 2DH all-to-all")
def alltoall_2dh_seconds() -> sp.Expr:
    """Time of a hierarchical 2D all-to-all: an intra-node phase, then an inter-node phase.

    Source: Tutel (arXiv 2206.03382) §3.3: the two phases run one after the other; the
    inter-node phase sends N−1 messages of X/N bytes instead of n−g messages of X/n, which wins
    when per-message latency dominates (small messages, many nodes) and loses on large ones
    (the intra-node phase moves (g−1)/g of the buffer over NVLink first).
    """
    up = link_seconds().xreplace(
        {m: g - 1, alpha: alpha_up, x: alltoall_2dh_intra_bytes(), B: B_up, nu: nu_up}
    )
    out = link_seconds().xreplace(
        {m: N - 1, alpha: alpha_out, x: alltoall_2dh_inter_bytes(), B: B_out, nu: nu_out}
    )
    return 2 * alpha_0 + up + out


@formula(unit="rate", convention="bytes/s; nccl-tests algbw = size / time")
def algbw() -> sp.Expr:
    """Algorithm bandwidth: the nccl-tests buffer size over the time.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: algbw = S / t.
    """
    return X / t
