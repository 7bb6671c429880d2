"""Exact substitution of values into an expression, refused up front when it could not finish.

sympy evaluates a binomial C(n, r) of numbers as soon as it is built, and a finite sum term by
term: C(10^30, 10^14) or a sum over 10^18 terms would run until memory runs out. The checks here
run first, on the numbers the arguments take, and name the symbol or term that is too large.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from moecomm.errors import MoecommError
from moecomm.units import Exact

MAX_VALUE = 2**64
"""Largest numerator or denominator a substituted value may have (counts, bytes, FLOPs fit)."""

MAX_BINOMIAL_BITS = 2**14
"""Largest binomial evaluated exactly, in bits (about 4900 digits; C(256, 8) has 45)."""

MAX_SUM_TERMS = 1024
"""Most terms a finite sum may have once its limits are substituted (one per expert group)."""

MAX_DIGITS = 4000
"""Most digits of an exact result's numerator or denominator (Python prints ints of ≤ 4300)."""


class SubstitutionError(MoecommError):
    """A value refused for one symbol; the message starts with the symbol's name."""


def number(v: Exact) -> sp.Rational:
    """An int or a Fraction as the sympy number it is, never through text."""
    return sp.Integer(v) if isinstance(v, int) else sp.Rational(v.numerator, v.denominator)


def check_value(name: str, v: Exact) -> None:
    f = Fraction(v)
    if abs(f.numerator) > MAX_VALUE or f.denominator > MAX_VALUE:
        raise SubstitutionError(
            f"{name} must be at most 2^64 = {MAX_VALUE} (a fraction's numerator and denominator"
            f" alike); got {f}"
        )


def check_digits(what: str, v: Exact) -> None:
    f = Fraction(v)
    if max(abs(f.numerator), f.denominator) >= 10**MAX_DIGITS:
        raise MoecommError(f"{what} has more than {MAX_DIGITS} digits at these values")


def substitute(expr: sp.Expr, values: Mapping[sp.Symbol, Exact]) -> sp.Expr:
    """``expr`` with ``values`` put in, exactly; a finite sum left without symbols is summed.

    Refuses values above ``MAX_VALUE``, sums of more than ``MAX_SUM_TERMS`` terms and binomials
    of more than ``MAX_BINOMIAL_BITS`` bits before sympy starts on them.
    """
    for sym, v in values.items():
        check_value(str(sym), v)
    subs = {sym: number(v) for sym, v in values.items()}
    _check_cost(expr, subs)
    result = expr.xreplace(subs)
    if not result.free_symbols and result.has(sp.Sum):
        result = result.doit()
    return result


def _check_cost(expr: sp.Expr, subs: Mapping[sp.Symbol, sp.Rational]) -> None:
    ranges: dict[sp.Symbol, range] = {}
    for total in sorted(expr.atoms(sp.Sum), key=sp.default_sort_key):
        for index, lower, upper in total.limits:
            lo, hi = lower.xreplace(subs), upper.xreplace(subs)
            if not (lo.is_Integer and hi.is_Integer):
                continue  # still symbolic (nothing is summed), or outside the domain
            terms = int(hi) - int(lo) + 1
            if terms > MAX_SUM_TERMS:
                raise MoecommError(
                    f"the sum over {index} from {lower} to {upper} has {terms} terms at"
                    f" {_at(lower, upper, subs=subs)}; at most {MAX_SUM_TERMS} are summed exactly"
                )
            ranges[index] = range(int(lo), int(hi) + 1)
    for node in sorted(expr.atoms(sp.binomial), key=sp.default_sort_key):
        top, bottom = (a.xreplace(subs) for a in node.args)
        free = sorted(top.free_symbols | bottom.free_symbols, key=str)
        if not set(free) <= set(ranges):
            continue  # stays symbolic: sympy evaluates nothing
        for point in itertools.product(*(ranges[i] for i in free)):
            at = {i: sp.Integer(v) for i, v in zip(free, point, strict=True)}
            bits = _binomial_bits(top.xreplace(at), bottom.xreplace(at))
            if bits > MAX_BINOMIAL_BITS:
                raise MoecommError(
                    f"binomial({node.args[0]}, {node.args[1]}) has up to {bits} bits at"
                    f" {_at(*node.args, subs=subs)}; at most {MAX_BINOMIAL_BITS} bits are"
                    " evaluated exactly"
                )


def _binomial_bits(top: sp.Expr, bottom: sp.Expr) -> int:
    """An upper bound on the bits of C(top, bottom) and on sympy's work to get it: r·log2(n)."""
    if not (top.is_Rational and bottom.is_Integer) or bottom < 0:
        return 0  # not evaluated to a number, or 0
    r = int(bottom)
    if top.is_Integer and top >= 0:
        if r > top:
            return 0
        r = min(r, int(top) - r)
    return r * max(int(abs(top.p)).bit_length() + int(top.q).bit_length(), 1)


def _at(*exprs: sp.Expr, subs: Mapping[sp.Symbol, sp.Rational]) -> str:
    used = sorted(set().union(*(e.free_symbols for e in exprs)) & set(subs), key=str)
    return ", ".join(f"{s} = {subs[s]}" for s in used)
