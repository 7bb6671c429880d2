"""``moecomm collective``: time, algbw and busbw of one NCCL collective on given hardware."""

from __future__ import annotations

import re
from typing import Any

import click

from moecomm.cli.base import InputError, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import format_option
from moecomm.render import render_record
from moecomm.timing import KINDS, collective

_SIZE = re.compile(r"^(\d+)\s*(|K|M|G|T|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$")
_MULT = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """An integer byte count, optionally with a suffix: KiB/MiB/GiB (2^10…) or KB/MB/GB (1e3…).

    A bare K, M or G is binary, as nccl-tests' -b/-e flags read it.
    """
    m = _SIZE.match(text.strip().upper())
    if not m:
        raise InputError(
            f"--bytes must be a positive integer, optionally with KiB/MiB/GiB or KB/MB/GB; got {text!r}"
        )
    digits, unit = m.groups()
    if unit.endswith("IB") or len(unit) == 1:
        value = int(digits) * _MULT[unit[:1]]
    elif unit:
        value = int(digits) * 1000 ** ("KMGT".index(unit[0]) + 1)
    else:
        value = int(digits)
    if value < 1:
        raise InputError(f"--bytes must be at least 1; got {text!r}")
    return value


@click.command("collective")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--bytes", "size", required=True, help="Buffer size as nccl-tests counts it (e.g. 16MiB)."
)
@click.option("--ranks", "-n", type=int, required=True, help="Ranks n taking part.")
@click.option(
    "--algorithm",
    type=click.Choice(["ring", "flat", "2dh"]),
    help="ring (all but all-to-all), flat or 2dh (Tutel's hierarchical all-to-all).",
)
@hardware_options
@format_option
def command(kind: str, size: str, ranks: int, algorithm: str | None, fmt: str, **kw: Any) -> None:
    """Time, algbw and busbw of one collective, under nccl-tests' conventions.

    --bytes counts what nccl-tests' size column counts: the buffer of all-reduce and broadcast,
    the total output of all-gather, the total input of reduce-scatter, each rank's send buffer
    of all-to-all. Time = fixed latency + the slower of the scale-up and scale-out links, each
    latency × messages + bytes / (bandwidth × efficiency). Ranks fill nodes of --gpus-per-node.

    Example: moecomm collective all-reduce --bytes 1GiB --ranks 8 --hardware h100-sxm
    """
    hw = pop_hardware(kw, required=True)
    assert hw is not None
    if ranks < 1:
        raise InputError(f"--ranks must be at least 1; got {ranks}")
    result = collective(kind, parse_bytes(size), ranks, hw, algorithm=algorithm)  # type: ignore[arg-type]
    caption = (
        f"--bytes counts {result.buffer}. busbw = algbw × {result.busbw_factor} "
        f"(nccl-tests). {hw.caption()}"
    )
    emit(
        render_record(
            result,
            fmt,
            title=f"{kind} of {result.bytes} B over {ranks} ranks ({result.algorithm})",
            caption=caption,
        )
    )
