"""Least-squares fit of the time model's parameters per collective kind and link (numpy, lazily).

The law is formulas.link_time's: t = α + x·(x + 2ν)/((x + ν)·B) for x bytes on the link, with a
fixed latency α, a peak bandwidth B and a ramp length ν; per-op adds τ. For each ν on a
logarithmic grid (and ν = 0), α and 1/B follow from a linear least-squares fit of the relative
error (numpy.linalg.lstsq on t̂/t − 1); the ν with the smallest sum of squared relative errors
wins. τ is then the least-squares shift of the per-op times over the back-to-back law.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moecomm import formulas as F
from moecomm import timing
from moecomm.calibration.samples import Sample
from moecomm.config import CollectiveFit
from moecomm.errors import MoecommError
from moecomm.units import Exact

RAMP_GRID = 121
"""Ramp lengths tried: 0, and 2^10 … 2^40 bytes in steps of 2^(1/4)."""
MIN_SIZES = 3
"""Fewest distinct sizes a fit needs: three parameters."""


@dataclass(frozen=True)
class Point:
    """One sample as the fit sees it: bytes on the link that sets the time, and its times."""

    sample: Sample
    link: str
    x: float


def point(sample: Sample) -> Point:
    """The link a sample's time is fitted to and the bytes one rank puts on it.

    On one node, the scale-up link. Across nodes, the NIC: it is the slower link in every
    preset, and collective_seconds takes the slower of the two.
    """
    g, nodes = sample.gpus_per_node, sample.nodes
    x_up: Exact
    x_out: Exact
    if sample.moe:
        x_up, x_out = (sample.bytes, 0) if nodes == 1 else (0, sample.bytes)
    else:
        x_up, x_out, _, _ = timing.link_bytes(sample.kind, sample.bytes, sample.ranks, g, nodes)
    link = "scale-up" if nodes == 1 else "scale-out"
    return Point(sample, link, float(x_up if nodes == 1 else x_out))


def _numpy() -> Any:
    """numpy, imported on first use: only calibrate needs it."""
    try:
        import numpy
    except ImportError:
        raise MoecommError('moecomm calibrate needs numpy: pip install "moecomm[plan]"') from None
    return numpy


def _law(x: Any, nu: float) -> Any:
    """x / bandwidth_ramp(x, ν) (the formula layer's, over arrays): the bytes that take the link
    as long at its peak rate as x bytes take at the ramp's rate."""
    return x / F.vector("bandwidth_ramp")(nu=nu, x=x)


def fit_back_to_back(
    points: list[Point], what: str, line_rate: float
) -> tuple[float, float, float]:
    """(α seconds, B bytes/s, ν bytes) minimising the squared relative error of the times.

    B stays at or below the link's line rate: a long ramp fitted to sizes that have not yet
    levelled off would otherwise extrapolate past what the wire can carry.
    """
    np = _numpy()
    x = np.array([p.x for p in points])
    t = np.array([p.sample.back_to_back_s for p in points])
    if len(set(x.tolist())) < MIN_SIZES:
        raise MoecommError(
            f"{what}: {len(set(x.tolist()))} distinct sizes measured; a fit needs {MIN_SIZES}"
        )

    def one(nu: float) -> tuple[float, float, float, float] | None:
        f = _law(x, nu)
        a = np.column_stack([1 / t, f / t])
        (alpha, inv_b), *_ = np.linalg.lstsq(a, np.ones_like(t), rcond=None)
        if alpha < 0:  # no latency left to fit: bandwidth alone
            alpha, inv_b = 0.0, float(np.sum(f / t) / np.sum((f / t) ** 2))
        if inv_b < 1 / line_rate:  # at the line rate: the latency alone is left to fit
            inv_b = 1 / line_rate
            alpha = max(0.0, float(np.sum((1 - f * inv_b / t) / t) / np.sum(1 / t**2)))
        if inv_b <= 0:
            return None
        err = float(np.sum(((alpha + f * inv_b) / t - 1) ** 2))
        return err, float(alpha), 1 / float(inv_b), nu

    coarse = [0.0, *np.logspace(10, 40, RAMP_GRID - 1, base=2.0).tolist()]
    found = [r for r in map(one, coarse) if r is not None]
    best = min(found, default=None)
    if best is not None and best[3] > 0:  # refine between the grid's neighbours
        fine = np.logspace(np.log2(best[3]) - 0.25, np.log2(best[3]) + 0.25, 33, base=2.0)
        best = min([best, *(r for r in map(one, fine.tolist()) if r is not None)])
    if best is None:
        raise MoecommError(f"{what}: time does not grow with size; no bandwidth to fit")
    return best[1], best[2], best[3]


def fit_per_op(points: list[Point], predicted: list[float]) -> float:
    """τ ≥ 0 minimising Σ((p + τ)/t − 1)² over the per-op times t and back-to-back predictions p."""
    np = _numpy()

    t = np.array([p.sample.per_op_s for p in points])
    p = np.array(predicted)
    tau = float(np.sum((t - p) / t**2) / np.sum(1 / t**2))
    return max(tau, 0.0)


PerOp = Callable[[str, str, int], float]
"""τ_op of a kind on a link and rank count where the logs hold no per-op times (the base's)."""


def fit(
    samples: list[Sample], min_bytes: int, line_rates: dict[str, float], base_per_op: PerOp
) -> list[CollectiveFit]:
    """One CollectiveFit per (kind, link, ranks) measured, from the collectives of ≥ ``min_bytes``.

    Back-to-back times come from nccl-tests logs and CUDA-graph runs where a kind has any;
    otherwise from eager runs' batched averages (bound by the host's launch rate at small
    sizes). Per-op times come from eager runs' medians. MoE runs are left for validation.
    ``line_rates`` bounds the peak bandwidth on each link ('scale-up', 'scale-out'). Where a
    kind has no per-op times (nccl-tests reports back-to-back only), τ_op is ``base_per_op``'s.
    """
    groups: dict[tuple[str, str, int], list[Point]] = {}
    for s in samples:
        if s.moe or s.bytes < min_bytes:
            continue
        p = point(s)
        groups.setdefault((s.kind, p.link, s.ranks), []).append(p)
    if not groups:
        raise MoecommError(f"no collective of at least {min_bytes} bytes measured (--min-bytes)")
    fits = []
    for (kind, link, ranks), points in sorted(groups.items()):
        device = [p for p in points if p.sample.back_to_back_s and p.sample.per_op_s is None]
        b2b = device or [p for p in points if p.sample.back_to_back_s]
        what = f"{kind} on {ranks} ranks ({link} link)"
        alpha, bw, nu = fit_back_to_back(b2b, what, line_rates[link])
        per_op = [p for p in points if p.sample.per_op_s is not None]
        tau = base_per_op(kind, link, ranks)
        if per_op:
            pred = [alpha + float(_law(p.x, nu)) / bw for p in per_op]
            tau = fit_per_op(per_op, pred)
        fits.append(
            CollectiveFit(
                kind=kind,
                link=link,
                ranks=ranks,
                latency_seconds=float(f"{alpha:.4g}"),
                bytes_per_second=round(float(f"{bw:.4g}")),
                ramp_bytes=round(float(f"{nu:.4g}")),
                per_op_seconds=float(f"{tau:.4g}"),
            )
        )
    return fits
