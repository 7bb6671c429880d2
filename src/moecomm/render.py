"""Render typed results as a rich table, JSON, CSV or Markdown, formatted by field metadata."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import shutil
import sys
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from rich.console import Console
from rich.table import Table

from moecomm.results import label, shown, unit
from moecomm.units import (
    GB,
    LONG,
    decimal_text,
    json_value,
    rate_text,
    scaled_bytes_text,
    sci_text,
    seconds_text,
)

FORMATS = ("table", "json", "csv", "markdown")
SCALED_HEADER = "decimal (1 kB = 1e3 B)"
"""Header of the scaled column beside bytes in record tables: kB, MB, GB, TB, each 1e3 apart."""
MAX_GROUPS_SHOWN = 8
"""Tables list this many groups of one kind; JSON and CSV list them all."""
_MAX_RANKS_SHOWN = 8


def _fields(obj: Any) -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(obj))


def to_json_value(value: Any) -> Any:
    """JSON form of a result value: exact numbers stay exact (int, or "p/q" for a fraction)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int | Fraction):
        return json_value(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)


def to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: to_json_value(getattr(obj, f.name)) for f in _fields(obj)}


def dumps(data: Any) -> str:
    return json.dumps(to_json_value(data), indent=2, ensure_ascii=False)


def _big(value: Any) -> bool:
    """An exact number of magnitude at least units.LONG: shown in scientific notation, since
    float() may not hold it nor str() write it (the int→str digit limit)."""
    return (
        isinstance(value, int | Fraction)
        and not isinstance(value, bool)
        and not -LONG < value < LONG
    )


def _scaled(value: Any, num: int, den: int) -> str:
    if _big(value):
        return sci_text(Fraction(value) * num / den)
    return f"{float(value) * num / den:g}"


SCALED_NOTE = "1 kB = 1e3 B, 1 MB = 1e6 B, 1 GB = 1e9 B"


def _scalable(value: Any) -> bool:
    """A byte count that a decimal unit shortens: a number of 1 kB or more."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        return False
    return not -1000 < value < 1000


def cell(value: Any, field_unit: str) -> str:
    """Display text of one value in a table cell."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field_unit == "duration" and _big(value):
        return f"{sci_text(value)} s"
    if field_unit == "rate" and _big(value):
        return f"{sci_text(Fraction(value) / GB)} GB/s"
    if field_unit == "duration" and isinstance(value, int | float):
        return seconds_text(float(value))
    if field_unit == "rate" and isinstance(value, int | float):
        return rate_text(float(value))
    if field_unit == "groups":
        return groups_text(value)
    if value is None:
        return ""
    if field_unit == "percent":
        return f"{100 * float(value):.1f}%"
    # Display scales; the labels carry the unit (GB/s, GB, TFLOP/s, µs) and JSON the exact value.
    if field_unit == "capacity" and not _big(value) and Fraction(value) % GB:
        # Memory in GB to the MB, every such row of a column to the same decimals (a whole
        # number of GB, as a GPU's memory, prints whole).
        return f"{float(Fraction(value) / GB):,.3f}"
    if field_unit in ("bytes_per_second", "capacity"):
        return _scaled(value, 1, GB)
    if field_unit == "flops":
        return _scaled(value, 1, 10**12)
    if field_unit == "seconds":
        return _scaled(value, 10**6, 1)
    if _big(value):
        return sci_text(value)
    if isinstance(value, Fraction) and value.denominator != 1:
        # The decimal view only; JSON and CSV carry the exact p/q.
        return f"≈ {decimal_text(value)}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and field_unit != "text":
        return f"{value:,}"
    return str(value)


def _group_text(group: Sequence[int]) -> str:
    steps = {b - a for a, b in itertools.pairwise(group)}
    if len(group) > _MAX_RANKS_SHOWN and len(steps) == 1:
        return f"{{{group[0]},{group[1]},…,{group[-1]}}}"
    return "{" + ",".join(map(str, group)) + "}"


def groups_text(groups: Sequence[Sequence[int]]) -> str:
    """Groups for a table cell: the first MAX_GROUPS_SHOWN, a long strided group as {a,b,…,z}."""
    text = " ".join(_group_text(g) for g in groups[:MAX_GROUPS_SHOWN])
    if len(groups) > MAX_GROUPS_SHOWN:
        text += f" … {len(groups) - MAX_GROUPS_SHOWN} more ({len(groups)} groups)"
    return text


def _csv_cell(value: Any) -> str:
    v = to_json_value(value)
    return json.dumps(v) if isinstance(v, list | dict | bool) or v is None else str(v)


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(header), "|" + "|".join("---" for _ in header) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def _rich(table: Table, width: int | None) -> str:
    color = sys.stdout.isatty()
    console = Console(
        file=io.StringIO(),
        width=width or shutil.get_terminal_size((100, 24)).columns,
        force_terminal=color,
        color_system="standard" if color else None,
        emoji=False,
        markup=False,  # user and formula text such as "[b·s, h]" is not rich markup
        highlight=False,
    )
    console.print(table)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def record_cells(obj: Any, *, skip_none: bool = False) -> list[tuple[str, str, str]]:
    """(label, value, scaled) for each shown field of one result (``skip_none``: only those
    set); scaled is the bytes in kB/MB/GB (units.scaled_bytes_text), else empty."""
    out = []
    for f in _fields(obj):
        if not shown(f):
            continue
        value = getattr(obj, f.name)
        if skip_none and value is None:
            continue
        gb = scaled_bytes_text(value) if unit(f) == "bytes" and value is not None else ""
        out.append((label(f), cell(value, unit(f)), gb))
    return out


def render_record(
    obj: Any,
    fmt: str,
    *,
    title: str,
    caption: str,
    width: int | None = None,
    skip_none: bool = False,
) -> str:
    """One result: a two-column table (with kB/MB/GB beside bytes), or one JSON object / CSV row.

    ``skip_none`` keeps fields whose value is None (options not used) out of tables and
    Markdown; JSON and CSV always carry every field.
    """
    if fmt == "json":
        return dumps(obj) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f.name for f in _fields(obj)])
        writer.writerow([_csv_cell(getattr(obj, f.name)) for f in _fields(obj)])
        return buf.getvalue()
    cells = record_cells(obj, skip_none=skip_none)
    has_bytes = any(gb for _, _, gb in cells)
    header = ["quantity", "value"] + ([SCALED_HEADER] if has_bytes else [])
    rows = [[lab, val, gb][: len(header)] for lab, val, gb in cells]
    if fmt == "markdown":
        return f"**{title}**\n\n" + _markdown(header, rows) + f"\n{caption}\n"
    table = Table(title=title, caption=caption)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
    for r in rows:
        table.add_row(*r)
    return _rich(table, width)


def render_rows(
    rows: Sequence[Any],
    fmt: str,
    *,
    title: str,
    caption: str,
    highlight: int | None = None,
    width: int | None = None,
    skip_none: bool = False,
    constant_columns: bool = False,
) -> str:
    """Several results of one type: a table with one row each, a JSON list, or CSV rows.

    ``skip_none`` keeps columns that are None in every row out of tables and Markdown;
    ``constant_columns`` moves a column equal in every row into the caption, once.
    """
    if fmt == "json":
        return dumps(list(rows)) + "\n"
    fields = _fields(rows[0]) if rows else []
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f.name for f in fields])
        for r in rows:
            writer.writerow([_csv_cell(getattr(r, f.name)) for f in fields])
        return buf.getvalue()
    visible = [
        f
        for f in fields
        if shown(f) and not (skip_none and all(getattr(r, f.name) is None for r in rows))
    ]
    if constant_columns and len(rows) > 1:
        same = [f for f in visible if len({repr(getattr(r, f.name)) for r in rows}) == 1]
        if len(same) < len(visible):
            visible = [f for f in visible if f not in same]
            caption += " Same at every point: " + "; ".join(
                f"{label(f)} {cell(getattr(rows[0], f.name), unit(f))}" for f in same
            )
            caption += "."
    header = [label(f) for f in visible]
    body = [[cell(getattr(r, f.name), unit(f)) for f in visible] for r in rows]
    # Byte counts of 1 kB and more carry their decimal value too: below them in a table, beside
    # them in Markdown (units.scaled_bytes_text, labelled kB/MB/GB/TB).
    join = " (" if fmt == "markdown" else "\n"
    close = ")" if fmt == "markdown" else ""
    scaled = False
    for r, row in zip(rows, body, strict=True):
        for i, f in enumerate(visible):
            value = getattr(r, f.name)
            if unit(f) == "bytes" and _scalable(value):
                row[i] += join + scaled_bytes_text(value) + close
                scaled = True
    if scaled:
        caption += f" Bytes of 1 kB and more also in decimal units ({SCALED_NOTE})."
    if fmt == "markdown":
        marked = [
            [f"**{c}**" for c in row] if i == highlight else row for i, row in enumerate(body)
        ]
        return f"**{title}**\n\n" + _markdown(header, marked) + f"\n{caption}\n"
    table = Table(title=title, caption=caption)
    for f in visible:
        # fold, never "…": a cut number would no longer be exact
        table.add_column(
            label(f), justify="left" if unit(f) == "text" else "right", overflow="fold"
        )
    for i, row in enumerate(body):
        if i == highlight:
            # Marked in text too, so the highlight survives without colour.
            table.add_row(*["▶ " + row[0], *row[1:]], style="bold green")
        else:
            table.add_row(*row)
    return _rich(table, width)
