"""One measurement run on every rank: join the process group, measure, build the file's document.

torch is imported here, inside :func:`run`, after every option and file has been checked.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.measure.device import Ctx
from moecomm.measure.moe import moe_section
from moecomm.measure.plan import Job, digest
from moecomm.measure.spec import COLLECTIVES, MeasureConfig
from moecomm.measure.sweep import collectives

SCHEMA = "moecomm-bench/1"

ENV_PREFIXES = ("NCCL_", "TORCH_NCCL", "TORCH_SYMM", "NVSHMEM_", "CUDA_VISIBLE", "OMP_NUM")
"""Environment variables recorded in the file (the ones that change what NCCL does)."""

Progress = Callable[[str], None]


def _moecomm_version() -> str:
    try:
        return version("moecomm")
    except PackageNotFoundError:
        return "unknown"


def _gpu_metadata(ctx: Ctx) -> dict[str, Any]:
    import torch

    md: dict[str, Any] = {}
    v = torch.cuda.nccl.version()  # type: ignore[no-untyped-call]
    md["nccl_version"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
    md["cuda_runtime"] = torch.version.cuda
    md["gpu_count_visible"] = torch.cuda.device_count()
    md["gpu_names"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    md["gpu_memory_bytes"] = torch.cuda.get_device_properties(ctx.dev).total_memory
    queries = (
        (["nvidia-smi", "topo", "-m"], "nvidia_smi_topo"),
        (
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,clocks.max.sm,clocks.sm,power.limit",
                "--format=csv",
            ],
            "nvidia_smi_query",
        ),
    )
    for cmd, key in queries:
        try:
            md[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            md[key] = f"unavailable: {exc}"
    return md


def _cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def metadata(ctx: Ctx, job: Job) -> dict[str, Any]:
    """Date, hosts, devices, versions and the NCCL environment of the run."""
    import torch

    host = socket.gethostname()
    device = torch.cuda.get_device_name(ctx.dev) if ctx.cuda else _cpu_name()
    ranks = ctx.gather_objects(
        {"host": host, "device": device, "local_rank": job.launch.local_rank}
    )
    md: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": host,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "moecomm": _moecomm_version(),
        "backend": ctx.backend,
        "world_size": ctx.world,
        "nodes": len({r["host"] for r in ranks}),
        "ranks": ranks,
        "argv": job.argv,
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }
    if ctx.cuda:
        md |= _gpu_metadata(ctx)
    else:
        md["cpu_count"] = os.cpu_count()
    return md


def conventions(graph_ops: int) -> dict[str, Any]:
    return {
        "source": "NVIDIA/nccl-tests doc/PERFORMANCE.md",
        "bytes": {c.key: c.size_convention for c in COLLECTIVES.values()},
        "algbw": "bytes / time, GB/s = 1e9 B/s",
        "busbw": "algbw x factor: all_reduce 2(n-1)/n; all_gather, reduce_scatter, all_to_all "
        "(n-1)/n; broadcast 1",
        "median_s": "median over iterations of the max over ranks of the per-iteration device "
        "time (barrier before each iteration)",
        "batched_avg_s": "nccl-tests style: iters back-to-back ops / iters, max over ranks",
        "timing_conventions": {"per-op": "median_s", "back-to-back": "batched_avg_s"},
        "timing_mode": (
            f"cuda_graph ({graph_ops} ops per replay, all_reduce with AVG)"
            if graph_ops
            else "eager (one PyTorch call per op, includes c10d launch overhead)"
        ),
    }


def _backend(cfg: MeasureConfig) -> str:
    import torch

    if cfg.backend is not None:
        if cfg.backend == "nccl" and not torch.cuda.is_available():
            raise MoecommError(f"{f('backend')} nccl needs a CUDA GPU; torch sees none")
        return cfg.backend
    return "nccl" if torch.cuda.is_available() else "gloo"


def _join(job: Job) -> str:
    import torch
    import torch.distributed as dist

    backend = _backend(job.cfg)
    if job.cfg.cuda_graph and backend != "nccl":
        raise MoecommError(f"{f('cuda_graph')} needs {f('backend')} nccl; got {backend}")
    if backend == "nccl":
        device = torch.device("cuda", job.launch.local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    return backend


def run(job: Job, progress: Progress) -> dict[str, Any] | None:
    """Measure on this rank; rank 0 gets the file's document, the other ranks None."""
    import torch.distributed as dist

    warnings.filterwarnings("ignore", category=FutureWarning)  # renamed collectives in torch
    backend = _join(job)
    try:
        ctx = Ctx(backend, job.cfg.cuda_graph)
        plans = ctx.gather_objects(digest(list(job.runs)))
        if len(set(plans)) != 1:
            raise MoecommError(
                "the ranks planned different MoE runs: give every node the same options and "
                "the same --topk-ids file"
            )
        say = progress if ctx.rank == 0 else (lambda _: None)
        t0 = time.time()
        md = metadata(ctx, job)
        colls, checks = collectives(ctx, job.cfg, say)
        moe = None
        if job.model is not None and job.runs:
            moe = moe_section(ctx, job, say)
        md["elapsed_s"] = time.time() - t0
        doc = {
            "schema": SCHEMA,
            "metadata": md,
            "conventions": conventions(ctx.graph_ops),
            "checks": checks,
            "collectives": colls,
            "moe": moe,
        }
        dist.barrier()
        return doc if ctx.rank == 0 else None
    finally:
        dist.destroy_process_group()
