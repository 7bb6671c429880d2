"""Exact evaluators printed from the formula expressions. Generated: do not edit.

Regenerate with ``python -m moecomm.formulas.codegen``; tests fail if this file drifts.
"""

import math  # noqa: F401
from fractions import Fraction


def _whole(x: Fraction | int) -> int:
    """An integral Fraction as an int; others are outside the domain."""
    if Fraction(x).denominator != 1:
        raise ValueError(f"expected an integer; got {x}")
    return int(x)


def _binomial(n: Fraction, r: Fraction) -> Fraction:
    """C(n, r) for integers, 0 outside 0 <= r <= n (as sympy.binomial for n >= 0)."""
    nn, rr = _whole(n), _whole(r)
    return Fraction(math.comb(nn, rr)) if 0 <= rr <= nn else Fraction(0)


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


def token_bytes(*, beta: Fraction, h: Fraction) -> Fraction:
    """Bytes of one token copy of h elements of β bytes each."""
    return beta*h


def fp8_token_bytes(*, N: Fraction, h: Fraction) -> Fraction:
    """Bytes of one FP8 token copy with one fp32 scale per N channels: h + 4·h/N."""
    return h + 4*h/N


def message_bytes(*, hdr: Fraction, w: Fraction) -> Fraction:
    """Bytes of one dispatched message: the token copy's w bytes plus a header."""
    return hdr + w


def lowlatency_dispatch_message_bytes(*, N: Fraction, h: Fraction, hdr: Fraction) -> Fraction:
    """Bytes of one DeepEP low-latency FP8 dispatch message (7408 B for h 7168, N 128, 16 B header)."""
    return h + hdr + 4*h/N


def unit_hit_probability(*, E: Fraction, R: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Probability that a token reaches a given unit (rank or node) under group-limited routing."""
    return k_g*(1 - _binomial(E*k_g/n_g - E/R, k)/_binomial(E*k_g/n_g, k))/n_g


def unit_hit_probability_multigroup(*, E: Fraction, R: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Probability that a token reaches a given unit holding n_g/R whole groups (group-limited)."""
    return 1 - sum((_binomial(n_g/R, j)*_binomial(n_g - n_g/R, -j + k_g)*_binomial(-E*j/n_g + E*k_g/n_g, k)/(_binomial(n_g, k_g)*_binomial(E*k_g/n_g, k)) for j in map(Fraction, range(_whole(0), _whole(n_g/R) + 1))), Fraction(0))


def expected_distinct_units(*, E: Fraction, R: Fraction, k: Fraction) -> Fraction:
    """Expected distinct units (ranks or nodes) one token reaches: R·(1 − C(E − E/R, k)/C(E, k))."""
    return R*(1 - _binomial(E - E/R, k)/_binomial(E, k))


def expected_distinct_other_units(*, E: Fraction, R: Fraction, k: Fraction) -> Fraction:
    """Expected distinct units one token reaches other than its own: (R−1)·(1 − C(E−E/R,k)/C(E,k))."""
    return (1 - _binomial(E - E/R, k)/_binomial(E, k))*(R - 1)


def expected_distinct_units_grouped(*, E: Fraction, R: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Expected distinct units one token reaches under group-limited routing: R·p."""
    return R*k_g*(1 - _binomial(E*k_g/n_g - E/R, k)/_binomial(E*k_g/n_g, k))/n_g


def expected_distinct_units_multigroup(*, E: Fraction, R: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Expected distinct units one token reaches when each unit holds n_g/R whole groups: R·p."""
    return R*(1 - sum((_binomial(n_g/R, j)*_binomial(n_g - n_g/R, -j + k_g)*_binomial(-E*j/n_g + E*k_g/n_g, k)/(_binomial(n_g, k_g)*_binomial(E*k_g/n_g, k)) for j in map(Fraction, range(_whole(0), _whole(n_g/R) + 1))), Fraction(0)))


def pair_copies(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Token copies one rank sends to one given rank, one per (token, expert), balanced routing."""
    return b*k*s/ep


def copies_sent(*, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends per phase, one per (token, chosen expert): b·s·k·(ep − 1 + λ)/ep."""
    return b*k*s*(ep + lam - 1)/ep


def copies_sent_intra_node(*, G: Fraction, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to ranks of its own node, one per (token, expert): (G − 1 + λ)·b·s·k/ep."""
    return b*k*s*(G + lam - 1)/ep


def copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to other nodes, one per (token, expert): (ep − G)·b·s·k/ep."""
    return b*k*s*(-G + ep)/ep


def rank_dedup_pair_copies(*, b: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to one given rank, one per (token, destination rank): b·s·p."""
    return b*p*s


def rank_dedup_copies_sent(*, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends per phase, one per (token, destination rank): (ep − 1 + λ)·b·s·p."""
    return b*p*s*(ep + lam - 1)


def rank_dedup_copies_sent_intra_node(*, G: Fraction, b: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies per (token, destination rank) one rank sends inside its node: (G − 1 + λ)·b·s·p."""
    return b*p*s*(G + lam - 1)


def rank_dedup_copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies per (token, destination rank) one rank sends to other nodes: (ep − G)·b·s·p."""
    return b*p*s*(-G + ep)


def node_dedup_pair_copies(*, b: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends over the network to one given node: b·s·p with R = ep/G nodes."""
    return b*p*s


def node_dedup_copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Network copies one rank sends, one per (token, destination node): (ep/G − 1 + λ)·b·s·p."""
    return b*p*s*(lam - 1 + ep/G)


def node_dedup_forward_pair_copies(*, G: Fraction, b: Fraction, ep: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """NVLink copies a forwarding rank sends to one other rank of its node: (ep/G)·b·s·p (p per rank)."""
    return b*ep*p*s/G


def node_dedup_copies_sent_intra_node(*, G: Fraction, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """NVLink copies one rank forwards per phase: (G − 1 + λ)·(ep/G)·b·s·p (p per rank)."""
    return b*ep*p*s*(G + lam - 1)/G


def expert_capacity(*, E: Fraction, F: Fraction, b: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Expert capacity per source rank: ceil(b·s·k·F/E) copies."""
    return Fraction(math.ceil(F*b*k*s/E))


def padded_pair_copies(*, C: Fraction, E: Fraction, ep: Fraction) -> Fraction:
    """Copies one rank sends to one given rank when every expert slot is padded full: C·E/ep."""
    return C*E/ep


def padded_copies_sent(*, C: Fraction, E: Fraction, ep: Fraction, lam: Fraction) -> Fraction:
    """Rows one rank sends per phase with padding: C·(E − E/ep) on the wire (+ C·E/ep if λ = 1)."""
    return C*E*(ep + lam - 1)/ep


def loaded_pair_copies(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank sends to one rank whose experts carry u times the mean load: u·b·s·k/ep."""
    return b*k*s*u/ep


def capped_pair_copies(*, C: Fraction, E: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank sends to one rank whose experts carry u times the mean load, capped at C."""
    return E*min(Fraction(C), Fraction(b*k*s*u/E))/ep


def dropped_pair_copies(*, C: Fraction, E: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank drops at one rank whose experts carry u times the mean load: beyond C."""
    return E*max(Fraction(0), Fraction(-C + b*k*s*u/E))/ep


def imbalance_other_load(*, X: Fraction, ep: Fraction) -> Fraction:
    """Load of each non-busiest rank relative to the mean when the busiest carries X times it."""
    return (-X + ep)/(ep - 1)


def imbalance_busiest_recv_copies(*, X: Fraction, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies the busiest rank receives per phase: X times the mean (ep − 1 + λ)·b·s·k/ep."""
    return X*b*k*s*(ep + lam - 1)/ep


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
