"""Pydantic input models: model shape, workload, wire formats and parallel layout, with their rules."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from moecomm.dtypes import DType
from moecomm.errors import MoecommError, from_validation
from moecomm.errors import field as f
from moecomm.units import MAX_BYTES

# Bounds on every size and rate: each covers every real deployment with room to spare, and keeps
# every computation small enough to answer in seconds (docs/limits.md). Bytes: units.MAX_BYTES.
MAX_HIDDEN = 2**20
MAX_EXPERTS = 2**16
MAX_TOPK = 2**10
MAX_LAYERS = 2**14
MAX_RANKS = 2**20
MAX_TOKENS = 2**40
MAX_WIDTH = 2**24
"""FFN widths and vocabulary sizes."""
MAX_BW_GBPS = 10**6
"""Largest link bandwidth, GB/s per direction (a thousand times NVLink5)."""
MIN_BW_GBPS = 10**-3
"""Smallest link bandwidth, GB/s per direction (1 MB/s)."""
MAX_LATENCY_US = 10**6
"""Largest latency, µs (one second)."""
MIN_EFFICIENCY = 10**-3
"""Smallest efficiency of a link or of compute: 0.1% of peak."""
MAX_FITS = 1024
"""Fitted entries of one hardware file (per collective kind, link and rank count)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def check_ep(ep: int, experts: int, redundant: int = 0) -> None:
    """EP ranks hold equal shares of the routed (plus redundant) experts: ep divides E + R."""
    if (experts + redundant) % ep:
        what = (
            f"the number of routed experts ({experts})"
            if redundant == 0
            else f"the routed plus redundant experts ({experts} + {redundant} = {experts + redundant})"
        )
        raise MoecommError(f"{f('ep')} must divide {what}; got {ep}")


def check_ep_nodes(ep: int, per_node: int) -> None:
    """EP ranks fill whole nodes: ep is at most, or a multiple of, the EP ranks per node."""
    if ep > per_node and ep % per_node:
        raise MoecommError(
            f"{f('ep')} must be at most, or a multiple of, the EP ranks per node ({per_node}); "
            f"got {ep}"
        )


M = TypeVar("M", bound=BaseModel)


def build(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate data into a config model; any broken rule becomes one MoecommError.

    Keys whose value is None are left out, so the model's own default (or "is required")
    applies. Field names in the message are marked (``errors.field``) for the front end to spell.
    """
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise from_validation(exc, marked=True) from None


def check_group_pair(n_group: int | None, topk_group: int | None) -> None:
    """The group-limited routing rules that need no model: given together, topk_group ≤ n_group."""
    if (n_group is None) != (topk_group is None):
        raise MoecommError(f"{f('n_group')} and {f('topk_group')} must be given together")
    if n_group is not None and topk_group is not None and topk_group > n_group:
        raise MoecommError(
            f"{f('topk_group')} must be at most {f('n_group')} ({n_group}); got {topk_group}"
        )


def check_groups(experts: int, top_k: int, n_group: int | None, topk_group: int | None) -> None:
    """Group-limited routing (DeepSeek's n_group / topk_group): the one place its rules live."""
    check_group_pair(n_group, topk_group)
    if n_group is None or topk_group is None:
        return
    if experts % n_group:
        raise MoecommError(
            f"{f('n_group')} must divide the number of routed experts ({experts}); got {n_group}"
        )
    reach = topk_group * (experts // n_group)
    if top_k > reach:
        raise MoecommError(
            f"{f('top_k')} must be at most the experts in {f('topk_group')} groups ({reach}); "
            f"got {top_k}"
        )


class MoEModel(_Strict):
    """Shape of an MoE transformer, as published in its config.json."""

    hidden_size: int = Field(ge=1, le=MAX_HIDDEN, description="hidden size h (d_model)")
    num_experts: int = Field(ge=1, le=MAX_EXPERTS, description="routed experts E per MoE layer")
    top_k: int = Field(ge=1, le=MAX_TOPK, description="routed experts chosen per token k")
    num_layers: int | None = Field(None, ge=1, le=MAX_LAYERS, description="transformer layers")
    first_moe_layer: int = Field(
        0, ge=0, le=MAX_LAYERS, description="0-based index of the first MoE layer"
    )
    moe_layer_step: int = Field(
        1, ge=1, le=MAX_LAYERS, description="an MoE layer every this many layers"
    )
    non_moe_layers: tuple[int, ...] = Field(
        (), max_length=MAX_LAYERS, description="extra dense layers inside the range"
    )
    num_shared_experts: int = Field(
        0, ge=0, le=MAX_EXPERTS, description="shared experts every token visits"
    )
    moe_intermediate_size: int | None = Field(
        None, ge=1, le=MAX_WIDTH, description="FFN width of one expert"
    )
    shared_expert_intermediate_size: int | None = Field(
        None, ge=1, le=MAX_WIDTH, description="FFN width of the shared-expert block"
    )
    intermediate_size: int | None = Field(
        None, ge=1, le=MAX_WIDTH, description="FFN width of dense layers"
    )
    n_group: int | None = Field(
        None, ge=1, le=MAX_EXPERTS, description="expert groups for group-limited routing"
    )
    topk_group: int | None = Field(
        None, ge=1, le=MAX_EXPERTS, description="groups a token may reach"
    )
    vocab_size: int | None = Field(None, ge=1, le=MAX_WIDTH)
    num_attention_heads: int | None = Field(None, ge=1, le=MAX_HIDDEN)
    num_key_value_heads: int | None = Field(None, ge=1, le=MAX_HIDDEN)
    head_dim: int | None = Field(None, ge=1, le=MAX_HIDDEN)
    native_dtype: DType = Field(DType.BF16, description="dtype of the published weights")
    quant_block_size: int | None = Field(
        None, ge=1, le=MAX_HIDDEN, description="weight quantisation block"
    )
    expert_dtype: Literal["mxfp4", "nvfp4"] | None = Field(
        None, description="4-bit routed-expert weights (config.json quantization_config)"
    )
    q_lora_rank: int | None = Field(None, ge=1, le=MAX_HIDDEN, description="MLA query rank")
    kv_lora_rank: int | None = Field(None, ge=1, le=MAX_HIDDEN, description="MLA latent rank")
    qk_rope_head_dim: int | None = Field(None, ge=1, le=MAX_HIDDEN, description="MLA rope dims")
    qk_nope_head_dim: int | None = Field(None, ge=1, le=MAX_HIDDEN, description="MLA non-rope dims")
    v_head_dim: int | None = Field(None, ge=1, le=MAX_HIDDEN, description="MLA value dims")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        e, k = self.num_experts, self.top_k
        if k > e:
            raise MoecommError(
                f"{f('top_k')} must be at most the number of routed experts ({e}); got {k}"
            )
        check_groups(e, k, self.n_group, self.topk_group)
        mla = ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")
        given = [name for name in mla if getattr(self, name) is not None]
        if given and len(given) < len(mla):
            missing = next(name for name in mla if getattr(self, name) is None)
            raise MoecommError(f"{f(missing)} is required with {f(given[0])} (MLA attention)")
        if self.q_lora_rank is not None and not given:
            raise MoecommError(f"{f('q_lora_rank')} needs {f('kv_lora_rank')} (MLA attention)")
        if self.num_layers is not None:
            if self.first_moe_layer >= self.num_layers:
                raise MoecommError(
                    f"{f('first_moe_layer')} must be below {f('num_layers')} ({self.num_layers}); "
                    f"got {self.first_moe_layer}"
                )
            bad = [i for i in self.non_moe_layers if not 0 <= i < self.num_layers]
            if bad:
                raise MoecommError(
                    f"{f('non_moe_layers')} must lie in 0..{self.num_layers - 1}; got {bad[0]}"
                )
        return self

    @property
    def moe_layers(self) -> tuple[int, ...]:
        """0-based indices of the MoE layers (empty when num_layers is unknown)."""
        if self.num_layers is None:
            return ()
        skip = set(self.non_moe_layers)
        return tuple(
            i
            for i in range(self.first_moe_layer, self.num_layers, self.moe_layer_step)
            if i not in skip
        )

    @property
    def mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2/V3, Kimi K2): a compressed KV cache."""
        return self.kv_lora_rank is not None

    @property
    def num_moe_layers(self) -> int | None:
        return None if self.num_layers is None else len(self.moe_layers)


def stage_layers(layers: Any, pp: Any) -> tuple[Any, Any, Any]:
    """Layers of the first, middle and last pipeline stages, Megatron-LM's way.

    An even split when pp divides the layers; otherwise the middle pp − 2 stages hold ⌈L/pp⌉
    layers each and the first and last stages share the rest (Megatron-LM's
    ``--decoder-first-pipeline-num-layers`` / ``--decoder-last-pipeline-num-layers``), the first
    taking the smaller half. Ints or numpy arrays (one element per layout).
    """
    most = -(-layers // pp)
    even = layers % pp == 0
    rest = layers - (pp - 2) * most
    first = rest // 2
    return (
        _pick(even, layers // pp, first),
        most,
        _pick(even, layers // pp, rest - first),
    )


def _pick(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(cond, bool):
        return a if cond else b
    import numpy as np  # only plan passes arrays, and plan has numpy

    return np.where(cond, a, b)


LayoutRule = tuple[str, str, Any, Any]
"""(field, rule, holds, value): holds is a bool, or a numpy bool array over many layouts."""


def layout_rules(
    model: MoEModel,
    tp: Any,
    dp: Any,
    ep: Any,
    edp: Any,
    etp: Any,
    pp: Any,
    *,
    cp: Any = 1,
    gpus_per_node: int | None = None,
    redundant: int = 0,
    vpp: int = 1,
) -> list[LayoutRule]:
    """Every rule a parallel layout must satisfy, for one layout (ints) or many (numpy arrays).

    The one place these rules live: ``moecomm step`` raises on the first one broken
    (``check_layout``), ``moecomm plan`` keeps the layouts where all hold (a numpy mask).

    - the attention side and the expert side cover the same ranks: ep·etp·edp = tp·cp·dp
      (Megatron-Core's expert/attention process-group split, per pipeline stage);
    - tp divides the attention heads, and the kv heads divide tp or tp divides them (a kv head
      is replicated over tp/n_kv ranks when tp exceeds the kv heads, as vLLM and SGLang do);
    - tp divides the dense FFN width (where there are dense layers) and the shared experts'
      width (Megatron-Core shards shared experts over tp); etp divides the expert FFN width;
    - ep divides the routed (plus redundant) experts;
    - pp splits the layers as Megatron-LM allows (``stage_layers``): evenly, or with smaller
      first and last stages of at least one layer each; with vpp virtual stages (interleaved
      schedule) pp·vpp divides the layers;
    - tp and etp groups align to nodes: they divide the GPUs per node, or fill whole nodes.
    """
    heads = model.num_attention_heads
    kv = model.num_key_value_heads or heads
    rules: list[LayoutRule] = [
        ("edp", "make ep·etp·edp equal tp·cp·dp", ep * etp * edp == tp * cp * dp, None),
        (
            "ep",
            "divide the routed plus redundant experts",
            (model.num_experts + redundant) % ep == 0,
            ep,
        ),
    ]
    if heads is not None:
        rules.append(("tp", f"divide the attention heads ({heads})", heads % tp == 0, tp))
    if kv is not None and kv != heads:
        rules.append(
            (
                "tp",
                f"divide the kv heads ({kv}) or be a multiple of them",
                (kv % tp == 0) | (tp % kv == 0),
                tp,
            )
        )
    layers, moe = model.num_layers, model.num_moe_layers
    if (
        model.intermediate_size is not None
        and layers is not None
        and moe is not None
        and layers > moe
    ):
        d = model.intermediate_size
        rules.append(("tp", f"divide the dense FFN width ({d})", d % tp == 0, tp))
    if model.num_shared_experts:
        shared = model.shared_expert_intermediate_size or model.moe_intermediate_size
        if shared is not None:
            rules.append(
                ("tp", f"divide the shared experts' FFN width ({shared})", shared % tp == 0, tp)
            )
    if model.moe_intermediate_size is not None:
        d = model.moe_intermediate_size
        rules.append(("etp", f"divide the expert FFN width ({d})", d % etp == 0, etp))
    if layers is not None:
        most = -(-layers // pp)
        rest = layers - (pp - 2) * most
        splits = (layers % pp == 0) | ((pp >= 2) & (rest >= 2))
        rules.append(
            (
                "pp",
                f"split the {layers} layers evenly, or over smaller first and last stages",
                splits,
                pp,
            )
        )
        if vpp > 1:
            rules.append(
                (
                    "pp",
                    f"give every stage a multiple of {f('vpp')} ({vpp}) of the {layers} layers",
                    layers % (pp * vpp) == 0,
                    pp,
                )
            )
    if gpus_per_node is not None:
        g = gpus_per_node
        for name, size in (("tp", tp), ("etp", etp)):
            rules.append(
                (
                    name,
                    f"divide the GPUs per node ({g}) or be a multiple of them",
                    (g % size == 0) | (size % g == 0),
                    size,
                )
            )
    return rules


def check_layout(
    model: MoEModel, tp: int, dp: int, ep: int, edp: int, etp: int, pp: int, **kw: Any
) -> None:
    """Raise on the first rule of ``layout_rules`` that one layout breaks: field, rule, value."""
    cp = kw.get("cp", 1)
    for name, rule, holds, value in layout_rules(model, tp, dp, ep, edp, etp, pp, **kw):
        if holds:
            continue
        if value is None:
            attn = f"{f('tp')}·{f('dp')}" if cp == 1 else f"{f('tp')}·cp·{f('dp')}"
            sizes = f"{tp}·{dp}" if cp == 1 else f"{tp}·{cp}·{dp}"
            raise MoecommError(
                f"{f('ep')}·{f('etp')}·{f('edp')} must equal {attn} (the same ranks); got "
                f"{ep}·{etp}·{edp} = {ep * etp * edp} against {sizes} = {tp * cp * dp}"
            )
        raise MoecommError(f"{f(name)} must {rule}; got {value}")


def derive_data_parallel(
    tp: int, ep: int, etp: int, dp: int | None, edp: int | None, cp: int = 1
) -> tuple[int, int, tuple[str, ...]]:
    """dp and edp where not given, as Megatron-Core derives them from the world size.

    One given: the other makes ep·etp·edp = tp·cp·dp. Neither: the smallest world per stage that
    holds both groups, max(tp·cp, ep·etp), when the larger is a multiple of the smaller. Returns
    (dp, edp, the names derived); raises when no integer size fits, never guesses.
    """
    attn, expert = tp * cp, ep * etp
    if dp is not None and edp is not None:
        return dp, edp, ()
    if min(tp, cp, ep, etp, dp or 1, edp or 1) < 1:  # out of bounds: the model names it
        return dp or 1, edp or 1, ()
    if dp is not None:
        world = attn * dp
        if world % expert:
            raise MoecommError(
                f"{f('edp')} cannot be derived: tp·cp·dp = {world} is not a multiple of "
                f"ep·etp = {expert}; give {f('edp')}"
            )
        return dp, world // expert, ("edp",)
    if edp is not None:
        world = expert * edp
        if world % attn:
            raise MoecommError(
                f"{f('dp')} cannot be derived: ep·etp·edp = {world} is not a multiple of "
                f"tp·cp = {attn}; give {f('dp')}"
            )
        return world // attn, edp, ("dp",)
    world = max(attn, expert)
    if world % attn or world % expert:
        raise MoecommError(
            f"{f('dp')} and {f('edp')} cannot be derived: tp·cp = {attn} and ep·etp = {expert} "
            f"do not divide one another; give {f('dp')} or {f('edp')}"
        )
    return world // attn, world // expert, ("dp", "edp")


class Workload(_Strict):
    """Tokens on one rank: micro-batch b times sequence s, or a token count."""

    batch: int | None = Field(None, ge=1, le=MAX_TOKENS, description="micro-batch b per rank")
    seq: int | None = Field(None, ge=1, le=MAX_TOKENS, description="sequence length s")
    tokens: int | None = Field(None, ge=1, le=MAX_TOKENS, description="tokens b·s per rank")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        has_bs = self.batch is not None or self.seq is not None
        if self.tokens is not None and has_bs:
            raise MoecommError(
                f"give either {f('tokens')}, or {f('batch')} and {f('seq')}, not both"
            )
        if self.tokens is None and (self.batch is None or self.seq is None):
            raise MoecommError(f"{f('tokens')} is required, or both {f('batch')} and {f('seq')}")
        if self.tokens_per_rank > MAX_TOKENS:
            raise MoecommError(
                f"{f('batch')}·{f('seq')} must be at most {MAX_TOKENS} tokens; "
                f"got {self.tokens_per_rank}"
            )
        return self

    @property
    def b_s(self) -> tuple[int, int]:
        """(b, s) to substitute; a bare token count T is taken as b = T, s = 1."""
        if self.tokens is not None:
            return self.tokens, 1
        assert self.batch is not None and self.seq is not None  # checked by _rules
        return self.batch, self.seq

    @property
    def tokens_per_rank(self) -> int:
        b, s = self.b_s
        return b * s


class EPConfig(_Strict):
    """An expert-parallel all-to-all: model shape, tokens per rank, EP size and wire dtypes."""

    model: MoEModel
    workload: Workload
    ep: int = Field(ge=1, le=MAX_RANKS, description="expert-parallel group size")
    redundant_experts: int = Field(
        0, ge=0, le=MAX_EXPERTS, description="extra replicas of hot experts (EPLB)"
    )
    dispatch_dtype: DType = DType.BF16
    combine_dtype: DType = DType.BF16

    @model_validator(mode="after")
    def _rules(self) -> Self:
        check_ep(self.ep, self.model.num_experts, self.redundant_experts)
        return self


Dedup = Literal["copies", "rank", "node"]
Count = Literal["wire", "logical"]


class RoutingConfig(_Strict):
    """How EP traffic is routed and counted: wire format, dedup, node limits, capacity, imbalance.

    The defaults reproduce the per-rank analysis's balanced, one-copy-per-expert, bytes-that-leave convention.
    """

    dedup: Dedup = Field("copies", description="one copy per (token, expert), rank or node")
    count: Count = Field("wire", description="wire: bytes that leave; logical: also to itself")
    gpus_per_node: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="GPUs per node (NVLink domain)"
    )
    scale_block: int | None = Field(
        None, ge=1, le=MAX_HIDDEN, description="fp8: one fp32 scale per N channels"
    )
    header_bytes: int = Field(
        0, ge=0, le=MAX_HIDDEN, description="bytes added per dispatched message"
    )
    n_group: int | None = Field(
        None, ge=1, le=MAX_EXPERTS, description="expert groups (group-limited routing)"
    )
    topk_group: int | None = Field(
        None, ge=1, le=MAX_EXPERTS, description="groups a token may reach"
    )
    capacity_factor: Fraction | None = Field(
        None, gt=0, le=MAX_EXPERTS, description="Megatron-Core capacity factor"
    )
    pad: bool = Field(False, description="send every expert slot full, to capacity")
    imbalance: Fraction | None = Field(
        None, ge=1, le=MAX_RANKS, description="busiest rank over mean received"
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        dedup = f"{f('dedup')} {self.dedup}"
        if self.dedup == "node" and self.gpus_per_node is None:
            raise MoecommError(f"{f('dedup')} node needs {f('gpus_per_node')}")
        if self.pad and self.capacity_factor is None:
            raise MoecommError(f"{f('pad')} needs {f('capacity_factor')}")
        if self.dedup != "copies" and self.capacity_factor is not None:
            raise MoecommError(f"{f('capacity_factor')} needs {f('dedup')} copies; got {dedup}")
        if self.dedup != "copies" and self.imbalance is not None:
            raise MoecommError(f"{f('imbalance')} needs {f('dedup')} copies; got {dedup}")
        check_group_pair(self.n_group, self.topk_group)
        return self

    @property
    def count_self(self) -> bool:
        return self.count == "logical"


class TPConfig(_Strict):
    """A tensor-parallel all-reduce of the layer output."""

    hidden_size: int = Field(ge=1, le=MAX_HIDDEN, description="hidden size h")
    workload: Workload
    tp: int = Field(ge=1, le=MAX_RANKS, description="tensor-parallel group size")
    dtype: DType = DType.BF16


class CompareConfig(_Strict):
    """The global-batch analysis: S tokens in one batch over M GPUs, EP against TP."""

    hidden_size: int = Field(ge=1, le=MAX_HIDDEN, description="hidden size D")
    top_k: int = Field(ge=1, le=MAX_TOPK, description="experts per token K")
    tokens: int = Field(ge=1, le=MAX_TOKENS, description="tokens S in the global batch")
    sizes: tuple[int, ...] = Field(
        min_length=1, max_length=4096, description="group sizes M to compare"
    )
    dtype: DType = DType.BF16

    @model_validator(mode="after")
    def _rules(self) -> Self:
        bad = [m for m in self.sizes if not 1 <= m <= MAX_RANKS]
        if bad:
            raise MoecommError(f"{f('sizes')} must lie in 1..{MAX_RANKS}; got {bad[0]}")
        return self


class ParallelLayout(_Strict):
    """World split for attention (tp·cp·dp·pp) and for experts (etp·ep·edp·pp), Megatron style."""

    world: int = Field(ge=1, le=MAX_RANKS, description="number of ranks")
    tp: int = Field(1, ge=1, le=MAX_RANKS, description="attention tensor parallel")
    cp: int = Field(1, ge=1, le=MAX_RANKS, description="context parallel")
    pp: int = Field(1, ge=1, le=MAX_RANKS, description="pipeline parallel")
    dp: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="attention data parallel (default: derived)"
    )
    ep: int = Field(1, ge=1, le=MAX_RANKS, description="expert parallel")
    etp: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="expert tensor parallel (Megatron-Core default: = tp)"
    )
    edp: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="expert data parallel (default: derived)"
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        w, tp, cp, pp = self.world, self.tp, self.cp, self.pp
        if w % (tp * cp * pp):
            raise MoecommError(
                f"tp·cp·pp must divide world ({w}); got {tp}·{cp}·{pp} = {tp * cp * pp}"
            )
        if self.dp is not None and tp * cp * self.dp * pp != w:
            got = tp * cp * self.dp * pp
            raise MoecommError(
                f"tp·cp·dp·pp must equal world ({w}); got {tp}·{cp}·{self.dp}·{pp} = {got}"
            )
        etp, ep = self.expert_tp, self.ep
        if w % (etp * ep * pp):
            got = etp * ep * pp
            raise MoecommError(f"etp·ep·pp must divide world ({w}); got {etp}·{ep}·{pp} = {got}")
        if self.edp is not None and etp * ep * self.edp * pp != w:
            got = etp * ep * self.edp * pp
            raise MoecommError(
                f"etp·ep·edp·pp must equal world ({w}); got {etp}·{ep}·{self.edp}·{pp} = {got}"
            )
        return self

    @property
    def data_parallel(self) -> int:
        return self.world // (self.tp * self.cp * self.pp)

    @property
    def expert_tp(self) -> int:
        return self.tp if self.etp is None else self.etp

    @property
    def expert_dp(self) -> int:
        return self.world // (self.expert_tp * self.ep * self.pp)


TimedKind = Literal[
    "all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv"
]
"""The operations the time model has parameters for, by nccl-tests' names (sendrecv_perf: send-recv)."""
TIMED_KINDS: tuple[TimedKind, ...] = (
    "all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv"
)  # fmt: skip
LinkName = Literal["scale-up", "scale-out"]
Timing = Literal["back-to-back", "per-op"]
TIMINGS: tuple[Timing, ...] = ("back-to-back", "per-op")


class CollectiveFit(_Strict):
    """Time-model parameters of one collective kind on one link, fitted or published.

    The law (formulas.link_time): latency + x·(x + 2ν)/((x + ν)·B), x the bytes one rank puts
    on the link; per-op adds the launch and synchronisation cost of one operation in place.
    """

    kind: TimedKind
    link: LinkName
    ranks: int | None = Field(
        None,
        ge=2,
        le=MAX_RANKS,
        description="measured on this many ranks: used from this many up to the next entry's",
    )
    latency_seconds: float = Field(
        ge=0, le=1, allow_inf_nan=False, description="fixed latency of one operation, seconds"
    )
    bytes_per_second: int = Field(
        ge=1, le=MAX_BYTES, description="peak achieved bandwidth on the link (busbw), bytes/s"
    )
    ramp_bytes: int = Field(
        0, ge=0, le=MAX_BYTES, description="ramp length ν: 2/3 of the peak at x = ν bytes"
    )
    per_op_seconds: float = Field(
        0, ge=0, le=1, allow_inf_nan=False, description="launch + synchronisation per op"
    )


class HardwareSpec(_Strict):
    """Per-GPU links, memory and peak compute of one GPU type (all bandwidths per direction)."""

    gpus_per_node: int = Field(
        ge=1, le=MAX_RANKS, description="GPUs in one scale-up (NVLink) domain"
    )
    scale_up_bytes_per_second: int = Field(
        ge=1, le=MAX_BYTES, description="scale-up link, datasheet"
    )
    scale_up_achieved_bytes_per_second: int | None = Field(
        None, ge=1, le=MAX_BYTES, description="scale-up link, achieved where published"
    )
    scale_out_bytes_per_second: int = Field(
        ge=1, le=MAX_BYTES, description="scale-out NIC per GPU, datasheet"
    )
    scale_out_achieved_bytes_per_second: int | None = Field(
        None, ge=1, le=MAX_BYTES, description="scale-out NIC per GPU, achieved where published"
    )
    scale_up_latency_seconds: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="scale-up latency"
    )
    scale_out_latency_seconds: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="scale-out latency"
    )
    base_latency_seconds: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="fixed latency per collective (software), seconds",
    )
    efficiency: float | None = Field(
        None,
        ge=MIN_EFFICIENCY,
        le=1,
        allow_inf_nan=False,
        description="achieved share of the link bandwidth used (calibration)",
    )
    memory_bytes: int = Field(ge=1, le=MAX_BYTES, description="device memory per GPU")
    hbm_bytes_per_second: int | None = Field(
        None, ge=1, le=MAX_BYTES, description="device memory (HBM) bandwidth, datasheet"
    )
    bf16_dense_flops: int = Field(ge=1, le=MAX_BYTES, description="dense BF16 peak FLOP/s")
    fp8_dense_flops: int | None = Field(
        None, ge=1, le=MAX_BYTES, description="dense FP8 peak FLOP/s"
    )
    per_op_seconds: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="launch + synchronisation of one operation in place (--timing per-op)",
    )
    collectives: tuple[CollectiveFit, ...] = Field(
        (), max_length=MAX_FITS, description="per collective kind, link and rank count"
    )

    @model_validator(mode="after")
    def _one_fit_each(self) -> Self:
        seen: set[tuple[str, str, int | None]] = set()
        for i, fit in enumerate(self.collectives):
            if (fit.kind, fit.link, fit.ranks) in seen:
                on = "" if fit.ranks is None else f" on {fit.ranks} ranks"
                raise ValueError(
                    f"collectives[{i}]: a second entry for {fit.kind} on the {fit.link} link{on}"
                )
            seen.add((fit.kind, fit.link, fit.ranks))
        return self


class LinkOverrides(_Strict):
    """Overrides of a hardware preset's links, in the units people quote: GB/s and µs.

    Checked here, before any conversion, so that an error echoes the value as it was given.
    """

    bw_intra: float | None = Field(
        None,
        ge=MIN_BW_GBPS,
        le=MAX_BW_GBPS,
        allow_inf_nan=False,
        description="scale-up GB/s per GPU per direction (GB = 1e9 B)",
    )
    bw_inter: float | None = Field(
        None,
        ge=MIN_BW_GBPS,
        le=MAX_BW_GBPS,
        allow_inf_nan=False,
        description="scale-out GB/s per GPU per direction (GB = 1e9 B)",
    )
    latency_intra: float | None = Field(
        None, ge=0, le=MAX_LATENCY_US, allow_inf_nan=False, description="scale-up µs per message"
    )
    latency_inter: float | None = Field(
        None, ge=0, le=MAX_LATENCY_US, allow_inf_nan=False, description="scale-out µs per message"
    )
    efficiency: float | None = Field(
        None,
        ge=MIN_EFFICIENCY,
        le=1,
        allow_inf_nan=False,
        description="link efficiency η in [0.001, 1]",
    )
    gpus_per_node: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="GPUs per node (scale-up domain)"
    )
    timing: Timing | None = Field(
        None, description="back-to-back (as nccl-tests reports) or per-op (one op in place)"
    )

    def given(self) -> dict[str, float | int | str]:
        """The overrides that were given, by field name."""
        return self.model_dump(exclude_none=True)


class WireFormat(_Strict):
    """Bytes of one token copy in each EP phase: dtype, fp8 scales and a dispatch header.

    The one place the wire-format rules live: a scale block needs an fp8 phase and divides h.
    """

    hidden_size: int = Field(ge=1, le=MAX_HIDDEN, description="hidden size h")
    dispatch_dtype: DType = DType.BF16
    combine_dtype: DType = DType.BF16
    scale_block: int | None = Field(
        None, ge=1, le=MAX_HIDDEN, description="fp8: one fp32 scale per N channels"
    )
    header_bytes: int = Field(
        0, ge=0, le=MAX_HIDDEN, description="bytes added per dispatched message"
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        block, h = self.scale_block, self.hidden_size
        if block is not None:
            if not self.fp8:
                raise MoecommError(
                    f"{f('scale_block')} applies to fp8 only; got {f('dispatch_dtype')} "
                    f"{self.dispatch_dtype.value} and {f('combine_dtype')} "
                    f"{self.combine_dtype.value}"
                )
            if h % block:
                raise MoecommError(
                    f"{f('scale_block')} must divide the hidden size ({h}); got {block}"
                )
        return self

    @property
    def fp8(self) -> bool:
        return DType.FP8 in (self.dispatch_dtype, self.combine_dtype)


Phase = Literal["train", "prefill", "decode"]


class Deployment(_Strict):
    """A published deployment: model, hardware, parallel sizes and wire formats."""

    model: str = Field(min_length=1, description="model preset name")
    hardware: str = Field(min_length=1, description="hardware preset name")
    phase: Phase
    nodes: int = Field(ge=1, le=MAX_RANKS)
    gpus_per_node: int = Field(ge=1, le=MAX_RANKS)
    world: int = Field(ge=1, le=MAX_RANKS)
    tp: int = Field(1, ge=1, le=MAX_RANKS)
    cp: int = Field(1, ge=1, le=MAX_RANKS)
    dp: int | None = Field(None, ge=1, le=MAX_RANKS)
    pp: int = Field(1, ge=1, le=MAX_RANKS)
    ep: int = Field(1, ge=1, le=MAX_RANKS)
    etp: int | None = Field(None, ge=1, le=MAX_RANKS)
    edp: int | None = Field(None, ge=1, le=MAX_RANKS)
    sequence_parallel: bool = False
    dp_attention: bool = False
    redundant_experts: int = Field(0, ge=0, le=MAX_EXPERTS)
    dispatch_dtype: DType = DType.BF16
    combine_dtype: DType = DType.BF16
    scale_block: int | None = Field(
        None, ge=1, le=MAX_HIDDEN, description="fp8: one fp32 scale per N channels"
    )
    header_bytes: int = Field(
        0, ge=0, le=MAX_HIDDEN, description="bytes added per dispatched message"
    )
    dedup: Literal["copies", "node"] = Field(
        "copies", description="EP copies: per (token, expert), or per node (DeepEP normal)"
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.nodes * self.gpus_per_node != self.world:
            raise MoecommError(
                f"nodes·gpus_per_node must equal world ({self.world}); "
                f"got {self.nodes}·{self.gpus_per_node} = {self.nodes * self.gpus_per_node}"
            )
        self.layout  # noqa: B018  (validates the parallel sizes)
        return self

    @property
    def layout(self) -> ParallelLayout:
        return ParallelLayout(
            world=self.world,
            tp=self.tp,
            cp=self.cp,
            dp=self.dp,
            pp=self.pp,
            ep=self.ep,
            etp=self.etp,
            edp=self.edp,
        )


DEEPGEMM_EFFICIENCY = 0.78
"""1550 of 1979 dense FP8 TFLOPS: DeepGEMM's best measured GEMM on H800 (deepseek-ai/DeepGEMM
README, 'up to 1550 TFLOPS'). An upper bound: decode-sized GEMMs run far below it."""

DEFAULT_TOKENS = {"train": 4096, "prefill": 4096, "decode": 128}
"""Tokens per rank at each MoE layer when none are given (decode: requests per rank)."""


class MemoryOptions(_Strict):
    """What memory per GPU depends on beyond the layout (``moecomm.memory``)."""

    context: int = Field(
        4096, ge=1, le=MAX_TOKENS, description="KV-cache tokens per request in decode"
    )
    seq: int = Field(
        4096, ge=1, le=MAX_TOKENS, description="sequence length (training activations)"
    )
    recompute: Literal["none", "selective", "full"] | None = Field(
        None, description="activation recomputation (default: the cheapest that fits)"
    )
    headroom: Fraction = Field(
        Fraction(1, 10),
        ge=0,
        lt=1,
        description="share of device memory kept free (CUDA context, NCCL buffers, fragments)",
    )
    """Default 1/10: vLLM's gpu_memory_utilization defaults to 0.9."""


Schedule = Literal["1f1b", "interleaved", "dualpipe"]


class ScheduleOptions(_Strict):
    """How a step runs: the pipeline schedule, its micro-batches, and communication overlap."""

    schedule: Schedule | None = Field(
        None, description="pipeline schedule in training (default 1f1b)"
    )
    vpp: int = Field(
        1, ge=1, le=MAX_LAYERS, description="virtual stages per rank (interleaved schedule)"
    )
    micro_batches: int | None = Field(
        None, ge=1, le=MAX_TOKENS, description="micro-batches per training step (default 4·pp)"
    )
    overlap: bool | None = Field(
        None,
        description="EP overlaps computation (default: two micro-batches in inference, "
        "DualPipe in training)",
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.vpp > 1 and self.schedule != "interleaved":
            raise MoecommError(f"{f('vpp')} needs {f('schedule')} interleaved; got {self.vpp}")
        return self

    def overlaps(self, phase: str) -> bool:
        """Whether EP is hidden under computation: given, else by phase and schedule."""
        if self.overlap is not None:
            return self.overlap
        return phase != "train" or self.schedule == "dualpipe"


class StepConfig(_Strict):
    """One train, prefill or decode step of a whole model on one rank, and its layout."""

    model: MoEModel
    phase: Phase = "train"
    tokens: int = Field(ge=1, le=MAX_TOKENS, description="tokens per rank at each MoE layer")
    tp: int = Field(1, ge=1, le=MAX_RANKS, description="attention tensor parallel")
    cp: int = Field(1, ge=1, le=MAX_RANKS, description="context parallel")
    pp: int = Field(1, ge=1, le=MAX_RANKS, description="pipeline parallel")
    ep: int = Field(1, ge=1, le=MAX_RANKS, description="expert parallel")
    etp: int = Field(1, ge=1, le=MAX_RANKS, description="expert tensor parallel")
    dp: int = Field(1, ge=1, le=MAX_RANKS, description="attention data parallel")
    edp: int = Field(1, ge=1, le=MAX_RANKS, description="expert data parallel")
    sequence_parallel: bool = False
    redundant_experts: int = Field(0, ge=0, le=MAX_EXPERTS)
    shared_as_routed: bool = Field(
        False, description="count shared experts as routed selections (DeepSeek decode)"
    )
    compute_efficiency: float = Field(
        DEEPGEMM_EFFICIENCY,
        ge=MIN_EFFICIENCY,
        le=1,
        allow_inf_nan=False,
        description="achieved share of peak FLOP/s for expert GEMMs",
    )
    gpus_per_node: int | None = Field(
        None, ge=1, le=MAX_RANKS, description="GPUs per node, for the node-alignment rules"
    )
    memory: MemoryOptions = MemoryOptions()
    run: ScheduleOptions = ScheduleOptions()

    @model_validator(mode="after")
    def _rules(self) -> Self:
        check_ep(self.ep, self.model.num_experts, self.redundant_experts)
        if self.model.num_layers is None:
            raise MoecommError(
                f"{f('num_layers')} is required for whole-model totals (a preset has it)"
            )
        if self.model.moe_intermediate_size is None:
            raise MoecommError(f"{f('moe_intermediate_size')} is required for expert FLOPs")
        check_layout(
            self.model,
            self.tp,
            self.dp,
            self.ep,
            self.edp,
            self.etp,
            self.pp,
            cp=self.cp,
            gpus_per_node=self.gpus_per_node,
            redundant=self.redundant_experts,
            vpp=self.run.vpp,
        )
        return self


RankBy = Literal["token", "step"]


class PlanConfig(_Strict):
    """A layout search: a model on some GPUs, for one phase and token count."""

    model: MoEModel
    gpus: int = Field(ge=1, le=MAX_RANKS, description="GPUs to lay out")
    phase: Phase = "prefill"
    tokens_per_gpu: int | None = Field(None, ge=1, le=MAX_TOKENS)
    global_batch: int | None = Field(None, ge=1, le=MAX_TOKENS)
    redundant_experts: int = Field(0, ge=0, le=MAX_EXPERTS)
    sequence_parallel: bool = False
    allow_tp_across_nodes: bool = False
    max_pp: int | None = Field(None, ge=1, le=MAX_RANKS)
    rank_by: RankBy = "token"
    top: int = Field(10, ge=1, le=MAX_RANKS, description="rows in the table")
    concurrency: int | None = Field(
        None, ge=1, le=MAX_TOKENS, description="decode: requests in flight on all the GPUs"
    )
    memory: MemoryOptions = MemoryOptions()
    run: ScheduleOptions = ScheduleOptions()
    objective: Literal["throughput", "latency", "memory", "comm"] = Field(
        "throughput", description="what the best layout maximises or minimises"
    )
    tpot_max: float | None = Field(
        None, gt=0, le=MAX_LATENCY_US, allow_inf_nan=False, description="decode: TPOT limit, ms"
    )
    ttft_max: float | None = Field(
        None, gt=0, le=MAX_LATENCY_US, allow_inf_nan=False, description="prefill: TTFT limit, ms"
    )
    min_ep: int | None = Field(None, ge=1, le=MAX_RANKS, description="smallest expert parallel")
    micro_batch: int | None = Field(
        None, ge=1, le=MAX_TOKENS, description="training: sequences per micro-batch per DP rank"
    )
    compute_efficiency: float = Field(
        DEEPGEMM_EFFICIENCY,
        ge=MIN_EFFICIENCY,
        le=1,
        allow_inf_nan=False,
        description="achieved share of peak FLOP/s for expert GEMMs",
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        for name, phase in (("tpot_max", "decode"), ("ttft_max", "prefill")):
            if getattr(self, name) is not None and self.phase != phase:
                raise MoecommError(f"{f(name)} applies to {phase}; got phase {self.phase}")
        if self.micro_batch is not None:
            if self.phase != "train":
                raise MoecommError(f"{f('micro_batch')} applies to train; got phase {self.phase}")
            if self.tokens_per_gpu is not None:
                raise MoecommError(f"give {f('tokens_per_gpu')} or {f('micro_batch')}, not both")
        given = [
            name
            for name in ("tokens_per_gpu", "global_batch", "concurrency")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise MoecommError(f"give {f(given[0])} or {f(given[1])}, not both")
        if self.concurrency is not None and self.phase != "decode":
            raise MoecommError(f"{f('concurrency')} applies to decode; got phase {self.phase}")
        if self.model.num_layers is None:
            raise MoecommError(f"{f('num_layers')} is required to lay out pipeline stages")
        if self.model.moe_intermediate_size is None:
            raise MoecommError(f"{f('moe_intermediate_size')} is required for expert FLOPs")
        return self

    @property
    def tokens(self) -> int | None:
        """Tokens per GPU: given, or the phase's default unless a global batch is given."""
        if self.tokens_per_gpu is None and self.batch_in_all is None and not self.micro_batch:
            return DEFAULT_TOKENS[self.phase]
        return self.tokens_per_gpu

    @property
    def latency_max_seconds(self) -> float | None:
        """The latency limit of the phase, in seconds."""
        limit = self.tpot_max if self.phase == "decode" else self.ttft_max
        return None if limit is None else limit * 1e-3

    @property
    def batch_in_all(self) -> int | None:
        """Tokens per step on all GPUs: the global batch, or in decode the concurrency."""
        return self.global_batch if self.global_batch is not None else self.concurrency

    @property
    def pp_limit(self) -> int | None:
        """Largest pipeline size: given, else 1 in inference (no pipeline), else any."""
        if self.max_pp is not None:
            return self.max_pp
        return None if self.phase == "train" else 1


class DataValues(_Strict):
    """Sizes given beside routing data, which decides the counts: still checked, never ignored."""

    hidden_size: int | None = Field(None, ge=1, le=MAX_HIDDEN)
    top_k: int | None = Field(None, ge=1, le=MAX_TOPK)
    num_experts: int | None = Field(None, ge=1, le=MAX_EXPERTS)
    batch: int | None = Field(None, ge=1, le=MAX_TOKENS)
    seq: int | None = Field(None, ge=1, le=MAX_TOKENS)
    tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    ep: int | None = Field(None, ge=1, le=MAX_RANKS)
    redundant_experts: int | None = Field(None, ge=0, le=MAX_EXPERTS)

    @model_validator(mode="after")
    def _rules(self) -> Self:
        e, k = self.num_experts, self.top_k
        if e is not None and k is not None and k > e:
            raise MoecommError(
                f"{f('top_k')} must be at most the number of routed experts ({e}); got {k}"
            )
        return self
