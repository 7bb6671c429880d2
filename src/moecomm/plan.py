"""Capacity planning: every valid layout of a GPU count, its memory per GPU and its step time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial
from itertools import islice
from math import isqrt
from typing import Any

from moecomm import formulas as F
from moecomm.config import MemoryOptions, MoEModel, Phase, layout_rules
from moecomm.elementwise import SCALAR, Ops
from moecomm.errors import MoecommError
from moecomm.hardware import Links
from moecomm.memory import ITEMS, RECOMPUTE, Memory, memory
from moecomm.results import quantity
from moecomm.step import (
    StepLayout,
    approx,
    dense_param_count,
    exact,
    step_times,
)
from moecomm.timing import ep_ranks_per_node
from moecomm.units import GB, Exact


@dataclass(slots=True)  # not frozen: plan builds up to 10^6 of them, and frozen init is slower
class Candidate:
    """One layout with its communication time per step and its memory per GPU."""

    rank: int = quantity("#", "count")
    tp: int = quantity("tp", "ranks")
    dp: int = quantity("dp", "ranks")
    ep: int = quantity("ep", "ranks")
    edp: int = quantity("edp", "ranks")
    etp: int = quantity("etp", "ranks")
    pp: int = quantity("pp", "ranks")
    comm_seconds_per_step: float = quantity("comm / step", "duration", show=False)
    comm_seconds_per_token: float = quantity("comm / token", "duration")
    ep_seconds_per_step: float = quantity("EP", "duration", show=False)
    pp_seconds_per_step: float = quantity("PP", "duration", show=False)
    tp_seconds_per_step: float = quantity("TP", "duration", show=False)
    grad_seconds_per_step: float = quantity("grads", "duration", show=False)
    weight_bytes: Exact = quantity("weights (GB)", "capacity")
    gradient_bytes: Exact = quantity("grads (GB)", "capacity", show=False)
    optimizer_bytes: Exact = quantity("optimizer (GB)", "capacity", show=False)
    activation_bytes: Exact = quantity("act. (GB)", "capacity")
    kv_cache_bytes: Exact = quantity("KV (GB)", "capacity")
    memory_bytes_per_gpu: Exact = quantity("total (GB)", "capacity")
    usable_bytes_per_gpu: Exact = quantity("usable (GB)", "capacity", show=False)
    recompute: str = quantity("recompute", "text")
    fits: bool = quantity("fits", "flag")
    reason: str = quantity("why not first", "text")


@dataclass(frozen=True)
class LaunchRow:
    """A ranked layout and the flags that launch it (``plan --launch FRAMEWORK``)."""

    rank: int = quantity("#", "count")
    tp: int = quantity("tp", "ranks")
    dp: int = quantity("dp", "ranks")
    ep: int = quantity("ep", "ranks")
    edp: int = quantity("edp", "ranks")
    etp: int = quantity("etp", "ranks")
    pp: int = quantity("pp", "ranks")
    fits: bool = quantity("fits", "flag")
    flags: str = quantity("launch flags", "text")
    launch: dict[str, str] = quantity("launch flags by framework", "text", show=False)


Layout = tuple[int, int, int, int, int, int]
"""(tp, dp, ep, edp, etp, pp)."""


MAX_GPUS = 1 << 20
"""Largest GPU count plan lays out (about a million GPUs)."""

MAX_LAYOUTS = 1_000_000
"""Largest number of layouts plan evaluates in one run."""


def divisors(n: int) -> list[int]:
    """The divisors of n in increasing order (trial division up to √n)."""
    small = [d for d in range(1, isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def _raw(gpus: int, per_node: int, across: bool, max_pp: int | None) -> Iterator[Layout]:
    """Every split of ``gpus`` into pp stages of tp·dp = etp·ep·edp ranks, before the rules."""
    for pp in divisors(gpus):
        if max_pp is not None and pp > max_pp:
            continue
        stage = gpus // pp
        for tp in divisors(stage):
            if tp > per_node and not across:
                continue
            for etp in divisors(stage):
                if etp > per_node and not across:
                    continue
                for ep in divisors(stage // etp):
                    yield tp, stage // tp, ep, stage // (etp * ep), etp, pp


def layouts(
    gpus: int,
    model: MoEModel,
    per_node: int,
    *,
    redundant: int = 0,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
    vectorised: bool | None = None,
) -> list[Layout]:
    """(tp, dp, ep, edp, etp, pp) of ``gpus`` GPUs that satisfy every rule of
    ``config.layout_rules`` and fill whole nodes with EP ranks; tp and etp inside a node unless
    ``allow_tp_across_nodes``. Checked over numpy arrays at once where numpy is installed.
    """
    raw = list(islice(_raw(gpus, per_node, allow_tp_across_nodes, max_pp), MAX_LAYOUTS + 1))
    if len(raw) > MAX_LAYOUTS:
        raise MoecommError(
            f"--gpus {gpus} has more than {MAX_LAYOUTS} layouts; narrow the search with "
            "--max-pp or without --allow-tp-across-nodes"
        )
    if vectorised is None:
        vectorised = numpy_available()
    if not vectorised or not raw:
        return [lay for lay in raw if _valid(model, lay, per_node, redundant, SCALAR)]
    import numpy as np

    cols = np.array(raw, dtype=np.int64).T
    keep = _valid(model, tuple(cols), per_node, redundant, _numpy_ops())
    return [lay for lay, ok in zip(raw, keep.tolist(), strict=True) if ok]


def _numpy_ops() -> Ops:
    from moecomm.vector import NUMPY

    return NUMPY


def _valid(model: MoEModel, lay: Sequence[Any], per_node: int, redundant: int, ops: Ops) -> Any:
    """Whether every layout rule holds (a bool, or a numpy bool array over many layouts)."""
    tp, dp, ep, edp, etp, pp = lay
    ok: Any = True
    for _, _, holds, _ in layout_rules(
        model, tp, dp, ep, edp, etp, pp, gpus_per_node=per_node, redundant=redundant
    ):
        ok = ok & holds
    g = ep_ranks_per_node(ep, per_node, etp, ops)
    return ok & ((ep <= g) | (ep % g == 0))


PARTS = ("tp", "ep", "grad", "pp")
"""Parts of the communication per step, in the order a row's reason names them on a tie."""


@dataclass(frozen=True)
class Evaluated:
    """Every layout's communication by part, memory and tokens per step, as columns."""

    parts: dict[str, list[float]]
    """Seconds per step of each of PARTS."""
    comm: list[float]
    step_tokens: list[float]
    items: dict[str, list[Exact]]
    """Exact bytes of each memory item (``memory.ITEMS``), the total and the usable memory."""
    recompute: list[int]


def _tokens(pp: int, gpus: int, tokens_per_gpu: int | None, global_batch: int | None) -> Exact:
    if global_batch is not None:
        return Fraction(global_batch * pp, gpus)
    return tokens_per_gpu or 1


def numpy_available() -> bool:
    """Whether the vectorised path can run (numpy installed: ``pip install moecomm[plan]``)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def plan(
    model: MoEModel,
    gpus: int,
    hw: Links,
    phase: Phase,
    *,
    tokens_per_gpu: int | None = None,
    global_batch: int | None = None,
    base: StepLayout,
    compute_efficiency: float,
    peak_flops: int,
    memory_inputs: MemoryOptions,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
    rank_by: str = "token",
    vectorised: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """Every valid layout, best first: fitting layouts by communication per step, then the rest.

    All layouts are evaluated at once over numpy arrays when numpy is installed (``vectorised``
    None or True); else, or with ``vectorised=False``, one at a time through ``formulas.fast``.
    Both give the same floats, memory exact, and the same order.
    """
    if gpus > MAX_GPUS:
        raise MoecommError(f"--gpus must be at most {MAX_GPUS}; got {gpus}")
    if vectorised is None:
        vectorised = numpy_available()
    found = layouts(
        gpus,
        model,
        hw.gpus_per_node,
        redundant=base.redundant_experts,
        allow_tp_across_nodes=allow_tp_across_nodes,
        max_pp=max_pp,
        vectorised=vectorised,
    )
    evaluate = evaluate_vector if vectorised else partial(evaluate_scalar, progress=progress)
    ev = evaluate(
        model,
        gpus,
        hw,
        phase,
        found,
        tokens_per_gpu,
        global_batch,
        base,
        compute_efficiency=compute_efficiency,
        peak_flops=peak_flops,
        memory_inputs=memory_inputs,
    )
    return rank(found, ev, hw, rank_by)


def _memory_columns(found: list[Layout], mems: list[Memory]) -> dict[str, list[Exact]]:
    out: dict[str, list[Exact]] = {name: [m.items[name] for m in mems] for name in ITEMS}
    out["total"] = [m.total for m in mems]
    out["usable"] = [m.usable for m in mems]
    return out


def evaluate_scalar(
    model: MoEModel,
    gpus: int,
    hw: Links,
    phase: Phase,
    found: list[Layout],
    tokens_per_gpu: int | None,
    global_batch: int | None,
    base: StepLayout,
    *,
    compute_efficiency: float,
    peak_flops: int,
    memory_inputs: MemoryOptions,
    progress: Callable[[int], None] | None = None,
) -> Evaluated:
    """One layout at a time: ``step_times`` through the float evaluators of ``formulas.fast``."""
    dense_param_count(model, approx)  # build the lambdified evaluators once, before the loop
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    comm: list[float] = []
    step_tokens: list[float] = []
    mems: list[Memory] = []
    for i, lay in enumerate(found):
        tp, dp, ep, edp, etp, pp = lay
        tokens = _tokens(pp, gpus, tokens_per_gpu, global_batch)
        layout = replace(base, tp=tp, pp=pp, ep=ep, etp=etp, dp=dp, edp=edp)
        r = step_times(
            model,
            phase,
            tokens,
            layout,
            hw,
            compute_efficiency=compute_efficiency,
            peak_flops=peak_flops,
            ev=approx,
        )
        parts["tp"].append(r.tp_seconds_per_step)
        parts["ep"].append(r.ep_seconds_per_step)
        parts["grad"].append(r.grad_seconds_per_step)
        parts["pp"].append(r.pp_seconds_per_step)
        comm.append(r.comm_seconds_per_step)
        step_tokens.append(float(tokens) * gpus / pp)
        mems.append(
            memory(
                model,
                phase,
                tokens,
                lay,
                memory_inputs,
                redundant=base.redundant_experts,
                device_bytes=hw.memory_bytes,
                ev=exact,
            )
        )
        if progress is not None and i % 256 == 0:
            progress(i)
    recompute = [int(m.recompute) for m in mems]
    return Evaluated(parts, comm, step_tokens, _memory_columns(found, mems), recompute)


def evaluate_vector(
    model: MoEModel,
    gpus: int,
    hw: Links,
    phase: Phase,
    found: list[Layout],
    tokens_per_gpu: int | None,
    global_batch: int | None,
    base: StepLayout,
    *,
    compute_efficiency: float,
    peak_flops: int,
    memory_inputs: MemoryOptions,
) -> Evaluated:
    """All layouts at once: ``step.components`` and the memory formulas over numpy arrays."""
    import numpy as np

    from moecomm import vector as V

    n = len(found)
    lay = V.sizes(found)
    pp = lay.pp.astype(float)
    tokens = (
        float(global_batch) * lay.pp.astype(float) / gpus
        if global_batch is not None
        else float(tokens_per_gpu or 1)
    )
    c = V.step_components(
        model,
        phase,
        tokens,
        lay,
        base,
        hw,
        compute_efficiency=compute_efficiency,
        peak_flops=peak_flops,
    )
    parts = {
        "tp": V.column(c.tp_step, n),
        "ep": V.column(c.ep_step, n),
        "grad": V.column(c.grad, n),
        "pp": V.column(c.pp_step, n),
    }
    exact_tokens: Any = (
        np.array([_tokens(p, gpus, None, global_batch) for p in lay.pp.tolist()], dtype=object)
        if global_batch is not None
        else tokens_per_gpu or 1
    )
    m = memory(
        model,
        phase,
        exact_tokens,
        tuple(lay),
        memory_inputs,
        redundant=base.redundant_experts,
        device_bytes=hw.memory_bytes,
        ev=V.evaluate_exact,
        ops=V.NUMPY,
    )

    def col(value: Any) -> list[Exact]:
        return list(np.broadcast_to(np.asarray(value, dtype=object), (n,)))

    items = {name: col(m.items[name]) for name in ITEMS}
    items["total"] = col(m.total)
    items["usable"] = col(m.usable)
    recompute = [int(x) for x in np.broadcast_to(np.asarray(m.recompute), (n,)).tolist()]
    return Evaluated(
        parts, V.column(c.comm_step, n), V.column(tokens * gpus / pp, n), items, recompute
    )


def rank(found: list[Layout], ev: Evaluated, hw: Links, rank_by: str) -> list[Candidate]:
    """Sort the evaluated layouts (fitting first by communication, then the rest by memory);
    explain."""
    total, usable = ev.items["total"], ev.items["usable"]
    fits = [t <= u for t, u in zip(total, usable, strict=True)]
    per = (
        ev.comm
        if rank_by == "step"
        else [c / t for c, t in zip(ev.comm, ev.step_tokens, strict=True)]
    )
    # Fitting layouts by communication; the rest by how far they are from fitting.
    order = sorted(
        range(len(found)),
        key=lambda i: (False, per[i], total[i]) if fits[i] else (True, total[i], per[i]),
    )
    out: list[Candidate] = []
    best = [ev.parts[p][order[0]] for p in PARTS] if order else []
    for place, i in enumerate(order, start=1):
        tp, dp, ep, edp, etp, pp = found[i]
        times = [ev.parts[p][i] for p in PARTS]
        if place == 1:
            reason = "best"
        elif not fits[i]:
            reason = (
                f"does not fit: {float(total[i]) / GB:.1f} GB > {float(usable[i]) / GB:.1f} GB "
                "usable"
            )
        else:
            reason = _reason(found[i], times, best, hw)
        out.append(
            Candidate(
                rank=place,
                tp=tp,
                dp=dp,
                ep=ep,
                edp=edp,
                etp=etp,
                pp=pp,
                comm_seconds_per_step=ev.comm[i],
                comm_seconds_per_token=ev.comm[i] / ev.step_tokens[i],
                ep_seconds_per_step=times[1],
                tp_seconds_per_step=times[0],
                grad_seconds_per_step=times[2],
                pp_seconds_per_step=times[3],
                weight_bytes=ev.items["weights"][i],
                gradient_bytes=ev.items["gradients"][i],
                optimizer_bytes=ev.items["optimizer"][i],
                activation_bytes=ev.items["activations"][i],
                kv_cache_bytes=ev.items["kv_cache"][i],
                memory_bytes_per_gpu=total[i],
                usable_bytes_per_gpu=usable[i],
                recompute=RECOMPUTE[ev.recompute[i]] if ev.recompute[i] >= 0 else "-",
                fits=fits[i],
                reason=reason,
            )
        )
    return out


def _reason(lay: Layout, times: list[float], best: list[float], hw: Links) -> str:
    """Why a fitting layout loses to the best: its largest extra part of the communication."""
    tp, _, ep, _, etp, _ = lay
    gaps = [t - b for t, b in zip(times, best, strict=True)]
    worst = max(range(len(PARTS)), key=lambda j: gaps[j])
    extra = gaps[worst]
    if extra <= 0:
        return "ties the best"
    ms = f"+{extra * 1e3:.3g} ms"
    if PARTS[worst] == "tp":
        where = "over IB" if tp > hw.gpus_per_node else "on NVLink"
        return f"TP all-reduce {where} ({ms})"
    if PARTS[worst] == "ep":
        where = "over IB" if ep > ep_ranks_per_node(ep, hw.gpus_per_node, etp) else "on NVLink"
        return f"EP all-to-all {where} ({ms})"
    if PARTS[worst] == "pp":
        return f"pipeline send/recv ({ms})"
    return f"gradient reduction over DP/EDP ({ms})"


__all__ = ["Candidate", "F", "divisors", "layouts", "plan"]
