"""``moecomm compare``: EP against TP per GPU over group sizes (the seed's second analysis)."""

from __future__ import annotations

from typing import Any

import click

from moecomm.cli.base import InputError, build, emit
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
)
from moecomm.config import CompareConfig
from moecomm.render import render_rows
from moecomm.results import merge
from moecomm.traffic.balanced import compare


def _sizes(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise InputError(
            f"--sizes must be a comma-separated list of positive integers; got {text!r}"
        )
    return tuple(int(p) for p in parts)


@click.command("compare")
@deployment_option
@preset_option
@hf_config_option
@click.option("--hidden", type=int, help="Hidden size D.")
@click.option("--topk", type=int, help="Experts per token K.")
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
@format_option
def command(
    deployment: str | None,
    preset: str | None,
    hf_config: str | None,
    hidden: int | None,
    topk: int | None,
    tokens: int,
    sizes: str,
    dtype_name: str | None,
    fmt: str,
    **hardware: Any,
) -> None:
    """EP against TP bytes per GPU for one batch of S tokens over M GPUs.

    Under EP each GPU holds S/M tokens and moves 2·K·(S/M)·D·β·(M−1)/M; under TP every GPU holds
    all S tokens and moves 2·(M−1)/M·S·D·β. Their ratio is K/M: EP moves less once M > K.

    A --deployment fills the model; explicit flags override it.

    With --hardware, adds dispatch_seconds, combine_seconds and allreduce_seconds per size.

    Example: moecomm compare --preset deepseek-v3 --tokens 8192 --sizes 4,8,16,32,64
    """
    hw = pop_hardware(hardware)
    shape = base_model(preset, hf_config, load_deployment(deployment))
    cfg = build(
        CompareConfig,
        {
            "hidden_size": first_given(hidden, None if shape is None else shape.hidden_size),
            "top_k": first_given(topk, None if shape is None else shape.top_k),
            "tokens": tokens,
            "sizes": _sizes(sizes),
            "dtype": dtype(dtype_name),
        },
        {**FLAGS, "hidden_size": "--hidden", "tokens": "--tokens"},
    )
    result = compare(cfg)
    first = next((i for i, r in enumerate(result.rows) if r.ep_moves_less), None)
    caption = (
        f"Convention: {result.convention}. Bytes exact; GB = 1e9 B. "
        f"EP moves less once M > K = {cfg.top_k}: from M = {result.crossover_size}"
        + ("" if first is None else f" (highlighted: M = {result.rows[first].size})")
        + "."
    )
    rows: list[Any] = list(result.rows)
    if hw is not None:
        from moecomm.timing import compare_times

        assert cfg.top_k is not None
        rows = [
            merge(
                r,
                compare_times(cfg.tokens, cfg.hidden_size, cfg.top_k, r.size, cfg.dtype.bytes, hw),
            )
            for r in result.rows
        ]
        caption += " " + hw.caption()
    emit(
        render_rows(
            rows,
            fmt,
            title="EP vs TP per GPU, one MoE layer",
            caption=caption,
            highlight=first,
        )
    )
