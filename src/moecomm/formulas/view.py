"""The formulas as results: the list, and one formula shown with values substituted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from moecomm.errors import MoecommError
from moecomm.formulas.registry import get, names, to_exact
from moecomm.formulas.substitute import SubstitutionError, check_digits, substitute
from moecomm.results import convention_field, quantity
from moecomm.units import Exact


@dataclass(frozen=True)
class FormulaRow:
    """One formula in the list."""

    name: str = quantity("name", "text")
    unit: str = quantity("unit", "text")
    description: str = quantity("description", "text")
    convention: str = quantity("convention", "text", show=False)
    source: str = quantity("source", "text", show=False)


@dataclass(frozen=True)
class FormulaView:
    """One formula, possibly with values substituted."""

    convention: str = convention_field()
    name: str = quantity("formula", "text")
    description: str = quantity("description", "text")
    expression: str = quantity("expression", "text")
    latex: str = quantity("LaTeX", "text", show=False)
    symbols: list[str] = quantity("free symbols", "text", show=False)
    value: Exact | None = quantity("value", "text")
    unit: str = quantity("unit", "text")
    source: str = quantity("source", "text")


def catalog() -> list[FormulaRow]:
    """Every formula, in registry order."""
    return [
        FormulaRow(f.name, f.unit, f.description, f.convention, f.source) for f in map(get, names())
    ]


def show(name: str, values: Mapping[str, Exact] | None = None) -> FormulaView:
    """Formula ``name`` with ``values`` (symbol name → int or Fraction) substituted.

    The same exact evaluation as ``evaluate``: when no symbol is left, ``value`` is the exact
    number, else None and ``expression`` keeps the free symbols. A key that is not a symbol of
    the formula, or a value that cannot be evaluated, raises ``SubstitutionError`` (its message
    starts with the symbol's name) or ``MoecommError``. Needs sympy: for showing, not for
    the numbers of other commands (they use ``value``).
    """
    f = get(name)
    allowed = {str(s): s for s in f.symbols}
    subs: dict[sp.Symbol, Exact] = {}
    for key, v in (values or {}).items():
        if key not in allowed:
            raise SubstitutionError(
                f"name must be a symbol of {f.name} ({', '.join(sorted(allowed))}); got {key!r}"
            )
        subs[allowed[key]] = v
    expr = substitute(f.expr, subs)
    value: Exact | None = None
    if not expr.free_symbols:
        if expr.has(sp.nan, sp.zoo) or expr.is_infinite:
            raise MoecommError(f"{f.name} is undefined at these values (a division by zero)")
        value = to_exact(expr)
        check_digits(f.name, value)
    return FormulaView(
        convention=f.convention,
        name=f.name,
        description=f.description,
        expression=str(expr),
        latex=f.latex(expr),
        symbols=sorted(str(s) for s in expr.free_symbols),
        value=value,
        unit=f.unit,
        source=f.source,
    )
