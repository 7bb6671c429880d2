"""``moecomm validate``: the time model's predictions against measured times."""

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
    plot_option,
    save_plot,
)


@click.command("validate")
@click.argument("measurements", nargs=-1, required=True, metavar="MEASUREMENTS...")
@click.option(
    "--min-bytes",
    default="1MiB",
    show_default=True,
    help="Check sizes of at least this many bytes (nccl-tests' size column).",
)
@click.option("--summary-only", is_flag=True, help="Only the medians and worst cases.")
@hardware_options
@plot_option
@force_option
@format_option
def command(
    measurements: tuple[str, ...], fmt: str, plot: str | None, force: bool, **kw: Any
) -> None:
    """Predicted against measured times: every case, its error, medians and worst per group.

    MEASUREMENTS are nccl-tests logs or moecomm-bench/1 files, as moecomm calibrate reads them.
    Groups: each collective (and MoE dispatch/combine), each size band, all cases; in each
    timing convention measured (one with --timing). --plot FILE draws the model's time against
    the measured one for every case, log–log, with the ±10% and ±25% bands (docs/plots.md).

    Example: moecomm validate benchmarks/results/h100x2host_nccl.json --hardware h100-sxm
    """
    from moecomm import api

    check_plot(plot, force)
    report = api.validate(measurements, link=link(kw), **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
