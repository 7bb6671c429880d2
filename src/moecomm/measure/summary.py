"""The table rank 0 prints after a run: one row per collective size and per MoE variant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moecomm.results import quantity


@dataclass(frozen=True)
class MeasuredCase:
    """One measured case in both timing conventions."""

    case: str = quantity("case", "text")
    bytes: int = quantity("bytes", "bytes")
    per_op_seconds: float = quantity("per-op median", "duration")
    back_to_back_seconds: float = quantity("back-to-back", "duration")
    busbw_per_op: float | None = quantity("busbw per-op", "rate")
    busbw_back_to_back: float | None = quantity("busbw back-to-back", "rate")


def cases(doc: dict[str, Any]) -> list[MeasuredCase]:
    """The rows of a measurement document, collectives first, then MoE runs."""
    out = []
    for key, block in doc["collectives"].items():
        for row in block.get("rows", []):
            out.append(
                MeasuredCase(
                    key,
                    row["bytes"],
                    row["median_s"],
                    row["batched_avg_s"],
                    row["busbw_GBps_median"] * 1e9,
                    row["busbw_GBps_batched"] * 1e9,
                )
            )
    moe = doc.get("moe") or {"runs": [], "row_bytes": {}}
    for run in moe["runs"]:
        for name in moe["row_bytes"]:
            rec = run[name]
            out.append(
                MeasuredCase(
                    f"{name} T={run['T']}",
                    rec["max_offrank_send_or_recv_bytes"],
                    rec["median_s"],
                    rec["batched_avg_s"],
                    None,
                    None,
                )
            )
    return out
