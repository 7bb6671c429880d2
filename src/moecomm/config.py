"""Pydantic input models: model shape, workload, wire formats and parallel layout, with their rules."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from moecomm.dtypes import DType


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class MoEModel(_Strict):
    """Shape of an MoE transformer, as published in its config.json."""

    hidden_size: int = Field(ge=1, description="hidden size h (d_model)")
    num_experts: int = Field(ge=1, description="routed experts E per MoE layer")
    top_k: int = Field(ge=1, description="routed experts chosen per token k")
    num_layers: int | None = Field(None, ge=1, description="transformer layers")
    first_moe_layer: int = Field(0, ge=0, description="0-based index of the first MoE layer")
    moe_layer_step: int = Field(1, ge=1, description="an MoE layer every this many layers")
    non_moe_layers: tuple[int, ...] = Field((), description="extra dense layers inside the range")
    num_shared_experts: int = Field(0, ge=0, description="shared experts every token visits")
    moe_intermediate_size: int | None = Field(None, ge=1, description="FFN width of one expert")
    shared_expert_intermediate_size: int | None = Field(
        None, ge=1, description="FFN width of the shared-expert block"
    )
    intermediate_size: int | None = Field(None, ge=1, description="FFN width of dense layers")
    n_group: int | None = Field(None, ge=1, description="expert groups for group-limited routing")
    topk_group: int | None = Field(None, ge=1, description="groups a token may reach")
    vocab_size: int | None = Field(None, ge=1)
    num_attention_heads: int | None = Field(None, ge=1)
    num_key_value_heads: int | None = Field(None, ge=1)
    head_dim: int | None = Field(None, ge=1)
    native_dtype: DType = Field(DType.BF16, description="dtype of the published weights")
    quant_block_size: int | None = Field(None, ge=1, description="weight quantisation block")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        e, k = self.num_experts, self.top_k
        if k > e:
            raise ValueError(f"top_k must be at most the number of routed experts ({e}); got {k}")
        if (self.n_group is None) != (self.topk_group is None):
            raise ValueError("n_group and topk_group must be given together")
        if self.n_group is not None and self.topk_group is not None:
            if e % self.n_group:
                raise ValueError(
                    f"n_group must divide the number of routed experts ({e}); got {self.n_group}"
                )
            if self.topk_group > self.n_group:
                raise ValueError(
                    f"topk_group must be at most n_group ({self.n_group}); got {self.topk_group}"
                )
            reach = self.topk_group * (e // self.n_group)
            if k > reach:
                raise ValueError(
                    f"top_k must be at most the experts in topk_group groups ({reach}); got {k}"
                )
        if self.num_layers is not None:
            if self.first_moe_layer >= self.num_layers:
                raise ValueError(
                    f"first_moe_layer must be below num_layers ({self.num_layers}); "
                    f"got {self.first_moe_layer}"
                )
            bad = [i for i in self.non_moe_layers if not 0 <= i < self.num_layers]
            if bad:
                raise ValueError(
                    f"non_moe_layers must lie in 0..{self.num_layers - 1}; got {bad[0]}"
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

    batch: int | None = Field(None, ge=1, description="micro-batch b per rank")
    seq: int | None = Field(None, ge=1, description="sequence length s")
    tokens: int | None = Field(None, ge=1, description="tokens b·s per rank")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        has_bs = self.batch is not None or self.seq is not None
        if self.tokens is not None and has_bs:
            raise ValueError("give either tokens, or batch and seq, not both")
        if self.tokens is None and (self.batch is None or self.seq is None):
            raise ValueError("tokens is required, or both batch and seq")
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
    ep: int = Field(ge=1, description="expert-parallel group size")
    redundant_experts: int = Field(0, ge=0, description="extra replicas of hot experts (EPLB)")
    dispatch_dtype: DType = DType.BF16
    combine_dtype: DType = DType.BF16

    @model_validator(mode="after")
    def _rules(self) -> Self:
        e, r = self.model.num_experts, self.redundant_experts
        if (e + r) % self.ep:
            what = (
                f"the number of routed experts ({e})"
                if r == 0
                else f"the routed plus redundant experts ({e} + {r} = {e + r})"
            )
            raise ValueError(f"ep must divide {what}; got {self.ep}")
        return self


Dedup = Literal["copies", "rank", "node"]
Count = Literal["wire", "logical"]


class RoutingConfig(_Strict):
    """How EP traffic is routed and counted: wire format, dedup, node limits, capacity, imbalance.

    The defaults reproduce the seed's balanced, one-copy-per-expert, bytes-that-leave convention.
    """

    dedup: Dedup = Field("copies", description="one copy per (token, expert), rank or node")
    count: Count = Field("wire", description="wire: bytes that leave; logical: also to itself")
    gpus_per_node: int | None = Field(None, ge=1, description="GPUs per node (NVLink domain)")
    scale_block: int | None = Field(None, ge=1, description="fp8: one fp32 scale per N channels")
    header_bytes: int = Field(0, ge=0, description="bytes added per dispatched message")
    n_group: int | None = Field(None, ge=1, description="expert groups (group-limited routing)")
    topk_group: int | None = Field(None, ge=1, description="groups a token may reach")
    capacity_factor: Fraction | None = Field(None, gt=0, description="Megatron-Core capacity")
    pad: bool = Field(False, description="send every expert slot full, to capacity")
    imbalance: Fraction | None = Field(None, ge=1, description="busiest rank over mean received")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.dedup == "node" and self.gpus_per_node is None:
            raise ValueError("--dedup node needs --gpus-per-node")
        if self.pad and self.capacity_factor is None:
            raise ValueError("--pad needs --capacity-factor")
        if self.dedup != "copies" and self.capacity_factor is not None:
            raise ValueError(f"--capacity-factor needs --dedup copies; got --dedup {self.dedup}")
        if self.dedup != "copies" and self.imbalance is not None:
            raise ValueError(f"--imbalance needs --dedup copies; got --dedup {self.dedup}")
        if (self.n_group is None) != (self.topk_group is None):
            raise ValueError("--n-group and --topk-group must be given together")
        if (
            self.n_group is not None
            and self.topk_group is not None
            and (self.topk_group > self.n_group)
        ):
            raise ValueError(
                f"--topk-group must be at most --n-group ({self.n_group}); got {self.topk_group}"
            )
        return self

    @property
    def count_self(self) -> bool:
        return self.count == "logical"


class TPConfig(_Strict):
    """A tensor-parallel all-reduce of the layer output."""

    hidden_size: int = Field(ge=1, description="hidden size h")
    workload: Workload
    tp: int = Field(ge=1, description="tensor-parallel group size")
    dtype: DType = DType.BF16


class CompareConfig(_Strict):
    """The seed's second analysis: S tokens in one batch over M GPUs, EP against TP."""

    hidden_size: int = Field(ge=1, description="hidden size D")
    top_k: int = Field(ge=1, description="experts per token K")
    tokens: int = Field(ge=1, description="tokens S in the global batch")
    sizes: tuple[int, ...] = Field(min_length=1, description="group sizes M to compare")
    dtype: DType = DType.BF16

    @model_validator(mode="after")
    def _rules(self) -> Self:
        bad = [m for m in self.sizes if m < 1]
        if bad:
            raise ValueError(f"sizes must be at least 1; got {bad[0]}")
        return self


class ParallelLayout(_Strict):
    """World split for attention (tp·cp·dp·pp) and for experts (etp·ep·edp·pp), Megatron style."""

    world: int = Field(ge=1, description="number of ranks")
    tp: int = Field(1, ge=1, description="attention tensor parallel")
    cp: int = Field(1, ge=1, description="context parallel")
    pp: int = Field(1, ge=1, description="pipeline parallel")
    dp: int | None = Field(None, ge=1, description="attention data parallel (default: derived)")
    ep: int = Field(1, ge=1, description="expert parallel")
    etp: int | None = Field(
        None, ge=1, description="expert tensor parallel (Megatron-Core default: = tp)"
    )
    edp: int | None = Field(None, ge=1, description="expert data parallel (default: derived)")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        w, tp, cp, pp = self.world, self.tp, self.cp, self.pp
        if w % (tp * cp * pp):
            raise ValueError(
                f"tp·cp·pp must divide world ({w}); got {tp}·{cp}·{pp} = {tp * cp * pp}"
            )
        if self.dp is not None and tp * cp * self.dp * pp != w:
            got = tp * cp * self.dp * pp
            raise ValueError(
                f"tp·cp·dp·pp must equal world ({w}); got {tp}·{cp}·{self.dp}·{pp} = {got}"
            )
        etp, ep = self.expert_tp, self.ep
        if w % (etp * ep * pp):
            got = etp * ep * pp
            raise ValueError(f"etp·ep·pp must divide world ({w}); got {etp}·{ep}·{pp} = {got}")
        if self.edp is not None and etp * ep * self.edp * pp != w:
            got = etp * ep * self.edp * pp
            raise ValueError(
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


class HardwareSpec(_Strict):
    """Per-GPU links, memory and peak compute of one GPU type (all bandwidths per direction)."""

    gpus_per_node: int = Field(ge=1, description="GPUs in one scale-up (NVLink) domain")
    scale_up_bytes_per_second: int = Field(ge=1, description="scale-up link, datasheet")
    scale_up_achieved_bytes_per_second: int | None = Field(
        None, ge=1, description="scale-up link, achieved where published"
    )
    scale_out_bytes_per_second: int = Field(ge=1, description="scale-out NIC per GPU, datasheet")
    scale_out_achieved_bytes_per_second: int | None = Field(
        None, ge=1, description="scale-out NIC per GPU, achieved where published"
    )
    scale_up_latency_seconds: float | None = Field(None, ge=0, description="scale-up latency")
    scale_out_latency_seconds: float | None = Field(None, ge=0, description="scale-out latency")
    base_latency_seconds: float | None = Field(
        None, ge=0, description="fixed latency per collective (software), seconds"
    )
    efficiency: float | None = Field(
        None, gt=0, le=1, description="achieved share of the link bandwidth used (calibration)"
    )
    memory_bytes: int = Field(ge=1, description="device memory per GPU")
    bf16_dense_flops: int = Field(ge=1, description="dense BF16 peak FLOP/s")
    fp8_dense_flops: int | None = Field(None, ge=1, description="dense FP8 peak FLOP/s")


Phase = Literal["train", "prefill", "decode"]


class Deployment(_Strict):
    """A published deployment: model, hardware, parallel sizes and wire formats."""

    model: str = Field(min_length=1, description="model preset name")
    hardware: str = Field(min_length=1, description="hardware preset name")
    phase: Phase
    nodes: int = Field(ge=1)
    gpus_per_node: int = Field(ge=1)
    world: int = Field(ge=1)
    tp: int = Field(1, ge=1)
    cp: int = Field(1, ge=1)
    dp: int | None = Field(None, ge=1)
    pp: int = Field(1, ge=1)
    ep: int = Field(1, ge=1)
    etp: int | None = Field(None, ge=1)
    edp: int | None = Field(None, ge=1)
    sequence_parallel: bool = False
    dp_attention: bool = False
    redundant_experts: int = Field(0, ge=0)
    dispatch_dtype: DType = DType.BF16
    combine_dtype: DType = DType.BF16
    scale_block: int | None = Field(None, ge=1, description="fp8: one fp32 scale per N channels")
    header_bytes: int = Field(0, ge=0, description="bytes added per dispatched message")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.nodes * self.gpus_per_node != self.world:
            raise ValueError(
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
