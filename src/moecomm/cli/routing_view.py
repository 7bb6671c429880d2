"""Rendering routing-aware traffic results (summary, per-rank table) and exporting matrices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moecomm.render import dumps, render_record, render_rows
from moecomm.timing import EP_TIME, Links
from moecomm.traffic.files import write_matrices
from moecomm.traffic.result import TrafficResult

TITLE = "EP traffic per rank, one MoE layer"


def caption(r: TrafficResult, links: Links | None = None) -> str:
    text = f"Convention: {r.convention}. Means over the {r.ep} ranks. GB = 1e9 B."
    if any(
        not isinstance(v, int)
        for v in (r.dispatch_bytes_per_rank, r.combine_bytes_per_rank, r.busiest_rank_recv_bytes)
    ):
        text += " Fractions are exact expectations."
    if links is not None:
        text += f" {EP_TIME}; {r.gpus_per_node} EP ranks per node. {links.caption()}"
    return text


def render_traffic(
    results: Sequence[TrafficResult], fmt: str, *, layered: bool, links: Links | None = None
) -> str:
    """One result (or one per layer): JSON carries every field; tables only the options used.

    ``links``: the hardware the results were timed on, named in the caption.
    """
    if fmt == "json":
        return dumps({"layers": list(results)} if layered else results[0]) + "\n"
    out = []
    for n, r in enumerate(results):
        title = f"{TITLE} (layer {n})" if layered else TITLE
        out.append(render_record(r, fmt, title=title, caption=caption(r, links), skip_none=True))
        if fmt != "csv" and len({(x.send_bytes, x.recv_bytes) for x in r.per_rank}) > 1:
            out.append(
                render_rows(
                    r.per_rank,
                    fmt,
                    title="Per rank (dispatch; combine is its transpose)",
                    caption=f"Convention: {r.convention}. GB = 1e9 B.",
                )
            )
    return "".join(out)


def export(path: Path | None, results: Sequence[TrafficResult]) -> None:
    if path is not None:
        write_matrices(
            path,
            [(r.matrix_bytes, r.combine_matrix_bytes) for r in results],
            results[0].convention,
        )
