"""Per-rank traffic of the EP all-to-all and the TP all-reduce, evaluated from the formula layer."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from moecomm import formulas as F
from moecomm.config import CompareConfig, EPConfig, TPConfig
from moecomm.formulas import conventions
from moecomm.results import convention_field, quantity
from moecomm.units import Exact, is_integral, normalize
from moecomm.wire import Wire, make_wire


@dataclass(frozen=True)
class EPResult:
    """EP dispatch and combine volume per rank for one MoE layer."""

    convention: str = convention_field()
    input_tokens_per_rank: int = quantity("tokens on this rank (b·s)", "tokens")
    ep: int = quantity("EP size", "ranks")
    dispatch_dtype: str = quantity("dispatch dtype", "text")
    combine_dtype: str = quantity("combine dtype", "text")
    scale_block: int | None = quantity("fp8 scale block (channels)", "count")
    header_bytes: int = quantity("header per dispatched message", "bytes", show=False)
    dispatch_copy_bytes: int = quantity("bytes per dispatched copy", "bytes")
    combine_copy_bytes: int = quantity("bytes per combined copy", "bytes")
    tokens_per_rank: Exact = quantity("token copies sent (b·s·k·(ep−1)/ep)", "tokens")
    dispatch_bytes_per_rank: Exact = quantity("dispatch bytes", "bytes")
    combine_bytes_per_rank: Exact = quantity("combine bytes", "bytes")
    ep_bytes_per_rank: Exact = quantity("dispatch + combine bytes", "bytes")
    ep_bytes_per_rank_approx: Exact = quantity("approximation 4·b·s·k·h", "bytes")
    expectation: bool = quantity("balanced-routing expectation (not integral)", "flag", show=False)


@dataclass(frozen=True)
class TPResult:
    """TP all-reduce volume per rank for one layer output."""

    convention: str = convention_field()
    input_tokens_per_rank: int = quantity("tokens on this rank (b·s)", "tokens")
    tp: int = quantity("TP size", "ranks")
    dtype: str = quantity("dtype", "text")
    allreduce_bytes_per_rank: Exact = quantity("ring all-reduce bytes", "bytes")
    allreduce_bytes_per_rank_bound: Exact = quantity("bound 2·b·s·h·β", "bytes")


@dataclass(frozen=True)
class CompareRow:
    """EP against TP at one group size M, for a global batch of S tokens."""

    size: int = quantity("M", "ranks")
    tokens_per_gpu: Exact = quantity("EP tokens/GPU (S/M)", "tokens")
    ep_bytes_per_rank: Exact = quantity("EP bytes/GPU", "bytes")
    tp_bytes_per_rank: Exact = quantity("TP bytes/GPU", "bytes")
    ratio: float | None = quantity("EP/TP (K/M)", "ratio")
    """None at M = 1: neither moves a byte, so there is no ratio (not K/1)."""
    ratio_exact: str | None = quantity("ratio exact", "text", show=False)
    ep_moves_less: bool = quantity("EP moves less", "flag")


@dataclass(frozen=True)
class Comparison:
    """The global-batch analysis over several sizes, with the crossover."""

    convention: str
    rows: list[CompareRow]
    crossover_size: int
    """Smallest integer M with EP < TP (K + 1), whether or not it is among the sizes."""


def ep_traffic(cfg: EPConfig, wire: Wire | None = None) -> EPResult:
    """Balanced-routing EP volume per rank (per-rank analysis), each copy in ``wire``'s format.

    Without a wire format a copy is h·β bytes (as in the per-rank analysis); a deployment or --scale-block and
    --header-bytes give fp8 scales and a dispatch header (DeepEP).
    """
    if wire is None:
        wire = make_wire(cfg.model.hidden_size, cfg.dispatch_dtype, cfg.combine_dtype, None, 0)
    bb, ss = cfg.workload.b_s
    v: dict[str, Exact] = {"b": bb, "s": ss, "k": cfg.model.top_k, "ep": cfg.ep}
    dispatch = F.value("ep_phase_bytes", {**v, "w": wire.dispatch_copy_bytes})
    combine = F.value("ep_phase_bytes", {**v, "w": wire.combine_copy_bytes})
    values = {
        "tokens_per_rank": F.value("ep_tokens_sent", v),
        "dispatch_bytes_per_rank": dispatch,
        "combine_bytes_per_rank": combine,
        "ep_bytes_per_rank": normalize(Fraction(dispatch) + Fraction(combine)),
        "ep_bytes_per_rank_approx": F.value(
            "ep_total_bytes_approx", {**v, "h": cfg.model.hidden_size}
        ),
    }
    return EPResult(
        convention=conventions.EP_PER_RANK,
        input_tokens_per_rank=cfg.workload.tokens_per_rank,
        ep=cfg.ep,
        dispatch_dtype=cfg.dispatch_dtype.value,
        combine_dtype=cfg.combine_dtype.value,
        scale_block=wire.scale_block,
        header_bytes=wire.header_bytes,
        dispatch_copy_bytes=wire.dispatch_copy_bytes,
        combine_copy_bytes=wire.combine_copy_bytes,
        expectation=not all(is_integral(x) for x in values.values()),
        **values,
    )


def tp_traffic(cfg: TPConfig) -> TPResult:
    """Ring all-reduce volume per rank and the bound 2·b·s·h·β, which ignores the ring factor."""
    bb, ss = cfg.workload.b_s
    v: dict[str, Exact] = {
        "b": bb,
        "s": ss,
        "h": cfg.hidden_size,
        "tp": cfg.tp,
        "beta": cfg.dtype.bytes,
    }
    return TPResult(
        convention=conventions.TP_PER_RANK,
        input_tokens_per_rank=cfg.workload.tokens_per_rank,
        tp=cfg.tp,
        dtype=cfg.dtype.value,
        allreduce_bytes_per_rank=F.value("tp_allreduce_bytes", v),
        allreduce_bytes_per_rank_bound=F.value("tp_allreduce_bytes_bound", v),
    )


def compare(cfg: CompareConfig) -> Comparison:
    """EP against TP per GPU at each size M (global-batch analysis)."""
    rows = []
    base: dict[str, Exact] = {
        "S": cfg.tokens,
        "D": cfg.hidden_size,
        "K": cfg.top_k,
        "beta": cfg.dtype.bytes,
    }
    for size in cfg.sizes:
        v = {**base, "M": size}
        ep_bytes = F.value("scaling_ep_bytes", v)
        tp_bytes = F.value("scaling_tp_bytes", v)
        # At M = 1 both are 0 bytes: K/M would compare nothing (scaling_ratio needs M ≥ 2).
        ratio = Fraction(F.value("scaling_ratio", v)) if size > 1 else None
        rows.append(
            CompareRow(
                size=size,
                tokens_per_gpu=normalize(Fraction(cfg.tokens, size)),
                ep_bytes_per_rank=ep_bytes,
                tp_bytes_per_rank=tp_bytes,
                ratio=None if ratio is None else float(ratio),
                ratio_exact=None if ratio is None else str(ratio),
                ep_moves_less=ep_bytes < tp_bytes,
            )
        )
    crossover = F.value("scaling_crossover_size", base)
    assert isinstance(crossover, int)
    convention = f"{conventions.SCALING_PER_GPU}; S = {cfg.tokens}, {cfg.dtype.value}"
    if 1 in cfg.sizes:
        convention += "; M = 1 moves no bytes, so it has no EP/TP ratio"
    return Comparison(
        convention=convention,
        rows=rows,
        crossover_size=crossover,
    )
