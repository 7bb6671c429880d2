"""The collectives over a size sweep, each first checked on known data (torch, imported lazily).

Sizes follow nccl-tests' size column (``spec.COLLECTIVES``); algbw = bytes / time and busbw =
algbw × the formula layer's bus-bandwidth factor, GB/s = 1e9 B/s, for both conventions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moecomm.measure.device import Ctx, Op, random_fill, time_op
from moecomm.measure.spec import (
    COLLECTIVES,
    MeasureConfig,
    buffer_elements,
    busbw_factor,
    sweep,
)
from moecomm.timing import Kind

if TYPE_CHECKING:
    import torch

TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

Progress = Callable[[str], None]


def _op(
    kind: Kind, count: int, ctx: Ctx, dtype: torch.dtype, gen: torch.Generator
) -> tuple[Op, int, int]:
    """The op on buffers of ``count`` elements (the size column), with the per-rank input and
    output bytes it hands torch."""
    import torch
    import torch.distributed as dist

    n, dev = ctx.world, ctx.dev
    size = torch.tensor([], dtype=dtype).element_size()

    def empty(c: int, scale: float = 1.0) -> torch.Tensor:
        return random_fill(torch.empty(c, dtype=dtype, device=dev), gen, scale)

    if kind == "all-reduce":
        # Repeated in-place sums: start tiny so that bf16 never overflows. Graphs use AVG.
        buf = empty(count, 1e-30)
        red = dist.ReduceOp.AVG if ctx.graph_ops else dist.ReduceOp.SUM
        return (lambda: dist.all_reduce(buf, op=red)), count * size, count * size
    if kind == "all-gather":
        inp, out = empty(count // n), torch.empty(count, dtype=dtype, device=dev)
        return (lambda: dist.all_gather_into_tensor(out, inp)), count // n * size, count * size
    if kind == "reduce-scatter":
        inp, out = empty(count), torch.empty(count // n, dtype=dtype, device=dev)
        return (lambda: dist.reduce_scatter_tensor(out, inp)), count * size, count // n * size
    if kind == "all-to-all":
        inp, out = empty(count), torch.empty(count, dtype=dtype, device=dev)
        return (lambda: dist.all_to_all_single(out, inp)), count * size, count * size
    buf = empty(count)
    return (lambda: dist.broadcast(buf, src=0)), count * size, count * size


def check(ctx: Ctx, kind: Kind, dtype: torch.dtype) -> str:
    """``ok`` when the collective gives the known answer on known data on every rank."""
    import torch
    import torch.distributed as dist

    n, rank, dev = ctx.world, ctx.rank, ctx.dev
    m = 4 * n
    v = float(rank + 1)
    expect_ranks = torch.arange(1, n + 1, dtype=dtype, device=dev).repeat_interleave(m)
    if kind == "all-reduce":
        t = torch.full((m,), v, dtype=dtype, device=dev)
        dist.all_reduce(t)
        ok = bool((t == n * (n + 1) / 2).all())
    elif kind == "all-gather":
        out = torch.zeros(m * n, dtype=dtype, device=dev)
        dist.all_gather_into_tensor(out, torch.full((m,), v, dtype=dtype, device=dev))
        ok = bool((out == expect_ranks).all())
    elif kind == "reduce-scatter":
        inp = torch.arange(m * n, dtype=torch.float32, device=dev).to(dtype)
        out = torch.zeros(m, dtype=dtype, device=dev)
        dist.reduce_scatter_tensor(out, inp)
        mine = torch.arange(rank * m, rank * m + m, dtype=torch.float32, device=dev)
        ok = bool((out == (mine * n).to(dtype)).all())
    elif kind == "all-to-all":
        out = torch.zeros(m * n, dtype=dtype, device=dev)
        dist.all_to_all_single(out, torch.full((m * n,), v, dtype=dtype, device=dev))
        ok = bool((out == expect_ranks).all())
    else:
        t = torch.full((m,), v, dtype=dtype, device=dev)
        dist.broadcast(t, src=0)
        ok = bool((t == 1.0).all())
    return "ok" if ctx.all_ok(ok) else "WRONG"


def collectives(
    ctx: Ctx, cfg: MeasureConfig, progress: Progress
) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``collectives`` and ``checks`` sections of the measurement file."""
    import torch

    dtype = getattr(torch, TORCH_DTYPES[cfg.dtype])
    element = torch.tensor([], dtype=dtype).element_size()
    gen = torch.Generator(device=ctx.dev)
    gen.manual_seed(1234 + ctx.rank)
    results: dict[str, Any] = {}
    checks: dict[str, str] = {}
    for kind in cfg.collectives:
        spec = COLLECTIVES[kind]
        factor = busbw_factor(kind, ctx.world)
        try:
            checks[spec.key] = check(ctx, kind, dtype)
        except (RuntimeError, ValueError, TypeError) as exc:  # a backend without it
            checks[spec.key] = f"unsupported: {type(exc).__name__}: {exc}"[:300]
            results[spec.key] = {"unsupported": checks[spec.key]}
            progress(f"[{spec.key}] unsupported on {ctx.backend}: {exc}")
            continue
        rows = []
        for size in sweep(cfg.min_bytes, cfg.max_bytes):
            count = buffer_elements(size, element, ctx.world)
            if count == 0:
                continue
            nbytes = count * element
            fn, sent, received = _op(kind, count, ctx, dtype, gen)
            st = time_op(ctx, fn, cfg.warmup, cfg.iters)
            row: dict[str, Any] = {"bytes": nbytes, "count": count, **st}
            row["algbw_GBps_median"] = nbytes / st["median_s"] / 1e9
            row["busbw_GBps_median"] = row["algbw_GBps_median"] * factor
            row["algbw_GBps_batched"] = nbytes / st["batched_avg_s"] / 1e9
            row["busbw_GBps_batched"] = row["algbw_GBps_batched"] * factor
            row["input_bytes_per_rank"] = sent
            row["output_bytes_per_rank"] = received
            rows.append(row)
            progress(
                f"[{spec.key}] {nbytes:>12d} B  per-op median {st['median_s'] * 1e6:10.1f} us  "
                f"busbw {row['busbw_GBps_median']:7.2f} GB/s  (back-to-back "
                f"{st['batched_avg_s'] * 1e6:10.1f} us, {row['busbw_GBps_batched']:7.2f} GB/s)"
            )
            del fn
            ctx.free()
        results[spec.key] = {
            "busbw_factor": factor,
            "size_convention": spec.size_convention,
            "dtype": TORCH_DTYPES[cfg.dtype],
            "rows": rows,
        }
    return results, checks
