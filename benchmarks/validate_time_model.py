"""Compare moecomm's time model with measured NCCL collectives and MoE dispatch/combine runs.

Reads the JSON files written by ``benchmarks/measure_collectives.py`` (benchmarks/results/*.json)
and predicts every case of at least 16 MiB with the built-in hardware preset (default
``h100-sxm``), through the same functions the CLI uses (``moecomm.timing``). Nothing measured
feeds the model: the preset's figures are the public ones named in its sources.

Two measured times are compared: ``batched_avg_s`` (back-to-back operations, as nccl-tests
reports them) and ``median_s`` (one operation after a barrier, launch skew included).

    python benchmarks/validate_time_model.py [FILE ...] [--hardware h100-sxm] [--min-bytes 16777216]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moecomm import resolve, timing

RESULTS = Path(__file__).with_name("results")
MIN_BYTES = 16 * 2**20
MEASURES = ("batched_avg_s", "median_s")

KIND = {
    "all_reduce": "all-reduce",
    "all_gather_into_tensor": "all-gather",
    "reduce_scatter_tensor": "reduce-scatter",
    "all_to_all_single": "all-to-all",
    "broadcast": "broadcast",
}


@dataclass(frozen=True)
class Case:
    """One measured case and the model's prediction for it."""

    source: str
    ranks: int
    case: str
    bytes: int
    predicted_s: float
    measured: dict[str, float]

    def error(self, measure: str) -> float:
        """Signed relative error of the prediction: predicted / measured − 1."""
        return self.predicted_s / self.measured[measure] - 1


def cases(path: Path, hardware: str = "h100-sxm", min_bytes: int = MIN_BYTES) -> list[Case]:
    """Every case of at least ``min_bytes`` in one results file, with its prediction."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    n = int(data["metadata"]["world_size"])
    hw = resolve.hardware(hardware)
    out: list[Case] = []
    for name, block in data.get("collectives", {}).items():
        kind = KIND[name]
        for row in block["rows"]:
            if row["bytes"] < min_bytes:
                continue
            result = timing.collective(kind, row["bytes"], n, hw)  # type: ignore[arg-type]
            out.append(Case(path.name, n, kind, row["bytes"], result.seconds, _measured(row)))
    for run in data.get("moe", {}).get("runs", []):
        for phase in ("dispatch_bf16", "dispatch_fp8", "combine_bf16"):
            rec = run.get(phase)
            if rec is None:
                continue
            # The busiest rank's max(send, recv) bytes to other ranks, all over NVLink here.
            busiest = int(rec["max_offrank_send_or_recv_bytes"])
            if busiest < min_bytes:
                continue
            _, nodes = timing.placement(n, hw.gpus_per_node)
            if nodes != 1:
                raise SystemExit(f"{path}: MoE runs over several nodes are not handled")
            seconds = timing.alltoall_seconds(busiest, 0, hw, intra_peers=n - 1, inter_peers=0)
            out.append(
                Case(path.name, n, f"moe {phase} T={run['T']}", busiest, seconds, _measured(rec))
            )
    return out


def _measured(row: dict[str, Any]) -> dict[str, float]:
    return {m: float(row[m]) for m in MEASURES}


def median_abs_error(found: list[Case], measure: str) -> float:
    return statistics.median(abs(c.error(measure)) for c in found)


def report(found: list[Case]) -> str:
    lines = [
        f"{'file':<22} {'n':>2} {'case':<28} {'bytes':>12} {'model µs':>10} "
        + " ".join(f"{m + ' µs':>15} {'err':>7}" for m in MEASURES)
    ]
    for c in found:
        cells = " ".join(f"{c.measured[m] * 1e6:>15.1f} {c.error(m):>+7.1%}" for m in MEASURES)
        lines.append(
            f"{c.source:<22} {c.ranks:>2} {c.case:<28} {c.bytes:>12} "
            f"{c.predicted_s * 1e6:>10.1f} {cells}"
        )
    lines.append("")
    for m in MEASURES:
        lines.append(
            f"median |error| against {m}: {median_abs_error(found, m):.1%} over {len(found)} cases"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--hardware", default="h100-sxm")
    parser.add_argument("--min-bytes", type=int, default=MIN_BYTES)
    args = parser.parse_args(argv)
    files = args.files or sorted(RESULTS.glob("*.json"))
    if not files:
        print("no results files", file=sys.stderr)
        return 1
    found = [c for f in files for c in cases(f, args.hardware, args.min_bytes)]
    print(report(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
