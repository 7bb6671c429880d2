"""``moecomm measure`` as one library call: check everything, run on every rank, rank 0 writes.

Order, so that a mistake costs nothing: the options, the model and the wire formats; the top-k
file; torch installed; torchrun's environment (never a rendezvous without it); the MoE plan for
this world; the output path (rank 0). Only then is torch imported and the process group joined.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from moecomm import resolve as R
from moecomm import safe_io
from moecomm.config import MoEModel, build
from moecomm.dtypes import DType
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.measure import launch as L
from moecomm.measure.plan import Job, Routing, Variant, moe_runs
from moecomm.measure.spec import MeasureConfig, parse_collectives
from moecomm.measure.summary import cases
from moecomm.report import Report
from moecomm.units import parse_bytes, parse_sizes
from moecomm.wire import Wire

DEFAULT_TOKENS = (128, 512, 4096, 16384)
"""MoE tokens per rank when a model is given without --tokens or --topk-ids."""

DEFAULT_DISPATCH = (DType.BF16, DType.FP8)
DEFAULT_COMBINE = (DType.BF16,)
DEFAULT_SCALE_BLOCK = 128
"""fp8 rows carry one fp32 scale per 128 channels unless told otherwise (DeepEP's layout)."""

MODEL_OPTIONS = (
    "model",
    "preset",
    "hf_config",
    "deployment",
    "hidden_size",
    "top_k",
    "num_experts",
)


def variants(
    hidden: int,
    dispatch: Sequence[str | DType],
    combine: Sequence[str | DType],
    *,
    scale_block: int | None,
    header_bytes: int | None,
    dep: Any,
) -> list[Variant]:
    """Each phase in each dtype asked for (default: the deployment's, else bf16 and fp8 dispatch,
    bf16 combine), its bytes per copy from the one wire-format resolver."""
    d_list = list(dispatch) or ([dep.dispatch_dtype] if dep is not None else DEFAULT_DISPATCH)
    c_list = list(combine) or ([dep.combine_dtype] if dep is not None else DEFAULT_COMBINE)
    out: list[Variant] = []
    for phase, names in (("dispatch", d_list), ("combine", c_list)):
        for name in dict.fromkeys(names):
            dtype, _ = R.dtypes(name, None) if phase == "dispatch" else R.dtypes(None, name)
            block = None
            if dtype is DType.FP8:
                block = R.first(scale_block, None if dep is not None else DEFAULT_SCALE_BLOCK)
            fmt = R.wire_format(
                hidden, dtype, dtype, scale_block=block, header_bytes=header_bytes, dep=dep
            )
            out.append(Variant(phase, Wire.of(fmt)))  # type: ignore[arg-type]
    if scale_block is not None and all(v.dtype != "fp8" for v in out):
        R.wire_format(hidden, DType.BF16, DType.BF16, scale_block=scale_block)  # its rule's error
    return out


def _config(options: Mapping[str, Any]) -> MeasureConfig:
    data = dict(options)
    if isinstance(data.get("collectives"), str):
        data["collectives"] = parse_collectives(data["collectives"])
    if isinstance(data.get("tokens"), str):
        data["tokens"] = parse_sizes(data["tokens"], "tokens")
    for name in ("min_bytes", "max_bytes"):
        if isinstance(data.get(name), str):
            data[name] = parse_bytes(data[name], name)
    return build(MeasureConfig, data)


def _moe(
    cfg: MeasureConfig, source: Routing, given: dict[str, Any], wire: dict[str, Any]
) -> tuple[MoEModel | None, list[Variant], tuple[int, ...]]:
    """The MoE model, its timed variants and token counts; none without a model."""
    if all(v is None for v in given.values()) and not cfg.tokens and source.topk_ids is None:
        dtypes = bool(wire["dispatch_dtype"]) or bool(wire["combine_dtype"])
        sizes = (wire["scale_block"], wire["header_bytes"]) != (None, None)
        if source.routing is not None or dtypes or sizes:
            raise MoecommError(f"the MoE options need a model: {f('preset')} or {f('hidden_size')}")
        return None, [], ()
    dep = R.deployment(given.pop("deployment"))
    shape = R.model(given.pop("model"), dep=dep, **given)
    if source.topk_ids is not None and (cfg.tokens or source.routing is not None):
        other = "tokens" if cfg.tokens else "routing"
        raise MoecommError(f"give {f('topk_ids')} or {f(other)}, not both")
    source.exponent()  # a bad --routing fails here, before torch
    tokens = cfg.tokens or (() if source.topk_ids is not None else DEFAULT_TOKENS)
    d, c = wire.pop("dispatch_dtype"), wire.pop("combine_dtype")
    return shape, variants(shape.hidden_size, d, c, dep=dep, **wire), tokens


def measure(
    *,
    output: str | Path,
    force: bool = False,
    model: MoEModel | None = None,
    preset: str | None = None,
    hf_config: str | None = None,
    deployment: str | None = None,
    hidden_size: int | None = None,
    top_k: int | None = None,
    num_experts: int | None = None,
    topk_ids: str | Path | None = None,
    routing: str | None = None,
    dispatch_dtype: Sequence[str] = (),
    combine_dtype: Sequence[str] = (),
    scale_block: int | None = None,
    header_bytes: int | None = None,
    progress: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    argv: Sequence[str] = (),
    **options: Any,
) -> Report | None:
    """Measure collectives and MoE dispatch/combine under torchrun; rank 0 writes ``output``.

    ``options`` are the fields of ``MeasureConfig`` (sizes, iterations, backend, tokens, ...).
    Returns rank 0's summary, None on the other ranks.
    """
    from moecomm.measure.run import run

    if (os.environ if env is None else env).get("RANK", "0") in ("0", ""):
        # Early, and where rank 0 will write: other nodes may lack the folder.
        safe_io.check_writable(output, force=True, what=f("output"))
    cfg = _config(options)
    source = Routing(routing, cfg.seed, None if topk_ids is None else Path(topk_ids))
    given = {
        "model": model,
        "preset": preset,
        "hf_config": hf_config,
        "deployment": deployment,
        "hidden_size": hidden_size,
        "top_k": top_k,
        "num_experts": num_experts,
    }
    wire = {
        "dispatch_dtype": dispatch_dtype,
        "combine_dtype": combine_dtype,
        "scale_block": scale_block,
        "header_bytes": header_bytes,
    }
    shape, wires, tokens = _moe(cfg, source, given, wire)
    if not cfg.collectives and shape is None:
        raise MoecommError(
            f"{f('collectives')} none leaves nothing to measure: give a model ({f('preset')} or "
            f"{f('hidden_size')}, ...) for MoE dispatch and combine"
        )
    L.require_torch()
    place = L.launch(env)
    runs = []
    if shape is not None:
        try:
            runs = moe_runs(
                shape,
                wires,
                source,
                tokens,
                place.world,
                dedup=cfg.dedup,
                save_max=cfg.save_routing_max_tokens,
            )
        except MoecommError as exc:  # the EP size of the sampling limits is the world size
            raise MoecommError(str(exc.args[0]).replace(f("ep"), "the world size")) from None
    if place.rank == 0:
        safe_io.check_writable(output, force=force, what=f("output"))
    job = Job(cfg, place, list(argv), shape, tuple(wires), tuple(runs), source.text())
    doc = run(job, progress or (lambda _: None))
    if doc is None:
        return None
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    safe_io.write_text_atomic(output, text, force=force, what=f("output"))
    md = doc["metadata"]
    return Report(
        cases(doc),
        f"Measured on {md['world_size']} ranks ({md['backend']}, {md['nodes']} node(s)); "
        f"wrote {safe_io.shown_path(output)}",
        "per-op: median over iterations of the slowest rank, one op after a barrier; "
        "back-to-back: iters ops in a row / iters (nccl-tests). bytes: nccl-tests' size column; "
        "MoE: the busiest rank's max(send, recv) to other ranks. GB/s = 1e9 B/s.",
        "rows",
    )
