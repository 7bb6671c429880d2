"""``moecomm tp``: TP all-reduce bytes per rank per layer."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import build, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import (
    FLAGS,
    base_model,
    deployment_option,
    dtype,
    dtype_option,
    first_given,
    format_option,
    hf_config_option,
    load_deployment,
    preset_option,
    resolve_workload,
    workload_options,
)
from moecomm.config import TPConfig
from moecomm.render import render_record
from moecomm.results import merge
from moecomm.traffic.balanced import tp_traffic


@click.command("tp")
@deployment_option
@preset_option
@hf_config_option
@click.option("--hidden", type=int, help="Hidden size h.")
@workload_options
@click.option("--tp", "tp_size", type=int, help="Tensor-parallel group size.")
@dtype_option
@hardware_options
@format_option
def command(
    deployment: str | None,
    preset: str | None,
    hf_config: str | None,
    hidden: int | None,
    batch: int | None,
    seq: int | None,
    tokens: int | None,
    tp_size: int | None,
    dtype_name: str | None,
    fmt: str,
    **hardware: Any,
) -> None:
    """TP all-reduce bytes per rank for one layer output of [b·s, h] (ring algorithm).

    Also prints the seed's bound 2·b·s·h·β, which does not shrink as tp grows.

    A --deployment fills tp (its attention TP) and the model; explicit flags override it.

    With --hardware, adds allreduce_seconds (ring, ranks filling nodes).

    Example: moecomm tp --hidden 7168 --batch 1 --seq 4096 --tp 8
    """
    hw = pop_hardware(hardware)
    dep = load_deployment(deployment)
    model = base_model(preset, hf_config, dep)
    cfg = build(
        TPConfig,
        {
            "hidden_size": first_given(hidden, None if model is None else model.hidden_size),
            "workload": resolve_workload(batch, seq, tokens),
            "tp": first_given(tp_size, None if dep is None else dep.tp),
            "dtype": dtype(dtype_name),
        },
        FLAGS,
    )
    result: Any = tp_traffic(cfg)
    caption = f"Convention: {result.convention}. GB = 1e9 B."
    if hw is not None:
        from moecomm.timing import tp_times

        buffer = cfg.workload.tokens_per_rank * cfg.hidden_size * cfg.dtype.bytes
        result = merge(result, tp_times(buffer, cfg.tp, hw))
        caption += " " + hw.caption()
    emit(render_record(result, fmt, title="TP all-reduce per rank, one layer", caption=caption))
