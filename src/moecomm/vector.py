"""The step model and the memory formulas over numpy arrays: every layout of ``plan`` at once.

Imports numpy, an optional dependency (``pip install moecomm[plan]``); ``moecomm.plan`` imports
this module only inside ``plan`` and falls back to its scalar loop without it. Nothing here
restates a formula: ``step.components`` runs with ``NUMPY`` ops and ``formulas.vector``
(``sympy.lambdify`` over arrays), the memory through ``formulas.rational_vector`` (exact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from moecomm import formulas as F
from moecomm.config import MoEModel, Phase
from moecomm.elementwise import Ops
from moecomm.hardware import Links
from moecomm.step import Components, Sizes, StepLayout, components
from moecomm.units import Exact


class NumpyOps(Ops):
    """Elementwise operations on numpy arrays, one element per layout."""

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        return np.minimum(a, b)

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return np.maximum(a, b)

    @staticmethod
    def reciprocal(n: Any) -> Any:
        return 1.0 / np.asarray(n, dtype=np.float64)


NUMPY = NumpyOps()


def evaluate(name: str, values: Mapping[str, Any]) -> Any:
    """Float64 arrays of a named formula (``formulas.vector``), one element per layout."""
    return F.vector(name)(**values)


def evaluate_exact(name: str, values: Mapping[str, Any]) -> Any:
    """Exact ints and Fractions of a named formula over integer arrays (object array)."""
    return F.rational_vector(name, values)


def sizes(found: Sequence[tuple[int, ...]]) -> Sizes:
    """(tp, dp, ep, edp, etp, pp, cp) of each layout as seven int64 arrays (cp 1 where a
    layout gives six sizes)."""
    width = len(found[0]) if len(found) else 7
    cols = np.array(found, dtype=np.int64).reshape(len(found), width).T
    if width == 6:
        cols = np.vstack([cols, np.ones((1, cols.shape[1]), dtype=np.int64)])
    return Sizes(*cols)


def step_components(
    model: MoEModel,
    phase: Phase,
    tokens: Exact | Any,
    lay: Sizes,
    base: StepLayout,
    hw: Links,
    *,
    compute_efficiency: float,
    peak_flops: int,
) -> Components:
    """``step.components`` for every layout at once; each part an array (or a number)."""
    real = Sizes(*(np.asarray(a, dtype=np.float64) for a in lay))
    return components(
        model,
        phase,
        float(tokens) if isinstance(tokens, int | Fraction) else tokens,
        real,
        base,
        hw,
        compute_efficiency=compute_efficiency,
        peak_flops=peak_flops,
        ev=evaluate,
        ops=NUMPY,
    )


def column(value: Any, n: int) -> list[float]:
    """A part of the step (array or number) as n Python floats."""
    out: list[float] = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).tolist()
    return out
