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
from moecomm.config import MemoryOptions, MoEModel, Phase, ScheduleOptions, layout_rules
from moecomm.elementwise import SCALAR, Ops
from moecomm.endtoend import EndToEnd, end_to_end
from moecomm.errors import MoecommError
from moecomm.hardware import Links
from moecomm.memory import ITEMS, RECOMPUTE, Memory, memory, read_bytes
from moecomm.results import quantity
from moecomm.step import (
    Sizes,
    StepLayout,
    approx,
    components,
    dense_param_count,
    exact,
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
    cp: int = quantity("cp", "ranks")
    tokens_per_second_per_gpu: float = quantity("tok/s/GPU", "ratio")
    latency_seconds: float = quantity("latency", "duration")
    step_seconds: float = quantity("step", "duration", show=False)
    comm_seconds_per_step: float = quantity("comm / step", "duration", show=False)
    comm_seconds_per_token: float = quantity("comm / token", "duration", show=False)
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
    cp: int = quantity("cp", "ranks")
    fits: bool = quantity("fits", "flag")
    flags: str = quantity("launch flags", "text")
    launch: dict[str, str] = quantity("launch flags by framework", "text", show=False)


Layout = tuple[int, int, int, int, int, int, int]
"""(tp, dp, ep, edp, etp, pp, cp)."""
"""(tp, dp, ep, edp, etp, pp)."""


MAX_GPUS = 1 << 20
"""Largest GPU count plan lays out (about a million GPUs)."""

MAX_LAYOUTS = 1_000_000
"""Largest number of layouts plan evaluates in one run."""


def divisors(n: int) -> list[int]:
    """The divisors of n in increasing order (trial division up to √n)."""
    small = [d for d in range(1, isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def _raw(
    gpus: int, per_node: int, across: bool, max_pp: int | None, cps: Sequence[int] = (1,)
) -> Iterator[Layout]:
    """Every split of ``gpus`` into pp stages of tp·cp·dp = etp·ep·edp ranks, before the rules."""
    for pp in divisors(gpus):
        if max_pp is not None and pp > max_pp:
            continue
        stage = gpus // pp
        for cp in cps:
            if stage % cp:
                continue
            for tp in divisors(stage // cp):
                if tp > per_node and not across:
                    continue
                for etp in divisors(stage):
                    if etp > per_node and not across:
                        continue
                    for ep in divisors(stage // etp):
                        yield tp, stage // (tp * cp), ep, stage // (etp * ep), etp, pp, cp


def layouts(
    gpus: int,
    model: MoEModel,
    per_node: int,
    *,
    redundant: int = 0,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
    vectorised: bool | None = None,
    vpp: int = 1,
    cps: Sequence[int] = (1,),
) -> list[Layout]:
    """(tp, dp, ep, edp, etp, pp, cp) of ``gpus`` GPUs that satisfy every rule of
    ``config.layout_rules`` and fill whole nodes with EP ranks; tp and etp inside a node unless
    ``allow_tp_across_nodes``. Checked over numpy arrays at once where numpy is installed.
    """
    raw = list(islice(_raw(gpus, per_node, allow_tp_across_nodes, max_pp, cps), MAX_LAYOUTS + 1))
    if len(raw) > MAX_LAYOUTS:
        raise MoecommError(
            f"--gpus {gpus} has more than {MAX_LAYOUTS} layouts; narrow the search with "
            "--max-pp or without --allow-tp-across-nodes"
        )
    if vectorised is None:
        vectorised = numpy_available()
    if not vectorised or not raw:
        return [lay for lay in raw if _valid(model, lay, per_node, redundant, SCALAR, vpp)]
    import numpy as np

    cols = np.array(raw, dtype=np.int64).T
    keep = _valid(model, tuple(cols), per_node, redundant, _numpy_ops(), vpp)
    return [lay for lay, ok in zip(raw, keep.tolist(), strict=True) if ok]


def _numpy_ops() -> Ops:
    from moecomm.vector import NUMPY

    return NUMPY


def _valid(
    model: MoEModel, lay: Sequence[Any], per_node: int, redundant: int, ops: Ops, vpp: int = 1
) -> Any:
    """Whether every layout rule holds (a bool, or a numpy bool array over many layouts)."""
    tp, dp, ep, edp, etp, pp, cp = lay
    ok: Any = True
    for _, _, holds, _ in layout_rules(
        model,
        tp,
        dp,
        ep,
        edp,
        etp,
        pp,
        cp=cp,
        gpus_per_node=per_node,
        redundant=redundant,
        vpp=vpp,
    ):
        ok = ok & holds
    g = ep_ranks_per_node(ep, per_node, etp, ops)
    return ok & ((ep <= g) | (ep % g == 0))


PARTS = ("tp", "ep", "grad", "pp")
"""Parts of the communication per step, in the order a row's reason names them on a tie."""

COSTS = ("work", "exposed_ep", "tp", "cp", "pp", "bubble", "grad")
"""Parts of the end-to-end step, as seconds per token per GPU; they add up to 1/(tokens/s)."""

COST_LABELS = {
    "work": "compute",
    "exposed_ep": "EP all-to-all left exposed",
    "tp": "TP collectives",
    "cp": "CP exchange of keys and values",
    "pp": "pipeline send/recv",
    "bubble": "pipeline bubble",
    "grad": "gradient reduction left exposed",
}

Objective = str
OBJECTIVES = ("throughput", "latency", "memory", "comm")


@dataclass(frozen=True)
class Evaluated:
    """Every layout's communication by part, memory, end-to-end time, as columns."""

    parts: dict[str, list[float]]
    """Seconds per step of each of PARTS."""
    comm: list[float]
    step_tokens: list[float]
    items: dict[str, list[Exact]]
    """Exact bytes of each memory item (``memory.ITEMS``), the total and the usable memory."""
    recompute: list[int]
    costs: dict[str, list[float]]
    """Seconds per token per GPU of each of COSTS."""
    step: list[float]
    tokens_per_second: list[float]
    latency: list[float]


def _tokens(pp: int, gpus: int, tokens_per_gpu: int | None, global_batch: int | None) -> Exact:
    if global_batch is not None:
        return Fraction(global_batch * pp, gpus)
    return tokens_per_gpu or 1


@dataclass(frozen=True)
class MicroBatch:
    """Sequences per micro-batch (``--micro-batch``): tokens per rank follow from tp, and the
    micro-batches per step from the global batch (tokens) and dp."""

    sequences: int
    seq: int
    global_batch: int | None

    def tokens(self, tp: int, cp: int = 1) -> Fraction:
        """Tokens per rank of one micro-batch: b·s over the tp ranks of sequence parallelism
        and the cp ranks of context parallelism."""
        return Fraction(self.sequences * self.seq, tp * cp)

    def context_parallel(self, phase: str) -> list[int]:
        """The cp sizes plan lays out: 1, and (a micro-batch is a training input) every cp > 1
        that splits the sequence into 2·cp equal chunks (Megatron's load-balanced causal CP)."""
        if phase == "decode":
            return [1]
        return [c for c in divisors(self.seq) if c == 1 or self.seq % (2 * c) == 0]

    def count(self, dp: int) -> Fraction | None:
        """Micro-batches per step: the global batch over b·s·dp, where a global batch is given."""
        if self.global_batch is None:
            return None
        return Fraction(self.global_batch, self.sequences * self.seq * dp)


def numpy_available() -> bool:
    """Whether the vectorised path can run (numpy installed: ``pip install moecomm[plan]``)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Goal:
    """What plan ranks by, and the limits a layout must meet besides fitting."""

    objective: Objective = "throughput"
    rank_by: str = "token"
    """For the comm objective: communication per token or per step."""
    latency_max: float | None = None
    """Seconds: TTFT in prefill (--ttft-max), TPOT in decode (--tpot-max)."""


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
    schedule: ScheduleOptions | None = None,
    goal: Goal | None = None,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
    min_ep: int | None = None,
    micro_batch: MicroBatch | None = None,
    rank_by: str = "token",
    vectorised: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """Every valid layout, best first under the goal (default: tokens/s per GPU), then the rest.

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
        vpp=(schedule or ScheduleOptions()).vpp,
        cps=(1,) if micro_batch is None else micro_batch.context_parallel(phase),
    )
    if min_ep is not None:
        found = [lay for lay in found if lay[2] >= min_ep]
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
        schedule=schedule or ScheduleOptions(),
        micro_batch=micro_batch,
    )
    return rank(found, ev, hw, goal or Goal(objective="comm", rank_by=rank_by))


def _memory_columns(mems: list[Memory]) -> dict[str, list[Exact]]:
    out: dict[str, list[Exact]] = {name: [m.items[name] for m in mems] for name in ITEMS}
    out["total"] = [m.total for m in mems]
    out["usable"] = [m.usable for m in mems]
    return out


def _costs(e: EndToEnd, tokens: Any, pp: Any) -> dict[str, Any]:
    """Seconds per token per GPU of each part of the step (they add up to 1/(tokens/s))."""
    per = pp / (e.micro_batches * tokens)
    steps = e.micro_batches
    pipelined = e.micro_batch_seconds * (e.micro_batches + e.bubble)
    return {
        "work": e.work_seconds * steps * per,
        "exposed_ep": e.exposed_ep_seconds * steps * per,
        "tp": e.tp_seconds * steps * per,
        "cp": e.cp_seconds * steps * per,
        "pp": e.pp_seconds * steps * per,
        "bubble": e.micro_batch_seconds * e.bubble * per,
        "grad": (e.step_seconds - pipelined) * per,
    }


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
    schedule: ScheduleOptions,
    micro_batch: MicroBatch | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluated:
    """One layout at a time: ``step.components`` through the float evaluators of
    ``formulas.fast``; memory exact."""
    dense_param_count(model, approx)  # build the lambdified evaluators once, before the loop
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    costs: dict[str, list[float]] = {p: [] for p in COSTS}
    comm: list[float] = []
    step_tokens: list[float] = []
    mems: list[Memory] = []
    step: list[float] = []
    rate: list[float] = []
    latency: list[float] = []
    for i, lay in enumerate(found):
        tp, dp, ep, edp, etp, pp, cp = lay
        tokens: Exact = _tokens(pp, gpus, tokens_per_gpu, global_batch)
        count: Fraction | None = None
        if micro_batch is not None:
            tokens, count = micro_batch.tokens(tp, cp), micro_batch.count(dp)
        layout = replace(base, tp=tp, pp=pp, ep=ep, etp=etp, dp=dp, edp=edp, cp=cp)
        c = components(
            model,
            phase,
            float(tokens),
            Sizes(*(float(x) for x in (tp, dp, ep, edp, etp, pp, cp))),
            layout,
            hw,
            compute_efficiency=compute_efficiency,
            peak_flops=peak_flops,
            ev=approx,
        )
        parts["tp"].append(float(c.tp_step))
        parts["ep"].append(float(c.ep_step))
        parts["grad"].append(float(c.grad))
        parts["pp"].append(float(c.pp_step))
        comm.append(float(c.comm_step))
        step_tokens.append(float(tokens) * gpus / pp)
        m = memory(
            model,
            phase,
            tokens,
            lay,
            memory_inputs,
            redundant=base.redundant_experts,
            device_bytes=hw.memory_bytes,
            ev=exact,
            schedule=schedule.schedule,
            vpp=schedule.vpp,
        )
        mems.append(m)
        e = end_to_end(
            model,
            phase,
            float(tokens),
            tuple(float(x) for x in lay),  # type: ignore[arg-type]
            c,
            float(read_bytes(m)),
            schedule,
            hw,
            compute_efficiency=compute_efficiency,
            peak_flops=peak_flops,
            context=memory_inputs.context,
            seq=memory_inputs.seq,
            recompute=m.recompute,
            micro_batches=None if count is None else float(count),
            ev=approx,
        )
        for name, value in _costs(e, float(tokens), float(pp)).items():
            costs[name].append(float(value))
        step.append(float(e.step_seconds))
        rate.append(float(e.tokens_per_second_per_gpu))
        latency.append(float(e.latency_seconds))
        if progress is not None and i % 256 == 0:
            progress(i)
    recompute = [int(m.recompute) for m in mems]
    return Evaluated(
        parts, comm, step_tokens, _memory_columns(mems), recompute, costs, step, rate, latency
    )


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
    schedule: ScheduleOptions,
    micro_batch: MicroBatch | None = None,
) -> Evaluated:
    """All layouts at once: ``step.components``, the memory formulas and ``end_to_end`` over
    numpy arrays."""
    import numpy as np

    from moecomm import vector as V

    n = len(found)
    lay = V.sizes(found)
    pp = lay.pp.astype(float)
    tokens: Any = (
        float(global_batch) * lay.pp.astype(float) / gpus
        if global_batch is not None
        else float(tokens_per_gpu or 1)
    )
    counts: Any = None
    if micro_batch is not None:
        tokens = float(micro_batch.sequences * micro_batch.seq) / (lay.tp * lay.cp).astype(float)
        if micro_batch.global_batch is not None:
            per_dp = float(micro_batch.sequences * micro_batch.seq) * lay.dp.astype(float)
            counts = float(micro_batch.global_batch) / per_dp
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
    if micro_batch is not None:
        pairs = zip(lay.tp.tolist(), lay.cp.tolist(), strict=True)
        exact_tokens = np.array([micro_batch.tokens(t, c) for t, c in pairs], dtype=object)
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
        schedule=schedule.schedule,
        vpp=schedule.vpp,
    )

    def col(value: Any) -> list[Exact]:
        return list(np.broadcast_to(np.asarray(value, dtype=object), (n,)))

    items = {name: col(m.items[name]) for name in ITEMS}
    items["total"] = col(m.total)
    items["usable"] = col(m.usable)
    recompute = [int(x) for x in np.broadcast_to(np.asarray(m.recompute), (n,)).tolist()]
    read = np.array([float(x) for x in col(read_bytes(m))]) if n else np.zeros(0)
    real = tuple(np.asarray(a, dtype=np.float64) for a in lay)
    e = end_to_end(
        model,
        phase,
        tokens,
        real,  # type: ignore[arg-type]
        c,
        read,
        schedule,
        hw,
        compute_efficiency=compute_efficiency,
        peak_flops=peak_flops,
        context=memory_inputs.context,
        seq=memory_inputs.seq,
        recompute=np.asarray(recompute),
        micro_batches=counts,
        ev=V.evaluate,
        ops=V.NUMPY,
    )
    costs = {name: V.column(v, n) for name, v in _costs(e, tokens, pp).items()}
    return Evaluated(
        parts,
        V.column(c.comm_step, n),
        V.column(tokens * gpus / pp, n),
        items,
        recompute,
        costs,
        V.column(e.step_seconds, n),
        V.column(e.tokens_per_second_per_gpu, n),
        V.column(e.latency_seconds, n),
    )


def _keys(goal: Goal, ev: Evaluated, per: list[float]) -> list[Any]:
    """The sort key of every fitting layout under the goal (smaller is better)."""
    total, rate = ev.items["total"], ev.tokens_per_second
    if goal.objective == "throughput":
        return [(-r, t) for r, t in zip(rate, total, strict=True)]
    if goal.objective == "latency":
        return [(x, -r) for x, r in zip(ev.latency, rate, strict=True)]
    if goal.objective == "memory":
        return [(t, -r) for t, r in zip(total, rate, strict=True)]
    return [(c, t) for c, t in zip(per, total, strict=True)]


def rank(found: list[Layout], ev: Evaluated, hw: Links, goal: Goal) -> list[Candidate]:
    """Sort the evaluated layouts: those that fit and meet the limits by the goal, then those
    that fit but miss a limit (by latency), then the rest (by memory); say why each loses."""
    total, usable = ev.items["total"], ev.items["usable"]
    fits = [t <= u for t, u in zip(total, usable, strict=True)]
    limit = goal.latency_max
    meets = [limit is None or x <= limit for x in ev.latency]
    per = (
        ev.comm
        if goal.rank_by == "step"
        else [c / t for c, t in zip(ev.comm, ev.step_tokens, strict=True)]
    )
    keys = _keys(goal, ev, per)
    order_keys = [
        (0, keys[i]) if fits[i] and meets[i] else
        (1, (ev.latency[i], total[i])) if fits[i] else
        (2, (total[i], per[i]))
        for i in range(len(found))
    ]  # fmt: skip
    order = sorted(range(len(found)), key=order_keys.__getitem__)
    first = order[0] if order else 0
    columns = [ev.parts[p] for p in PARTS]
    best_parts = [col[first] for col in columns] if order else []
    worst_part, worst_gap = _worst_costs(ev, first, len(found))
    items = ev.items
    weights, grads, opt = items["weights"], items["gradients"], items["optimizer"]
    acts, kv = items["activations"], items["kv_cache"]
    out: list[Candidate] = []
    for place, i in enumerate(order, start=1):
        tp, dp, ep, edp, etp, pp, cp = found[i]
        times = [columns[0][i], columns[1][i], columns[2][i], columns[3][i]]
        if not fits[i]:
            reason = (
                f"does not fit: {float(total[i]) / GB:.1f} GB > {float(usable[i]) / GB:.1f} GB "
                "usable"
            )
        elif not meets[i]:
            assert limit is not None
            reason = f"latency {ev.latency[i] * 1e3:.3g} ms > limit {limit * 1e3:.3g} ms"
        elif place == 1:
            reason = "best"
        elif goal.objective == "comm":
            reason = _reason(found[i], times, best_parts, hw)
        else:
            reason = _loses(goal, ev, i, first, worst_part[i], worst_gap[i])
        rc = ev.recompute[i]
        out.append(
            Candidate(
                place, tp, dp, ep, edp, etp, pp, cp,
                ev.tokens_per_second[i], ev.latency[i], ev.step[i],
                ev.comm[i], ev.comm[i] / ev.step_tokens[i],
                times[1], times[3], times[0], times[2],
                weights[i], grads[i], opt[i], acts[i], kv[i], total[i], usable[i],
                RECOMPUTE[rc] if rc >= 0 else "-", fits[i], reason,
            )
        )  # fmt: skip
    return out


def _worst_costs(ev: Evaluated, best: int, n: int) -> tuple[list[int], list[float]]:
    """For every layout, the part of the step (index into COSTS) that costs it most against
    the best layout, per token, and by how much: one pass per part over all layouts."""
    worst = [0] * n
    gap = [float("-inf")] * n
    if not n:
        return worst, gap
    for j, name in enumerate(COSTS):
        col = ev.costs[name]
        b = col[best]
        for i, x in enumerate(col):
            if x - b > gap[i]:
                gap[i], worst[i] = x - b, j
    return worst, gap


def _loses(goal: Goal, ev: Evaluated, i: int, best: int, worst: int, extra: float) -> str:
    """Why a fitting layout loses under an end-to-end goal: the gap, and the part that costs it."""
    if goal.objective == "memory":
        more = float(ev.items["total"][i] - ev.items["total"][best]) / GB
        return "ties the best" if more <= 0 else f"+{more:.3g} GB per GPU"
    if goal.objective == "latency":
        gap = ev.latency[i] - ev.latency[best]
        head = f"+{gap * 1e3:.3g} ms latency" if gap > 0 else "ties the best"
    else:
        top = ev.tokens_per_second[best]
        drop = (top - ev.tokens_per_second[i]) / top if top else 0.0
        head = f"-{drop:.1%} tokens/s" if drop > 0 else "ties the best"
    if extra <= 0:
        return head
    return f"{head}: {COST_LABELS[COSTS[worst]]} +{extra * 1e6:.3g} µs per token"


def _reason(lay: Layout, times: list[float], best: list[float], hw: Links) -> str:
    """Why a fitting layout loses to the best: its largest extra part of the communication."""
    tp, _, ep, _, etp, _, _ = lay
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


__all__ = ["Candidate", "F", "Goal", "divisors", "layouts", "plan"]
