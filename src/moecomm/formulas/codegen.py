"""Generate plain-Python evaluators from the formula expressions, so a command needs no sympy work.

Building a sympy expression costs tens of milliseconds at first use, more than a whole command
may spend. ``_generated.py`` holds one exact function per formula, printed from its expression by
this module; a test regenerates it and fails on any drift. Regenerate with
``python -m moecomm.formulas.codegen``.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from moecomm.formulas import get, names

TARGET = Path(__file__).with_name("_generated.py")


class _ExactPrinter(PythonCodePrinter):  # type: ignore[misc]
    """Python source that keeps rationals exact (Fraction) and integer powers integral."""

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"Fraction({expr.p}, {expr.q})"

    def _print_Half(self, expr: sp.Rational) -> str:
        return "Fraction(1, 2)"

    def _print_Max(self, expr: sp.Expr) -> str:
        return "max(" + ", ".join(f"Fraction({self._print(a)})" for a in expr.args) + ")"

    def _print_Min(self, expr: sp.Expr) -> str:
        return "min(" + ", ".join(f"Fraction({self._print(a)})" for a in expr.args) + ")"

    def _print_floor(self, expr: sp.Expr) -> str:
        return f"math.floor({self._print(expr.args[0])})"

    def _print_ceiling(self, expr: sp.Expr) -> str:
        return f"Fraction(math.ceil({self._print(expr.args[0])}))"

    def _print_binomial(self, expr: sp.Expr) -> str:
        n, r = (self._print(a) for a in expr.args)
        return f"_binomial({n}, {r})"

    def _print_Sum(self, expr: sp.Expr) -> str:
        (index, lower, upper), body = expr.limits[0], expr.function
        return (
            f"sum(({self._print(body)} for {index} in "
            f"map(Fraction, range(_whole({self._print(lower)}), _whole({self._print(upper)}) + 1))),"
            " Fraction(0))"
        )


def function_source(name: str) -> str:
    formula = get(name)
    args = ", ".join(f"{s}: Fraction" for s in formula.symbols)
    body = _ExactPrinter({"fully_qualified_modules": False}).doprint(formula.expr)
    if formula.expr.is_Integer:
        body = f"Fraction({body})"
    star = "*, " if args else ""
    return (
        f"def {name}({star}{args}) -> Fraction:\n"
        f'    """{formula.description}"""\n'
        f"    return {body}\n"
    )


def generate() -> str:
    header = (
        '"""Exact evaluators printed from the formula expressions. Generated: do not edit.\n\n'
        "Regenerate with ``python -m moecomm.formulas.codegen``; tests fail if this file drifts.\n"
        '"""\n\n'
        "import math  # noqa: F401\n"
        "from fractions import Fraction\n\n\n"
        "def _whole(x: Fraction | int) -> int:\n"
        '    """An integral Fraction as an int; others are outside the domain."""\n'
        "    if Fraction(x).denominator != 1:\n"
        '        raise ValueError(f"expected an integer; got {x}")\n'
        "    return int(x)\n\n\n"
        "def _binomial(n: Fraction, r: Fraction) -> Fraction:\n"
        '    """C(n, r) for integers, 0 outside 0 <= r <= n (as sympy.binomial for n >= 0)."""\n'
        "    nn, rr = _whole(n), _whole(r)\n"
        "    return Fraction(math.comb(nn, rr)) if 0 <= rr <= nn else Fraction(0)\n"
    )
    return header + "\n\n" + "\n\n".join(function_source(n) for n in names())


if __name__ == "__main__":
    TARGET.write_text(generate(), encoding="utf-8")
    print(f"wrote {TARGET}")
