"""The process group and the two timing conventions (torch, imported only when a run starts).

Per size, after ``warmup`` untimed calls:

* per-op: ``iters`` times {barrier (a tiny all-reduce, then device synchronize); start; one op;
  stop}. Each iteration's time is the maximum over ranks (the op ends when the slowest rank
  ends; the launch skew between ranks is included). ``median_s`` / ``min_s`` / ``max_s`` sum
  them up, ``rank_median_s`` is each rank's own median. This is what an eager MoE layer sees.
* back-to-back: one barrier, then ``iters`` ops between two timestamps; ``batched_avg_s`` is the
  elapsed time over ``iters``, maximum over ranks: what nccl-tests prints in its time column.

With ``cuda_graph`` = OPS (NCCL only), OPS back-to-back ops are captured in one CUDA graph and
each of ``iters`` replays is timed after a barrier: per-op time = replay time / OPS, without
PyTorch's host launch overhead; ``batched_avg_s`` is then the mean over replays.

GPU times come from CUDA events, CPU times from ``time.perf_counter``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

Op = Callable[[], object]


class Ctx:
    """One rank of the world: its device, barrier, timers and gathers."""

    def __init__(self, backend: str, graph_ops: int = 0) -> None:
        import torch
        import torch.distributed as dist

        self.backend = backend
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.cuda = backend == "nccl"
        self.graph_ops = graph_ops if self.cuda else 0
        self.dev = (
            torch.device("cuda", torch.cuda.current_device()) if self.cuda else torch.device("cpu")
        )
        self._bar = torch.zeros(1, dtype=torch.float32, device=self.dev)

    def sync(self) -> None:
        import torch

        if self.cuda:
            torch.cuda.synchronize(self.dev)

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.all_reduce(self._bar)
        self.sync()

    def timer(self) -> tuple[Callable[[], None], Callable[[], float]]:
        """(start, stop): stop returns the seconds since start, on the device."""
        import torch

        if self.cuda:
            s = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            e = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]

            def start() -> None:
                s.record()

            def stop() -> float:
                e.record()
                e.synchronize()
                return float(s.elapsed_time(e)) / 1e3

            return start, stop
        t0 = [0.0]

        def cpu_start() -> None:
            t0[0] = time.perf_counter()

        def cpu_stop() -> float:
            return time.perf_counter() - t0[0]

        return cpu_start, cpu_stop

    def gather_floats(self, values: list[float]) -> list[list[float]]:
        """Every rank's list (all the same length), on every rank."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.dev)
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t)
        return [[float(x) for x in o.cpu().tolist()] for o in out]

    def gather_ints(self, values: list[int]) -> list[list[int]]:
        """Every rank's list of ints (all the same length), on every rank."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.int64, device=self.dev)
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t)
        return [[int(x) for x in o.cpu().tolist()] for o in out]

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's small picklable value, on every rank."""
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def all_ok(self, ok: bool) -> bool:
        """True when ``ok`` on every rank."""
        return min(v[0] for v in self.gather_ints([int(ok)])) == 1

    def free(self) -> None:
        import torch

        if self.cuda:
            torch.cuda.empty_cache()


def time_op(ctx: Ctx, fn: Op, warmup: int, iters: int) -> dict[str, Any]:
    """Both conventions for one op (module docstring); keys as in the measurement file."""
    for _ in range(warmup):
        fn()
    if ctx.graph_ops:
        return _time_graph(ctx, fn, iters)
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
    every = ctx.gather_floats([*per, batched])  # [rank][iters + 1]
    slowest = [max(every[r][i] for r in range(ctx.world)) for i in range(iters)]
    return {
        "median_s": statistics.median(slowest),
        "min_s": min(slowest),
        "max_s": max(slowest),
        "rank_median_s": [statistics.median(every[r][:iters]) for r in range(ctx.world)],
        "batched_avg_s": max(every[r][iters] for r in range(ctx.world)),
        "iters": iters,
        "warmup": warmup,
    }


def _time_graph(ctx: Ctx, fn: Op, iters: int) -> dict[str, Any]:
    """``graph_ops`` back-to-back ops in one CUDA graph; ``iters`` replays, each timed."""
    import torch

    ops = ctx.graph_ops
    ctx.barrier()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(ops):
            fn()
    ctx.barrier()
    graph.replay()  # one untimed replay
    start, stop = ctx.timer()
    per = []
    for _ in range(iters):
        ctx.barrier()
        start()
        graph.replay()
        per.append(stop() / ops)
    every = ctx.gather_floats(per)
    slowest = [max(every[r][i] for r in range(ctx.world)) for i in range(iters)]
    del graph
    return {
        "median_s": statistics.median(slowest),
        "min_s": min(slowest),
        "max_s": max(slowest),
        "rank_median_s": [statistics.median(every[r]) for r in range(ctx.world)],
        "batched_avg_s": statistics.mean(slowest),
        "iters": iters,
        "timing": f"cuda_graph: {ops} ops per graph, per-op time = replay time / {ops}; "
        "batched_avg_s = mean over replays",
    }


def random_fill(t: torch.Tensor, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Random data: bytes for uint8 rows, normal values times ``scale`` otherwise."""
    import torch

    if t.dtype == torch.uint8:
        t.copy_(torch.randint(0, 256, t.shape, dtype=torch.uint8, device=t.device, generator=gen))
    else:
        t.copy_(torch.randn(t.shape, dtype=torch.float32, device=t.device, generator=gen) * scale)
    return t
