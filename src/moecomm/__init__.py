"""moecomm: exact, symbolic communication volumes for Mixture-of-Experts parallelism.

The library, one function per job (each returns a ``Report``; see ``moecomm.api``)::

    import moecomm
    moecomm.ep(preset="deepseek-v3", tokens=4096, ep=64).result.ep_bytes_per_rank

``moecomm.ep``, ``tp``, ``compare``, ``groups``, ``traffic``, ``collective``, ``step``, ``plan``,
``calibrate``, ``validate``, ``sweep``, ``report``, ``formula``, ``measure`` (under torchrun) and
the ``presets`` and ``plots`` modules are imported on first use, so that ``import moecomm`` (and
the CLI's ``--help``) stays cheap.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

API = (
    "ep",
    "tp",
    "compare",
    "groups",
    "traffic",
    "collective",
    "step",
    "plan",
    "calibrate",
    "validate",
    "sweep",
    "report",
    "formula",
    "measure",
)

MODULES = ("presets", "plots")

__all__ = [*API, *MODULES]


def __getattr__(name: str) -> Any:
    if name in API:
        return getattr(importlib.import_module("moecomm.api"), name)
    if name in MODULES:
        return importlib.import_module(f"moecomm.{name}")
    raise AttributeError(f"module 'moecomm' has no attribute {name!r}")


class _Package(types.ModuleType):
    """The package, whose API names stay the API functions.

    Some jobs share their name with the module that holds their model (``moecomm.step`` the
    function, ``moecomm/step.py`` the step model; likewise ``plan``, ``groups``, ``traffic``,
    ``sweep``, ``report`` and ``measure``).
    Importing such a module sets a package attribute of that name; the API keeps it. Code
    inside the package imports those modules by their full name (``from moecomm.step import``).
    """

    def __getattribute__(self, name: str) -> Any:
        if name in API:
            return getattr(importlib.import_module("moecomm.api"), name)
        return super().__getattribute__(name)


sys.modules[__name__].__class__ = _Package
