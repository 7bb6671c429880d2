"""What the library returns: a typed result with its title and the convention it is counted under.

A ``Report`` renders itself in every output format (``render(fmt)``), shows as a table in
Jupyter (``_repr_markdown_``) and gives the exact JSON (``to_json()``) that the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from moecomm.render import dumps, render_record, render_rows
from moecomm.timing import EP_TIME

Layout = Literal["record", "rows", "traffic"]


@dataclass(frozen=True)
class Report:
    """One answer: ``result`` (a result dataclass, or a list of them) with title and caption.

    ``layout`` says how it is drawn: one record, rows of one type, or routing-aware traffic
    (a summary per layer and a per-rank table). ``table_rows`` limits the rows of a table;
    JSON always holds them all.
    """

    result: Any
    title: str
    caption: str
    layout: Layout = "record"
    skip_none: bool = False
    highlight: int | None = None
    table_rows: int | None = None
    envelope: dict[str, Any] | None = None
    """JSON of a rows report: these keys first (inputs, conventions), the rows as "candidates"."""
    figure: str | None = None
    """Which figure ``moecomm.plots`` draws of it (compare, traffic, tp, collective, sweep)."""
    constant_columns: bool = False
    """Rows tables list a column equal in every row once, in the caption (sweeps)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Inputs a figure names besides the result (K of compare, the swept options of a sweep)."""

    def render(self, fmt: str = "table", *, width: int | None = None) -> str:
        """The report as a rich table, JSON, CSV or Markdown."""
        if self.layout == "traffic":
            return _traffic(self, fmt, width)
        if self.layout == "rows":
            rows = list(self.result)
            if fmt == "json" and self.envelope is not None:
                return dumps({**self.envelope, "candidates": rows}) + "\n"
            if fmt != "json" and self.table_rows is not None:
                rows = rows[: self.table_rows]
            return render_rows(
                rows,
                fmt,
                title=self.title,
                caption=self.caption,
                highlight=self.highlight,
                width=width,
                skip_none=self.skip_none,
                constant_columns=self.constant_columns,
            )
        return render_record(
            self.result,
            fmt,
            title=self.title,
            caption=self.caption,
            width=width,
            skip_none=self.skip_none,
        )

    def export_matrices(self, path: str | Path, *, force: bool = False) -> None:
        """Write a traffic report's ranks × ranks byte matrices (per layer) to .json or .csv.

        An existing file or link is replaced only with ``force``, and never written through.
        """
        from moecomm.errors import MoecommError
        from moecomm.errors import field as flag
        from moecomm.traffic.files import write_matrices

        if self.figure == "sweep":
            raise MoecommError(
                f"{flag('export_matrix')} writes the matrices of one point; this is a sweep of "
                f"{len(self.result)} points"
            )
        results = self.result if isinstance(self.result, list) else [self.result]
        write_matrices(
            path,
            [(r.matrix_bytes, r.combine_matrix_bytes) for r in results],
            results[0].convention,
            force=force,
        )

    def to_json(self) -> str:
        """The exact JSON the CLI prints with ``--format json``."""
        return self.render("json")

    def _repr_markdown_(self) -> str:
        return self.render("markdown")


TRAFFIC_TITLE = "EP traffic per rank, one MoE layer"


def traffic_caption(r: Any, links_caption: str | None = None) -> str:
    """The caption of one routing-aware result: counting convention, exactness, hardware."""
    text = f"Convention: {r.convention}. Means over the {r.ep} ranks. GB = 1e9 B."
    if any(
        not isinstance(v, int)
        for v in (r.dispatch_bytes_per_rank, r.combine_bytes_per_rank, r.busiest_rank_recv_bytes)
    ):
        text += " ≈: an exact expectation, rounded (exact p/q in JSON and CSV)."
    if links_caption is not None:
        text += f" {EP_TIME}; {r.gpus_per_node} EP ranks per node. {links_caption}"
    return text


def traffic_report(results: Sequence[Any], links_caption: str | None = None) -> Report:
    """One routing-aware result, or one per layer of a routing data file."""
    layered = len(results) > 1
    return Report(
        result=list(results) if layered else results[0],
        title=TRAFFIC_TITLE,
        caption=links_caption or "",
        layout="traffic",
        skip_none=True,
        figure="traffic",
    )


def _traffic(report: Report, fmt: str, width: int | None) -> str:
    """JSON carries every field; tables only the options used, then a per-rank table."""
    layered = isinstance(report.result, list)
    results = report.result if layered else [report.result]
    if fmt == "json":
        return dumps({"layers": list(results)} if layered else results[0]) + "\n"
    links_caption = report.caption or None
    out = []
    for n, r in enumerate(results):
        title = f"{report.title} (layer {n})" if layered else report.title
        caption = traffic_caption(r, links_caption)
        out.append(render_record(r, fmt, title=title, caption=caption, width=width, skip_none=True))
        if fmt != "csv" and len({(x.send_bytes, x.recv_bytes) for x in r.per_rank}) > 1:
            out.append(
                render_rows(
                    r.per_rank,
                    fmt,
                    title="Per rank (dispatch; combine is its transpose)",
                    caption=f"Convention: {r.convention}. GB = 1e9 B.",
                    width=width,
                )
            )
    return "".join(out)
