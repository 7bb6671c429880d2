"""Reading routing data files (expert counts, top-k ids, placements) and writing traffic matrices.

Every problem is one line naming the file, the field (with its index) and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moecomm import safe_io
from moecomm.errors import MoecommError, field, shown
from moecomm.traffic.matrices import MAX_MATRIX_RANKS, Placement, split
from moecomm.units import Exact, json_value

Counts = list[list[int]]
TopkIds = list[list[list[int]]]

MAX_FILE_VALUES = 2**24
"""Most numbers (and lists) one routing file may hold: 16,777,216, checked before parsing."""

MAX_FILE_TOKENS = 4_000_000
"""Most tokens, over all ranks, in a top-k file: as many as sampled routing draws."""

MAX_COUNT = 2**63 - 1
"""Largest expert count: that of a 64-bit counter."""

_INT = re.compile(r"-?[0-9]+")


def _read_json(path: Path) -> Any:
    return safe_io.read_json(path, max_values=MAX_FILE_VALUES)


def _count(path: Path, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MoecommError(f"{path}: {where} must be a non-negative integer; got {shown(value)}")
    if value > MAX_COUNT:
        raise MoecommError(f"{path}: {where} must be at most {MAX_COUNT}; got {shown(value)}")
    return value


def _check_split(path: Path, where: str, width: int, ep: int) -> None:
    """A flat list split over ``ep`` sources: the table's size, checked before it is built."""
    if ep < 1:
        raise MoecommError(f"{field('ep')} must be at least 1; got {ep}")
    if ep > MAX_MATRIX_RANKS:
        raise MoecommError(
            f"{field('ep')} must be at most {MAX_MATRIX_RANKS} for a ranks × ranks traffic matrix; "
            f"got {ep}"
        )
    if width * ep > MAX_FILE_VALUES:
        raise MoecommError(
            f"{path}: {where} split over --ep {ep} sources must hold at most {MAX_FILE_VALUES} "
            f"counts; got {width * ep}"
        )


def _counts_table(path: Path, where: str, data: Any, ep: int | None, experts: int | None) -> Counts:
    """A per-source table or a flat per-expert list (split evenly over ``ep`` sources)."""
    if not isinstance(data, list) or not data:
        got = shown(data) if isinstance(data, list) else type(data).__name__
        raise MoecommError(f"{path}: {where} must be a non-empty list; got {got}")
    flat = all(not isinstance(x, list) for x in data)
    if flat and ep is not None:
        _check_split(path, where, len(data), ep)
    if not flat and len(data) > MAX_MATRIX_RANKS:
        raise MoecommError(
            f"{path}: {where} must have at most {MAX_MATRIX_RANKS} source ranks; got {len(data)}"
        )
    rows: list[list[Any]] = [data] if flat else data
    width = experts if experts is not None else len(rows[0]) if isinstance(rows[0], list) else 0
    table: Counts = []
    for i, row in enumerate(rows):
        at = where if flat else f"{where}[{i}]"
        if not isinstance(row, list):
            raise MoecommError(
                f"{path}: {at} must be a list of per-expert counts; got {shown(row)}"
            )
        if len(row) != width:
            raise MoecommError(
                f"{path}: {at} must have one count per expert ({width}); got {len(row)}"
            )
        table.append([_count(path, f"{at}[{e}]", c) for e, c in enumerate(row)])
    if flat:
        if ep is None:
            raise MoecommError(
                f"{path}: a flat per-expert list needs --ep to split it over sources"
            )
        cols = [split(c, ep) for c in table[0]]
        return [[col[r] for col in cols] for r in range(ep)]
    if ep is not None and len(table) != ep:
        raise MoecommError(
            f"{path}: {where} must have one list per source rank (--ep {ep}); got {len(table)}"
        )
    return table


def _csv_rows(path: Path) -> list[list[Any]]:
    text = safe_io.read_text(path)
    cells = text.count(",") + text.count("\n") + 1
    if cells > MAX_FILE_VALUES:
        raise MoecommError(f"{path}: must hold at most {MAX_FILE_VALUES} values; got about {cells}")
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise MoecommError(f"{path}: not valid CSV at line {reader.line_num}: {exc}") from None
    if rows and not all(_INT.fullmatch(c.strip()) for c in rows[0]):
        rows = rows[1:]  # a header line
    out: list[list[Any]] = []
    for i, r in enumerate(rows):
        vals: list[Any] = []
        for e, c in enumerate(r):
            t = c.strip()
            if not _INT.fullmatch(t):
                raise MoecommError(f"{path}: row {i} column {e} must be an integer; got {shown(t)}")
            if len(t.lstrip("-")) > len(str(MAX_COUNT)):  # before int(), and its digit limit
                raise MoecommError(
                    f"{path}: row {i} column {e} must be at most {MAX_COUNT}; got {shown(t)}"
                )
            vals.append(int(t))
        out.append(vals)
    return out


def load_counts(path: Path, ep: int | None, experts: int | None) -> list[Counts]:
    """Expert counts per layer: ``{"expert_counts": …}``, ``{"layers": […]}``, or CSV."""
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
        if not rows:
            raise MoecommError(f"{path}: holds no row of counts")
        return [
            _counts_table(path, "expert_counts", rows[0] if len(rows) == 1 else rows, ep, experts)
        ]
    data = _read_json(path)
    if isinstance(data, dict) and "layers" in data:
        layers = data["layers"]
        if not isinstance(layers, list) or not layers:
            raise MoecommError(f"{path}: layers must be a non-empty list; got {shown(layers)}")
        out = []
        cells = 0
        for n, layer in enumerate(layers):
            body = layer.get("expert_counts") if isinstance(layer, dict) else layer
            out.append(_counts_table(path, f"layers[{n}]", body, ep, experts))
            cells += len(out[-1]) * len(out[-1][0])
            if cells > MAX_FILE_VALUES:  # flat layers split over many sources
                raise MoecommError(
                    f"{path}: layers must hold at most {MAX_FILE_VALUES} counts in all; "
                    f"got more by layers[{n}]"
                )
        return out
    if isinstance(data, dict):
        if "expert_counts" not in data:
            raise MoecommError(f"{path}: expert_counts is required (or layers)")
        data = data["expert_counts"]
    return [_counts_table(path, "expert_counts", data, ep, experts)]


def _load_npy(path: Path) -> Any:
    """An integer .npy array [ranks, tokens, k] as nested lists, its header checked first."""
    try:
        import numpy as np
    except ImportError:
        raise MoecommError(
            f"{path}: reading .npy needs numpy (pip install numpy), or give the ids as JSON"
        ) from None
    buf = io.BytesIO(safe_io.read_bytes(path))
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buf)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(buf)
    except (OSError, ValueError, EOFError) as exc:
        raise MoecommError(f"{path}: not a readable .npy array ({exc})") from None
    if len(shape) != 3 or dtype.kind not in "iu":
        raise MoecommError(
            f"{path}: topk_ids must be an integer array [ranks, tokens, k]; "
            f"got shape {tuple(shape)} of {dtype}"
        )
    _check_topk_shape(path, shape[0], shape[0] * shape[1], shape[0] * shape[1] * shape[2])
    buf.seek(0)
    try:
        arr = np.load(buf, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise MoecommError(f"{path}: not a readable .npy array ({exc})") from None
    return arr.tolist()


def _check_topk_shape(path: Path, ranks: int, tokens: int, ids: int) -> None:
    if ranks > MAX_MATRIX_RANKS:
        raise MoecommError(
            f"{path}: topk_ids must have at most {MAX_MATRIX_RANKS} source ranks; got {ranks}"
        )
    if tokens > MAX_FILE_TOKENS:
        raise MoecommError(
            f"{path}: topk_ids must hold at most {MAX_FILE_TOKENS} tokens over all ranks; "
            f"got {tokens}"
        )
    if ids > MAX_FILE_VALUES:
        raise MoecommError(f"{path}: topk_ids must hold at most {MAX_FILE_VALUES} ids; got {ids}")


def load_topk_ids(path: Path, ep: int | None, experts: int) -> TopkIds:
    """Chosen expert ids per source rank, per token (-1 = masked), from JSON or .npy."""
    if path.suffix.lower() == ".npy":
        data: Any = _load_npy(path)
    else:
        data = _read_json(path)
        if isinstance(data, dict):
            if "topk_ids" not in data:
                raise MoecommError(f"{path}: topk_ids is required")
            data = data["topk_ids"]
    if not isinstance(data, list) or not data:
        raise MoecommError(
            f"{path}: topk_ids must be a non-empty list of per-rank token lists; got {shown(data)}"
        )
    if ep is not None and len(data) != ep:
        raise MoecommError(
            f"{path}: topk_ids must have one list per source rank (--ep {ep}); got {len(data)}"
        )
    tokens_in_all = sum(len(t) for t in data if isinstance(t, list))
    _check_topk_shape(path, len(data), tokens_in_all, 0)
    out: TopkIds = []
    for r, tokens in enumerate(data):
        if not isinstance(tokens, list):
            raise MoecommError(
                f"{path}: topk_ids[{r}] must be a list of tokens; got {shown(tokens)}"
            )
        for t, ids in enumerate(tokens):
            if not isinstance(ids, list):
                raise MoecommError(
                    f"{path}: topk_ids[{r}][{t}] must be a list of expert ids; got {shown(ids)}"
                )
            for i, e in enumerate(ids):
                if isinstance(e, bool) or not isinstance(e, int) or not -1 <= e < experts:
                    raise MoecommError(
                        f"{path}: topk_ids[{r}][{t}][{i}] must be an expert id in "
                        f"0..{experts - 1} or -1 (masked); got {shown(e)}"
                    )
        out.append(tokens)  # lists fresh from the parser: checked, not copied
    return out


def load_placement(path: Path, ep: int, experts: int) -> Placement:
    """``{"placement": [...]}``: per expert, a rank or a list of ranks holding a replica."""
    data = _read_json(path)
    if isinstance(data, dict):
        if "placement" not in data:
            raise MoecommError(f"{path}: placement is required")
        data = data["placement"]
    if not isinstance(data, list) or len(data) != experts:
        got = len(data) if isinstance(data, list) else type(data).__name__
        raise MoecommError(
            f"{path}: placement must have one entry per expert ({experts}); got {got}"
        )
    replicas: list[tuple[int, ...]] = []
    for e, entry in enumerate(data):
        ranks = entry if isinstance(entry, list) else [entry]
        if not ranks:
            raise MoecommError(f"{path}: placement[{e}] must name at least one rank")
        for r in ranks:
            if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < ep:
                raise MoecommError(
                    f"{path}: placement[{e}] must hold ranks in 0..{ep - 1}; got {shown(r)}"
                )
        replicas.append(tuple(ranks))
    return Placement(ep, tuple(replicas))


def write_matrices(
    path: str | Path,
    layers: Sequence[tuple[Any, Any]],
    convention: str,
    *,
    force: bool = False,
) -> None:
    """Write (dispatch, combine) byte matrices per layer as JSON or CSV (by the file suffix).

    Any other suffix is refused, so that a mistyped path never overwrites an unrelated file;
    an existing file or symbolic link is replaced only with ``force`` (see safe_io).
    """
    if not str(path):
        raise MoecommError(f"{field('export_matrix')} must name a .json or .csv file; got ''")
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".csv"):
        raise MoecommError(
            f"{field('export_matrix')} must end in .json or .csv; got {safe_io.shown_path(path)!r}"
        )
    if suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        n = len(layers[0][0])
        w.writerow(["layer", "phase", "src_rank", *[str(j) for j in range(n)]])
        for li, (disp, comb) in enumerate(layers):
            for phase, m in (("dispatch", disp), ("combine", comb)):
                for i, row in enumerate(m):
                    w.writerow([li, phase, i, *[json_value(x) for x in row]])
        text = buf.getvalue()
    else:
        doc = {
            "convention": convention,
            "unit": "bytes; rows = source rank, columns = destination rank",
            "layers": [
                {
                    "dispatch_matrix_bytes": _json_matrix(disp),
                    "combine_matrix_bytes": _json_matrix(comb),
                }
                for disp, comb in layers
            ],
        }
        text = json.dumps(doc, indent=1) + "\n"
    safe_io.write_text_atomic(path, text, force=force, what=field("export_matrix"))


def _json_matrix(m: Sequence[Sequence[Exact]]) -> list[list[int | str]]:
    return [[json_value(x) for x in row] for row in m]
