"""Option decorators shared by commands. Each option's destination is the library's field name.

Commands pass their options straight to one function of ``moecomm.api``; nothing here resolves
presets or checks a rule (``moecomm.resolve`` and the config models do).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import click

from moecomm.dtypes import DTYPE_NAMES
from moecomm.render import FORMATS
from moecomm.units import parse_exact

Fn = Callable[..., Any]


def stack(*decorators: Callable[[Fn], Fn]) -> Callable[[Fn], Fn]:
    """Several option decorators as one, applied in the order listed (help lists them so)."""

    def apply(fn: Fn) -> Fn:
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return apply


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
preset_option = click.option(
    "--preset",
    metavar="NAME|FILE",
    help="Model preset (see `moecomm presets list`) or a preset TOML file; flags override it.",
)
hf_config_option = click.option(
    "--hf-config",
    metavar="PATH",
    help="A Hugging Face config.json (or a folder holding one) to read the model from.",
)
deployment_option = click.option(
    "--deployment",
    metavar="NAME|FILE",
    help="Deployment preset (see `moecomm presets list`); explicit flags override it.",
)
source_options = stack(deployment_option, preset_option, hf_config_option)

hidden_option = click.option("--hidden", "hidden_size", type=int, help="Hidden size h.")
topk_option = click.option("--topk", "top_k", type=int, help="Routed experts per token k.")
experts_option = click.option("--experts", "num_experts", type=int, help="Routed experts E.")
model_options = stack(source_options, hidden_option, topk_option, experts_option)

workload_options = stack(
    click.option("--batch", "-b", type=int, help="Micro-batch b per rank."),
    click.option("--seq", "-s", type=int, help="Sequence length s."),
    click.option("--tokens", "-t", type=int, help="Tokens b·s per rank (instead of -b and -s)."),
)

SWEEP = "N|LIST|A:B:xF"
SWEEP_HELP = " A comma list or a range A:B:xF / A:B:+S sweeps it (docs/plots.md)."

sweep_workload_options = stack(
    click.option("--batch", "-b", metavar=SWEEP, help="Micro-batch b per rank." + SWEEP_HELP),
    click.option("--seq", "-s", metavar=SWEEP, help="Sequence length s." + SWEEP_HELP),
    click.option(
        "--tokens",
        "-t",
        metavar=SWEEP,
        help="Tokens b·s per rank (instead of -b and -s)." + SWEEP_HELP,
    ),
)
"""-b, -s and -t of the commands that sweep (ep, tp, traffic): parsed by moecomm.sweep."""

dtype_choice = click.Choice(DTYPE_NAMES)
dtype_option = click.option("--dtype", type=dtype_choice, help="Element type [default: bf16].")
wire_options = stack(
    click.option(
        "--dispatch-dtype", type=dtype_choice, help="Dispatch element type [default: --dtype]."
    ),
    click.option(
        "--combine-dtype", type=dtype_choice, help="Combine element type [default: --dtype]."
    ),
    click.option("--scale-block", type=int, help="fp8: one fp32 scale per N channels (h + 4h/N)."),
    click.option("--header-bytes", type=int, help="Bytes added per dispatched message."),
)
"""The wire format of EP copies: the same options on ep, traffic, step and plan."""


def _number(ctx: click.Context, param: click.Parameter, value: str | None) -> Fraction | None:
    """An exact number typed by the user (``units.parse_exact``: never evaluated)."""
    if value is None:
        return None
    try:
        return parse_exact(value)
    except ValueError as exc:
        hint = f"--{str(param.name).replace('_', '-')}"
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _share(ctx: click.Context, param: click.Parameter, value: str | None) -> Fraction | None:
    """A share that may be zero: 0, or an exact positive number (``units.parse_exact``)."""
    if value is not None and value.strip() in ("0", "0.0"):
        return Fraction(0)
    return _number(ctx, param, value)


routing_options = stack(
    click.option(
        "--dedup",
        type=click.Choice(["copies", "rank", "node"]),
        help="One copy per (token, expert) [default], per destination rank (DeepEP intranode) or "
        "per destination node, forwarded over NVLink (DeepEP internode; needs --gpus-per-node).",
    ),
    click.option(
        "--count",
        type=click.Choice(["wire", "logical"]),
        help="wire [default]: bytes that leave the rank; logical: also those to the rank itself "
        "(DeepEP's GB/s convention).",
    ),
    click.option("--n-group", type=int, help="Expert groups for group-limited routing."),
    click.option("--topk-group", type=int, help="Groups a token may reach."),
    click.option(
        "--capacity-factor",
        callback=_number,
        metavar="F",
        help="Capacity ceil(b·s·k·F/E) per expert per source rank (Megatron-Core).",
    ),
    click.option("--pad", is_flag=True, default=None, help="Send every expert slot full."),
    click.option(
        "--imbalance",
        callback=_number,
        metavar="X",
        help="Busiest rank receives X times the mean.",
    ),
    click.option(
        "--export-matrix",
        metavar="FILE",
        help="Write the ranks × ranks byte matrices to FILE (.json or .csv).",
    ),
    click.option(
        "--force",
        is_flag=True,
        help="Let --export-matrix or --plot replace an existing file or link (never writing "
        "through it).",
    ),
)
"""Options of routing-aware traffic, shared by ``ep`` and ``traffic`` (docs/traffic.md)."""

plot_option = click.option(
    "--plot",
    metavar="FILE",
    help="Also draw the figure to FILE (.png, .svg or .pdf); needs pip install 'moecomm[plot]'.",
)
force_option = click.option(
    "--force", is_flag=True, help="Let --plot replace an existing file or link (never through it)."
)


def progress(fmt: str, what: str) -> Any:
    """A rich progress bar on a terminal (stderr) for long work: sweeps, layout searches,
    report builds. None (silent) when stderr is piped or with --format json.

    The callback takes (done, total): total None while unknown; the bar goes once done
    reaches total.
    """
    import sys

    if fmt == "json" or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(what, total=None)

    def update(done: int, total: int | None = None) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)
        if total is not None and done >= total:
            bar.stop()

    return update


def check_plot(plot: str | None, force: bool) -> None:
    """Refuse a bad --plot before long work (plan's search, validate's files), not after it."""
    if plot is not None:
        from moecomm import plots

        plots.check(plot, force=force)


def save_plot(report: Any, plot: str | None, force: bool, measured: tuple[str, ...] = ()) -> None:
    """Draw a report's figure when --plot was given (moecomm.plots, matplotlib loaded only then),
    with the cases of the --measured files where given."""
    if plot is not None:
        from moecomm import plots

        plots.save(report, plot, force=force, measured=measured)


ROUTING = ("dedup", "count", "n_group", "topk_group", "capacity_factor", "pad", "imbalance")

hardware_options = stack(
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
        "--timing",
        type=click.Choice(["back-to-back", "per-op"]),
        help="Timing convention of every time: back-to-back (default; as nccl-tests reports) or "
        "per-op (one operation in place, with launch and synchronisation).",
    ),
    click.option(
        "--gpus-per-node",
        type=int,
        help="GPUs per node (scale-up domain): overrides the hardware's; on ep and traffic it "
        "also splits bytes into intra- and inter-node, with or without --hardware.",
    ),
)

LINK = ("bw_intra", "bw_inter", "latency_intra", "latency_inter", "efficiency", "timing")


def take(kw: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Pop the named options out of a command's keyword arguments."""
    return {name: kw.pop(name) for name in names}


def link(kw: dict[str, Any], *, node_split: bool = False) -> dict[str, Any]:
    """Pop the hardware overrides into the library's ``link`` argument.

    With ``node_split`` (ep, traffic) --gpus-per-node stays an argument of its own, since it
    also splits bytes by node without --hardware; elsewhere it overrides the hardware's.
    """
    out = take(kw, LINK)
    if not node_split:
        out["gpus_per_node"] = kw.pop("gpus_per_node")
    return out


memory_options = stack(
    click.option(
        "--context",
        type=int,
        help="Decode: KV-cache tokens per request [default: 4096].",
    ),
    click.option(
        "--seq",
        type=int,
        help="Training: sequence length, for the attention-score activations [default: 4096].",
    ),
    click.option(
        "--recompute",
        type=click.Choice(["none", "selective", "full"]),
        help="Training: activation recomputation [default: the cheapest that fits].",
    ),
    click.option(
        "--headroom",
        callback=_share,
        metavar="F",
        help="Share of device memory kept free (CUDA context, NCCL buffers, fragmentation) "
        "[default: 0.1].",
    ),
)
"""What memory per GPU depends on beyond the layout: the same options on step and plan."""


schedule_options = stack(
    click.option(
        "--schedule",
        type=click.Choice(["1f1b", "interleaved", "dualpipe"]),
        help="Training: pipeline schedule [default: 1f1b].",
    ),
    click.option("--vpp", type=int, help="Virtual stages per rank (--schedule interleaved)."),
    click.option(
        "--micro-batches", type=int, help="Training: micro-batches per step [default: 4·pp]."
    ),
    click.option(
        "--micro-batch",
        type=int,
        help="Training: sequences per micro-batch (tokens per GPU = b·seq/(tp·cp)).",
    ),
    click.option(
        "--overlap/--no-overlap",
        default=None,
        help="EP overlaps computation [default: two micro-batches in inference, DualPipe].",
    ),
)
"""How a step runs: the same options on step and plan."""
