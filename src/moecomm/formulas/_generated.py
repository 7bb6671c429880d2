"""Exact evaluators printed from the formula expressions. Generated: do not edit.

Regenerate with ``python -m moecomm.formulas.codegen``; tests fail if this file drifts.
"""

import math  # noqa: F401
from fractions import Fraction


def ep_leave_fraction(*, ep: Fraction) -> Fraction:
    """Share of a rank's routed copies that go to another rank under balanced routing."""
    return (ep - 1)/ep


def ep_tokens_sent(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Token copies each EP rank sends in dispatch (and receives back in combine)."""
    return b*k*s*(ep - 1)/ep


def ep_dispatch_bytes(*, b: Fraction, beta_d: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in the dispatch all-to-all."""
    return b*beta_d*h*k*s*(ep - 1)/ep


def ep_combine_bytes(*, b: Fraction, beta_c: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in the combine all-to-all (the same rows, back)."""
    return b*beta_c*h*k*s*(ep - 1)/ep


def ep_total_bytes(*, b: Fraction, beta_c: Fraction, beta_d: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in one MoE layer's dispatch plus combine."""
    return b*beta_c*h*k*s*(ep - 1)/ep + b*beta_d*h*k*s*(ep - 1)/ep


def ep_total_bytes_approx(*, b: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """The seed's half-precision approximation of dispatch plus combine, ignoring (ep−1)/ep."""
    return 4*b*h*k*s


def tp_allreduce_bytes(*, b: Fraction, beta: Fraction, h: Fraction, s: Fraction, tp: Fraction) -> Fraction:
    """Bytes each rank sends in a ring all-reduce of the [b·s, h] layer output."""
    return 2*b*beta*h*s*(tp - 1)/tp


def tp_allreduce_bytes_bound(*, b: Fraction, beta: Fraction, h: Fraction, s: Fraction) -> Fraction:
    """The seed's bound on all-reduce bytes per rank, which does not shrink as tp grows."""
    return 2*b*beta*h*s


def scaling_ep_bytes(*, D: Fraction, K: Fraction, M: Fraction, S: Fraction, beta: Fraction) -> Fraction:
    """Bytes per GPU for EP dispatch plus combine when each of M GPUs holds S/M tokens."""
    return 2*D*K*S*beta*(M - 1)/M**2


def scaling_tp_bytes(*, D: Fraction, M: Fraction, S: Fraction, beta: Fraction) -> Fraction:
    """Bytes per GPU for the TP all-reduce when all M GPUs hold all S tokens."""
    return 2*D*S*beta*(M - 1)/M


def scaling_ratio(*, K: Fraction, M: Fraction) -> Fraction:
    """EP bytes over TP bytes per GPU: K/M, so EP moves less once M > K."""
    return K/M


def scaling_crossover_size(*, K: Fraction) -> Fraction:
    """Smallest integer M at which EP moves fewer bytes per GPU than TP."""
    return K + 1
