"""``moecomm groups``: the ranks of every TP, DP, EP and expert-data-parallel group."""

from __future__ import annotations

import click

from moecomm.cli.base import InputError, build, emit
from moecomm.cli.options import (
    FLAGS,
    deployment_option,
    first_given,
    format_option,
    load_deployment,
)
from moecomm.config import ParallelLayout
from moecomm.groups import layout_groups
from moecomm.render import MAX_GROUPS_SHOWN, render_record


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
def command(
    deployment: str | None,
    world: int | None,
    tp: int | None,
    cp: int | None,
    pp: int | None,
    dp: int | None,
    ep: int | None,
    etp: int | None,
    edp: int | None,
    fmt: str,
) -> None:
    """Which ranks form each parallel group, in Megatron-Core's order tp-cp-ep-dp-pp.

    Attention uses tp·cp·dp·pp ranks and the experts etp·ep·edp·pp over the same world. At a
    fixed world size, enabling TP divides DP by TP. A --deployment gives the whole layout;
    explicit flags override its sizes (dp and edp are then derived again unless given). Tables list the first 8 groups of each kind and write
    long strided groups as {first,second,…,last}; JSON and CSV list every group in full.

    Example: moecomm groups --world 8 --ep 4
    """
    dep = load_deployment(deployment)

    flags = {"world": world, "tp": tp, "cp": cp, "pp": pp, "ep": ep, "etp": etp}
    sizes = dict(flags)
    if dep is not None:
        sizes = {name: first_given(value, getattr(dep, name)) for name, value in flags.items()}
    # dp and edp are derived sizes: keep the deployment's only while no other size changed.
    keep_derived = dep is not None and all(v is None for v in flags.values())
    sizes["dp"] = first_given(dp, dep.dp if dep is not None and keep_derived else None)
    sizes["edp"] = first_given(edp, dep.edp if dep is not None and keep_derived else None)
    if sizes["world"] is None:
        raise InputError("--world is required without --deployment")
    layout = build(ParallelLayout, {k: v for k, v in sizes.items() if v is not None}, FLAGS)
    result = layout_groups(layout)
    caption = f"Convention: {result.convention}."
    if any(len(getattr(result, f)) > MAX_GROUPS_SHOWN for f in _GROUP_FIELDS) and fmt in (
        "table",
        "markdown",
    ):
        caption += (
            f" Only the first {MAX_GROUPS_SHOWN} groups of each kind are listed;"
            " --format json lists all."
        )
    title = f"Parallel groups of {layout.world} ranks"
    if deployment is not None:
        title += f" ({deployment})"
    emit(render_record(result, fmt, title=title, caption=caption))


_GROUP_FIELDS = (
    "tp_groups",
    "cp_groups",
    "dp_groups",
    "pp_groups",
    "ep_groups",
    "etp_groups",
    "edp_groups",
)
