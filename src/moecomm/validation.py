"""The time model against measurements: every case predicted, its error, medians and worst cases.

Each measured case (calibration.samples) is predicted through the functions every command uses
(``timing.collective``, ``timing.alltoall_seconds``, ``timing.link_time``), in each timing
convention it was measured in: back-to-back against nccl-tests' times and ``batched_avg_s``,
per-op against ``median_s``. Error = predicted / measured − 1.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moecomm import timing
from moecomm.calibration.samples import Sample
from moecomm.config import TIMINGS, Timing
from moecomm.hardware import Links
from moecomm.results import quantity

MiB = 2**20
BANDS = ((0, "< 1 MiB"), (MiB, "1–16 MiB"), (16 * MiB, "16–256 MiB"), (256 * MiB, "≥ 256 MiB"))
"""Size bands of the summaries, by nccl-tests' size (a MoE phase: the busiest rank's bytes)."""


def band(nbytes: int) -> str:
    return [name for low, name in BANDS if nbytes >= low][-1]


def predict(sample: Sample, hw: Links, convention: Timing) -> float | None:
    """The model's time for one measured case, on the ranks and nodes it was measured on.

    None for a MoE run across nodes: its file gives the busiest rank's bytes, not their split
    between the links.
    """
    links = dataclasses.replace(hw, gpus_per_node=sample.gpus_per_node, timing=convention)
    n, g, nodes = sample.ranks, sample.gpus_per_node, sample.nodes
    if sample.moe:
        if nodes > 1:
            return None
        return timing.alltoall_seconds(sample.bytes, 0, links, intra_peers=n - 1, inter_peers=0)
    if sample.kind == "send-recv":
        x_up, x_out, m_up, m_out = timing.link_bytes("send-recv", sample.bytes, n, g, nodes)
        return timing.link_time(
            x_up, x_out, int(m_up), int(m_out), links, kind="send-recv", ranks=n, nodes=nodes
        )
    return timing.collective(sample.kind, sample.bytes, n, links).seconds  # type: ignore[arg-type]


def measured(sample: Sample, convention: Timing) -> float | None:
    return sample.back_to_back_s if convention == "back-to-back" else sample.per_op_s


@dataclass(frozen=True)
class Check:
    """One case, or a summary of cases: predicted against measured time."""

    scope: str = quantity("scope", "text")
    group: str = quantity("case / group", "text")
    source: str = quantity("file", "text")
    ranks: int | None = quantity("ranks", "ranks")
    nodes: int | None = quantity("nodes", "count")
    bytes: int | None = quantity("size", "bytes")
    timing: str = quantity("timing", "text")
    cases: int = quantity("cases", "count")
    predicted_seconds: float | None = quantity("model", "duration")
    measured_seconds: float | None = quantity("measured", "duration")
    error: float | None = quantity("error", "percent")
    median_abs_error: float = quantity("median |error|", "percent")
    worst_abs_error: float = quantity("worst |error|", "percent")


def cases(samples: Iterable[Sample], hw: Links, conventions: Sequence[Timing]) -> list[Check]:
    """Every sample in every convention it was measured in, with its prediction."""
    out = []
    for s in samples:
        for conv in conventions:
            t, p = measured(s, conv), predict(s, hw, conv)
            if t is None or p is None:
                continue
            e = p / t - 1
            out.append(
                Check(
                    "case",
                    s.case,
                    s.source,
                    s.ranks,
                    s.nodes,
                    s.bytes,
                    conv,
                    1,
                    p,
                    t,
                    e,
                    abs(e),
                    abs(e),
                )
            )
    return out


def summary(scope: str, group: str, conv: str, found: Sequence[Check]) -> Check:
    errors = [abs(c.error) for c in found if c.error is not None]
    return Check(
        scope,
        group,
        "",
        None,
        None,
        None,
        conv,
        len(errors),
        None,
        None,
        None,
        statistics.median(errors),
        max(errors),
    )


def collective_of(check: Check) -> str:
    """'moe dispatch_bf16 T=128' → 'moe dispatch', a collective's name as it is."""
    if check.group.startswith("moe "):
        return "moe " + check.group.split()[1].split("_")[0]
    return check.group


def summaries(found: Sequence[Check]) -> list[Check]:
    """Median and worst |error| per collective, per size band and over all, per convention."""
    out = []
    for conv in TIMINGS:
        mine = [c for c in found if c.timing == conv]
        if not mine:
            continue
        for name in dict.fromkeys(collective_of(c) for c in mine):
            out.append(
                summary("collective", name, conv, [c for c in mine if collective_of(c) == name])
            )
        for _, name in BANDS:
            inside = [c for c in mine if c.bytes is not None and band(c.bytes) == name]
            if inside:
                out.append(summary("size band", name, conv, inside))
        out.append(summary("all", "all cases", conv, mine))
    return out
