"""User-facing errors: one readable line per broken rule, never a traceback.

Library messages name fields as the library spells them (``ep``, ``capacity_factor``). A field
name is marked with :func:`field`, so that a front end can spell it its own way: the CLI shows
``--ep`` and ``--capacity-factor`` through one table (``cli.options.FLAGS``), Python shows the
keyword argument. ``str(error)`` gives the library's spelling.
"""

from __future__ import annotations

import itertools
import re
import reprlib
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


class _Shown(reprlib.Repr):
    """repr() with bounded depth and length: safe on deeply nested or huge user values."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 12
        self.maxstring = self.maxlong = self.maxother = MAX_VALUE_TEXT

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:  # in order, unlike reprlib
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = itertools.islice(x.items(), self.maxdict)
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in items]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"

    def repr_int(self, x: int, level: int) -> str:
        return _int_text(x)


def _int_text(x: int) -> str:
    if x.bit_length() > 4 * MAX_VALUE_TEXT:  # str() of it may pass the int→str digit limit
        return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
    return str(x)


_SHOWN = _Shown()


def shown(value: Any) -> str:
    """A value as the user gave it, short: ints and text as they are, floats without noise."""
    if isinstance(value, bool):
        text = repr(value)
    elif isinstance(value, float):
        # The shortest text that reads back as the same float: what the user typed, give or
        # take a trailing ".0".
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, Fraction):
        text = _int_text(value.numerator) if value.denominator == 1 else _SHOWN.repr(value)
        if value.denominator != 1 and value.numerator.bit_length() <= 4 * MAX_VALUE_TEXT:
            text = str(value)
    elif isinstance(value, int):
        text = _int_text(value)
    else:
        text = _SHOWN.repr(value)
    if len(text) > MAX_VALUE_TEXT:
        text = text[: MAX_VALUE_TEXT - 1] + "…"
    return text


MAX_PROBLEMS = 20
"""Problems listed in one message; the rest are counted."""


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
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_PROBLEMS]:
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
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"{prefix}and {len(errors) - MAX_PROBLEMS} more problems")
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
