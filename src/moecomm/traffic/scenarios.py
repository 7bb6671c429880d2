"""Which traffic scenario a set of inputs asks for, and its results: one entry point, ``run``.

Routing data (``--expert-counts``, ``--topk-ids``), with or without EPLB placement, is counted
exactly (``from_data``); uniform routing is an exact expectation (``expected``); ``zipf:S``
routing is a seeded sample counted like data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from moecomm.config import DataValues, EPConfig, MoEModel, RoutingConfig, build
from moecomm.dtypes import DType
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.hardware import Links
from moecomm.traffic.expected import expected_traffic
from moecomm.traffic.files import load_counts, load_placement, load_topk_ids
from moecomm.traffic.from_data import Data, data_traffic, zipf_ids
from moecomm.traffic.result import TrafficResult
from moecomm.wire import Wire

MAX_ZIPF_EXPONENT = 4.0
"""Largest Zipf exponent S of sampled routing. At S = 4 the first expert already draws 92% of
the weight; larger values only make the weights underflow."""


@dataclass(frozen=True)
class TrafficInputs:
    """What the user gave ``traffic``: model values, data files and synthetic routing."""

    base: MoEModel | None
    hidden_size: int | None
    top_k: int | None
    num_experts: int | None
    batch: int | None
    seq: int | None
    tokens: int | None
    ep: int | None
    dispatch_dtype: DType
    combine_dtype: DType
    expert_counts: Path | None = None
    topk_ids: Path | None = None
    placement: Path | None = None
    redundant_experts: int | None = None
    routing: str = "uniform"
    seed: int = 0

    def value(self, name: str) -> int | None:
        """An explicit model value, else the base model's."""
        given: int | None = getattr(self, name)
        if given is not None or self.base is None:
            return given
        base: int | None = getattr(self.base, name)
        return base

    def config(self, *, dtypes: bool) -> EPConfig:
        """The EP config of a synthetic scenario (model, tokens per rank, ep)."""
        data = {} if self.base is None else self.base.model_dump(exclude_none=True)
        data.update(
            {
                k: v
                for k, v in (
                    ("hidden_size", self.hidden_size),
                    ("top_k", self.top_k),
                    ("num_experts", self.num_experts),
                )
                if v is not None
            }
        )
        cfg = {
            "model": build(MoEModel, data),
            "workload": {"batch": self.batch, "seq": self.seq, "tokens": self.tokens},
            "ep": self.ep,
        }
        if dtypes:
            cfg |= {"dispatch_dtype": self.dispatch_dtype, "combine_dtype": self.combine_dtype}
        return build(EPConfig, cfg)


def zipf_exponent(text: str) -> float:
    """S of ``zipf:S``: a finite number in (0, MAX_ZIPF_EXPONENT]."""
    head, _, tail = text.partition(":")
    try:
        value = float(tail) if head == "zipf" and len(tail) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_ZIPF_EXPONENT:
        raise MoecommError(
            f"{f('routing')} must be uniform or zipf:S with 0 < S ≤ {MAX_ZIPF_EXPONENT:g}; "
            f"got {text!r}"
        )
    return value


def run(
    inputs: TrafficInputs, wire: Wire, rc: RoutingConfig, links: Links | None
) -> list[TrafficResult]:
    """The results of the scenario the inputs ask for: one, or one per layer of a data file."""
    if inputs.expert_counts is not None and inputs.topk_ids is not None:
        raise MoecommError(f"give {f('expert_counts')} or {f('topk_ids')}, not both")
    if inputs.placement is not None and inputs.redundant_experts is not None:
        raise MoecommError(f"give {f('placement')} or {f('redundant_experts')}, not both")
    _check_data_values(inputs)
    e, k, ep = inputs.value("num_experts"), inputs.value("top_k"), inputs.ep
    layers: list[Data]
    if inputs.expert_counts is not None:
        counts = load_counts(inputs.expert_counts, ep, e)
        layers = [Data(counts=c) for c in counts]
        what = f"expert counts from {inputs.expert_counts.name}"
    elif inputs.topk_ids is not None:
        if e is None:
            raise MoecommError(
                f"{f('num_experts')} is required with {f('topk_ids')} (or {f('preset')})"
            )
        layers = [Data(topk_ids=load_topk_ids(inputs.topk_ids, ep, e))]
        what = f"top-k ids from {inputs.topk_ids.name}"
    elif inputs.routing == "uniform":
        if inputs.placement is not None or inputs.redundant_experts is not None:
            raise MoecommError(
                f"{f('placement')} and {f('redundant_experts')} need {f('expert_counts')} "
                f"or {f('topk_ids')}"
            )
        return [expected_traffic(inputs.config(dtypes=True), rc, links)]
    else:
        exponent = zipf_exponent(inputs.routing)
        cfg = inputs.config(dtypes=False)
        e, k = cfg.model.num_experts, cfg.model.top_k
        t = cfg.workload.tokens_per_rank
        layers = [Data(topk_ids=zipf_ids(e, k, cfg.ep, t, exponent, inputs.seed))]
        what = f"zipf:{inputs.routing[5:]} sampled (seed {inputs.seed}, {t} tokens per rank)"
    first = layers[0].counts or layers[0].topk_ids
    assert first is not None
    ep = ep if ep is not None else len(first)
    if e is None:
        e = len(layers[0].expert_counts(0)[0]) if layers[0].counts is not None else 0
    place = load_placement(inputs.placement, ep, e) if inputs.placement is not None else None
    return [
        data_traffic(
            d,
            ep=ep,
            num_experts=e,
            wire=wire,
            rc=rc,
            scenario=what,
            placement=place,
            redundant=inputs.redundant_experts,
            top_k=k,
            links=links,
        )
        for d in layers
    ]


def _check_data_values(inputs: TrafficInputs) -> None:
    """Values given beside a data file are still checked, never silently ignored."""
    build(
        DataValues,
        {
            "hidden_size": inputs.hidden_size,
            "top_k": inputs.top_k,
            "num_experts": inputs.num_experts,
            "batch": inputs.batch,
            "seq": inputs.seq,
            "tokens": inputs.tokens,
            "ep": inputs.ep,
            "redundant_experts": inputs.redundant_experts,
        },
    )
