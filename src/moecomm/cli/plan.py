"""``moecomm plan``: rank every valid parallel layout of a GPU count by the chosen objective."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    check_plot,
    force_option,
    format_option,
    hardware_options,
    link,
    memory_options,
    plot_option,
    progress,
    save_plot,
    schedule_options,
    source_options,
    wire_options,
)
from moecomm.config import DEEPGEMM_EFFICIENCY


@click.command("plan")
@source_options
@click.option("--gpus", type=int, help="GPUs to lay out [default: the deployment's].")
@click.option(
    "--phase",
    type=click.Choice(["train", "prefill", "decode"]),
    help="Phase [default: the deployment's, else prefill].",
)
@click.option(
    "--tokens-per-gpu",
    type=int,
    help="Tokens per GPU at each MoE layer [default: 4096; decode 128].",
)
@click.option("--global-batch", type=int, help="Tokens per step in all; per GPU = batch·pp/gpus.")
@click.option(
    "--concurrency",
    type=int,
    help="Decode: requests in flight on all the GPUs; per GPU = concurrency·pp/gpus.",
)
@memory_options
@click.option("--redundant-experts", type=int, help="Extra expert replicas (EPLB) [default: 0].")
@wire_options
@click.option("--sp", "sequence_parallel", is_flag=True, help="Sequence parallel (TP as RS + AG).")
@click.option(
    "--allow-tp-across-nodes", is_flag=True, help="Let tp and etp exceed one scale-up domain."
)
@click.option(
    "--max-pp",
    type=int,
    help="Largest pipeline size [default: 1 for prefill and decode, else any].",
)
@click.option(
    "--rank-by",
    type=click.Choice(["token", "step"]),
    default="token",
    show_default=True,
    help="With --objective comm: communication time per token (comm per step / tokens per "
    "step) or per step.",
)
@click.option(
    "--top", type=int, default=10, show_default=True, help="Rows in the table (JSON lists all)."
)
@click.option(
    "--compute-efficiency",
    type=float,
    help=f"Achieved share of peak FLOP/s for expert GEMMs [default: {DEEPGEMM_EFFICIENCY}].",
)
@click.option(
    "--objective",
    type=click.Choice(["throughput", "latency", "memory", "comm"]),
    help="Rank by tokens/s per GPU [default], latency (TTFT, TPOT or step), memory per GPU, "
    "or communication (--rank-by).",
)
@click.option("--tpot-max", type=float, metavar="MS", help="Decode: keep layouts with TPOT ≤ MS.")
@click.option("--ttft-max", type=float, metavar="MS", help="Prefill: keep layouts with TTFT ≤ MS.")
@click.option("--min-ep", type=int, help="Smallest expert-parallel size to consider.")
@schedule_options
@click.option(
    "--launch",
    type=click.Choice(["megatron", "sglang", "vllm"]),
    help="List each layout with the flags that launch it in this framework.",
)
@click.option(
    "--dedup",
    type=click.Choice(["copies", "node"]),
    help="EP copies: one per (token, expert) [default], or one per destination node over the "
    "network, forwarded over NVLink (DeepEP normal kernels) [default: the deployment's].",
)
@hardware_options
@plot_option
@force_option
@format_option
def command(fmt: str, plot: str | None, force: bool, **kw: Any) -> None:
    """Every valid layout (tp, dp, ep, edp, etp, pp) of --gpus, best first, with memory per GPU.

    Drops nothing silently: layouts whose memory (weights, optimizer state, activations or KV
    cache, headroom) does not fit are listed after those that do. Ranked by --objective:
    tokens/s per GPU of the end-to-end step by default. With numpy (pip install 'moecomm[plan]') all layouts
    are evaluated at once over arrays; without it, one at a time (same results, about 30x slower
    on 10^4 layouts). --plot FILE draws memory per GPU against the objective's quantity for every
    layout, with the Pareto front, the memory limit and the top picks (docs/plots.md).

    Example: moecomm plan --preset deepseek-v3 --gpus 64 --hardware h800 --phase prefill
    """
    from moecomm import api

    check_plot(plot, force)
    bar = progress(fmt, "evaluating layouts")
    report = api.plan(link=link(kw), progress=bar, **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
