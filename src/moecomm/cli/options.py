"""Option decorators shared by commands, and turning options into validated config models."""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import InputError, build
from moecomm.config import Deployment, MoEModel, RoutingConfig, Workload
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
    "redundant_experts": "--redundant-experts",
    "dedup": "--dedup",
    "count": "--count",
    "gpus_per_node": "--gpus-per-node",
    "scale_block": "--scale-block",
    "header_bytes": "--header-bytes",
    "n_group": "--n-group",
    "topk_group": "--topk-group",
    "capacity_factor": "--capacity-factor",
    "imbalance": "--imbalance",
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


def hf_config_option(fn: Fn) -> Fn:
    return click.option(
        "--hf-config",
        metavar="PATH",
        help="A Hugging Face config.json (or a folder holding one) to read the model from.",
    )(fn)


def deployment_option(fn: Fn) -> Fn:
    return click.option(
        "--deployment",
        metavar="NAME|FILE",
        help="Deployment preset (see `moecomm presets list`); explicit flags override it.",
    )(fn)


model_options = _stack(
    preset_option,
    hf_config_option,
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
        "--dtype", "dtype_name", type=dtype_choice, help="Element type [default: bf16]."
    )(fn)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def load_deployment(ref: str | None) -> Deployment | None:
    return None if ref is None else P.load(P.DEPLOYMENTS, ref).deployment


def base_model(
    preset: str | None, hf_config: str | None, deployment: Deployment | None = None
) -> MoEModel | None:
    """The model named by --preset or --hf-config, else the deployment's model, else none."""
    if preset is not None and hf_config is not None:
        raise InputError("give either --preset or --hf-config, not both")
    if preset is not None:
        return P.load(P.MODELS, preset).model
    if hf_config is not None:
        from moecomm import hf_config as hf

        return hf.read(hf_config).model
    if deployment is not None:
        return P.load(P.MODELS, deployment.model).model
    return None


def resolve_model(
    preset: str | None,
    hf_config: str | None,
    hidden: int | None,
    topk: int | None,
    experts: int | None,
    deployment: Deployment | None = None,
) -> MoEModel:
    """The model shape: a preset's, a config.json's or a deployment's, overridden by flags."""
    base = base_model(preset, hf_config, deployment)
    data: dict[str, Any] = {} if base is None else base.model_dump(exclude_none=True)
    data.update(_given({"hidden_size": hidden, "top_k": topk, "num_experts": experts}))
    return build(MoEModel, data, FLAGS)


def resolve_workload(batch: int | None, seq: int | None, tokens: int | None) -> Workload:
    return build(Workload, _given({"batch": batch, "seq": seq, "tokens": tokens}), FLAGS)


# ---- routing-aware traffic (docs/traffic.md) -------------------------------------------------

_NUMBER = re.compile(r"^(\d+)(?:/(\d+)|\.(\d+))?$")


def parse_number(flag: str, text: str) -> Fraction:
    """A positive integer, fraction p/q or decimal, parsed exactly here (never evaluated)."""
    m = _NUMBER.match(text.strip())
    if not m or (m.group(2) is not None and int(m.group(2)) == 0):
        raise click.BadParameter(
            f"must be a number such as 1.25 or 5/4; got {text!r}", param_hint=flag
        )
    whole, den, dec = m.groups()
    if den is not None:
        return Fraction(int(whole), int(den))
    if dec is not None:
        return Fraction(int(whole + dec), 10 ** len(dec))
    return Fraction(int(whole))


def _number(ctx: click.Context, param: click.Parameter, value: str | None) -> Fraction | None:
    return None if value is None else parse_number(f"--{param.name}".replace("_", "-"), value)


routing_options = _stack(
    click.option(
        "--dedup",
        type=click.Choice(["copies", "rank", "node"]),
        help="One copy per (token, expert) [default], per destination rank (DeepEP intranode) or "
        "per destination node, forwarded over NVLink (DeepEP internode; needs --gpus-per-node).",
    ),
    click.option(
        "--count",
        type=click.Choice(["wire", "logical"]),
        help="wire [default]: bytes that leave the rank; logical: also those to the rank itself "
        "(DeepEP's GB/s convention).",
    ),
    click.option("--scale-block", type=int, help="fp8: one fp32 scale per N channels (h + 4h/N)."),
    click.option("--header-bytes", type=int, help="Bytes added per dispatched message."),
    click.option("--n-group", type=int, help="Expert groups for group-limited routing."),
    click.option("--topk-group", type=int, help="Groups a token may reach."),
    click.option(
        "--capacity-factor",
        callback=_number,
        metavar="F",
        help="Capacity ceil(b·s·k·F/E) per expert per source rank (Megatron-Core).",
    ),
    click.option("--pad", is_flag=True, default=None, help="Send every expert slot full."),
    click.option(
        "--imbalance",
        callback=_number,
        metavar="X",
        help="Busiest rank receives X times the mean.",
    ),
    click.option(
        "--export-matrix",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the ranks × ranks byte matrices to FILE (.json or .csv).",
    ),
)
"""Options of routing-aware traffic, shared by ``ep`` and ``traffic``; see resolve_routing.

``--gpus-per-node`` (the intra/inter-node split) comes from ``gpus_per_node_option`` or, in
commands that take ``--hardware``, from the hardware options.
"""


def gpus_per_node_option(fn: Fn) -> Fn:
    return click.option(
        "--gpus-per-node", type=int, help="GPUs per node: split bytes into intra- and inter-node."
    )(fn)


ROUTING_KEYS = (
    "dedup",
    "count",
    "gpus_per_node",
    "scale_block",
    "header_bytes",
    "n_group",
    "topk_group",
    "capacity_factor",
    "pad",
    "imbalance",
)


def routing_used(options: dict[str, Any]) -> bool:
    """Whether any routing-aware option was given (else ``ep`` keeps the seed's output)."""
    return any(options.get(key) is not None for key in (*ROUTING_KEYS, "export_matrix"))


def routing_defaults(dep: Deployment | None) -> dict[str, Any]:
    """Wire-format and node defaults a deployment preset gives the routing options."""
    if dep is None:
        return {}
    return _given(
        {
            "scale_block": dep.scale_block,
            "header_bytes": dep.header_bytes,
            "gpus_per_node": dep.gpus_per_node,
        }
    )


def resolve_routing(
    options: dict[str, Any], defaults: dict[str, Any] | None = None
) -> RoutingConfig:
    """The routing config: ``defaults`` (e.g. from a deployment preset), overridden by flags."""
    data = dict(defaults or {})
    data.update(_given({key: options.get(key) for key in ROUTING_KEYS}))
    return build(RoutingConfig, data, FLAGS)


def first_given(*values: Any) -> Any:
    """The first value that is not None: explicit flags first, then presets, then defaults."""
    return next((v for v in values if v is not None), None)


def dtype(*choices: str | DType | None) -> DType:
    """The first dtype given, in order of precedence; bf16 when none is."""
    return DType(first_given(*choices, DType.BF16))
