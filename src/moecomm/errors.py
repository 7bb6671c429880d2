"""User-facing errors: one readable line per broken rule, never a traceback."""

from __future__ import annotations

import itertools
import reprlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class MoecommError(ValueError):
    """A problem with the user's input, worded for the user (field, rule, value)."""


_RULES: dict[str, str] = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
}


class _Shown(reprlib.Repr):
    """repr() with bounded depth and length: safe on deeply nested or huge user values."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 12
        self.maxstring = self.maxlong = self.maxother = SHOWN_CHARS

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:  # in order, unlike reprlib
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = itertools.islice(x.items(), self.maxdict)
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in items]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4 * SHOWN_CHARS:  # str() of it may pass the int→str digit limit
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


SHOWN_CHARS = 80
"""Longest user value quoted in an error message."""

_SHOWN = _Shown()


def shown(value: Any) -> str:
    """A user's value as an error quotes it: its repr, cut to about 80 characters."""
    text = _SHOWN.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


MAX_PROBLEMS = 20
"""Problems listed in one message; the rest are counted."""


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts)


def validation_lines(
    exc: ValidationError, prefix: str = "", names: dict[str, str] | None = None
) -> list[str]:
    """Word each pydantic error as ``field rule; got value``.

    ``names`` renames fields as the user wrote them (e.g. ``hidden_size`` as ``--hidden``).
    """
    lines = []
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_PROBLEMS]:
        field = _field_name(err["loc"])
        field = (names or {}).get(field, field)
        ctx: dict[str, Any] = err.get("ctx") or {}
        rule = _RULES.get(err["type"])
        if err["type"] == "value_error":
            # Messages from our own model validators already name field, rule and value.
            text = str(ctx.get("error", err["msg"]))
        elif rule is not None:
            text = f"{field} {rule.format(**ctx)}"
            if err["type"] != "missing":
                text += f"; got {shown(err['input'])}"
        else:
            text = f"{field}: {err['msg']}; got {shown(err['input'])}"
        lines.append(prefix + text)
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"{prefix}and {len(errors) - MAX_PROBLEMS} more problems")
    return lines


def from_validation(
    exc: ValidationError, prefix: str = "", names: dict[str, str] | None = None
) -> MoecommError:
    """One MoecommError whose one-line message holds every problem, separated by "; "."""
    return MoecommError("; ".join(validation_lines(exc, prefix, names)))
