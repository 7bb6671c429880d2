"""``moecomm calibrate``: fit the time model to nccl-tests logs or measurement files."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import format_option


@click.command("calibrate")
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE",
    help="Hardware TOML to write (e.g. cluster.toml).",
)
@click.option(
    "--base",
    metavar="NAME|FILE",
    help="Hardware preset whose links, memory and compute the file keeps [default: the built-in "
    "preset of the GPU named in the logs].",
)
@click.option("--name", help="Preset name written in the file [default: the file's name].")
@click.option(
    "--min-bytes",
    default="1MiB",
    show_default=True,
    help="Fit sizes of at least this many bytes (nccl-tests' size column).",
)
@click.option(
    "--date", metavar="YYYY-MM-DD", help="Date recorded in the file [default: today, UTC]."
)
@click.option(
    "--force", is_flag=True, help="Replace an existing file or symbolic link (never its target)."
)
@format_option
def command(logs: tuple[str, ...], output: str, fmt: str, **kw: Any) -> None:
    """Fit the time model to nccl-tests logs or measurement files; write a hardware TOML.

    LOG is the stdout of all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf,
    sendrecv_perf or broadcast_perf (single-process -g N or MPI across nodes), or a
    moecomm-bench/1 JSON file (moecomm measure; benchmarks/results/*.json). Each
    collective gets a latency, a peak bandwidth and a ramp per link and rank count, and a
    per-op cost where per-op times were measured. Use the file anywhere: --hardware FILE.

    Example: moecomm calibrate all_reduce.log all_gather.log -o cluster.toml --base h100-sxm
    """
    from moecomm import api

    emit(api.calibrate(logs, output=output, **kw).render(fmt))
