"""``moecomm compare``: EP against TP per GPU over group sizes (the global-batch analysis)."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import (
    dtype_option,
    force_option,
    format_option,
    hardware_options,
    hidden_option,
    link,
    plot_option,
    save_plot,
    source_options,
)


@click.command("compare")
@source_options
@hidden_option
@click.option("--topk", "top_k", type=int, help="Experts per token K.")
@click.option(
    "--tokens",
    "-t",
    type=int,
    default=4096,
    show_default=True,
    help="Tokens S in the global batch.",
)
@click.option(
    "--sizes", default="1,2,4,8,16,32,64", show_default=True, help="Group sizes M, comma-separated."
)
@dtype_option
@hardware_options
@plot_option
@force_option
@format_option
def command(fmt: str, plot: str | None, force: bool, **kw: Any) -> None:
    """EP against TP bytes per GPU for one batch of S tokens over M GPUs.

    Under EP each GPU holds S/M tokens and moves 2·K·(S/M)·D·β·(M−1)/M; under TP every GPU holds
    all S tokens and moves 2·(M−1)/M·S·D·β. Their ratio is K/M: EP moves less once M > K.

    A --deployment fills the model; explicit flags override it.

    With --hardware, adds dispatch_seconds, combine_seconds and allreduce_seconds per size.
    --plot FILE draws bytes (and times) against M on log axes, M = K marked (docs/plots.md).

    Example: moecomm compare --preset deepseek-v3 --tokens 8192 --sizes 4,8,16,32,64
    """
    from moecomm import api

    report = api.compare(link=link(kw), **kw)
    save_plot(report, plot, force)
    emit(report.render(fmt))
