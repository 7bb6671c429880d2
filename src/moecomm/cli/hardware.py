"""The shared --hardware option and its overrides, resolved into the time model's links."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from moecomm.timing import Links

Fn = Any

_OPTIONS = [
    click.option(
        "--hardware",
        metavar="NAME|FILE",
        help="Hardware preset (e.g. h100-sxm, h800) or TOML file: adds times (see docs/hardware.md).",
    ),
    click.option("--bw-intra", type=float, help="Override scale-up GB/s per GPU per direction."),
    click.option("--bw-inter", type=float, help="Override scale-out GB/s per GPU per direction."),
    click.option("--latency-intra", type=float, help="Override scale-up latency, µs per message."),
    click.option("--latency-inter", type=float, help="Override scale-out latency, µs per message."),
    click.option("--efficiency", type=float, help="Override the link efficiency η in (0, 1]."),
    click.option(
        "--gpus-per-node",
        type=int,
        help="GPUs per node (scale-up domain): overrides the hardware's; on ep and traffic it "
        "also splits bytes into intra- and inter-node, with or without --hardware.",
    ),
]

OVERRIDES = (
    "bw_intra",
    "bw_inter",
    "latency_intra",
    "latency_inter",
    "efficiency",
    "gpus_per_node",
)


def hardware_options(fn: Fn) -> Fn:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def resolve_links(
    hardware: str | None,
    *,
    bw_intra: float | None = None,
    bw_inter: float | None = None,
    latency_intra: float | None = None,
    latency_inter: float | None = None,
    efficiency: float | None = None,
    gpus_per_node: int | None = None,
    required: bool = False,
) -> Links | None:
    """The links of --hardware with overrides (GB/s and µs on the command line), or None."""
    given = {
        "--bw-intra": bw_intra,
        "--bw-inter": bw_inter,
        "--latency-intra": latency_intra,
        "--latency-inter": latency_inter,
        "--efficiency": efficiency,
        "--gpus-per-node": gpus_per_node,
    }
    if hardware is None:
        if required:
            raise click.UsageError("--hardware is required (a preset name or a TOML file)")
        used = [flag for flag, v in given.items() if v is not None]
        if used:
            raise click.UsageError(f"{used[0]} needs --hardware")
        return None
    from moecomm.timing import links

    return links(
        hardware,
        bw_intra=None if bw_intra is None else bw_intra * 1e9,
        bw_inter=None if bw_inter is None else bw_inter * 1e9,
        latency_intra=None if latency_intra is None else latency_intra * 1e-6,
        latency_inter=None if latency_inter is None else latency_inter * 1e-6,
        efficiency=efficiency,
        gpus_per_node=gpus_per_node,
    )


def pop_hardware(kwargs: dict[str, Any], *, required: bool = False) -> Links | None:
    """Take the hardware options out of a command's keyword arguments and resolve them."""
    hardware = kwargs.pop("hardware")
    overrides = {name: kwargs.pop(name) for name in OVERRIDES}
    return resolve_links(hardware, required=required, **overrides)
