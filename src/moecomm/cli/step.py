"""``moecomm step``: whole-model communication and expert compute of one step, per rank."""

from __future__ import annotations

from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import InputError, build, emit
from moecomm.cli.hardware import hardware_options, pop_hardware
from moecomm.cli.options import FLAGS, dtype_choice, format_option, preset_option
from moecomm.config import MoEModel
from moecomm.dtypes import DType
from moecomm.render import render_record
from moecomm.step import StepLayout, step_times
from moecomm.wire import Wire, make_wire

DEEPGEMM_EFFICIENCY = 0.78
"""1550 of 1979 dense FP8 TFLOPS: DeepGEMM's best measured GEMM on H800 (deepseek-ai/DeepGEMM
README, 'up to 1550 TFLOPS'). An upper bound: decode-sized GEMMs run far below it."""


def wire(
    hidden: int, dispatch: DType, combine: DType, scale_block: int | None, header: int
) -> Wire:
    """The wire format of a step; a preset's scale block applies only when a phase is fp8."""
    fp8 = DType.FP8 in (dispatch, combine)
    return make_wire(hidden, dispatch, combine, scale_block if fp8 else None, header)


@click.command("step")
@preset_option
@click.option(
    "--deployment", metavar="NAME|FILE", help="Deployment preset: model, hardware, layout, dtypes."
)
@click.option("--hidden", type=int, help="Hidden size h.")
@click.option("--topk", type=int, help="Routed experts per token k.")
@click.option("--experts", type=int, help="Routed experts E.")
@click.option("--layers", type=int, help="Transformer layers.")
@click.option("--moe-intermediate", type=int, help="Intermediate size of one expert.")
@click.option(
    "--phase",
    type=click.Choice(["train", "prefill", "decode"]),
    help="Phase [default: deployment's, else train].",
)
@click.option(
    "--tokens",
    "-t",
    type=int,
    help="Tokens per rank at each MoE layer (decode: requests per rank) [default: 4096; decode 128].",
)
@click.option("--tp", type=int, help="Attention tensor parallel.")
@click.option("--pp", type=int, help="Pipeline parallel.")
@click.option("--ep", type=int, help="Expert parallel.")
@click.option("--etp", type=int, help="Expert tensor parallel.")
@click.option("--dp", type=int, help="Attention data parallel (gradient reduction).")
@click.option("--edp", type=int, help="Expert data parallel (gradient reduction).")
@click.option(
    "--sp/--no-sp", "sp", default=None, help="Sequence parallel: TP as reduce-scatter + all-gather."
)
@click.option("--dispatch-dtype", type=dtype_choice, help="Dispatch element type [default: bf16].")
@click.option("--combine-dtype", type=dtype_choice, help="Combine element type [default: bf16].")
@click.option(
    "--shared-as-routed",
    is_flag=True,
    default=None,
    help="Count shared experts as routed selections (DeepSeek decode).",
)
@click.option(
    "--compute-efficiency",
    type=float,
    default=DEEPGEMM_EFFICIENCY,
    show_default=True,
    help="Achieved share of peak FLOP/s for expert GEMMs.",
)
@hardware_options
@format_option
def command(**kw: Any) -> None:
    """Whole-model step: EP, TP and gradient collectives beside the expert GEMMs, per rank.

    Per layer, then summed over the MoE layers (EP) and all layers (attention TP) of one
    pipeline stage; training adds the backward pass and the gradient reduction over DP (dense)
    and EDP (experts). Decode also prints DeepSeek's estimate (β_d+β_c)·T·k·h/B per layer.

    Example: moecomm step --deployment deepseek-v3-decode --tokens 32
    """
    fmt = kw.pop("fmt")
    dep = None
    if kw["deployment"] is not None:
        dep = P.load(P.DEPLOYMENTS, kw["deployment"]).deployment
        if kw["hardware"] is None:
            kw["hardware"] = dep.hardware
        if kw["preset"] is None:
            kw["preset"] = dep.model
    hw = pop_hardware(kw, required=True)
    assert hw is not None
    data: dict[str, Any] = {}
    if kw["preset"] is not None:
        data = P.load(P.MODELS, kw["preset"]).model.model_dump(exclude_none=True)
    for flag, field in (
        ("hidden", "hidden_size"),
        ("topk", "top_k"),
        ("experts", "num_experts"),
        ("layers", "num_layers"),
        ("moe_intermediate", "moe_intermediate_size"),
    ):
        if kw[flag] is not None:
            data[field] = kw[flag]
    model = build(
        MoEModel,
        data,
        {**FLAGS, "num_layers": "--layers", "moe_intermediate_size": "--moe-intermediate"},
    )

    def pick(name: str, default: Any) -> Any:
        if kw.get(name) is not None:
            return kw[name]
        if dep is not None and getattr(dep, name, None) is not None:
            return getattr(dep, name)
        return default

    phase = pick("phase", "train")
    tokens = kw["tokens"] or (128 if phase == "decode" else 4096)
    tp, pp, ep = pick("tp", 1), pick("pp", 1), pick("ep", 1)
    etp = pick("etp", 1)
    for flag, value in (
        ("--tokens", tokens),
        ("--tp", tp),
        ("--pp", pp),
        ("--ep", ep),
        ("--etp", etp),
    ):
        if value < 1:
            raise InputError(f"{flag} must be at least 1; got {value}")
    redundant = dep.redundant_experts if dep is not None else 0
    if (model.num_experts + redundant) % ep:
        raise InputError(
            f"ep must divide the number of routed experts ({model.num_experts + redundant}); got {ep}"
        )
    dispatch = DType(pick("dispatch_dtype", DType.BF16))
    combine = DType(pick("combine_dtype", DType.BF16))
    scale = dep.scale_block if dep is not None else None
    header = dep.header_bytes if dep is not None else 0
    fmt_wire = wire(model.hidden_size, dispatch, combine, scale, header)
    shared_as_routed = kw["shared_as_routed"] or (
        dep is not None and phase == "decode" and dep.redundant_experts > 0 and ep == dep.world
    )
    lay = StepLayout(
        tp=tp,
        pp=pp,
        ep=ep,
        etp=etp,
        dp=pick("dp", 1),
        edp=pick("edp", 1),
        sequence_parallel=bool(
            kw["sp"] if kw["sp"] is not None else (dep.sequence_parallel if dep else False)
        ),
        dispatch_bytes_per_element=fmt_wire.dispatch_bytes_per_element,
        combine_bytes_per_element=fmt_wire.combine_bytes_per_element,
        redundant_experts=redundant,
        shared_as_routed=bool(shared_as_routed),
    )
    ce = kw["compute_efficiency"]
    if not 0 < ce <= 1:
        raise InputError(f"--compute-efficiency must be in (0, 1]; got {ce:g}")
    peak = hw.fp8_flops if dispatch is DType.FP8 and hw.fp8_flops else hw.bf16_flops
    result = step_times(model, phase, tokens, lay, hw, compute_efficiency=ce, peak_flops=peak)
    caption = (
        f"Convention: {result.convention}. Layout tp={tp} pp={pp} ep={ep} etp={etp} "
        f"dp={lay.dp} edp={lay.edp}{' +SP' if lay.sequence_parallel else ''}; dispatch "
        f"{dispatch.value} ({lay.dispatch_bytes_per_element} B/element), combine {combine.value}. "
        f"Compute at {peak / 1e12:g} TFLOP/s × {ce:g}. {hw.caption()}"
    )
    emit(render_record(result, fmt, title=f"One {phase} step per rank", caption=caption))
