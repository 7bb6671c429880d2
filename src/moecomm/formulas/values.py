"""Exact evaluation of a named formula through its generated evaluator: no sympy at run time.

Importing sympy and building an expression costs more than a whole command may spend, so ordinary
commands evaluate the plain-Python functions that ``codegen`` printed from the expressions into
``_generated.py`` (kept current and checked against sympy by the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from moecomm.errors import MoecommError
from moecomm.units import Exact, normalize


def value(name: str, values: Mapping[str, Exact]) -> Exact:
    """Evaluate a named formula exactly; ``values`` maps symbol names to ints or Fractions.

    Extra names are ignored; a missing one is named in the error.
    """
    from moecomm.formulas import _generated

    fn = getattr(_generated, name, None)
    if fn is None:
        raise MoecommError(f"formula {name!r} has no generated evaluator; run codegen")
    code = fn.__code__
    params = code.co_varnames[: code.co_kwonlyargcount]
    missing = [p for p in params if p not in values]
    if missing:
        raise MoecommError(f"values are missing for {', '.join(missing)}")
    result = fn(**{p: Fraction(values[p]) for p in params})
    return normalize(Fraction(result))
