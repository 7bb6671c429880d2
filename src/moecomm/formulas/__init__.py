"""The formula layer: every quantity moecomm reports is one named sympy expression here.

Importing this package registers every formula module.
"""

from moecomm.formulas import ep, routing, scaling, tp
from moecomm.formulas.registry import Formula, evaluate, formula, get, names, to_exact, value

__all__ = [
    "Formula",
    "ep",
    "evaluate",
    "formula",
    "get",
    "names",
    "routing",
    "scaling",
    "to_exact",
    "tp",
    "value",
]
