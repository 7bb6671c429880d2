"""Typed results and the field metadata that renderers format them by."""

from __future__ import annotations

import dataclasses
from typing import Any

UNITS = (
    "bytes",
    "tokens",
    "ratio",
    "ranks",
    "count",
    "text",
    "flag",
    "groups",
    "bytes_per_second",
    "capacity",
    "flops",
    "seconds",
    "duration",
    "rate",
    "percent",
)


def quantity(label: str, unit: str, *, show: bool = True) -> Any:
    """A result field with its display label and unit; ``show=False`` keeps it out of tables."""
    assert unit in UNITS, unit
    return dataclasses.field(metadata={"label": label, "unit": unit, "show": show})


def convention_field() -> Any:
    """The convention a result is counted under: a table caption and a JSON key."""
    return dataclasses.field(metadata={"label": "convention", "unit": "text", "show": False})


def label(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("label", field.name))


def unit(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("unit", "text"))


def shown(field: dataclasses.Field[Any]) -> bool:
    return bool(field.metadata.get("show", True))


def merge(*parts: Any) -> Any:
    """One result holding the fields of several (e.g. bytes and, with --hardware, their times)."""
    fields = [
        (f.name, f.type, dataclasses.field(metadata=f.metadata))
        for part in parts
        for f in dataclasses.fields(part)
    ]
    cls = dataclasses.make_dataclass(type(parts[0]).__name__, fields, frozen=True)
    return cls(**{f.name: getattr(p, f.name) for p in parts for f in dataclasses.fields(p)})
