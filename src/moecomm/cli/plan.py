"""``moecomm plan``: rank every valid parallel layout of a GPU count by communication time."""

from __future__ import annotations

import sys
from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import InputError, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import dtype_choice, format_option
from moecomm.cli.step import DEEPGEMM_EFFICIENCY, wire
from moecomm.dtypes import DType
from moecomm.render import render_rows
from moecomm.step import StepLayout


@click.command("plan")
@click.option("--preset", required=True, metavar="NAME|FILE", help="Model preset.")
@click.option("--gpus", type=int, required=True, help="GPUs to lay out.")
@click.option(
    "--phase",
    type=click.Choice(["train", "prefill", "decode"]),
    default="prefill",
    show_default=True,
)
@click.option(
    "--tokens-per-gpu",
    type=int,
    help="Tokens per GPU at each MoE layer [default: 4096; decode 128].",
)
@click.option("--global-batch", type=int, help="Tokens per step in all; per GPU = batch·pp/gpus.")
@click.option(
    "--redundant-experts",
    type=int,
    default=0,
    show_default=True,
    help="Extra expert replicas (EPLB).",
)
@click.option("--dispatch-dtype", type=dtype_choice, default="bf16", show_default=True)
@click.option("--combine-dtype", type=dtype_choice, default="bf16", show_default=True)
@click.option("--sp", is_flag=True, help="Sequence parallel (TP as reduce-scatter + all-gather).")
@click.option(
    "--allow-tp-across-nodes", is_flag=True, help="Let tp and etp exceed one scale-up domain."
)
@click.option(
    "--max-pp",
    type=int,
    help="Largest pipeline size [default: 1 for prefill and decode, else any].",
)
@click.option(
    "--rank-by",
    type=click.Choice(["token", "step"]),
    default="token",
    show_default=True,
    help="Sort by communication per token or per step.",
)
@click.option(
    "--top", type=int, default=10, show_default=True, help="Rows in the table (JSON lists all)."
)
@click.option("--compute-efficiency", type=float, default=DEEPGEMM_EFFICIENCY, show_default=True)
@hardware_options
@format_option
def command(**kw: Any) -> None:
    """Every valid layout (tp, dp, ep, edp, etp, pp) of --gpus, best first, with memory per GPU.

    Drops nothing silently: layouts whose weights (and optimizer state in training) do not fit
    are listed after those that do. Ranked by communication per step of one pipeline stage.
    With numpy (pip install 'moecomm[plan]') all layouts are evaluated at once over arrays;
    without it, one at a time (same results, about 30x slower on 10^4 layouts).

    Example: moecomm plan --preset deepseek-v3 --gpus 64 --hardware h800 --phase prefill
    """
    from moecomm.plan import plan

    fmt = kw.pop("fmt")
    hw = pop_hardware(kw, required=True)
    assert hw is not None
    model = P.load(P.MODELS, kw["preset"]).model
    gpus, phase = kw["gpus"], kw["phase"]
    if gpus < 1:
        raise InputError(f"--gpus must be at least 1; got {gpus}")
    if kw["tokens_per_gpu"] is not None and kw["global_batch"] is not None:
        raise InputError("give --tokens-per-gpu or --global-batch, not both")
    for flag in ("tokens_per_gpu", "global_batch", "top"):
        if kw[flag] is not None and kw[flag] < 1:
            raise InputError(f"--{flag.replace('_', '-')} must be at least 1; got {kw[flag]}")
    tokens = kw["tokens_per_gpu"]
    if tokens is None and kw["global_batch"] is None:
        tokens = 128 if phase == "decode" else 4096
    dispatch, combine = DType(kw["dispatch_dtype"]), DType(kw["combine_dtype"])
    fmt_wire = wire(model.hidden_size, dispatch, combine, 128, 0)
    base = StepLayout(
        sequence_parallel=kw["sp"],
        dispatch_bytes_per_element=fmt_wire.dispatch_bytes_per_element,
        combine_bytes_per_element=fmt_wire.combine_bytes_per_element,
        redundant_experts=kw["redundant_experts"],
    )
    peak = hw.fp8_flops if dispatch is DType.FP8 and hw.fp8_flops else hw.bf16_flops
    candidates = plan(
        model,
        gpus,
        hw,
        phase,
        tokens_per_gpu=tokens,
        global_batch=kw["global_batch"],
        base=base,
        compute_efficiency=kw["compute_efficiency"],
        peak_flops=peak,
        weight_bytes=model.native_dtype.bytes,
        allow_tp_across_nodes=kw["allow_tp_across_nodes"],
        max_pp=kw["max_pp"] if kw["max_pp"] is not None else (None if phase == "train" else 1),
        rank_by=kw["rank_by"],
        progress=_progress(),
    )
    if not candidates:
        raise InputError(
            f"no valid layout of {gpus} GPUs for {kw['preset']} (ep must divide {model.num_experts + kw['redundant_experts']} experts)"
        )
    fitting = sum(c.fits for c in candidates)
    tokens_text = (
        f"{tokens} tokens per GPU" if tokens else f"global batch {kw['global_batch']} tokens"
    )
    caption = (
        f"{len(candidates)} layouts of {gpus} GPUs, {fitting} fit in {hw.memory_bytes / 1e9:g} GB. "
        f"{phase}, {tokens_text} at each MoE layer; comm per step per GPU of one pipeline stage; "
        f"memory: weights at {model.native_dtype.value}"
        + (" + bf16 grads + ZeRO-1 Adam state" if phase == "train" else " (no KV cache)")
        + f". {hw.caption()}"
    )
    rows = candidates if fmt == "json" else candidates[: kw["top"]]
    emit(
        render_rows(
            rows,
            fmt,
            title=f"Layouts of {kw['preset']} on {gpus} × {hw.name}",
            caption=caption,
            highlight=0,
        )
    )


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    bar.start()
    task = bar.add_task("evaluating layouts", total=None)
    return lambda i: bar.update(task, completed=i)
