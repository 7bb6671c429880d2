"""Sweeps: a size option given as a comma list or a range runs its job once per point.

``--ep 8,16,32,64``, ``--tokens 128:8192:x2`` (geometric, ×2 per step), ``--bytes 1MiB:1GiB:x2``,
``--tokens 1024:4096:+1024`` (additive). At most two options are swept at once and at most
``MAX_POINTS`` points are run; each point is the very call a single value makes, so a sweep row is
byte for byte the single-point result. Values are parsed here, never evaluated.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

from moecomm.errors import MoecommError, field
from moecomm.report import Report, traffic_caption
from moecomm.units import parse_bytes

MAX_POINTS = 128
"""Most points in one sweep (the product over the swept options)."""

MAX_SWEPT = 2
"""Most options swept at once: the figure's x-axis and one line per value of the other."""

MAX_TEXT = 1000
"""Longest sweep text read."""

X_ORDER = ("nbytes", "tokens", "batch", "seq", "ep", "tp", "ranks", "kind")
"""Which swept option is the figure's x-axis: the first of these that is swept."""

NAMES = ("kind",)
"""Options swept over names (a comma list only), never the x-axis: one line per name."""

_INT = re.compile(r"[+-]?[0-9]+")
"""An integer as click reads one; its bounds are the config models' (a negative size is
refused there, naming the rule)."""
_RULE = "a positive integer, a comma list, or a range A:B:xF (geometric) or A:B:+S (additive)"


def _one(text: str, name: str, size: bool, whole: str) -> int:
    if size:
        return parse_bytes(text, name)
    if not _INT.fullmatch(text.strip()):
        raise MoecommError(f"{field(name)} must be {_RULE}; got {whole[:64]!r}")
    return int(text)


def _range(part: str, name: str, size: bool, whole: str) -> list[int]:
    start_text, stop_text, step_text = part.split(":")
    start, stop = _one(start_text, name, size, whole), _one(stop_text, name, size, whole)
    step_text = step_text.strip()
    bad = MoecommError(
        f"{field(name)} range A:B:xF or A:B:+S needs A ≤ B and an integer step F ≥ 2 (with "
        f"A ≥ 1) or S ≥ 1; got {part[:64]!r}"
    )
    if start > stop or len(step_text) < 2 or step_text[0] not in "x+":
        raise bad
    if not step_text[1:].isdigit() or not step_text[1:].isascii():
        raise bad
    step = int(step_text[1:])
    if (step_text[0] == "x" and (step < 2 or start < 1)) or step < 1:
        raise bad
    if step_text[0] == "+":
        count = (stop - start) // step + 1
        if count > MAX_POINTS:
            raise _too_many(name, count, whole)
        return list(range(start, stop + 1, step))
    out = [start]
    while out[-1] * step <= stop and len(out) <= MAX_POINTS:
        out.append(out[-1] * step)
    return out


def _too_many(name: str, count: int, whole: str) -> MoecommError:
    return MoecommError(
        f"{field(name)} gives {count} points, more than a sweep runs ({MAX_POINTS}); "
        f"got {whole[:64]!r}"
    )


def values(value: Any, name: str, *, size: bool = False) -> tuple[Any, ...] | None:
    """The points of one option: None, one int, a sequence of ints, or sweep text.

    ``size``: each value may carry a byte suffix (KiB, MiB, GB, …; ``units.parse_bytes``).
    An option of NAMES is a comma list of names, checked by the job itself.
    """
    if value is None:
        return None
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise MoecommError(
            f"{field(name)} must have at most {MAX_TEXT} characters; got {len(value)}"
        )
    if name in NAMES:
        text = str(value)
        names = tuple(part.strip() for part in text.split(","))
        if len(names) > MAX_POINTS:
            raise _too_many(name, len(names), text)
        return names
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, str):
        return tuple(int(v) for v in value)
    if len(value) > MAX_TEXT:
        raise MoecommError(
            f"{field(name)} must have at most {MAX_TEXT} characters; got {len(value)}"
        )
    out: list[int] = []
    for part in value.split(","):
        if part.count(":") == 2:
            out += _range(part, name, size, value)
        elif ":" in part:
            raise MoecommError(f"{field(name)} must be {_RULE}; got {value[:64]!r}")
        else:
            out.append(_one(part, name, size, value))
        if len(out) > MAX_POINTS:
            raise _too_many(name, len(out), value)
    return tuple(out)


def _caption(report: Report, first: Any) -> str:
    if report.layout == "traffic":
        return traffic_caption(first, report.caption or None)
    return report.caption


def run(
    job: Callable[..., Report],
    command: str,
    swept: dict[str, Any],
    fixed: dict[str, Any],
    *,
    sizes: Sequence[str] = ("nbytes",),
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Run ``job`` once per point of the swept options (the product of their values).

    With one value each, the result is exactly ``job``'s own report. ``progress(done, total)``
    is called after each point.
    """
    parsed = {n: values(v, n, size=n in sizes) for n, v in swept.items()}
    given = {n: v for n, v in parsed.items() if v is not None}
    multi = [n for n in X_ORDER if n in given and len(given[n]) > 1]
    if not multi:
        return job(**{n: v[0] for n, v in given.items()}, **fixed)
    if len(multi) > MAX_SWEPT:
        flags = ", ".join(field(n) for n in multi)
        raise MoecommError(f"at most {MAX_SWEPT} options may be swept at once; got {flags}")
    x, line = multi[0], (multi[1] if len(multi) > 1 else None)
    if x in NAMES:  # names alone: one line per name over the job's own x value
        x, line = next(n for n in X_ORDER if n in given), x
    total = len(given[x]) * (1 if line is None else len(given[line]))
    if total > MAX_POINTS:
        raise MoecommError(
            f"the sweep of {' and '.join(field(n) for n in multi)} has {total} points, more "
            f"than a sweep runs ({MAX_POINTS})"
        )
    outer = given[line] if line is not None else (None,)
    points: list[dict[str, Any]] = []
    for lv, xv in itertools.product(outer, given[x]):
        point = {n: v[0] for n, v in given.items()}
        point[x] = xv
        if line is not None and lv is not None:
            point[line] = lv
        points.append(point)
    reports = []
    for i, point in enumerate(points):
        reports.append(job(**point, **fixed))
        if progress is not None:
            progress(i + 1, len(points))
    rows = []
    for report, point in zip(reports, points, strict=True):
        if isinstance(report.result, list):
            raise MoecommError(
                f"a sweep takes one result per point; at {_point_text(point)} there are "
                f"{len(report.result)} (one per layer of the routing data)"
            )
        rows.append(report.result)
    captions = [_caption(r, r.result) for r in reports]
    caption = max(captions, key=len)  # points differ at most by a closing note (≈: expectations)
    if not all(caption.startswith(c) for c in captions):
        caption = f"At the first point: {captions[0]} Each point has its own values in the table."
    title = reports[0].title
    if command == "collective":  # its own title names one size and rank count
        kinds = sorted({(r.kind, r.algorithm) for r in rows})
        title = ", ".join(f"{k} ({a})" for k, a in kinds) + " under nccl-tests' conventions"
    return Report(
        rows,
        f"{title}: one row per point",
        caption,
        "rows",
        skip_none=True,
        figure="sweep",
        facts={
            "command": command,
            "x": x,
            "line": line,
            "values": {n: list(given[n]) for n in multi},
            "points": points,
        },
        constant_columns=True,
    )


def _point_text(point: dict[str, Any]) -> str:
    return ", ".join(f"{field(n)} {v}" for n, v in point.items())
