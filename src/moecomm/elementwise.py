"""Elementwise choices for the step model, so that one model runs on numbers or on arrays.

``step`` and ``timing`` branch on layout values (does a group span nodes, is there a TP group at
all). They write those branches through an ``Ops``: ``SCALAR`` evaluates them on ints, Fractions or
floats (``moecomm step``, exact); ``moecomm.vector.NUMPY`` evaluates them on numpy arrays, one
element per layout (``moecomm plan``). Both branches of ``where`` are evaluated, so every
expression under one must be defined for every layout.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any


class Ops:
    """Scalar elementwise operations: Python's own, exact on ints and Fractions."""

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        return min(a, b)

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return max(a, b)

    @staticmethod
    def reciprocal(n: Any) -> Any:
        """1/n, exact for an int n."""
        return Fraction(1, n)


SCALAR = Ops()
