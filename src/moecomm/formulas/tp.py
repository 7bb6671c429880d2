"""Tensor-parallel all-reduce volume per rank."""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import TP_PER_RANK
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import b, beta, h, s, tp


@formula(unit="bytes", convention=TP_PER_RANK)
def tp_allreduce_bytes() -> sp.Expr:
    """Bytes each rank sends in a ring all-reduce of the [b·s, h] layer output.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md: ring all-reduce moves 2(n−1)/n of the buffer
    per rank (its bus-bandwidth factor).
    """
    return 2 * b * s * h * beta * (tp - 1) / tp


@formula(unit="bytes", convention=TP_PER_RANK + " (upper bound)")
def tp_allreduce_bytes_bound() -> sp.Expr:
    """A bound 2·b·s·h·β on all-reduce bytes per rank, which does not shrink as tp grows.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, global-batch analysis: each GPU sends 2·S·D elements per
    MoE layer under TP.
    """
    return 2 * b * s * h * beta
