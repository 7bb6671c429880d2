"""``moecomm measure``: real collectives and MoE dispatch/combine under torchrun."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import format_option, model_options, stack
from moecomm.dtypes import DTYPE_NAMES

_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_dtypes = click.Choice(DTYPE_NAMES)

sweep_options = stack(
    click.option(
        "--collectives",
        default="all-reduce,all-gather,reduce-scatter,all-to-all,broadcast",
        show_default=True,
        help="Comma-separated collectives to sweep, or none.",
    ),
    click.option(
        "--min-bytes", default="8KiB", show_default=True, help="First size (nccl-tests -b)."
    ),
    click.option("--max-bytes", default="1GiB", show_default=True, help="Last size; sizes double."),
    click.option("--iters", type=int, default=20, show_default=True, help="Timed ops per size."),
    click.option("--warmup", type=int, default=5, show_default=True, help="Untimed ops per size."),
    click.option(
        "--dtype",
        type=click.Choice(["bf16", "fp16", "fp32"]),
        default="bf16",
        show_default=True,
        help="Element type of the collectives sweep.",
    ),
    click.option(
        "--backend",
        type=click.Choice(["nccl", "gloo"]),
        help="torch.distributed backend [default: nccl with a GPU, else gloo].",
    ),
    click.option(
        "--cuda-graph",
        type=int,
        default=0,
        metavar="OPS",
        help="NCCL only: time CUDA-graph replays of OPS ops (no host launch overhead).",
    ),
)

moe_options = stack(
    click.option(
        "--tokens", "-t", help="MoE tokens per rank, comma-separated [default: 128,512,4096,16384]."
    ),
    click.option("--topk-ids", type=_file, help="Routing from a top-k file (JSON or .npy)."),
    click.option(
        "--routing",
        metavar="uniform|zipf:S",
        help="Sampled routing, seeded [default: uniform].",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of the routing."),
    click.option(
        "--dedup",
        type=click.Choice(["copies", "rank"]),
        default="copies",
        show_default=True,
        help="One row per (token, expert), or per (token, destination rank).",
    ),
    click.option(
        "--dispatch-dtype",
        type=_dtypes,
        multiple=True,
        help="Dispatch wire dtype, repeatable [default: the deployment's, else bf16 and fp8].",
    ),
    click.option(
        "--combine-dtype",
        type=_dtypes,
        multiple=True,
        help="Combine wire dtype, repeatable [default: the deployment's, else bf16].",
    ),
    click.option("--scale-block", type=int, help="fp8: one fp32 scale per N channels [128]."),
    click.option("--header-bytes", type=int, help="Bytes added per dispatched copy."),
    click.option("--moe-iters", type=int, default=20, show_default=True, help="Timed MoE ops."),
    click.option(
        "--save-routing-max-tokens",
        type=int,
        default=128,
        show_default=True,
        help="Record the top-k ids of runs of at most this many tokens per rank.",
    ),
)


@click.command("measure")
@click.option("--output", "-o", required=True, metavar="FILE", help="Measurement file (JSON).")
@click.option("--force", is_flag=True, help="Replace an existing file or link (never through it).")
@sweep_options
@model_options
@moe_options
@format_option
def command(fmt: str, **kw: Any) -> None:
    """Time collectives and MoE dispatch/combine on real ranks, run under torchrun.

    Run as `torchrun --nproc_per_node=N -m moecomm measure -o FILE ...` (torchrun's --nnodes
    and --rdzv flags span nodes). Sweeps all-reduce, all-gather, reduce-scatter, all-to-all and
    broadcast over sizes in two conventions, per-op and back-to-back (nccl-tests), then, with a
    model, MoE dispatch and combine through all_to_all_single with real top-k routing: the bytes
    each rank sends are `moecomm traffic`'s for the same routing. Rank 0 writes FILE (schema
    moecomm-bench/1, docs/measure.md). Needs torch: pip install "moecomm[measure]".

    Example: moecomm measure -o cpu.json --backend gloo --max-bytes 64KiB --preset mixtral-8x7b
    """
    from moecomm import api

    report = api.measure(progress=lambda line: click.echo(line, err=True), argv=sys.argv[1:], **kw)
    if report is not None:
        emit(report.render(fmt))
