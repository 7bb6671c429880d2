"""User-facing errors: one readable line per broken rule, never a traceback."""

from __future__ import annotations

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
    for err in exc.errors(include_url=False):
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
                text += f"; got {err['input']!r}"
        else:
            text = f"{field}: {err['msg']}; got {err['input']!r}"
        lines.append(prefix + text)
    return lines


def from_validation(
    exc: ValidationError, prefix: str = "", names: dict[str, str] | None = None
) -> MoecommError:
    """One MoecommError whose one-line message holds every problem, separated by "; "."""
    return MoecommError("; ".join(validation_lines(exc, prefix, names)))
