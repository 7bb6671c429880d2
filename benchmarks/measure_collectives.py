#!/usr/bin/env python3
"""Measure NCCL (or gloo) collectives and an emulated MoE EP dispatch/combine.

Standalone: imports only torch and the standard library.  Launch with torchrun,
one process per GPU::

    NCCL_NVLS_ENABLE=0 torchrun --standalone --nproc-per-node 4 \
        benchmarks/measure_collectives.py --out h100x4_nccl.json

    # CPU smoke test (gloo, float32 is substituted for bf16 where gloo lacks it):
    torchrun --standalone --nproc-per-node 2 benchmarks/measure_collectives.py \
        --backend gloo --min-bytes 8K --max-bytes 256K --tokens 128,512 --out /tmp/g.json

Only rank 0 writes the JSON file.

Size convention (the nccl-tests one, NVIDIA/nccl-tests doc/PERFORMANCE.md):
``bytes`` (S) is the size nccl-tests prints in its ``size`` column:

* all_reduce:             S = the buffer on each rank (input = output).
* all_gather_into_tensor: S = the TOTAL OUTPUT buffer; each rank's input is S/n.
* reduce_scatter_tensor:  S = the TOTAL INPUT buffer; each rank's output is S/n.
* all_to_all_single:      S = each rank's send buffer (= its receive buffer);
                          S/n goes to every rank, the own rank included.
* broadcast:              S = the buffer (root 0).

algbw = S / t and busbw = algbw * factor with factor 2(n-1)/n (all_reduce),
(n-1)/n (all_gather, reduce_scatter, all_to_all) and 1 (broadcast).
"GB/s" means 1e9 bytes/s, as in nccl-tests.

Timing.  Per size: ``--warmup`` untimed calls, then (eager mode, the default)

* per-iteration: ``--iters`` times {tiny all-reduce + device synchronize as a
  barrier; start event; op; end event}.  Each iteration's time is the MAX over
  ranks (the collective is done when the slowest rank is done; it includes the
  launch skew between ranks, a few microseconds).  ``median_s``, ``min_s``,
  ``max_s`` summarise these; ``rank_median_s`` gives each rank's own median.
* batched (nccl-tests style): one barrier, then ``--iters`` back-to-back ops
  between two events; ``batched_avg_s`` = elapsed / iters, max over ranks.
  This is what nccl-tests' ``time`` column reports (launch skew amortised).

algbw/busbw are given for both (``*_median`` and ``*_batched``).
With ``--cuda-graph OPS`` (NCCL only) OPS back-to-back ops are captured in one
CUDA graph and each of ``--iters`` replays is timed (barrier before each);
per-op time = replay / OPS.  This strips PyTorch's per-call host overhead
(~20-40 us), so small sizes show NCCL latency.  all_reduce then uses AVG.

MoE dispatch/combine emulation (``moe`` section).  N ranks form one EP group
holding E experts, expert e on rank e // (E/N).  Each rank has T tokens; each
token picks top-k distinct experts uniformly at random (CPU generator seeded
with seed + rank + 1000*T; the k largest of E uniform draws = a uniform
k-subset).  "copies" mode: one row per
(token, expert) pair, so rank i sends to rank j as many rows as it has pairs
whose expert lives on j (the own rank included: the diagonal of the matrix is a
local copy inside all_to_all_single).  Dispatch is all_to_all_single with
uneven splits of rows of h bf16 values (2h bytes) and, separately, of FP8 rows
emulated as uint8 (h + 4h/128 bytes: one fp32 scale per 128 channels, DeepEP's
layout).  Combine sends the received rows back (transposed splits) in bf16.
Only the all-to-all is timed (no permutation, no expert GEMM).
Recorded per T: ``send_rows`` / ``send_bytes_*`` (N x N, [src][dst]),
``expert_counts`` ([src][expert], E values per source rank), timings, and for
T <= ``--save-routing-max-T`` the raw top-k ids ([rank][token][k]).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import warnings

import torch
import torch.distributed as dist

COLLECTIVES = [
    "all_reduce",
    "all_gather_into_tensor",
    "reduce_scatter_tensor",
    "all_to_all_single",
    "broadcast",
]


def parse_size(s: str) -> int:
    s = s.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def busbw_factor(coll: str, n: int) -> float:
    if coll == "all_reduce":
        return 2.0 * (n - 1) / n
    if coll in ("all_gather_into_tensor", "reduce_scatter_tensor", "all_to_all_single"):
        return (n - 1) / n
    return 1.0


SIZE_CONVENTION = {
    "all_reduce": "bytes = per-rank buffer (input = output)",
    "all_gather_into_tensor": "bytes = total OUTPUT buffer (n x per-rank input); per-rank input = bytes/n",
    "reduce_scatter_tensor": "bytes = total INPUT buffer (n x per-rank output); per-rank output = bytes/n",
    "all_to_all_single": "bytes = per-rank send buffer (= receive buffer); bytes/n to each rank incl. self",
    "broadcast": "bytes = buffer size, root 0",
}


class Ctx:
    def __init__(self, backend: str):
        self.backend = backend
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.cuda = backend == "nccl"
        if self.cuda:
            self.dev = torch.device("cuda", torch.cuda.current_device())
        else:
            self.dev = torch.device("cpu")
        self._bar = torch.zeros(1, dtype=torch.float32, device=self.dev)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.dev)

    def barrier(self):
        dist.all_reduce(self._bar)
        self.sync()

    def timer(self):
        """Returns (start(), stop() -> seconds) pair."""
        if self.cuda:
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)

            def start():
                s.record()

            def stop():
                e.record()
                e.synchronize()
                return s.elapsed_time(e) / 1e3

            return start, stop
        t0 = [0.0]

        def start():
            t0[0] = time.perf_counter()

        def stop():
            return time.perf_counter() - t0[0]

        return start, stop

    def gather_floats(self, vals: list[float]) -> list[list[float]]:
        t = torch.tensor(vals, dtype=torch.float64, device=self.dev)
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t)
        return [o.cpu().tolist() for o in out]


def time_op(ctx: Ctx, fn, warmup: int, iters: int) -> dict:
    for _ in range(warmup):
        fn()
    if GRAPH_OPS and ctx.cuda:
        return time_op_graph(ctx, fn, iters)
    ctx.barrier()
    start, stop = ctx.timer()
    per = []
    for _ in range(iters):
        ctx.barrier()
        start()
        fn()
        per.append(stop())
    ctx.barrier()
    start()
    for _ in range(iters):
        fn()
    batched = stop() / iters
    allv = ctx.gather_floats([*per, batched])  # [rank][iters+1]
    per_iter_max = [max(allv[r][i] for r in range(ctx.world)) for i in range(iters)]
    return {
        "median_s": statistics.median(per_iter_max),
        "min_s": min(per_iter_max),
        "max_s": max(per_iter_max),
        "rank_median_s": [statistics.median(allv[r][:iters]) for r in range(ctx.world)],
        "batched_avg_s": max(allv[r][iters] for r in range(ctx.world)),
        "iters": iters,
        "warmup": warmup,
    }


GRAPH_OPS = 0  # set by --cuda-graph N


def time_op_graph(ctx: Ctx, fn, iters: int) -> dict:
    """Capture GRAPH_OPS back-to-back ops in one CUDA graph; time `iters` replays.

    Removes the PyTorch/c10d host launch overhead (tens of microseconds per
    call), so small sizes show NCCL's own latency as nccl-tests would.
    """
    ctx.barrier()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(GRAPH_OPS):
            fn()
    ctx.barrier()
    g.replay()  # one untimed replay
    start, stop = ctx.timer()
    per = []
    for _ in range(iters):
        ctx.barrier()
        start()
        g.replay()
        per.append(stop() / GRAPH_OPS)
    allv = ctx.gather_floats(per)
    per_iter_max = [max(allv[r][i] for r in range(ctx.world)) for i in range(iters)]
    del g
    return {
        "median_s": statistics.median(per_iter_max),
        "min_s": min(per_iter_max),
        "max_s": max(per_iter_max),
        "rank_median_s": [statistics.median(allv[r]) for r in range(ctx.world)],
        "batched_avg_s": statistics.mean(per_iter_max),
        "iters": iters,
        "timing": f"cuda_graph: {GRAPH_OPS} ops per graph, per-op time = replay time / {GRAPH_OPS}; "
        "batched_avg_s = mean over replays",
    }


def rand_fill(t: torch.Tensor, scale: float = 1.0, gen=None) -> torch.Tensor:
    if t.dtype == torch.uint8:
        t.copy_(torch.randint(0, 256, t.shape, dtype=torch.uint8, device=t.device, generator=gen))
    else:
        t.copy_(torch.randn(t.shape, dtype=torch.float32, device=t.device, generator=gen) * scale)
    return t


def run_collectives(ctx: Ctx, args, dtype) -> tuple[dict, dict]:
    n, rank, dev = ctx.world, ctx.rank, ctx.dev
    esz = torch.tensor([], dtype=dtype).element_size()
    sizes = []
    s = args.min_bytes
    while s <= args.max_bytes:
        sizes.append(s)
        s *= 2
    results: dict = {}
    checks: dict = {}
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234 + rank)
    for coll in args.collectives:
        rows = []
        factor = busbw_factor(coll, n)
        # correctness check at a small size with known values
        try:
            checks[coll] = check_collective(ctx, coll, dtype)
        except Exception as exc:  # gloo lacks some collectives
            checks[coll] = f"unsupported: {type(exc).__name__}: {exc}"[:300]
            results[coll] = {"unsupported": checks[coll]}
            if rank == 0:
                print(f"[{coll}] unsupported on {ctx.backend}: {exc}", flush=True)
            continue
        for S in sizes:
            count = S // esz
            count -= count % n  # divisible by n
            if count == 0:
                continue
            S_eff = count * esz
            # all-reduce sums in place repeatedly: start tiny so bf16 never overflows
            scale = 1e-30 if coll == "all_reduce" else 1.0
            if coll == "all_reduce":
                buf = rand_fill(torch.empty(count, dtype=dtype, device=dev), scale, gen)
                op = dist.ReduceOp.AVG if GRAPH_OPS else dist.ReduceOp.SUM
                fn = lambda: dist.all_reduce(buf, op=op)
            elif coll == "all_gather_into_tensor":
                inp = rand_fill(torch.empty(count // n, dtype=dtype, device=dev), 1.0, gen)
                out = torch.empty(count, dtype=dtype, device=dev)
                fn = lambda: dist.all_gather_into_tensor(out, inp)
            elif coll == "reduce_scatter_tensor":
                inp = rand_fill(torch.empty(count, dtype=dtype, device=dev), 1.0, gen)
                out = torch.empty(count // n, dtype=dtype, device=dev)
                fn = lambda: dist.reduce_scatter_tensor(out, inp)
            elif coll == "all_to_all_single":
                inp = rand_fill(torch.empty(count, dtype=dtype, device=dev), 1.0, gen)
                out = torch.empty(count, dtype=dtype, device=dev)
                fn = lambda: dist.all_to_all_single(out, inp)
            elif coll == "broadcast":
                buf = rand_fill(torch.empty(count, dtype=dtype, device=dev), 1.0, gen)
                fn = lambda: dist.broadcast(buf, src=0)
            else:
                raise ValueError(coll)
            st = time_op(ctx, fn, args.warmup, args.iters)
            row = {"bytes": S_eff, "count": count, **st}
            row["algbw_GBps_median"] = S_eff / st["median_s"] / 1e9
            row["busbw_GBps_median"] = row["algbw_GBps_median"] * factor
            row["algbw_GBps_batched"] = S_eff / st["batched_avg_s"] / 1e9
            row["busbw_GBps_batched"] = row["algbw_GBps_batched"] * factor
            rows.append(row)
            if rank == 0:
                print(
                    f"[{coll}] {S_eff:>12d} B  median {st['median_s'] * 1e6:10.1f} us  "
                    f"busbw {row['busbw_GBps_median']:7.2f} GB/s  (batched {st['batched_avg_s'] * 1e6:10.1f} us, "
                    f"{row['busbw_GBps_batched']:7.2f} GB/s)",
                    flush=True,
                )
            # free before the next size
            buf = inp = out = fn = None
            if ctx.cuda:
                torch.cuda.empty_cache()
        results[coll] = {
            "busbw_factor": factor,
            "size_convention": SIZE_CONVENTION[coll],
            "dtype": str(dtype).replace("torch.", ""),
            "rows": rows,
        }
    return results, checks


def check_collective(ctx: Ctx, coll: str, dtype) -> str:
    n, rank, dev = ctx.world, ctx.rank, ctx.dev
    m = 4 * n
    v = float(rank + 1)
    if coll == "all_reduce":
        t = torch.full((m,), v, dtype=dtype, device=dev)
        dist.all_reduce(t)
        ok = bool((t == n * (n + 1) / 2).all())
    elif coll == "all_gather_into_tensor":
        inp = torch.full((m,), v, dtype=dtype, device=dev)
        out = torch.zeros(m * n, dtype=dtype, device=dev)
        dist.all_gather_into_tensor(out, inp)
        exp = torch.arange(1, n + 1, dtype=dtype, device=dev).repeat_interleave(m)
        ok = bool((out == exp).all())
    elif coll == "reduce_scatter_tensor":
        inp = torch.arange(m * n, dtype=torch.float32, device=dev).to(dtype)
        out = torch.zeros(m, dtype=dtype, device=dev)
        dist.reduce_scatter_tensor(out, inp)
        exp = (torch.arange(rank * m, rank * m + m, dtype=torch.float32, device=dev) * n).to(dtype)
        ok = bool((out == exp).all())
    elif coll == "all_to_all_single":
        inp = torch.full((m * n,), v, dtype=dtype, device=dev)
        out = torch.zeros(m * n, dtype=dtype, device=dev)
        dist.all_to_all_single(out, inp)
        exp = torch.arange(1, n + 1, dtype=dtype, device=dev).repeat_interleave(m)
        ok = bool((out == exp).all())
    elif coll == "broadcast":
        t = torch.full((m,), v, dtype=dtype, device=dev)
        dist.broadcast(t, src=0)
        ok = bool((t == 1.0).all())
    else:
        raise ValueError(coll)
    okt = torch.tensor([1 if ok else 0], dtype=torch.int32, device=dev)
    dist.all_reduce(okt, op=dist.ReduceOp.MIN)
    return "ok" if int(okt.item()) == 1 else "WRONG"


def run_moe(ctx: Ctx, args, act_dtype) -> dict:
    n, rank, dev = ctx.world, ctx.rank, ctx.dev
    E, k, h = args.experts, args.topk, args.hidden
    assert E % n == 0, "experts must divide evenly over ranks"
    epr = E // n
    fp8_row = h + 4 * (h // 128)  # bytes: fp8 values + one fp32 scale per 128 channels
    bf16_row = 2 * h
    act_esz = torch.tensor([], dtype=act_dtype).element_size()
    out: dict = {
        "experts": E,
        "topk": k,
        "hidden": h,
        "experts_per_rank": epr,
        "placement": "contiguous: expert e on rank e // (E/N)",
        "mode": "copies: one row per (token, expert) pair; diagonal = local copy",
        "routing": "uniform top-k without replacement: k largest of E uniform draws, "
        f"torch.Generator(cpu).manual_seed({args.seed} + rank + 1000*T); "
        "ids = torch.rand(T, E, generator=g).topk(k).indices, sorted per token",
        "row_bytes": {"dispatch_bf16": bf16_row, "dispatch_fp8": fp8_row, "combine_bf16": bf16_row},
        "activation_dtype": str(act_dtype).replace("torch.", ""),
        "timed_region": "all_to_all_single only (no permute, no expert compute)",
        "runs": [],
    }
    for T in args.tokens:
        g = torch.Generator()
        g.manual_seed(args.seed + rank + 1000 * T)
        ids = torch.rand(T, E, generator=g).topk(k, dim=1).indices.sort(dim=1).values  # [T,k]
        dest = ids // epr
        send_rows = torch.bincount(dest.flatten(), minlength=n)  # [n]
        ecounts = torch.bincount(ids.flatten(), minlength=E)  # [E]
        # everyone learns the full matrices
        sr = send_rows.to(dev, torch.int64)
        sr_all = [torch.empty_like(sr) for _ in range(n)]
        dist.all_gather(sr_all, sr)
        mat = torch.stack([x.cpu() for x in sr_all])  # [src, dst]
        ec = ecounts.to(dev, torch.int64)
        ec_all = [torch.empty_like(ec) for _ in range(n)]
        dist.all_gather(ec_all, ec)
        expert_counts = [x.cpu().tolist() for x in ec_all]
        in_splits = mat[rank].tolist()
        out_splits = mat[:, rank].tolist()
        n_send, n_recv = sum(in_splits), sum(out_splits)

        run = {"T": T, "send_rows": mat.tolist(), "expert_counts": expert_counts}
        if args.save_routing_max_T >= T:
            ids_all = ctx_gather_ids(ctx, ids)
            run["topk_ids"] = ids_all

        # correctness of the routing exchange: rows carry their source rank id
        chk_send = torch.full((n_send, 8), float(rank), dtype=act_dtype, device=dev)
        chk_recv = torch.full((n_recv, 8), -1.0, dtype=act_dtype, device=dev)
        dist.all_to_all_single(chk_recv, chk_send, out_splits, in_splits)
        exp = torch.repeat_interleave(
            torch.arange(n, dtype=act_dtype), torch.tensor(out_splits)
        ).to(dev)
        ok = bool((chk_recv[:, 0] == exp).all()) if n_recv else True
        okt = torch.tensor([1 if ok else 0], dtype=torch.int32, device=dev)
        dist.all_reduce(okt, op=dist.ReduceOp.MIN)
        run["check"] = "ok" if int(okt.item()) == 1 else "WRONG"

        gen = torch.Generator(device=dev)
        gen.manual_seed(99 + rank)
        variants = [
            ("dispatch_bf16", act_dtype, h, in_splits, out_splits, n_send, n_recv, bf16_row),
            ("dispatch_fp8", torch.uint8, fp8_row, in_splits, out_splits, n_send, n_recv, fp8_row),
            # combine: send back what was received
            ("combine_bf16", act_dtype, h, out_splits, in_splits, n_recv, n_send, bf16_row),
        ]
        for name, dt, width, isp, osp, ns, nr, _row_b in variants:
            src = rand_fill(torch.empty((ns, width), dtype=dt, device=dev), 1.0, gen)
            dst = torch.empty((nr, width), dtype=dt, device=dev)
            fn = lambda: dist.all_to_all_single(dst, src, osp, isp)
            st = time_op(ctx, fn, args.warmup, args.moe_iters)
            row_b_eff = width * torch.tensor([], dtype=dt).element_size()
            if dt is act_dtype and act_esz != 2:
                st["note"] = f"activation dtype {act_dtype} ({act_esz} B/elt) used instead of bf16"
            # bytes per rank actually moved off-rank (send side), per source rank
            send_b = [
                [c * row_b_eff for c in r]
                for r in (mat.tolist() if name != "combine_bf16" else mat.t().tolist())
            ]
            off = [sum(r) - r[i] for i, r in enumerate(send_b)]
            recv_off = [sum(send_b[s][d] for s in range(n) if s != d) for d in range(n)]
            st["send_bytes"] = send_b  # [src][dst]
            st["row_bytes_effective"] = row_b_eff
            st["max_offrank_send_or_recv_bytes"] = max(max(off), max(recv_off))
            st["offrank_GBps_median"] = st["max_offrank_send_or_recv_bytes"] / st["median_s"] / 1e9
            run[name] = st
            if rank == 0:
                print(
                    f"[moe T={T:>6d}] {name:14s} median {st['median_s'] * 1e6:9.1f} us  "
                    f"batched {st['batched_avg_s'] * 1e6:9.1f} us  max off-rank {st['max_offrank_send_or_recv_bytes'] / 1e6:8.2f} MB  "
                    f"{st['offrank_GBps_median']:7.2f} GB/s",
                    flush=True,
                )
            src = dst = fn = None
            if ctx.cuda:
                torch.cuda.empty_cache()
        out["runs"].append(run)
    return out


def ctx_gather_ids(ctx: Ctx, ids: torch.Tensor) -> list:
    t = ids.to(ctx.dev, torch.int64).contiguous()
    lst = [torch.empty_like(t) for _ in range(ctx.world)]
    dist.all_gather(lst, t)
    return [x.cpu().tolist() for x in lst]


def metadata(ctx: Ctx, args) -> dict:
    md = {
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "backend": ctx.backend,
        "world_size": ctx.world,
        "argv": sys.argv,
        "env": {
            k: v
            for k, v in sorted(os.environ.items())
            if k.startswith(
                ("NCCL_", "TORCH_NCCL", "TORCH_SYMM", "NVSHMEM_", "CUDA_VISIBLE", "OMP_NUM")
            )
        },
    }
    if ctx.cuda:
        v = torch.cuda.nccl.version()
        md["nccl_version"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        md["cuda_runtime"] = torch.version.cuda
        md["gpu_count_visible"] = torch.cuda.device_count()
        md["gpu_names"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        props = torch.cuda.get_device_properties(ctx.dev)
        md["gpu_memory_bytes"] = props.total_memory
        for cmd, key in (
            (["nvidia-smi", "topo", "-m"], "nvidia_smi_topo"),
            (
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,clocks.max.sm,clocks.sm,power.limit",
                    "--format=csv",
                ],
                "nvidia_smi_query",
            ),
        ):
            try:
                md[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
            except Exception as exc:
                md[key] = f"unavailable: {exc}"
    else:
        md["cpu_count"] = os.cpu_count()
    return md


def main():
    warnings.filterwarnings(
        "ignore", category=FutureWarning
    )  # reduce_scatter_tensor rename in new torch
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--backend", choices=["nccl", "gloo"], default="nccl")
    ap.add_argument("--min-bytes", type=parse_size, default=parse_size("8K"))
    ap.add_argument("--max-bytes", type=parse_size, default=parse_size("1G"))
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--collectives", default=",".join(COLLECTIVES))
    ap.add_argument(
        "--dtype",
        default="bfloat16",
        help="data type of the collectives sweep (bfloat16, uint8 for non-reducing ones, float32)",
    )
    ap.add_argument(
        "--tokens", default="128,512,4096,16384", help="MoE tokens per rank T; empty = skip MoE"
    )
    ap.add_argument("--hidden", type=int, default=7168)
    ap.add_argument("--topk", type=int, default=8)
    ap.add_argument("--experts", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--moe-iters", type=int, default=20)
    ap.add_argument("--save-routing-max-T", type=int, default=128)
    ap.add_argument(
        "--cuda-graph",
        type=int,
        default=0,
        metavar="OPS",
        help="nccl only: time CUDA-graph replays of OPS back-to-back ops instead of eager calls "
        "(all_reduce then uses AVG so repeated in-place sums cannot overflow)",
    )
    args = ap.parse_args()
    args.collectives = [c for c in args.collectives.split(",") if c]
    args.tokens = [int(t) for t in args.tokens.split(",") if t]
    global GRAPH_OPS
    GRAPH_OPS = args.cuda_graph if args.backend == "nccl" else 0

    backend = args.backend
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
    else:
        dist.init_process_group("gloo")
    ctx = Ctx(backend)
    dtype = getattr(torch, args.dtype)
    act_dtype = torch.bfloat16
    if backend == "gloo":
        # probe bf16 support in gloo; fall back to float32 (sizes stay in bytes)
        try:
            t = torch.ones(4, dtype=torch.bfloat16)
            dist.all_reduce(t)
        except Exception:
            dtype = torch.float32 if dtype == torch.bfloat16 else dtype
            act_dtype = torch.float32

    t0 = time.time()
    md = metadata(ctx, args)
    coll, checks = run_collectives(ctx, args, dtype)
    moe = run_moe(ctx, args, act_dtype) if args.tokens else None
    md["elapsed_s"] = time.time() - t0
    result = {
        "schema": "moecomm-bench/1",
        "metadata": md,
        "conventions": {
            "source": "NVIDIA/nccl-tests doc/PERFORMANCE.md",
            "bytes": SIZE_CONVENTION,
            "algbw": "bytes / time, GB/s = 1e9 B/s",
            "busbw": "algbw x factor: all_reduce 2(n-1)/n; all_gather, reduce_scatter, all_to_all (n-1)/n; broadcast 1",
            "median_s": "median over iterations of the max over ranks of the per-iteration device time "
            "(barrier before each iteration)",
            "batched_avg_s": "nccl-tests style: iters back-to-back ops / iters, max over ranks",
            "timing_mode": (
                f"cuda_graph ({GRAPH_OPS} ops per replay, all_reduce with AVG)"
                if GRAPH_OPS
                else "eager (one PyTorch call per op, includes c10d launch overhead)"
            ),
        },
        "checks": checks,
        "collectives": coll,
        "moe": moe,
    }
    if ctx.rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, separators=(",", ":"))
        print(
            f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) in {md['elapsed_s']:.1f} s",
            flush=True,
        )
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
