"""The formula layer: every quantity moecomm reports is one named sympy expression here.

Importing this package registers every formula module.
"""

from moecomm.formulas import collectives, compute, ep, memory, scaling, timing, tp
from moecomm.formulas.registry import Formula, evaluate, fast, formula, get, names, to_exact, value

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
