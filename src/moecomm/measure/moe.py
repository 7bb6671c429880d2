"""MoE dispatch and combine through ``all_to_all_single`` with uneven splits (torch, lazily).

The EP group is the world: expert e lives on rank e // (E/world). Each variant sends rows of
uint8 whose width is the wire's bytes per token copy (``wire.py``), so the bytes on the wire are
exactly the planned matrix (``plan.MoeRun.send_bytes``); dispatch sends rank i's row of the
copies matrix, combine sends the received rows back (the transpose). Only the all-to-all is
timed: no permutation, no expert GEMM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moecomm.measure.device import Ctx, random_fill, time_op
from moecomm.measure.plan import Job, MoeRun, Variant
from moecomm.measure.spec import MeasureConfig

Progress = Callable[[str], None]


def _route_check(ctx: Ctx, run: MoeRun) -> str:
    """``ok`` when every row arrives from the rank the plan says (rows carry their source)."""
    import torch
    import torch.distributed as dist

    rank, n = ctx.rank, ctx.world
    send = run.copies[rank]
    recv = [row[rank] for row in run.copies]
    src = torch.full((sum(send), 1), rank, dtype=torch.int32, device=ctx.dev)
    dst = torch.full((sum(recv), 1), -1, dtype=torch.int32, device=ctx.dev)
    dist.all_to_all_single(dst, src, recv, send)
    expect = torch.repeat_interleave(torch.arange(n, dtype=torch.int32), torch.tensor(recv))
    ok = bool((dst[:, 0].cpu() == expect).all())
    return "ok" if ctx.all_ok(ok) else "WRONG"


def _variant(ctx: Ctx, run: MoeRun, v: Variant, cfg: MeasureConfig) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    width = v.copy_bytes
    isp, osp = run.splits(v, ctx.rank)
    gen = torch.Generator(device=ctx.dev)
    gen.manual_seed(99 + ctx.rank)
    src = random_fill(torch.empty((sum(isp), width), dtype=torch.uint8, device=ctx.dev), gen)
    dst = torch.empty((sum(osp), width), dtype=torch.uint8, device=ctx.dev)
    # The bytes each rank hands torch, per destination: they must be the planned matrix.
    sent = ctx.gather_ints([rows * src.element_size() * width for rows in isp])
    if sent != run.send_bytes[v.name]:
        raise RuntimeError(f"{v.name}: the tensors sent differ from the planned bytes")
    st = time_op(ctx, lambda: dist.all_to_all_single(dst, src, osp, isp), cfg.warmup, cfg.moe_iters)
    matrix = run.send_bytes[v.name]
    n = len(matrix)
    st["send_bytes"] = matrix
    st["row_bytes_effective"] = width
    st["max_offrank_send_or_recv_bytes"] = run.offrank_busiest(v)
    st["offrank_GBps_median"] = st["max_offrank_send_or_recv_bytes"] / st["median_s"] / 1e9
    st["send_bytes_per_rank"] = [sum(row) for row in matrix]
    st["recv_bytes_per_rank"] = [sum(row[j] for row in matrix) for j in range(n)]
    st["offrank_send_bytes_per_rank"] = [sum(row) - row[i] for i, row in enumerate(matrix)]
    st["bytes_check"] = "ok: the tensors handed to all_to_all_single hold exactly send_bytes"
    return st


def moe_section(ctx: Ctx, job: Job, progress: Progress) -> dict[str, Any]:
    """The ``moe`` section of the measurement file."""
    model, cfg, variants = job.model, job.cfg, job.variants
    assert model is not None
    e, n = model.num_experts, ctx.world
    out: dict[str, Any] = {
        "experts": e,
        "topk": model.top_k,
        "hidden": model.hidden_size,
        "experts_per_rank": e // n,
        "placement": "contiguous: expert e on rank e // (E/N)",
        "mode": (
            "copies: one row per (token, expert) pair; diagonal = local copy"
            if cfg.dedup == "copies"
            else "rank: one row per (token, destination rank); diagonal = local copy"
        ),
        "dedup": cfg.dedup,
        "routing": job.routing,
        "row_bytes": {v.name: v.copy_bytes for v in variants},
        "wire": {v.name: v.describe() for v in variants},
        "activation_dtype": "uint8 rows of row_bytes bytes (the wire format's bytes per copy)",
        "timed_region": "all_to_all_single only (no permute, no expert compute)",
        "bytes_convention": "send_bytes[src][dst] = moecomm traffic's matrix for the same "
        "routing, wire format and dedup with --count logical (the diagonal stays on the rank)",
        "runs": [],
    }
    for run in job.runs:
        record: dict[str, Any] = {
            "T": run.tokens,
            "tokens_per_rank": run.tokens_per_rank,
            "routing": run.routing,
            "send_rows": run.copies,
            "expert_counts": run.expert_counts,
        }
        if run.topk_ids is not None:
            record["topk_ids"] = run.topk_ids
        record["check"] = _route_check(ctx, run)
        for v in variants:
            st = _variant(ctx, run, v, cfg)
            record[v.name] = st
            progress(
                f"[moe T={run.tokens}] {v.name:14s} per-op median {st['median_s'] * 1e6:9.1f} us  "
                f"back-to-back {st['batched_avg_s'] * 1e6:9.1f} us  max off-rank "
                f"{st['max_offrank_send_or_recv_bytes'] / 1e6:8.2f} MB"
            )
            ctx.free()
        out["runs"].append(record)
    return out
