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

    @model_validator(mode="after")
    def _rules(self) -> Self:
        e, k = self.num_experts, self.top_k
        if k > e:
            raise MoecommError(
                f"{f('top_k')} must be at most the number of routed experts ({e}); got {k}"
            )
        check_groups(e, k, self.n_group, self.topk_group)
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
    def num_moe_layers(self) -> int | None:
        return None if self.num_layers is None else len(self.moe_layers)


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


class StepConfig(_Strict):
    """One train, prefill or decode step of a whole model on one rank, and its layout."""

    model: MoEModel
    phase: Phase = "train"
    tokens: int = Field(ge=1, le=MAX_TOKENS, description="tokens per rank at each MoE layer")
    tp: int = Field(1, ge=1, le=MAX_RANKS, description="attention tensor parallel")
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

    @model_validator(mode="after")
    def _rules(self) -> Self:
        check_ep(self.ep, self.model.num_experts, self.redundant_experts)
        if self.model.num_layers is None:
            raise MoecommError(
                f"{f('num_layers')} is required for whole-model totals (a preset has it)"
            )
        if self.model.moe_intermediate_size is None:
            raise MoecommError(f"{f('moe_intermediate_size')} is required for expert FLOPs")
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
    compute_efficiency: float = Field(
        DEEPGEMM_EFFICIENCY,
        ge=MIN_EFFICIENCY,
        le=1,
        allow_inf_nan=False,
        description="achieved share of peak FLOP/s for expert GEMMs",
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.tokens_per_gpu is not None and self.global_batch is not None:
            raise MoecommError(f"give {f('tokens_per_gpu')} or {f('global_batch')}, not both")
        if self.model.num_layers is None:
            raise MoecommError(f"{f('num_layers')} is required to lay out pipeline stages")
        if self.model.moe_intermediate_size is None:
            raise MoecommError(f"{f('moe_intermediate_size')} is required for expert FLOPs")
        return self

    @property
    def tokens(self) -> int | None:
        """Tokens per GPU: given, or the phase's default unless a global batch is given."""
        if self.tokens_per_gpu is None and self.global_batch is None:
            return DEFAULT_TOKENS[self.phase]
        return self.tokens_per_gpu

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
