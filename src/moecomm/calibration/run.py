"""``moecomm calibrate``: fit the time model to a cluster's own nccl-tests logs or measurement files.

Reads the logs (``nccl_tests``) and moecomm-bench/1 files (``samples``), fits each collective
kind on each link (``fit``), checks the fit through the model every command uses
(``validation``) and returns a hardware preset that ``--hardware`` accepts, with the fit's
residuals and provenance in its ``[calibration]`` table.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from pydantic import ValidationError

from moecomm import presets as P
from moecomm.calibration.fit import fit, point
from moecomm.calibration.samples import Provenance, Sample, read
from moecomm.config import HardwareSpec
from moecomm.errors import MoecommError, from_validation
from moecomm.hardware import Links, links
from moecomm.results import quantity
from moecomm.validation import cases

BASE_BY_GPU = {
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "NVIDIA H200": "h200",
}
"""Built-in presets for the exact device names CUDA reports (the names in the logs)."""


@dataclass(frozen=True)
class FitRow:
    """The fitted parameters of one collective kind on one link, and how well they fit."""

    kind: str = quantity("collective", "text")
    link: str = quantity("link", "text")
    ranks: int | None = quantity("ranks", "ranks")
    latency_seconds: float = quantity("latency α", "duration")
    bytes_per_second: int = quantity("peak busbw B", "rate")
    ramp_bytes: int = quantity("ramp ν", "bytes")
    per_op_seconds: float = quantity("per-op τ", "duration")
    cases: int = quantity("cases", "count", show=False)
    median_abs_error: float = quantity("median |err| b2b", "percent")
    worst_abs_error: float = quantity("worst |err| b2b", "percent")
    per_op_cases: int = quantity("per-op cases", "count", show=False)
    per_op_median_abs_error: float | None = quantity("median |err| per-op", "percent")


@dataclass(frozen=True)
class Calibrated:
    """A calibrated hardware preset and the rows that describe its fit."""

    preset: P.HardwarePreset
    rows: list[FitRow]


def calibrate(
    paths: Sequence[str],
    *,
    name: str,
    base: str | None = None,
    min_bytes: int = 2**20,
    date: str | None = None,
) -> Calibrated:
    """Fit the time model to the logs; the preset keeps ``base``'s links, memory and compute."""
    read_files = [read(p) for p in paths]
    samples = [s for found, _ in read_files for s in found]
    provs = [prov for _, prov in read_files]
    _one_gpu_type(provs)
    base_name = base or _base_for(provs)
    base_preset = P.load(P.HARDWARE, base_name)
    rates = {
        "scale-up": float(base_preset.hardware.scale_up_bytes_per_second),
        "scale-out": float(base_preset.hardware.scale_out_bytes_per_second),
    }
    base_links = links(base_name, base_preset.hardware)

    def base_per_op(kind: str, link: str, ranks: int) -> float:
        nodes = 2 if link == "scale-out" else 1
        return float(base_links.values(kind, nodes, ranks=ranks)["tau_op"])

    fits = fit(samples, min_bytes, rates, base_per_op)
    data = base_preset.hardware.model_dump(exclude_none=True)
    data["collectives"] = [f.model_dump() for f in fits]
    per_node = {s.gpus_per_node: s.source for s in samples if s.nodes > 1}
    if len(per_node) > 1:
        (a, first), (b, second) = sorted(per_node.items())[:2]
        raise MoecommError(
            f"{second}: {b} GPUs per node, but {a} in {first}; calibrate one cluster at a time"
        )
    if per_node:  # runs across nodes show the node's size; the scale-out fits assume it
        data["gpus_per_node"] = next(iter(per_node))
    with_per_op = {(s.kind, point(s).link, s.ranks) for s in samples if s.per_op_s and not s.moe}
    measured_tau = [f.per_op_seconds for f in fits if (f.kind, f.link, f.ranks) in with_per_op]
    if measured_tau:  # kinds without a fit of their own (send-recv: the pipeline hand-off)
        data["per_op_seconds"] = float(f"{median(measured_tau):.4g}")
    try:
        spec = HardwareSpec.model_validate(data)
    except ValidationError as exc:  # a fit outside the schema's bounds
        raise from_validation(exc, prefix="the fitted parameters: ") from None
    hw = links(name, spec)
    rows, residuals = _residuals(samples, hw, min_bytes)
    when = date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")
    logs = [p.name for p in provs]
    cal = P.Calibration(
        tool="moecomm calibrate",
        date_utc=when,
        base=base_name,
        min_bytes=min_bytes,
        logs=logs,
        tools=sorted({p.tool for p in provs}),
        nccl_versions=sorted({p.nccl for p in provs if p.nccl}),
        gpus=sorted({g for p in provs for g in p.gpus}),
        nodes=sorted({p.nodes for p in provs}),
        residuals=residuals,
    )
    fitted = ", ".join(sorted({f"{f.kind} ({f.link})" for f in fits}))
    sources = dict(base_preset.sources)
    sources["collectives"] = (
        f"moecomm calibrate {when}: least-squares fit (sizes >= {min_bytes} B) of {', '.join(logs)}"
        + (
            ""
            if len(measured_tau) == len(fits)
            else f"; per-op costs not measured: preset {base_name}'s"
        )
    )
    if per_node:
        sources["gpus_per_node"] = (
            f"moecomm calibrate {when}: ranks per host in the runs across nodes "
            f"({', '.join(sorted(set(per_node.values())))})"
        )
    if measured_tau:
        sources["per_op_seconds"] = (
            f"moecomm calibrate {when}: the median of the per-op costs fitted to {', '.join(logs)}"
        )
    preset = P.HardwarePreset(
        name=name,
        display_name=base_preset.display_name,
        source=f"{_before(base_preset.source, SOURCE_MARK)}{SOURCE_MARK}moecomm calibrate "
        f"{when} from {', '.join(logs)}",
        notes=f"{_before(base_preset.notes, NOTES_MARK).rstrip()}\n{NOTES_MARK}{fitted}, one fit "
        "per rank count measured; residuals and provenance in [calibration].\n",
        hardware=spec,
        sources=sources,
        calibration=cal,
    )
    return Calibrated(preset, rows)


SOURCE_MARK = "; time model per collective: "
NOTES_MARK = "Fitted by moecomm calibrate per collective and link: "


def _before(text: str, mark: str) -> str:
    """The base preset's text without an earlier calibration's addition (re-fits replace it)."""
    return text.split(mark, 1)[0]


def _one_gpu_type(provs: list[Provenance]) -> None:
    first = next((p for p in provs if p.gpus), None)
    for p in provs:
        if first is not None and p.gpus and p.gpus != first.gpus:
            raise MoecommError(
                f"{p.name}: GPUs {', '.join(p.gpus)} differ from {', '.join(first.gpus)} in "
                f"{first.name}; calibrate one GPU type at a time"
            )


def _base_for(provs: list[Provenance]) -> str:
    gpus = {g for p in provs for g in p.gpus}
    found = {BASE_BY_GPU.get(g) for g in gpus}
    if len(found) == 1 and None not in found:
        return str(found.pop())
    shown_gpus = ", ".join(sorted(gpus)) or "not named in the logs"
    raise MoecommError(
        f"--base is needed: no built-in preset for the GPUs measured ({shown_gpus}); "
        "give the preset whose links, memory and compute the file should keep"
    )


def _residuals(
    samples: list[Sample], hw: Links, min_bytes: int
) -> tuple[list[FitRow], list[P.FitResidual]]:
    """Each fit's error on the cases it was fitted to, through the model every command uses."""
    rows, residuals = [], []
    for f in hw.fits:
        mine = [
            s
            for s in samples
            if not s.moe
            and s.bytes >= min_bytes
            and (s.kind, point(s).link, s.ranks) == (f.kind, f.link, f.ranks)
        ]
        device = [s for s in mine if s.per_op_s is None]  # as in fit(): device times first
        err = [
            abs(c.error) for c in cases(device or mine, hw, ["back-to-back"]) if c.error is not None
        ]
        op_err = [abs(c.error) for c in cases(mine, hw, ["per-op"]) if c.error is not None]
        rows.append(
            FitRow(
                f.kind,
                f.link,
                f.ranks,
                f.latency_seconds,
                f.bytes_per_second,
                f.ramp_bytes,
                f.per_op_seconds,
                len(err),
                median(err),
                max(err),
                len(op_err),
                median(op_err) if op_err else None,
            )
        )
        for conv, errs in (("back-to-back", err), ("per-op", op_err)):
            if errs:
                residuals.append(
                    P.FitResidual(
                        kind=f.kind,
                        link=f.link,
                        ranks=f.ranks,
                        timing=conv,
                        cases=len(errs),
                        median_abs_error=round(median(errs), 4),
                        worst_abs_error=round(max(errs), 4),
                    )
                )
    return rows, residuals
