"""Routing-aware EP traffic: wire formats, distinct destinations, dedup modes, capacity, imbalance.

Counts are token copies per rank per MoE layer per phase; bytes = copies × bytes per copy
(``token_bytes`` / ``fp8_token_bytes`` plus ``message_bytes``'s header). ``lam`` is 1 when
traffic to the rank itself (or its own node) is counted (``--count logical``), 0 for wire bytes.
"""

from __future__ import annotations

import sympy as sp

from moecomm.formulas.conventions import ROUTED_PER_RANK, WIRE_PER_COPY
from moecomm.formulas.registry import formula
from moecomm.formulas.symbols import (
    C,
    E,
    G,
    N_sb,
    U,
    X_imb,
    b,
    beta,
    ep,
    f_cap,
    h,
    hdr,
    j,
    k,
    k_g,
    lam,
    n_g,
    p,
    s,
    u,
    w,
)

# ---- wire format -------------------------------------------------------------------------------


@formula(unit="bytes", convention=WIRE_PER_COPY)
def token_bytes() -> sp.Expr:
    """Bytes of one token copy of h elements of β bytes each.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4 (h elements per token row, 2 bytes in half precision).
    """
    return h * beta


@formula(unit="bytes", convention=WIRE_PER_COPY)
def fp8_token_bytes() -> sp.Expr:
    """Bytes of one FP8 token copy with one fp32 scale per N_sb channels: h + 4·h/N_sb.

    Source: DeepSeek-V3 tech report (arXiv 2412.19437) §3.3, fine-grained FP8 with 1×128 tiles;
    deepseek-ai/DeepEP tests: hidden + hidden / 128 * 4 bytes (7392 B for h = 7168).
    """
    return token_bytes().xreplace({beta: sp.Integer(1)}) + 4 * h / N_sb


@formula(unit="bytes", convention=WIRE_PER_COPY)
def message_bytes() -> sp.Expr:
    """Bytes of one dispatched message: the token copy's w bytes plus a header.

    Source: deepseek-ai/DeepEP tests/test_low_latency.py: hidden + hidden / 128 * 4 + 16 bytes per
    selection in low-latency dispatch (a 16-byte header per message).
    """
    return w + hdr


@formula(unit="bytes", convention=WIRE_PER_COPY)
def lowlatency_dispatch_message_bytes() -> sp.Expr:
    """Bytes of one DeepEP low-latency FP8 dispatch message (7408 B for h 7168, N_sb 128, 16 B header).

    Source: deepseek-ai/DeepEP tests/test_low_latency.py, num_fp8_bytes.
    """
    return message_bytes().xreplace({w: fp8_token_bytes()})


# ---- distinct destinations ---------------------------------------------------------------------


def _pool() -> sp.Expr:
    """Experts a token may choose from under group-limited routing: k_g groups of E/n_g."""
    return k_g * E / n_g


@formula(unit="ratio", convention="per token; units nested in expert groups (U a multiple of n_g)")
def unit_hit_probability() -> sp.Expr:
    """Probability that a token reaches a given unit (rank or node) under group-limited routing.

    Routing model: the token picks k_g of the n_g expert groups uniformly, then k distinct experts
    uniformly among the k_g·E/n_g experts of those groups. Experts are contiguous, E/U per unit,
    and every unit lies inside one group. The unit is reached when its group is picked and at
    least one of its E/U experts is chosen. Source: hypergeometric counting; the routing model
    follows DeepSeek-V3's node-limited routing (arXiv 2412.19437 §2.1.2, n_group / topk_group).
    """
    pool = _pool()
    return k_g / n_g * (1 - sp.binomial(pool - E / U, k) / sp.binomial(pool, k))


@formula(unit="ratio", convention="per token; each unit holds n_g/U whole expert groups")
def unit_hit_probability_multigroup() -> sp.Expr:
    """Probability that a token reaches a given unit holding n_g/U whole groups (group-limited).

    Same routing model as unit_hit_probability. If j of the unit's n_g/U groups are picked
    (hypergeometric), the unit is missed when all k experts come from the other
    k_g·E/n_g − j·E/n_g experts. Source: hypergeometric counting over the routing model.
    """
    g = n_g / U
    pool = _pool()
    term = (
        sp.binomial(g, j)
        * sp.binomial(n_g - g, k_g - j)
        / sp.binomial(n_g, k_g)
        * sp.binomial(pool - j * E / n_g, k)
        / sp.binomial(pool, k)
    )
    return 1 - sp.Sum(term, (j, 0, g))


@formula(unit="ranks or nodes", convention="per token; uniform top-k over E experts on U units")
def expected_distinct_units() -> sp.Expr:
    """Expected distinct units (ranks or nodes) one token reaches: U·(1 − C(E − E/U, k)/C(E, k)).

    Source: linearity of expectation over the U units, each missed when all k experts come from
    the other E − E/U (hypergeometric counting): 5.295 for E 256, k 8, U 8. It is
    unit_hit_probability without group limits (n_g = k_g = 1), times U.
    """
    return U * unit_hit_probability().xreplace({n_g: sp.Integer(1), k_g: sp.Integer(1)})


@formula(unit="ranks or nodes", convention="per token; uniform top-k over E experts on U units")
def expected_distinct_other_units() -> sp.Expr:
    """Expected distinct units one token reaches other than its own: (U−1)·(1 − C(E−E/U,k)/C(E,k)).

    Source: by symmetry each unit is reached with the same probability (expected_distinct_units
    over U), and the own unit is one of them.
    """
    return (U - 1) * expected_distinct_units() / U


@formula(
    unit="ranks or nodes", convention="per token; group-limited routing, units nested in groups"
)
def expected_distinct_units_grouped() -> sp.Expr:
    """Expected distinct units one token reaches under group-limited routing: U·p.

    Source: unit_hit_probability (routing model stated there), summed over the U units.
    """
    return U * unit_hit_probability()


@formula(
    unit="ranks or nodes",
    convention="per token; group-limited routing, n_g/U whole groups per unit",
)
def expected_distinct_units_multigroup() -> sp.Expr:
    """Expected distinct units one token reaches when each unit holds n_g/U whole groups: U·p.

    Source: unit_hit_probability_multigroup (routing model stated there), summed over U units.
    """
    return U * unit_hit_probability_multigroup()


# ---- balanced copies per rank, by dedup mode -----------------------------------------------------


@formula(unit="tokens", convention=ROUTED_PER_RANK)
def pair_copies() -> sp.Expr:
    """Token copies one rank sends to one given rank, one per (token, expert), balanced routing.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis: b·s·k copies spread evenly over the
    ep ranks.
    """
    return b * s * k / ep


@formula(unit="tokens", convention=ROUTED_PER_RANK)
def copies_sent() -> sp.Expr:
    """Copies one rank sends per phase, one per (token, chosen expert): b·s·k·(ep − 1 + λ)/ep.

    Source: harleyszhang/llm_note, MoE expert-parallelism note §4, per-rank analysis; with λ = 0 it is ep_tokens_sent. λ = 1 counts the copies a rank keeps,
    as DeepEP's low-latency GB/s do (tests/test_low_latency.py counts every selection).
    """
    return (ep - 1 + lam) * pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node")
def copies_sent_intra_node() -> sp.Expr:
    """Copies one rank sends to ranks of its own node, one per (token, expert): (G − 1 + λ)·b·s·k/ep.

    Source: pair_copies to each of the G − 1 other ranks of the node (plus itself when λ = 1).
    """
    return (G - 1 + lam) * pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node")
def copies_sent_inter_node() -> sp.Expr:
    """Copies one rank sends to other nodes, one per (token, expert): (ep − G)·b·s·k/ep.

    Source: pair_copies to each of the ep − G ranks on other nodes.
    """
    return (ep - G) * pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; uniform or group-limited routing")
def rank_dedup_pair_copies() -> sp.Expr:
    """Copies one rank sends to one given rank, one per (token, destination rank): b·s·p.

    Source: DeepEP intranode dispatch sends a token once to each rank holding a chosen expert;
    p = unit_hit_probability (or _multigroup) with U = ep.
    """
    return b * s * p


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; uniform or group-limited routing")
def rank_dedup_copies_sent() -> sp.Expr:
    """Copies one rank sends per phase, one per (token, destination rank): (ep − 1 + λ)·b·s·p.

    Source: DeepEP intranode convention (one copy per token and destination rank).
    """
    return (ep - 1 + lam) * rank_dedup_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node")
def rank_dedup_copies_sent_intra_node() -> sp.Expr:
    """Copies per (token, destination rank) one rank sends inside its node: (G − 1 + λ)·b·s·p.

    Source: rank_dedup_pair_copies to each other rank of the node.
    """
    return (G - 1 + lam) * rank_dedup_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node")
def rank_dedup_copies_sent_inter_node() -> sp.Expr:
    """Copies per (token, destination rank) one rank sends to other nodes: (ep − G)·b·s·p.

    Source: rank_dedup_pair_copies to each rank on another node.
    """
    return (ep - G) * rank_dedup_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node; network part")
def node_dedup_pair_copies() -> sp.Expr:
    """Copies one rank sends over the network to one given node: b·s·p with U = ep/G nodes.

    Source: DeepEP internode dispatch sends a token once per destination node (RDMA), to the
    GPU with the same local index, which forwards it over NVLink. p = unit_hit_probability (or
    _multigroup) with U = ep/G nodes.
    """
    return b * s * p


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node; network part")
def node_dedup_copies_sent_inter_node() -> sp.Expr:
    """Network copies one rank sends, one per (token, destination node): (ep/G − 1 + λ)·b·s·p.

    Source: DeepEP internode tests count num_rdma_token_sent, the own node included (λ = 1).
    """
    return (ep / G - 1 + lam) * node_dedup_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node; NVLink part")
def node_dedup_forward_pair_copies() -> sp.Expr:
    """NVLink copies a forwarding rank sends to one other rank of its node: (ep/G)·b·s·p (p per rank).

    Source: each of the ep/G source ranks with the forwarder's local index sends it b·s tokens;
    each token goes on to every chosen rank of the node (DeepEP internode NVLink forwarding).
    """
    return ep / G * rank_dedup_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; G GPUs per node; NVLink part")
def node_dedup_copies_sent_intra_node() -> sp.Expr:
    """NVLink copies one rank forwards per phase: (G − 1 + λ)·(ep/G)·b·s·p (p per rank).

    Source: DeepEP internode tests count recv_x (one row per token and destination rank, λ = 1).
    """
    return (G - 1 + lam) * node_dedup_forward_pair_copies()


# ---- capacity (Megatron-Core) ------------------------------------------------------------------


@formula(unit="tokens", convention="per expert, per source rank, per MoE layer")
def expert_capacity_exact() -> sp.Expr:
    """Expert capacity per source rank before rounding: b·s·k·f_cap/E copies, a rational.

    Source: Switch Transformers (arXiv 2101.03961) §2.2: expert capacity = (T/E)·f for T tokens
    and capacity factor f, k·f·T/E with top-k (GShard); here T = b·s tokens on the source rank.
    """
    return b * s * k * f_cap / E


@formula(unit="tokens", convention="per expert, per source rank, per MoE layer; exact arithmetic")
def expert_capacity() -> sp.Expr:
    """Expert capacity per source rank rounded up in exact arithmetic: ceil(b·s·k·f_cap/E).

    Source: Megatron-Core moe_utils.get_capacity, math.ceil((num_tokens / num_experts) *
    capacity_factor) with num_tokens = tokens·topk. Megatron evaluates it in IEEE doubles, which
    can land one slot above this exact ceiling (b·s·k/E = 100, f_cap = 1.1: 100·1.1 =
    110.00000000000001, so 111); moecomm's slot count C follows Megatron's doubles
    (traffic.expected.capacity) and reports this rational beside it.
    """
    return sp.ceiling(expert_capacity_exact())


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; capacity C, with padding")
def padded_pair_copies() -> sp.Expr:
    """Copies one rank sends to one given rank when every expert slot is padded full: C·E/ep.

    Source: Megatron-Core with pad_expert_input_to_capacity: each of the E/ep experts of the
    destination gets C rows, whatever the load (C ≤ b·s; above it Megatron drops nothing and
    the padded routing map holds all b·s tokens, so C = b·s here).
    """
    return C * E / ep


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; capacity C, with padding")
def padded_copies_sent() -> sp.Expr:
    """Rows one rank sends per phase with padding: C·(E − E/ep) on the wire (+ C·E/ep if λ = 1).

    Source: Megatron-Core token_dispatcher.py with moe_pad_expert_input_to_capacity: num_out_tokens
    = capacity · num_experts rows per rank, E/ep of them to its own experts.
    """
    return (ep - 1 + lam) * padded_pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; no capacity")
def loaded_pair_copies() -> sp.Expr:
    """Copies one rank sends to one rank whose experts carry u times the mean load: u·b·s·k/ep.

    Source: pair_copies scaled by the destination's load (u = 1 is balanced routing).
    """
    return u * pair_copies()


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; capacity C, no padding")
def capped_pair_copies() -> sp.Expr:
    """Copies one rank sends to one rank whose experts carry u times the mean load, capped at C.

    Source: Megatron-Core token dropping: each expert keeps at most C copies per source rank;
    the mean load per expert is b·s·k/E. Megatron drops only when C ≤ b·s
    (moe_utils.apply_router_token_dropping: if expert_capacity > num_tokens, nothing is masked).
    """
    return E / ep * sp.Min(u * b * s * k / E, C)


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; capacity C")
def dropped_pair_copies() -> sp.Expr:
    """Copies one rank drops at one rank whose experts carry u times the mean load: beyond C.

    Source: Switch Transformers §2.2: tokens beyond capacity are dropped (residual pass-through).
    """
    return E / ep * sp.Max(0, u * b * s * k / E - C)


# ---- imbalance ---------------------------------------------------------------------------------


@formula(unit="ratio", convention="per rank; one busiest rank, the others share the rest")
def imbalance_other_load() -> sp.Expr:
    """Load of each non-busiest rank relative to the mean when the busiest carries X_imb times it.

    Source: the rows conserve b·s·k copies: X_imb + (ep − 1)·y = ep.
    """
    return (ep - X_imb) / (ep - 1)


@formula(unit="tokens", convention=ROUTED_PER_RANK + "; busiest rank at X_imb times the mean")
def imbalance_busiest_recv_copies() -> sp.Expr:
    """Copies the busiest rank receives per phase: X_imb times the mean (ep − 1 + λ)·b·s·k/ep.

    Source: definition of the imbalance factor max/mean (Tutel, arXiv 2206.03382, reports up
    to 4.38×).
    """
    return (ep - 1 + lam) * X_imb * pair_copies()
