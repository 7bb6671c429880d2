"""``moecomm groups``: the ranks of every TP, DP, EP and expert-data-parallel group."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import deployment_option, format_option


@click.command("groups")
@deployment_option
@click.option("--world", type=int, help="Number of ranks (required without --deployment).")
@click.option("--tp", type=int, help="Attention tensor parallel [default: 1].")
@click.option("--cp", type=int, help="Context parallel [default: 1].")
@click.option("--pp", type=int, help="Pipeline parallel [default: 1].")
@click.option("--dp", type=int, help="Attention data parallel [default: world/(tp·cp·pp)].")
@click.option("--ep", type=int, help="Expert parallel [default: 1].")
@click.option("--etp", type=int, help="Expert tensor parallel [default: tp, as Megatron-Core].")
@click.option("--edp", type=int, help="Expert data parallel [default: world/(etp·ep·pp)].")
@format_option
def command(fmt: str, **kw: Any) -> None:
    """Which ranks form each parallel group, in Megatron-Core's order tp-cp-ep-dp-pp.

    Attention uses tp·cp·dp·pp ranks and the experts etp·ep·edp·pp over the same world. At a
    fixed world size, enabling TP divides DP by TP. A --deployment gives the whole layout;
    explicit flags override its sizes (dp and edp are then derived again unless given). Tables
    list the first 8 groups of each kind and write long strided groups as {first,second,…,last};
    JSON and CSV list every group in full.

    Example: moecomm groups --world 8 --ep 4
    """
    from moecomm import api

    emit(api.groups(listed=fmt in ("table", "markdown"), **kw).render(fmt))
