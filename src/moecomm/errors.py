"""User-facing errors: one readable line per broken rule, never a traceback.

Library messages name fields as the library spells them (``ep``, ``capacity_factor``). A field
name is marked with :func:`field`, so that a front end can spell it its own way: the CLI shows
``--ep`` and ``--capacity-factor`` through one table (``cli.options.FLAGS``), Python shows the
keyword argument. ``str(error)`` gives the library's spelling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKED = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")
MAX_VALUE_TEXT = 80
"""Longest echo of a bad value in a message; longer ones are cut with an ellipsis."""


def field(name: str) -> str:
    """A field name inside a message, for a front end to spell as its own option."""
    return f"{_OPEN}{name}{_CLOSE}"


def spell(text: str, names: Mapping[str, str] | None = None) -> str:
    """Replace marked field names by ``names`` (full dotted name first, then its last part)."""
    names = names or {}

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        return names.get(name) or names.get(name.rsplit(".", 1)[-1]) or name

    return _MARKED.sub(one, text)


class MoecommError(ValueError):
    """A problem with the user's input, worded for the user (field, rule, value)."""

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """The message with field names spelt through ``names`` (e.g. as CLI flags)."""
        return spell(str(self.args[0]) if self.args else "", names)

    def __str__(self) -> str:
        return self.text()


def shown(value: Any) -> str:
    """A value as the user gave it, short: ints and text as they are, floats without noise."""
    if isinstance(value, bool):
        text = repr(value)
    elif isinstance(value, float):
        # The shortest text that reads back as the same float: what the user typed, give or
        # take a trailing ".0".
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, Fraction):
        text = str(value.numerator) if value.denominator == 1 else f"{value}"
    elif isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # beyond Python's int -> str digit limit
            text = f"an integer of about {value.bit_length() * 0.30103:.0f} digits"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = _short_repr(value)
    if len(text) > MAX_VALUE_TEXT:
        text = text[: MAX_VALUE_TEXT - 1] + "…"
    return text


def _short_repr(value: Any) -> str:
    """repr() of containers without recursing into deep nests."""
    if isinstance(value, list | tuple | dict):
        return f"a {type(value).__name__} of {len(value)} items"
    try:
        return repr(value)[: MAX_VALUE_TEXT + 1]
    except (RecursionError, ValueError):
        return type(value).__name__


_RULES: dict[str, str] = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
    "too_short": "must have at least {min_length} item(s)",
    "string_too_short": "must not be empty",
}


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts)


def _context(ctx: dict[str, Any]) -> dict[str, str]:
    return {k: shown(v) if not isinstance(v, str) else v for k, v in ctx.items()}


def validation_lines(
    exc: ValidationError,
    prefix: str = "",
    names: dict[str, str] | None = None,
    *,
    marked: bool = False,
) -> list[str]:
    """Word each pydantic error as ``field rule; got value``.

    ``names`` renames fields (e.g. ``hidden_size`` as ``--hidden``); with ``marked`` the field
    names are marked (:func:`field`) for a front end to spell later. Errors from files pass a
    ``prefix`` naming the file and keep the file's own key names.
    """
    lines = []
    for err in exc.errors(include_url=False):
        name = _field_name(err["loc"])
        spelt = field(name) if marked else (names or {}).get(name, name)
        ctx: dict[str, Any] = err.get("ctx") or {}
        rule = _RULES.get(err["type"])
        if err["type"] in ("value_error", "assertion_error"):
            # Messages from our own validators already name field, rule and value.
            error = ctx.get("error", err["msg"])
            text = error.args[0] if isinstance(error, MoecommError) and error.args else str(error)
            if not marked:
                text = spell(str(text), names)
        elif rule is not None:
            text = f"{spelt} {rule.format(**_context(ctx))}"
            if err["type"] != "missing":
                text += f"; got {shown(err['input'])}"
        else:
            text = f"{spelt}: {err['msg']}; got {shown(err['input'])}"
        lines.append(prefix + str(text))
    return lines


def from_validation(
    exc: ValidationError,
    prefix: str = "",
    names: dict[str, str] | None = None,
    *,
    marked: bool = False,
) -> MoecommError:
    """One MoecommError whose one-line message holds every problem, separated by "; "."""
    return MoecommError("; ".join(validation_lines(exc, prefix, names, marked=marked)))
