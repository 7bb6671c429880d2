"""The formula registry: each named quantity is one cached sympy expression with its source."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import sympy as sp

from moecomm.errors import MoecommError
from moecomm.units import Exact, normalize


@dataclass(frozen=True)
class Formula:
    """One named quantity: how to build its expression and what it means."""

    name: str
    build: Callable[[], sp.Expr]
    description: str
    source: str
    unit: str
    convention: str

    @property
    def expr(self) -> sp.Expr:
        return self.build()

    @property
    def symbols(self) -> list[sp.Symbol]:
        return sorted(self.expr.free_symbols, key=str)


_REGISTRY: dict[str, Formula] = {}


def formula(unit: str, convention: str) -> Callable[[Callable[[], sp.Expr]], Callable[[], sp.Expr]]:
    """Register a zero-argument function returning a sympy expression as a named formula.

    The docstring's first line is the description; its ``Source:`` paragraph is the citation.
    """

    def register(fn: Callable[[], sp.Expr]) -> Callable[[], sp.Expr]:
        doc = inspect.cleandoc(fn.__doc__ or "")
        head, _, rest = doc.partition("\n")
        source = rest.split("Source:", 1)[1] if "Source:" in rest else ""
        cached = cache(fn)
        _REGISTRY[fn.__name__] = Formula(
            name=fn.__name__,
            build=cached,
            description=head.strip(),
            source=" ".join(source.split()),
            unit=unit,
            convention=convention,
        )
        return cached

    return register


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> Formula:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise MoecommError(f"formula must be one of {known}; got {name!r}") from None


def to_exact(value: sp.Expr) -> Exact:
    """An exact sympy number as an int or a Fraction; anything else is a bug upstream."""
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return normalize(Fraction(int(value.p), int(value.q)))
    raise MoecommError(f"expression did not reduce to a number: {value}")


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, Exact]) -> Exact:
    """Evaluate exactly: integers and fractions in, an int or a Fraction out."""
    subs = {
        sym: sp.Integer(v) if isinstance(v, int) else sp.Rational(v.numerator, v.denominator)
        for sym, v in values.items()
    }
    missing = sorted(str(sym) for sym in expr.free_symbols - set(subs))
    if missing:
        raise MoecommError(f"values are missing for {', '.join(missing)}")
    result = expr.xreplace(subs)
    if result.has(sp.Sum):  # finite sums over a substituted range evaluate only on doit()
        result = result.doit()
    return to_exact(result)


_FAST: dict[str, Callable[..., float]] = {}


def fast(name: str) -> Callable[..., float]:
    """A float evaluator of a named formula, ``sympy.lambdify``'d once (for sweeps over layouts).

    Checked against ``value`` (exact) in the tests. Builds the sympy expression, so only
    commands that sweep many candidates (``plan``) use it.
    """
    if name not in _FAST:
        f = get(name)
        args = f.symbols
        fn = sp.lambdify(args, f.expr, modules="math")
        names_ = [str(s) for s in args]

        def call(**values: float) -> float:
            return float(fn(*(values[n] for n in names_)))

        _FAST[name] = call
    return _FAST[name]
