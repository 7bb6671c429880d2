"""Closed-form routing scenarios: balanced or uniform routing, node limits, capacity, imbalance.

Every per-pair copy count is a formula of ``formulas/routing.py``, evaluated exactly; the
matrices only arrange them by rank so that every scenario reports and exports the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from moecomm import formulas as F
from moecomm.config import EPConfig, RoutingConfig, check_groups
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.hardware import Links
from moecomm.traffic.matrices import CopyMatrices, pair_matrices, zeros
from moecomm.traffic.result import Setting, TrafficResult, on_hardware, result
from moecomm.units import Exact, exact_text, normalize
from moecomm.wire import make_wire


@dataclass(frozen=True)
class Capacity:
    """Expert capacity of one source rank, as Megatron-Core computes and applies it.

    ``slots`` is Megatron-Core's C: moe_utils.get_capacity(num_tokens=tokens·topk, num_experts,
    capacity_factor) = math.ceil((tokens·topk / num_experts) · capacity_factor) in IEEE doubles,
    as Python evaluates it (the factor read as a double, like Megatron's float argument). It can
    be one above the exact ceiling of ``exact`` = tokens·k·F/E (formula expert_capacity_exact):
    100·1.1 = 110.00000000000001 gives 111 slots. Megatron drops copies only when C ≤ tokens:
    moe_utils.apply_router_token_dropping masks nothing when expert_capacity > num_tokens, and
    with padding its routing map then holds every token for every expert.
    """

    slots: int
    exact: Exact
    tokens: Exact

    @property
    def drops(self) -> bool:
        """Whether Megatron-Core applies the capacity (C ≤ tokens on the rank)."""
        return self.slots <= self.tokens

    def text(self, pad: bool) -> str:
        """The rule in words, for the scenario line."""
        head = (
            f"capacity C = {self.slots} per expert and source rank, as Megatron-Core rounds it:"
            f" ceil((T·k/E)·F) in doubles (T·k·F/E = {exact_text(self.exact)} exactly)"
        )
        if self.drops:
            return head
        tail = "; padding fills each expert with all T tokens" if pad else ""
        return (
            f"{head}; C > T = {exact_text(self.tokens)} tokens on the rank, so nothing is dropped"
            f" (Megatron-Core drops only when C ≤ T){tail}"
        )


def capacity(tokens: Exact, top_k: int, num_experts: int, factor: Fraction) -> Capacity:
    """Megatron-Core's expert capacity for ``tokens`` on one source rank, with the exact rational.

    ``tokens·top_k`` must be an integer (it is Megatron's num_tokens·topk, a tensor size).
    """
    copies = Fraction(tokens) * top_k
    assert copies.denominator == 1, copies
    slots = math.ceil((copies.numerator / num_experts) * float(factor))
    v = {"b": tokens, "s": 1, "k": top_k, "f_cap": factor, "E": num_experts}
    return Capacity(slots, F.value("expert_capacity_exact", v), normalize(Fraction(tokens)))


def groups(cfg: EPConfig, rc: RoutingConfig) -> tuple[int | None, int | None]:
    """Group-limited routing: the flags, else the model preset's n_group / topk_group."""
    if rc.n_group is not None:
        return rc.n_group, rc.topk_group
    return cfg.model.n_group, cfg.model.topk_group


MAX_BINOMIAL_DIGITS = 48
"""Largest C(E, k), in decimal digits, whose exact expectations are evaluated. Every published
MoE is far below it (DeepSeek-V3's C(256, 8) has 15 digits, Qwen3-Next's C(512, 10) 21); beyond it the exact fractions
grow so long that one traffic matrix takes minutes."""


def check_binomial(num_experts: int, top_k: int) -> None:
    """Refuse, before any work, an expectation whose binomials are too long to evaluate fast."""
    digits = (
        math.lgamma(num_experts + 1) - math.lgamma(top_k + 1) - math.lgamma(num_experts - top_k + 1)
    ) / math.log(10)
    if digits > MAX_BINOMIAL_DIGITS:
        raise MoecommError(
            f"exact expectations need C({f('num_experts')}, {f('top_k')}) of at most "
            f"{MAX_BINOMIAL_DIGITS} digits; C({num_experts}, {top_k}) has {digits:.0f}: lower "
            f"{f('top_k')} or {f('num_experts')}, or give routing data"
        )


def hit_probability(
    num_experts: int, top_k: int, units: int, n_group: int | None, topk_group: int | None, what: str
) -> Exact:
    """Probability that a token reaches one given rank or node (exact)."""
    ng, kg = (n_group or 1), (topk_group or 1)
    v = {"E": num_experts, "k": top_k, "U": units, "n_g": ng, "k_g": kg}
    if units % ng == 0:
        return F.value("unit_hit_probability", v)
    if ng % units == 0:
        return F.value("unit_hit_probability_multigroup", v)
    raise MoecommError(
        f"group-limited expectation needs {what} nested in groups or whole groups per {what[:-1]}:"
        f" {f('n_group')} ({ng}) and the {what} ({units}) must divide one another"
    )


def distinct(
    num_experts: int, top_k: int, units: int, n_group: int | None, topk_group: int | None
) -> Exact | None:
    """Expected distinct units a token reaches, through the formula that fits the grouping.

    None when group-limited routing puts units across group boundaries (no closed form here).
    """
    if n_group is None or topk_group is None or n_group == 1:
        return F.value("expected_distinct_units", {"E": num_experts, "k": top_k, "U": units})
    v = {"E": num_experts, "k": top_k, "U": units, "n_g": n_group, "k_g": topk_group}
    if units % n_group == 0:
        return F.value("expected_distinct_units_grouped", v)
    if n_group % units == 0:
        return F.value("expected_distinct_units_multigroup", v)
    return None


def expected_traffic(cfg: EPConfig, rc: RoutingConfig, links: Links | None = None) -> TrafficResult:
    """Traffic under balanced (copies) or uniform top-k (rank, node) routing, exact expectation.

    With ``links``, bytes split by the hardware's nodes and the result carries times.
    """
    model = cfg.model
    e, k, ep = model.num_experts, model.top_k, cfg.ep
    rc = on_hardware(rc, ep, links)
    b, s = cfg.workload.b_s
    if cfg.redundant_experts:
        raise MoecommError(
            f"{f('redundant_experts')} needs routing data ({f('expert_counts')} or "
            f"{f('topk_ids')}) to place them"
        )
    wire = make_wire(
        model.hidden_size, cfg.dispatch_dtype, cfg.combine_dtype, rc.scale_block, rc.header_bytes
    )
    g = rc.gpus_per_node
    if g is not None and ep % g:
        raise MoecommError(f"{f('gpus_per_node')} must divide {f('ep')} ({ep}); got {g}")
    ng, kg = groups(cfg, rc)
    check_groups(e, k, ng, kg)
    if rc.dedup != "copies":
        check_binomial(e, k)
    lam = 1 if rc.count_self else 0
    base: dict[str, Exact] = {"b": b, "s": s, "k": k, "E": e, "ep": ep, "lam": lam}
    dist_ranks = distinct(e, k, ep, ng, kg)
    dist_nodes = distinct(e, k, ep // g, ng, kg) if g is not None else None
    slots: int | None = None
    if rc.dedup == "copies":
        mats, slots, text = _copies(base, rc, ep, k, e)
    elif rc.dedup == "rank":
        p = hit_probability(e, k, ep, ng, kg, "ranks")
        pair = F.value("rank_dedup_pair_copies", {**base, "p": p})
        mats = pair_matrices(ep, g, lambda i, jj: pair, rc.count_self)
        text = "uniform top-k routing, exact expectation"
    else:
        assert g is not None  # RoutingConfig requires --gpus-per-node for node dedup
        mats = _node(
            base,
            g,
            hit_probability(e, k, ep, ng, kg, "ranks"),
            hit_probability(e, k, ep // g, ng, kg, "nodes"),
            rc.count_self,
        )
        text = "uniform top-k routing, exact expectation"
    if rc.dedup != "copies" and ng is not None:
        text = f"group-limited routing (n_group {ng}, topk_group {kg}): {text}"
    setting = Setting(
        scenario=text,
        ep=ep,
        wire=wire,
        routing=rc,
        n_group=ng,
        topk_group=kg,
        tokens=b * s,
        distinct_ranks=dist_ranks,
        distinct_nodes=dist_nodes,
        expert_capacity=slots,
        links=links,
    )
    return result(setting, mats)


def _copies(
    base: dict[str, Exact], rc: RoutingConfig, ep: int, k: int, e: int
) -> tuple[CopyMatrices, int | None, str]:
    x = rc.imbalance
    if x is not None and x > ep:
        raise MoecommError(f"{f('imbalance')} must be at most {f('ep')} ({ep}); got {x}")
    loads: list[Exact] = [1] * ep
    text = "balanced routing (exact expectation)"
    if x is not None and ep > 1:
        other = F.value("imbalance_other_load", {"ep": ep, "X_imb": x})
        loads = [x, *([other] * (ep - 1))]
        text = f"imbalanced: rank 0 receives {_ratio(x)}× the mean, the others share the rest"
    dropped: list[Exact] = [0] * ep
    pair: Callable[[int, int], Exact]
    cap = None
    if rc.capacity_factor is not None:
        cap = capacity(base["b"] * base["s"], k, e, rc.capacity_factor)
        text = f"{text}; {cap.text(rc.pad)}"
    if cap is None or not (cap.drops or rc.pad):
        by_dest = [F.value("loaded_pair_copies", {**base, "u": u}) for u in loads]
        pair = lambda i, jj: by_dest[jj]  # noqa: E731
    else:
        # Above the tokens (C > T) Megatron drops nothing, and padding gives each expert all T.
        v = {**base, "C": cap.slots if cap.drops else cap.tokens}
        if cap.drops:
            lost = sum(
                (Fraction(F.value("dropped_pair_copies", {**v, "u": u})) for u in loads),
                Fraction(0),
            )
            dropped = [normalize(lost)] * ep
        if rc.pad:
            padded = F.value("padded_pair_copies", v)
            pair = lambda i, jj: padded  # noqa: E731
        else:
            by_dest = [F.value("capped_pair_copies", {**v, "u": u}) for u in loads]
            pair = lambda i, jj: by_dest[jj]  # noqa: E731
    mats = pair_matrices(ep, rc.gpus_per_node, pair, rc.count_self)
    return CopyMatrices(mats.intra, mats.inter, dropped), None if cap is None else cap.slots, text


def _node(
    base: dict[str, Exact], g: int, p_rank: Exact, p_node: Exact, count_self: bool
) -> CopyMatrices:
    ep = int(base["ep"])
    rdma = F.value("node_dedup_pair_copies", {**base, "p": p_node})
    nvl = F.value("node_dedup_forward_pair_copies", {**base, "G": g, "p": p_rank})
    intra, inter = zeros(ep), zeros(ep)
    for i in range(ep):
        for jj in range(ep):
            same_node, same_local = i // g == jj // g, i % g == jj % g
            if same_local and (i != jj or count_self):
                inter[i][jj] = rdma
            if same_node and (i != jj or count_self):
                intra[i][jj] = nvl
    return CopyMatrices(intra, inter, [0] * ep)


def _ratio(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):g}"
