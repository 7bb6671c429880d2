"""Capacity planning: every valid layout of a GPU count, its memory per GPU and its step time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

from moecomm import formulas as F
from moecomm.config import MoEModel, Phase
from moecomm.results import quantity
from moecomm.step import (
    StepLayout,
    StepResult,
    _shape,
    approx,
    dense_param_count,
    exact,
    step_times,
)
from moecomm.timing import Links, ep_ranks_per_node
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
    memory_bytes_per_gpu: Exact = quantity("memory / GPU", "bytes")
    fits: bool = quantity("fits", "flag")
    reason: str = quantity("why not first", "text")


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def layouts(
    gpus: int,
    model: MoEModel,
    per_node: int,
    *,
    redundant: int = 0,
    allow_tp_across_nodes: bool = False,
    max_pp: int | None = None,
) -> Iterator[tuple[int, int, int, int, int, int]]:
    """(tp, dp, ep, edp, etp, pp) with tp·dp·pp = etp·ep·edp·pp = gpus, ep | E + R, tp in a node."""
    layers = model.num_layers or 1
    for pp in divisors(gpus):
        if pp > layers or (max_pp is not None and pp > max_pp):
            continue
        stage = gpus // pp
        for tp in divisors(stage):
            if tp > per_node and not allow_tp_across_nodes:
                continue
            for etp in divisors(stage):
                if etp > per_node and not allow_tp_across_nodes:
                    continue
                for ep in divisors(stage // etp):
                    if (model.num_experts + redundant) % ep:
                        continue
                    g = ep_ranks_per_node(ep, per_node, etp)
                    if ep > g and ep % g:
                        continue
                    yield tp, stage // tp, ep, stage // (etp * ep), etp, pp


def memory_values(
    model: MoEModel, lay: tuple[int, int, int, int, int, int], redundant: int, weight_bytes: int
) -> dict[str, Exact]:
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


def memory_bytes(phase: Phase, values: dict[str, Exact], ev: Callable[..., Exact] = exact) -> Exact:
    name = "train_memory_bytes" if phase == "train" else "inference_memory_bytes"
    params = {k: v for k, v in values.items() if not (phase == "train" and k == "beta_w")}
    return ev(name, params)


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
    progress: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """Every valid layout, best first: fitting layouts by communication per step, then the rest."""
    found = list(
        layouts(
            gpus,
            model,
            hw.gpus_per_node,
            redundant=base.redundant_experts,
            allow_tp_across_nodes=allow_tp_across_nodes,
            max_pp=max_pp,
        )
    )
    dense_param_count(model, approx)  # build the lambdified evaluators once, before the loop
    rows = []
    for i, lay in enumerate(found):
        tp, dp, ep, edp, etp, pp = lay
        tokens: Exact
        if global_batch is not None:
            tokens = Fraction(global_batch * pp, gpus)
        else:
            tokens = tokens_per_gpu or 1
        layout = StepLayout(
            tp=tp,
            pp=pp,
            ep=ep,
            etp=etp,
            dp=dp,
            edp=edp,
            sequence_parallel=base.sequence_parallel,
            dispatch_bytes_per_element=base.dispatch_bytes_per_element,
            combine_bytes_per_element=base.combine_bytes_per_element,
            activation_bytes=base.activation_bytes,
            grad_bytes=base.grad_bytes,
            redundant_experts=base.redundant_experts,
            shared_as_routed=base.shared_as_routed,
        )
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
        mem = memory_bytes(
            phase, memory_values(model, lay, base.redundant_experts, weight_bytes), approx
        )
        step_tokens = float(tokens) * gpus / pp
        rows.append((lay, r, mem, step_tokens))
        if progress is not None and i % 256 == 0:
            progress(i)
    fits = [float(m) <= hw.memory_bytes for _, _, m, _ in rows]

    def key(i: int) -> tuple[bool, float, float]:
        _, r, mem, step_tokens = rows[i]
        comm = r.comm_seconds_per_step
        return (not fits[i], comm / step_tokens if rank_by == "token" else comm, float(mem))

    order = sorted(range(len(rows)), key=key)
    out: list[Candidate] = []
    best = rows[order[0]][1] if order else None
    for place, i in enumerate(order, start=1):
        lay, r, _, step_tokens = rows[i]
        mem = memory_bytes(phase, memory_values(model, lay, base.redundant_experts, weight_bytes))
        tp, dp, ep, edp, etp, pp = lay
        out.append(
            Candidate(
                rank=place,
                tp=tp,
                dp=dp,
                ep=ep,
                edp=edp,
                etp=etp,
                pp=pp,
                comm_seconds_per_step=r.comm_seconds_per_step,
                comm_seconds_per_token=r.comm_seconds_per_step / step_tokens,
                ep_seconds_per_step=r.ep_seconds_per_step,
                tp_seconds_per_step=r.tp_seconds_per_step,
                grad_seconds_per_step=r.grad_seconds_per_step,
                pp_seconds_per_step=r.pp_seconds_per_step,
                memory_bytes_per_gpu=mem,
                fits=fits[i],
                reason="best" if place == 1 else _reason(lay, r, mem, fits[i], best, hw),
            )
        )
    return out


def _reason(
    lay: tuple[int, ...], r: StepResult, mem: Exact, fits: bool, best: StepResult | None, hw: Links
) -> str:
    if not fits:
        return f"does not fit: {float(mem) / GB:.0f} GB > {hw.memory_bytes / GB:.0f} GB"
    assert best is not None
    tp, _, ep, _, etp, _ = lay
    gaps = {
        "tp": r.tp_seconds_per_step - best.tp_seconds_per_step,
        "ep": r.ep_seconds_per_step - best.ep_seconds_per_step,
        "grad": r.grad_seconds_per_step - best.grad_seconds_per_step,
        "pp": r.pp_seconds_per_step - best.pp_seconds_per_step,
    }
    worst = max(gaps, key=lambda k: gaps[k])
    extra = gaps[worst]
    if extra <= 0:
        return "ties the best"
    ms = f"+{extra * 1e3:.3g} ms"
    if worst == "tp":
        where = "over IB" if tp > hw.gpus_per_node else "on NVLink"
        return f"TP all-reduce {where} ({ms})"
    if worst == "ep":
        where = "over IB" if ep > ep_ranks_per_node(ep, hw.gpus_per_node, etp) else "on NVLink"
        return f"EP all-to-all {where} ({ms})"
    if worst == "pp":
        return f"pipeline send/recv ({ms})"
    return f"gradient reduction over DP/EDP ({ms})"


def check_exact(
    model: MoEModel,
    phase: Phase,
    lay: tuple[int, int, int, int, int, int],
    redundant: int,
    weight_bytes: int,
) -> tuple[Exact, float]:
    """Exact memory and its float evaluation, for the tests."""
    values = memory_values(model, lay, redundant, weight_bytes)
    return memory_bytes(phase, values), float(memory_bytes(phase, values, approx))


__all__ = ["Candidate", "F", "check_exact", "divisors", "layouts", "memory_bytes", "plan"]
