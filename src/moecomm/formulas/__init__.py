"""The formula layer: every quantity moecomm reports is one named sympy expression here.

Importing this package registers every formula module.
"""

from moecomm.formulas import ep, scaling, tp
from moecomm.formulas.registry import Formula, evaluate, fast, formula, get, names, to_exact, value

SEED_MODULES = (ep, scaling, tp)
"""Registered first, so that `moecomm formula` lists the seed's formulas before the time model."""

from moecomm.formulas import collectives, compute, memory, timing  # noqa: E402

__all__ = [
    "Formula",
    "collectives",
    "compute",
    "ep",
    "evaluate",
    "fast",
    "formula",
    "get",
    "memory",
    "names",
    "scaling",
    "timing",
    "to_exact",
    "tp",
    "value",
]
