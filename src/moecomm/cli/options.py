"""Option decorators shared by commands, and turning options into validated config models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import build
from moecomm.config import MoEModel, Workload
from moecomm.dtypes import DTYPE_NAMES, DType
from moecomm.render import FORMATS

FLAGS = {
    "hidden_size": "--hidden",
    "top_k": "--topk",
    "num_experts": "--experts",
    "batch": "--batch",
    "seq": "--seq",
    "tokens": "--tokens",
    "ep": "--ep",
    "tp": "--tp",
    "cp": "--cp",
    "pp": "--pp",
    "dp": "--dp",
    "etp": "--etp",
    "edp": "--edp",
    "world": "--world",
    "sizes": "--sizes",
}
"""How each config field is spelt on the command line, for error messages."""

Fn = Callable[..., Any]


def _stack(*decorators: Callable[[Fn], Fn]) -> Callable[[Fn], Fn]:
    def apply(fn: Fn) -> Fn:
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return apply


def format_option(fn: Fn) -> Fn:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(fn)


def preset_option(fn: Fn) -> Fn:
    return click.option(
        "--preset",
        metavar="NAME|FILE",
        help="Model preset (see `moecomm presets list`) or a preset TOML file; flags override it.",
    )(fn)


model_options = _stack(
    preset_option,
    click.option("--hidden", type=int, help="Hidden size h."),
    click.option("--topk", type=int, help="Routed experts per token k."),
    click.option("--experts", type=int, help="Routed experts E."),
)

workload_options = _stack(
    click.option("--batch", "-b", type=int, help="Micro-batch b per rank."),
    click.option("--seq", "-s", type=int, help="Sequence length s."),
    click.option("--tokens", "-t", type=int, help="Tokens b·s per rank (instead of -b and -s)."),
)

dtype_choice = click.Choice(DTYPE_NAMES)


def dtype_option(fn: Fn) -> Fn:
    return click.option(
        "--dtype", type=dtype_choice, default="bf16", show_default=True, help="Element type."
    )(fn)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def resolve_model(
    preset: str | None, hidden: int | None, topk: int | None, experts: int | None
) -> MoEModel:
    """The model shape: a preset's fields, overridden by explicit flags."""
    data: dict[str, Any] = {}
    if preset is not None:
        data = P.load(P.MODELS, preset).model.model_dump(exclude_none=True)
    data.update(_given({"hidden_size": hidden, "top_k": topk, "num_experts": experts}))
    return build(MoEModel, data, FLAGS)


def resolve_workload(batch: int | None, seq: int | None, tokens: int | None) -> Workload:
    return build(Workload, _given({"batch": batch, "seq": seq, "tokens": tokens}), FLAGS)


def dtype(name: str | None, fallback: str) -> DType:
    return DType(name if name is not None else fallback)
