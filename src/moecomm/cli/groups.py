"""``moecomm groups``: the ranks of every TP, DP, EP and expert-data-parallel group."""

from __future__ import annotations

import click

from moecomm.cli.base import build, emit
from moecomm.cli.options import FLAGS, format_option
from moecomm.config import ParallelLayout
from moecomm.groups import layout_groups
from moecomm.render import render_record


@click.command("groups")
@click.option("--world", type=int, required=True, help="Number of ranks.")
@click.option("--tp", type=int, default=1, show_default=True, help="Attention tensor parallel.")
@click.option("--cp", type=int, default=1, show_default=True, help="Context parallel.")
@click.option("--pp", type=int, default=1, show_default=True, help="Pipeline parallel.")
@click.option("--dp", type=int, help="Attention data parallel [default: world/(tp·cp·pp)].")
@click.option("--ep", type=int, default=1, show_default=True, help="Expert parallel.")
@click.option("--etp", type=int, help="Expert tensor parallel [default: tp, as Megatron-Core].")
@click.option("--edp", type=int, help="Expert data parallel [default: world/(etp·ep·pp)].")
@format_option
def command(
    world: int,
    tp: int,
    cp: int,
    pp: int,
    dp: int | None,
    ep: int,
    etp: int | None,
    edp: int | None,
    fmt: str,
) -> None:
    """Which ranks form each parallel group, in Megatron-Core's order tp-cp-ep-dp-pp.

    Attention uses tp·cp·dp·pp ranks and the experts etp·ep·edp·pp over the same world. At a
    fixed world size, enabling TP divides DP by TP.

    Example: moecomm groups --world 8 --ep 4
    """
    layout = build(
        ParallelLayout,
        {"world": world, "tp": tp, "cp": cp, "pp": pp, "dp": dp, "ep": ep, "etp": etp, "edp": edp},
        FLAGS,
    )
    result = layout_groups(layout)
    emit(
        render_record(
            result,
            fmt,
            title=f"Parallel groups of {world} ranks",
            caption=f"Convention: {result.convention}.",
        )
    )
