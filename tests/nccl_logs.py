"""SYNTHETIC nccl-tests logs, printed exactly as nccl-tests 2.19 prints them (src/util.cu), from
known time-model parameters, so that ``moecomm calibrate`` can be tested on recovering them.

None of these is a measurement. Every file starts with a ``# SYNTHETIC`` line naming its
parameters (nccl-tests itself never prints it; readers skip ``#`` lines they do not know).
Formats copied from NVIDIA/nccl-tests v2.19.6 ``src/util.cu``: ``writeDeviceReport`` (version,
test, parameters, devices), ``writeResultHeader``, ``writeBenchmarkLinePreamble`` (``%12li
%12li  %8s  %6s  %6s``), ``writeBenchmarkLineBody`` (``  %7s  %6s  %6s  %6g`` with
``getFloatStr``), ``writePerIterReport`` and ``writeResultFooter``. The 2.13 layout (no version
or test line) is printed for one log, as nccl-tests 2.13.6 printed it (NixOS/nixpkgs #251856).

Regenerate with ``python tests/nccl_logs.py``; a test fails if the files drift.
"""

# ruff: noqa: UP031  (printf formats copied from nccl-tests' C source, kept verbatim)
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).with_name("data") / "nccl_tests"

FACTOR = {
    "all_reduce_perf": lambda n: 2 * (n - 1) / n,
    "all_gather_perf": lambda n: (n - 1) / n,
    "reduce_scatter_perf": lambda n: (n - 1) / n,
    "alltoall_perf": lambda n: (n - 1) / n,
    "broadcast_perf": lambda n: 1.0,
    "sendrecv_perf": lambda n: 1.0,
}
"""nccl-tests' bus-bandwidth factors (doc/PERFORMANCE.md)."""
PER_RANK_COUNT = {"all_gather_perf", "reduce_scatter_perf", "alltoall_perf"}
"""Tests whose count column is per rank: size = count × type size × ranks."""
REDOP = {"alltoall_perf": "none", "broadcast_perf": "none", "all_gather_perf": "none"}
ROOT = {"broadcast_perf": 0}


@dataclass(frozen=True)
class Spec:
    """One synthetic run: what it times, on what, and the parameters of its times."""

    test: str
    hosts: tuple[str, ...]
    gpus_per_host: int
    alpha_s: float
    bw: float
    ramp: float
    mpi: bool = False
    per_iter: bool = False
    old: bool = False
    gpu: str = "NVIDIA H100 80GB HBM3"
    min_bytes: int = 1024
    max_bytes: int = 2**30

    @property
    def ranks(self) -> int:
        return len(self.hosts) * self.gpus_per_host


def float_str(value: float, width: int) -> str:
    """nccl-tests' getFloatStr: 2 decimals, else 1, else 0, else scientific, within width."""
    for fmt in (f"%{width}.2f", f"%{width}.1f", f"%{width}.0f"):
        text = fmt % value
        if len(text) <= width:
            return text
    return (f"%{width}.1e" if width >= 7 else f"%{width}.0e") % value


def seconds(spec: Spec, size: int) -> float:
    """The law by hand: α + x(x + 2ν)/((x + ν)B), x the bytes on the link that sets the time.

    On one host x is the busbw bytes (size × factor); across hosts, a ring's NIC carries 1/g of
    them (rail-aligned rings), an all-to-all's the share sent off the host, send-recv all.
    """
    n, g = spec.ranks, spec.gpus_per_host
    x = size * FACTOR[spec.test](n)
    if len(spec.hosts) > 1:
        if spec.test == "alltoall_perf":
            x = size * (n - g) / n
        elif spec.test != "sendrecv_perf":
            x = x / g
    return spec.alpha_s + x * (x + 2 * spec.ramp) / ((x + spec.ramp) * spec.bw)


def header(spec: Spec) -> list[str]:
    n = spec.ranks
    lines = [
        f"# SYNTHETIC: not a measurement; times from alpha={spec.alpha_s:g} s, "
        f"B={spec.bw:g} B/s, ramp={spec.ramp:g} B (tests/nccl_logs.py)"
    ]
    if not spec.old:
        lines += [
            "# nccl-tests version 2.19.6 nccl-headers=22809 nccl-library=22809",
            f"# Collective test starting: {spec.test}",
        ]
    threads_gpus = (1, 1) if spec.mpi else (1, n)
    tail = " unalign: 0" if not spec.old else ""
    lines.append(
        f"# nThread {threads_gpus[0]} nGpus {threads_gpus[1]} minBytes {spec.min_bytes} maxBytes "
        f"{spec.max_bytes} step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 "
        f"graph: 0{tail}"
    )
    if spec.per_iter:
        lines.append("# Per-Iteration Report: CUDA event timing; i_* uses max over process rows ")
    lines += ["#", "# Using devices"]
    rank = 0
    for h, host in enumerate(spec.hosts):
        for d in range(spec.gpus_per_host):
            pid = 41000 + 100 * h + (d if spec.mpi else 0)
            bus = f"[{0:04x}:{0x18 + 16 * d:02x}:{0:02x}]"
            lines.append(
                "#  Rank %2d Group %2d Pid %6d on %10s device %2d %s %s"
                % (rank, 0, pid, host, d, bus, spec.gpu)
            )
            rank += 1
    lines.append("NCCL version 2.28.9+cuda13.0")
    lines.append("#")
    if spec.per_iter:
        lines.append(
            "# %10s  %12s  %8s  %6s  %6s              out-of-place (+ per-iteration)"
            "                                in-place (+ per-iteration)" % ("", "", "", "", "")
        )
        cols = "  %7s  %6s  %6s  %6s  %7s  %7s  %7s  %7s"
        lines.append(
            ("# %10s  %12s  %8s  %6s  %6s" + cols + cols + " %*s")
            % (
                "size",
                "count",
                "type",
                "redop",
                "root",
                "time",
                "algbw",
                "busbw",
                "#wrong",
                "i_min",
                "i_max",
                "i_p99",
                "i_cv%",
                "time",
                "algbw",
                "busbw",
                "#wrong",
                "i_min",
                "i_max",
                "i_p99",
                "i_cv%",
                0,
                "",
            )
        )
        lines.append(
            ("# %10s  %12s  %8s  %6s  %6s" + cols + cols + " %*s")
            % (
                "(B)",
                "(elements)",
                "",
                "",
                "",
                "(us)",
                "(GB/s)",
                "(GB/s)",
                "",
                "(us)",
                "(us)",
                "(us)",
                "(%)",
                "(us)",
                "(GB/s)",
                "(GB/s)",
                "",
                "(us)",
                "(us)",
                "(us)",
                "(%)",
                0,
                "",
            )
        )
    else:
        lines.append(
            "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
            "          " % ("", "", "", "", "")
        )
        row = "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s %*s"
        lines.append(
            row
            % (
                "size",
                "count",
                "type",
                "redop",
                "root",
                "time",
                "algbw",
                "busbw",
                "#wrong",
                "time",
                "algbw",
                "busbw",
                "#wrong",
                0,
                "",
            )
        )
        lines.append(
            row
            % (
                "(B)",
                "(elements)",
                "",
                "",
                "",
                "(us)",
                "(GB/s)",
                "(GB/s)",
                "",
                "(us)",
                "(GB/s)",
                "(GB/s)",
                "",
                0,
                "",
            )
        )
    return lines


def rows(spec: Spec) -> tuple[list[str], float]:
    n, out, busbws = spec.ranks, [], []
    size = spec.min_bytes
    while size <= spec.max_bytes:
        count = size // 4 // (n if spec.test in PER_RANK_COUNT else 1)
        line = "%12li  %12li  %8s  %6s  %6s" % (
            size,
            count,
            "float",
            REDOP.get(spec.test, "sum"),
            "%6i" % ROOT.get(spec.test, -1),
        )
        for in_place, skew in ((False, 1.0), (True, 1.003)):
            t = seconds(spec, size) * skew
            algbw = size / 1e9 / t
            busbw = algbw * FACTOR[spec.test](n)
            line += "  %7s  %6s  %6s  %6g" % (
                float_str(t * 1e6, 7),
                float_str(algbw, 6),
                float_str(busbw, 6),
                0.0,
            )
            if spec.per_iter:
                stats = (t * 0.97e6, t * 1.08e6, t * 1.06e6, 2.5)
                line += "  %7s  %7s  %7s  %7s" % tuple(float_str(v, 7) for v in stats)
            if not in_place:
                busbws.append(busbw)
        out.append(line)
        size *= 2
    return out, sum(busbws) / len(busbws)


def log(spec: Spec) -> str:
    body, avg = rows(spec)
    lines = header(spec) + body
    lines += [
        "# %-20s : %d %s" % ("Out of bounds values", 0, "OK"),
        "# %-20s : %g %s" % ("Avg bus bandwidth", avg, ""),
        "#",
    ]
    if not spec.old:
        lines.append(f"# Collective test concluded: {spec.test}")
    return "\n".join(lines) + "\n"


ONE = ("dgx-a",)
TWO = ("dgx-a", "dgx-b")
LOGS = {
    "all_reduce_perf.g8.synthetic.txt": Spec("all_reduce_perf", ONE, 8, 21e-6, 350e9, 8e6),
    "all_gather_perf.g8.synthetic.txt": Spec("all_gather_perf", ONE, 8, 18e-6, 330e9, 15e6),
    "reduce_scatter_perf.g8.synthetic.txt": Spec(
        "reduce_scatter_perf", ONE, 8, 16e-6, 320e9, 11e6, per_iter=True
    ),
    "alltoall_perf.g8.synthetic.txt": Spec("alltoall_perf", ONE, 8, 17e-6, 340e9, 18e6),
    "broadcast_perf.g8.synthetic.txt": Spec("broadcast_perf", ONE, 8, 19e-6, 365e9, 9e6),
    "sendrecv_perf.g8.synthetic.txt": Spec("sendrecv_perf", ONE, 8, 9e-6, 360e9, 4e6, old=True),
    "all_reduce_perf.mpi16.synthetic.txt": Spec(
        "all_reduce_perf", TWO, 8, 45e-6, 46e9, 32e6, mpi=True
    ),
}
"""The fixtures: single-process -g 8 on one host, and an MPI run over two hosts."""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, spec in LOGS.items():
        (OUT / name).write_text(log(spec), encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
