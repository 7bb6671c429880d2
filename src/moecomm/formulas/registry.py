"""The formula registry: each named quantity is one cached sympy expression with its source."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import sympy as sp

from moecomm.errors import MoecommError
from moecomm.formulas.substitute import substitute
from moecomm.formulas.symbols import LATEX_NAMES
from moecomm.units import Exact, normalize


def latex_expression(expr: sp.Expr) -> str:
    """An expression in LaTeX, printed by ``sympy.latex`` with the papers' symbol names."""
    return str(sp.latex(expr, symbol_names=LATEX_NAMES))


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

    def latex(self, expr: sp.Expr | None = None) -> str:
        """``name = expression`` in LaTeX math, without delimiters; ``expr`` replaces the
        expression (the same one with values substituted)."""
        name = r"\mathrm{" + self.name.replace("_", r"\_") + "}"
        return f"{name} = {latex_expression(self.expr if expr is None else expr)}"

    def _repr_latex_(self) -> str:
        """Typeset in Jupyter: the equation in display math."""
        return f"$${self.latex()}$$"


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
    if value.has(sp.nan, sp.zoo) or value.is_infinite:
        raise MoecommError(f"expression is undefined (a division by zero): {value}")
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return normalize(Fraction(int(value.p), int(value.q)))
    raise MoecommError(f"expression did not reduce to a number: {value}")


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, Exact]) -> Exact:
    """Evaluate exactly: integers and fractions in, an int or a Fraction out.

    Values and sizes that could not finish are refused first (``substitute``).
    """
    missing = sorted(str(sym) for sym in expr.free_symbols - set(values))
    if missing:
        raise MoecommError(f"values are missing for {', '.join(missing)}")
    return to_exact(substitute(expr, values))


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


_VECTOR: dict[str, Callable[..., Any]] = {}


def vector(name: str) -> Callable[..., Any]:
    """A numpy evaluator of a named formula: ``sympy.lambdify(..., modules="numpy")`` over arrays.

    Takes numbers or arrays (broadcast together) and returns float64 arrays: the same expression,
    printed the same way, as ``fast``, so each element equals ``fast`` on that element. Checked
    against ``value`` (exact) in the tests. Imports numpy: for ``moecomm plan`` only. Formulas
    with a sum or a binomial (the routing probabilities) have none.
    """
    if name not in _VECTOR:
        import numpy as np

        f = get(name)
        if f.expr.has(sp.Sum, sp.binomial):
            raise MoecommError(f"formula {name!r} has a sum or a binomial: no array evaluator")
        args = f.symbols
        fn = sp.lambdify(args, f.expr, modules="numpy")
        names_ = [str(s) for s in args]

        def call(**values: Any) -> Any:
            return np.asarray(
                fn(*(np.asarray(_real(values[n]), dtype=np.float64) for n in names_)),
                dtype=np.float64,
            )

        _VECTOR[name] = call
    return _VECTOR[name]


def _real(v: Any) -> Any:
    return float(v) if isinstance(v, Fraction) else v


_RATIONAL: dict[
    tuple[str, tuple[tuple[str, Fraction], ...]],
    tuple[Callable[..., Any], Callable[..., Any], list[str]],
] = {}


def rational_vector(name: str, values: Mapping[str, Any]) -> Any:
    """Exact values of a named formula over arrays: an object array of ints and Fractions.

    The expression is brought to one fraction p/q of integer polynomials (``sympy.together``);
    p and q are lambdified and evaluated on object arrays of Python ints, so nothing rounds.
    ``values`` maps symbol names to ints, Fractions or arrays of them. For formulas without Max or Min
    (the memory formulas of ``moecomm plan``); checked against ``value`` in the tests.
    """
    import numpy as np

    # Scalars that are not integers (bytes per weight such as 4097/4096, a headroom share) are
    # substituted into the expression first: the arrays then meet integer arithmetic only,
    # which is many times faster over object arrays than Fraction arithmetic.
    fixed = tuple(
        sorted((k, v) for k, v in values.items() if isinstance(v, Fraction) and v.denominator != 1)
    )
    key = (name, fixed)
    if key not in _RATIONAL:
        f = get(name)
        given = dict(fixed)
        expr = f.expr.xreplace(
            {
                s: sp.Rational(given[str(s)].numerator, given[str(s)].denominator)
                for s in f.symbols
                if str(s) in given
            }
        )
        args = [s for s in f.symbols if str(s) not in given]
        p, q = sp.fraction(sp.together(expr))
        for part in (p, q):
            if args and not sp.Poly(part, *args).domain.is_ZZ:
                raise MoecommError(f"formula {name!r} is not a ratio of integer polynomials")
        _RATIONAL[key] = (
            sp.lambdify(args, p, modules="numpy"),
            sp.lambdify(args, q, modules="numpy"),
            [str(s) for s in args],
        )
    num_fn, den_fn, names_ = _RATIONAL[key]
    arrays = [_ints(np, values[n]) for n in names_]
    num, den = (
        np.asarray(a, dtype=object) for a in np.broadcast_arrays(num_fn(*arrays), den_fn(*arrays))
    )
    # A constant numerator or denominator broadcasts as int64: astype(object) gives Python ints.
    quotient, remainder = num // den, num % den
    out = np.array(quotient, dtype=object)
    for i in np.flatnonzero(remainder != 0).tolist():
        out.flat[i] = Fraction(num.flat[i], den.flat[i])
    return out


def _ints(np: Any, v: Any) -> Any:
    """An object array of Python ints and Fractions (no int64 overflow, nothing rounded), or a
    scalar int or Fraction as it is."""
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else v
    if isinstance(v, int):
        return v
    arr = np.asarray(v)
    if arr.dtype.kind in "iub":
        return arr.astype(object)  # Python ints, converted in C
    return np.array(
        [x if isinstance(x, Fraction) else int(x) for x in arr.flat], dtype=object
    ).reshape(arr.shape)
