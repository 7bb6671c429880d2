"""The formula layer: every quantity moecomm reports is one named sympy expression here.

``value`` evaluates a formula without sympy (see ``values``). Everything else (the registry,
``get``, ``names``, exact sympy evaluation, ``show`` with values substituted) imports sympy and
every formula module on first use, so commands that only need numbers never pay for sympy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from moecomm.formulas.values import value

if TYPE_CHECKING:
    from moecomm.formulas import (
        collectives,
        compute,
        ep,
        link_time,
        memory,
        routing,
        scaling,
        step,
        tp,
    )
    from moecomm.formulas.registry import (
        Formula,
        evaluate,
        fast,
        formula,
        get,
        latex_expression,
        names,
        rational_vector,
        to_exact,
        vector,
    )
    from moecomm.formulas.substitute import SubstitutionError
    from moecomm.formulas.view import FormulaRow, FormulaView, catalog, show

MODULES = (
    "ep",
    "tp",
    "scaling",
    "collectives",
    "compute",
    "memory",
    "link_time",
    "routing",
    "step",
)
"""Formula modules, in the order their formulas are listed."""

_REGISTRY = (
    "Formula",
    "evaluate",
    "fast",
    "formula",
    "get",
    "latex_expression",
    "names",
    "rational_vector",
    "to_exact",
    "vector",
)

_VIEW = ("FormulaRow", "FormulaView", "catalog", "show")

__all__ = [
    "Formula",
    "FormulaRow",
    "FormulaView",
    "SubstitutionError",
    "catalog",
    "collectives",
    "compute",
    "ep",
    "evaluate",
    "fast",
    "formula",
    "get",
    "latex_expression",
    "link_time",
    "memory",
    "names",
    "rational_vector",
    "routing",
    "scaling",
    "show",
    "step",
    "to_exact",
    "tp",
    "value",
    "vector",
]


def __getattr__(name: str) -> Any:
    if name in _REGISTRY or name in _VIEW:
        for module in MODULES:
            importlib.import_module(f"moecomm.formulas.{module}")
        home = "view" if name in _VIEW else "registry"
        return getattr(importlib.import_module(f"moecomm.formulas.{home}"), name)
    if name == "SubstitutionError":
        return importlib.import_module("moecomm.formulas.substitute").SubstitutionError
    if name in MODULES:
        return importlib.import_module(f"moecomm.formulas.{name}")
    raise AttributeError(f"module 'moecomm.formulas' has no attribute {name!r}")
