"""Reading routing data files (expert counts, top-k ids, placements) and writing traffic matrices.

Every problem is one line naming the file, the field (with its index) and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moecomm.errors import MoecommError
from moecomm.traffic.matrices import Placement, split
from moecomm.units import Exact, json_value

Counts = list[list[int]]
TopkIds = list[list[list[int]]]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MoecommError(f"{path}: cannot be read ({exc.strerror})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise MoecommError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _count(path: Path, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MoecommError(f"{path}: {where} must be a non-negative integer; got {value!r}")
    return value


def _counts_table(path: Path, where: str, data: Any, ep: int | None, experts: int | None) -> Counts:
    """A per-source table or a flat per-expert list (split evenly over ``ep`` sources)."""
    if not isinstance(data, list) or not data:
        raise MoecommError(f"{path}: {where} must be a non-empty list; got {type(data).__name__}")
    flat = all(not isinstance(x, list) for x in data)
    rows: list[list[Any]] = [data] if flat else data
    width = experts if experts is not None else len(rows[0]) if isinstance(rows[0], list) else 0
    table: Counts = []
    for i, row in enumerate(rows):
        at = where if flat else f"{where}[{i}]"
        if not isinstance(row, list):
            raise MoecommError(f"{path}: {at} must be a list of per-expert counts; got {row!r}")
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
    rows = [r for r in csv.reader(io.StringIO(_read_text(path))) if any(c.strip() for c in r)]
    if rows and not all(c.strip().lstrip("-").isdigit() for c in rows[0]):
        rows = rows[1:]  # a header line
    out: list[list[Any]] = []
    for i, r in enumerate(rows):
        vals: list[Any] = []
        for e, c in enumerate(r):
            t = c.strip()
            if not t.lstrip("-").isdigit():
                raise MoecommError(f"{path}: row {i} column {e} must be an integer; got {t!r}")
            vals.append(int(t))
        out.append(vals)
    return out


def load_counts(path: Path, ep: int | None, experts: int | None) -> list[Counts]:
    """Expert counts per layer: ``{"expert_counts": …}``, ``{"layers": […]}``, or CSV."""
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
        return [
            _counts_table(path, "expert_counts", rows[0] if len(rows) == 1 else rows, ep, experts)
        ]
    data = _read_json(path)
    if isinstance(data, dict) and "layers" in data:
        layers = data["layers"]
        if not isinstance(layers, list) or not layers:
            raise MoecommError(f"{path}: layers must be a non-empty list")
        out = []
        for n, layer in enumerate(layers):
            body = layer.get("expert_counts") if isinstance(layer, dict) else layer
            out.append(_counts_table(path, f"layers[{n}]", body, ep, experts))
        return out
    if isinstance(data, dict):
        if "expert_counts" not in data:
            raise MoecommError(f"{path}: expert_counts is required (or layers)")
        data = data["expert_counts"]
    return [_counts_table(path, "expert_counts", data, ep, experts)]


def load_topk_ids(path: Path, ep: int | None, experts: int) -> TopkIds:
    """Chosen expert ids per source rank, per token (-1 = masked), from JSON or .npy."""
    if path.suffix.lower() == ".npy":
        try:
            import numpy as np
        except ImportError:
            raise MoecommError(
                f"{path}: reading .npy needs numpy (pip install numpy), or give the ids as JSON"
            ) from None
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise MoecommError(f"{path}: not a readable .npy array ({exc})") from None
        if arr.ndim != 3 or arr.dtype.kind not in "iu":
            raise MoecommError(
                f"{path}: topk_ids must be an integer array [ranks, tokens, k]; "
                f"got shape {tuple(arr.shape)} of {arr.dtype}"
            )
        data: Any = arr.tolist()
    else:
        data = _read_json(path)
        if isinstance(data, dict):
            if "topk_ids" not in data:
                raise MoecommError(f"{path}: topk_ids is required")
            data = data["topk_ids"]
    if not isinstance(data, list) or not data:
        raise MoecommError(f"{path}: topk_ids must be a non-empty list of per-rank token lists")
    if ep is not None and len(data) != ep:
        raise MoecommError(
            f"{path}: topk_ids must have one list per source rank (--ep {ep}); got {len(data)}"
        )
    out: TopkIds = []
    for r, tokens in enumerate(data):
        if not isinstance(tokens, list):
            raise MoecommError(f"{path}: topk_ids[{r}] must be a list of tokens; got {tokens!r}")
        rank: list[list[int]] = []
        for t, ids in enumerate(tokens):
            if not isinstance(ids, list):
                raise MoecommError(
                    f"{path}: topk_ids[{r}][{t}] must be a list of expert ids; got {ids!r}"
                )
            for i, e in enumerate(ids):
                if isinstance(e, bool) or not isinstance(e, int) or not -1 <= e < experts:
                    raise MoecommError(
                        f"{path}: topk_ids[{r}][{t}][{i}] must be an expert id in "
                        f"0..{experts - 1} or -1 (masked); got {e!r}"
                    )
            rank.append(list(ids))
        out.append(rank)
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
                    f"{path}: placement[{e}] must hold ranks in 0..{ep - 1}; got {r!r}"
                )
        replicas.append(tuple(ranks))
    return Placement(ep, tuple(replicas))


def write_matrices(path: Path, layers: Sequence[tuple[Any, Any]], convention: str) -> None:
    """Write (dispatch, combine) byte matrices per layer as JSON or CSV (by the file suffix).

    Any other suffix is refused, so that a mistyped path never overwrites an unrelated file.
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise MoecommError(f"--export-matrix must end in .json or .csv; got {str(path)!r}")
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
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MoecommError(f"{path}: cannot be written ({exc.strerror})") from None


def _json_matrix(m: Sequence[Sequence[Exact]]) -> list[list[int | str]]:
    return [[json_value(x) for x in row] for row in m]
