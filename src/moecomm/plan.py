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
from moecomm.config import MoEModel, Phase, layout_rules
from moecomm.elementwise import SCALAR, Ops
from moecomm.errors import MoecommError
from moecomm.hardware import Links
from moecomm.results import quantity
from moecomm.step import (
    Evaluate,
    StepLayout,
    _shape,
    approx,
    dense_param_count,
    exact,
    step_times,
)
from moecomm.timing import ep_ranks_per_node
from moecomm.units import GB, Exact


@dataclass(frozen=True)
class Candidate:
    """One layout with its communication time per step and its memory per GPU."""

    rank: int = quantity("#", "count")
    tp: int = quantity("tp", "ranks")
    dp: int = quantity("dp", "ranks")
    ep: int = quantity("ep", "ranks")
    edp: int = quantity("edp", "ranks")
    etp: int = quantity("etp", "ranks")
    pp: int = quantity("pp", "ranks")
    comm_seconds_per_step: float = quantity("comm / step", "duration")
    comm_seconds_per_token: float = quantity("comm / token", "duration")
    ep_seconds_per_step: float = quantity("EP", "duration", show=False)
    pp_seconds_per_step: float = quantity("PP", "duration", show=False)
    tp_seconds_per_step: float = quantity("TP", "duration", show=False)
    grad_seconds_per_step: float = quantity("grads", "duration", show=False)
    memory_bytes_per_gpu: Exact = quantity("memory / GPU (GB)", "capacity")
    fits: bool = quantity("fits", "flag")
    reason: str = quantity("why not first", "text")


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


def memory_values(
    model: MoEModel, lay: Sequence[Any], redundant: int, weight_bytes: int
) -> dict[str, Any]:
    """Symbol values of the memory formulas: ints for one layout, or arrays (``vector.sizes``)."""
    tp, dp, ep, edp, etp, pp = lay
    shape = _shape(model)
    heads = model.num_attention_heads or 1
    return shape | {
        "n_h": heads,
        "R": redundant,
        "ep": ep,
        "etp": etp,
        "pp": pp,
        "tp": tp,
        "dp": dp,
        "edp": edp,
        "beta_w": weight_bytes,
    }


def memory_bytes(phase: Phase, values: dict[str, Any], ev: Evaluate = exact) -> Any:
    name = "train_memory_bytes" if phase == "train" else "inference_memory_bytes"
    params = {k: v for k, v in values.items() if not (phase == "train" and k == "beta_w")}
    return ev(name, params)


PARTS = ("tp", "ep", "grad", "pp")
"""Parts of the communication per step, in the order a row's reason names them on a tie."""


@dataclass(frozen=True)
class Evaluated:
    """Every layout's communication by part, memory and tokens per step, as columns."""

    parts: dict[str, list[float]]
    """Seconds per step of each of PARTS."""
    comm: list[float]
    step_tokens: list[float]
    memory: list[float]
    memory_exact: list[Exact]


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
    weight_bytes: int,
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
        weight_bytes=weight_bytes,
    )
    return rank(found, ev, hw, rank_by)


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
    weight_bytes: int,
    progress: Callable[[int], None] | None = None,
) -> Evaluated:
    """One layout at a time: ``step_times`` through the float evaluators of ``formulas.fast``."""
    dense_param_count(model, approx)  # build the lambdified evaluators once, before the loop
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    comm, step_tokens, memory, memory_exact = [], [], [], []
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
        values = memory_values(model, lay, base.redundant_experts, weight_bytes)
        parts["tp"].append(r.tp_seconds_per_step)
        parts["ep"].append(r.ep_seconds_per_step)
        parts["grad"].append(r.grad_seconds_per_step)
        parts["pp"].append(r.pp_seconds_per_step)
        comm.append(r.comm_seconds_per_step)
        step_tokens.append(float(tokens) * gpus / pp)
        memory.append(float(memory_bytes(phase, values, approx)))
        memory_exact.append(memory_bytes(phase, values))
        if progress is not None and i % 256 == 0:
            progress(i)
    return Evaluated(parts, comm, step_tokens, memory, memory_exact)


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
    weight_bytes: int,
) -> Evaluated:
    """All layouts at once: ``step.components`` and the memory formulas over numpy arrays."""
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
    values = memory_values(model, lay, base.redundant_experts, weight_bytes)
    parts = {
        "tp": V.column(c.tp_step, n),
        "ep": V.column(c.ep_step, n),
        "grad": V.column(c.grad, n),
        "pp": V.column(c.pp_step, n),
    }
    return Evaluated(
        parts,
        V.column(c.comm_step, n),
        V.column(tokens * gpus / pp, n),
        V.column(memory_bytes(phase, values, V.evaluate), n),
        list(memory_bytes(phase, values, V.evaluate_exact)) if n else [],
    )


def rank(found: list[Layout], ev: Evaluated, hw: Links, rank_by: str) -> list[Candidate]:
    """Sort the evaluated layouts (fitting first, then by communication, then memory); explain."""
    fits = [m <= hw.memory_bytes for m in ev.memory]
    per = (
        ev.comm
        if rank_by == "step"
        else [c / t for c, t in zip(ev.comm, ev.step_tokens, strict=True)]
    )
    order = sorted(range(len(found)), key=lambda i: (not fits[i], per[i], ev.memory[i]))
    out: list[Candidate] = []
    best = [ev.parts[p][order[0]] for p in PARTS] if order else []
    for place, i in enumerate(order, start=1):
        tp, dp, ep, edp, etp, pp = found[i]
        times = [ev.parts[p][i] for p in PARTS]
        mem = ev.memory_exact[i]
        if place == 1:
            reason = "best"
        elif not fits[i]:
            reason = f"does not fit: {ev.memory[i] / GB:.0f} GB > {hw.memory_bytes / GB:.0f} GB"
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
                memory_bytes_per_gpu=mem,
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


def check_exact(
    model: MoEModel,
    phase: Phase,
    lay: Layout,
    redundant: int,
    weight_bytes: int,
) -> tuple[Exact, float]:
    """Exact memory and its float evaluation, for the tests."""
    values = memory_values(model, lay, redundant, weight_bytes)
    return memory_bytes(phase, values), float(memory_bytes(phase, values, approx))


__all__ = ["Candidate", "F", "check_exact", "divisors", "layouts", "memory_bytes", "plan"]
