"""``moecomm step``: whole-model communication and expert compute of one step, per rank."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    format_option,
    hardware_options,
    link,
    memory_options,
    model_options,
    schedule_options,
    wire_options,
)
from moecomm.config import DEEPGEMM_EFFICIENCY


@click.command("step")
@model_options
@click.option("--layers", "num_layers", type=int, help="Transformer layers.")
@click.option(
    "--moe-intermediate", "moe_intermediate_size", type=int, help="Intermediate size of one expert."
)
@click.option(
    "--phase",
    type=click.Choice(["train", "prefill", "decode"]),
    help="Phase [default: deployment's, else train].",
)
@click.option(
    "--tokens",
    "-t",
    type=int,
    help="Tokens per rank at each MoE layer (decode: requests per rank) [default: 4096; decode 128].",
)
@click.option("--tp", type=int, help="Attention tensor parallel.")
@click.option(
    "--cp", type=int, help="Context parallel (sequence split; its own traffic not timed)."
)
@click.option("--pp", type=int, help="Pipeline parallel.")
@click.option("--ep", type=int, help="Expert parallel.")
@click.option("--etp", type=int, help="Expert tensor parallel.")
@click.option("--dp", type=int, help="Attention data parallel (gradient reduction).")
@click.option("--edp", type=int, help="Expert data parallel (gradient reduction).")
@click.option(
    "--sp/--no-sp",
    "sequence_parallel",
    default=None,
    help="Sequence parallel: TP as reduce-scatter + all-gather.",
)
@wire_options
@click.option(
    "--redundant-experts",
    type=int,
    help="Extra expert replicas (EPLB) [default: deployment's, else 0].",
)
@click.option(
    "--shared-as-routed",
    is_flag=True,
    default=None,
    help="Count shared experts as routed selections (DeepSeek decode).",
)
@click.option(
    "--compute-efficiency",
    type=float,
    help=f"Achieved share of peak FLOP/s for expert GEMMs [default: {DEEPGEMM_EFFICIENCY}].",
)
@memory_options
@schedule_options
@click.option(
    "--dedup",
    type=click.Choice(["copies", "node"]),
    help="EP copies: one per (token, expert) [default], or one per destination node over the "
    "network, forwarded over NVLink (DeepEP normal kernels) [default: the deployment's].",
)
@hardware_options
@format_option
def command(fmt: str, **kw: Any) -> None:
    """Whole-model step: EP, TP and gradient collectives beside the expert GEMMs, per rank.

    Memory per GPU, item by item: weights at their dtypes, fp32 gradients and optimizer state
    (training), activations with the recompute choice, the KV cache (inference), headroom.

    Per layer, then summed over the MoE layers (EP) and all layers (attention TP) of one
    pipeline stage; training adds the backward pass and the gradient reduction over DP (dense)
    and EDP (experts). Decode also prints DeepSeek's estimate (β_d+β_c)·T·k·h/B per layer.

    Example: moecomm step --deployment deepseek-v3-decode --tokens 32
    """
    from moecomm import api

    emit(api.step(link=link(kw), **kw).render(fmt))
