"""The ``moecomm`` command line: a thin click layer over the library."""

from __future__ import annotations

import sys
from typing import Any

import click

from moecomm.cli.base import MoecommGroup

COMMANDS = {
    "ep": "EP all-to-all bytes per rank for one MoE layer, balanced routing (per-rank analysis).",
    "traffic": "Per-rank EP traffic for one MoE layer from routing data or synthetic routing.",
    "tp": "TP all-reduce bytes per rank for one layer output of [b·s, h] (ring algorithm).",
    "compare": "EP against TP bytes per GPU for one batch of S tokens over M GPUs.",
    "groups": "Which ranks form each parallel group, in Megatron-Core's order tp-cp-ep-dp-pp.",
    "presets": "Built-in presets: published MoE models, GPUs and deployments.",
    "formula": "List the formulas, or show one as sympy text or LaTeX, optionally with values "
    "substituted.",
    "collective": "Time, algbw and busbw of one collective, under nccl-tests' conventions.",
    "step": "Whole-model step: EP, TP and gradient collectives beside the expert GEMMs, per rank.",
    "report": "One scenario as a LaTeX document: formulas, their values, tables and figures.",
    "plan": "Every valid layout (tp, dp, ep, edp, etp, pp) of --gpus, best first, with memory "
    "per GPU.",
    "calibrate": "Fit the time model to nccl-tests logs or measurement files; write a hardware "
    "TOML.",
    "validate": "Predicted against measured times: every case, its error, medians and worst per "
    "group.",
    "measure": "Time collectives and MoE dispatch/combine on real ranks, run under torchrun.",
}
"""Each command and the first line of its docstring: ``moecomm --help`` lists them without
importing a single command module (tests/test_docs.py checks they match the docstrings)."""


@click.group(
    cls=MoecommGroup,
    lazy={name: f"moecomm.cli.{name}" for name in COMMANDS},
    summaries=COMMANDS,
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
