"""The ``moecomm`` command line: a thin click layer over the library."""

from __future__ import annotations

import sys
from typing import Any

import click

from moecomm.cli.base import MoecommGroup

COMMANDS = (
    "ep",
    "traffic",
    "tp",
    "compare",
    "groups",
    "presets",
    "formula",
    "collective",
    "step",
    "plan",
)


@click.group(
    cls=MoecommGroup,
    lazy={name: f"moecomm.cli.{name}" for name in COMMANDS},
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="moecomm")
def cli() -> None:
    """Exact communication volumes for Mixture-of-Experts parallelism.

    Every number is evaluated exactly from a sympy formula (see `moecomm formula`) and states its
    convention: per rank or per GPU, per layer, which tokens are counted. GB = 1e9 bytes.

    Example: moecomm ep --preset deepseek-v3 --tokens 4096 --ep 64
    """


def main(*args: Any, **kwargs: Any) -> None:
    """Console-script entry point."""
    kwargs.setdefault("prog_name", "moecomm")
    cli.main(*args, **kwargs)
    sys.exit(0)
