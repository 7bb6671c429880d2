"""``moecomm tp``: TP all-reduce bytes per rank per layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import build, emit
from moecomm.cli.options import (
    FLAGS,
    dtype_option,
    format_option,
    preset_option,
    resolve_workload,
    workload_options,
)
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.config import TPConfig
from moecomm.presets import MODELS, load
from moecomm.render import render_record
from moecomm.results import merge
from moecomm.timing import tp_times
from moecomm.traffic import tp_traffic


@click.command("tp")
@preset_option
@click.option("--hidden", type=int, help="Hidden size h.")
@workload_options
@click.option("--tp", "tp_size", type=int, help="Tensor-parallel group size.")
@dtype_option
@hardware_options
@format_option
def command(
    preset: str | None,
    hidden: int | None,
    batch: int | None,
    seq: int | None,
    tokens: int | None,
    tp_size: int | None,
    dtype: str,
    fmt: str,
    **hardware: Any,
) -> None:
    """TP all-reduce bytes per rank for one layer output of [b·s, h] (ring algorithm).

    Also prints the seed's bound 2·b·s·h·β, which does not shrink as tp grows.

    With --hardware, adds allreduce_seconds (ring, ranks filling nodes).

    Example: moecomm tp --hidden 7168 --batch 1 --seq 4096 --tp 8
    """
    hw = pop_hardware(hardware)
    if hidden is None and preset is not None:
        hidden = load(MODELS, preset).model.hidden_size
    cfg = build(
        TPConfig,
        {
            "hidden_size": hidden,
            "workload": resolve_workload(batch, seq, tokens),
            "tp": tp_size,
            "dtype": dtype,
        },
        FLAGS,
    )
    result: Any = tp_traffic(cfg)
    caption = f"Convention: {result.convention}. GB = 1e9 B."
    if hw is not None:
        buffer = cfg.workload.tokens_per_rank * cfg.hidden_size * cfg.dtype.bytes
        result = merge(result, tp_times(buffer, cfg.tp, hw))
        caption += " " + hw.caption()
    emit(render_record(result, fmt, title="TP all-reduce per rank, one layer", caption=caption))
