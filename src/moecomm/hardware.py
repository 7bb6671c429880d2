"""Links, memory and compute of one GPU type, as the time model uses them (data, not rules).

``links(name, spec, overrides)`` turns a validated ``HardwareSpec`` (a preset's or a user's
TOML) and the user's overrides into ``Links``. Loading the preset is the resolver's job
(``resolve.hardware``); the time rules are in ``timing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from moecomm.config import CollectiveFit, HardwareSpec, LinkOverrides, Timing
from moecomm.elementwise import SCALAR, Ops
from moecomm.units import GB, Exact

NVLINK_EFFICIENCY = Fraction(370, 450)
"""Used on a scale-up link whose preset has no achieved figure: NCCL's effective NVLink rate over
the line rate, 370 of 450 GB/s ('protocol overhead ~20%', NVIDIA/nccl-tests issue #212). It is a
property of NVLink's protocol, so it never applies to the scale-out NIC."""

NIC_EFFICIENCY = Fraction(1)
"""Used on a scale-out NIC whose preset has no achieved figure: the datasheet rate, stated as
such in the caption (the NIC's own overheads are not published per GPU type)."""

_FLAGS = {
    "bw_intra": "--bw-intra",
    "bw_inter": "--bw-inter",
    "latency_intra": "--latency-intra",
    "latency_inter": "--latency-inter",
    "efficiency": "--efficiency",
    "gpus_per_node": "--gpus-per-node",
    "timing": "--timing",
}
"""How the overrides are named in captions (the CLI's spelling, which docs use too)."""


@dataclass(frozen=True)
class Links:
    """Link parameters of one hardware as the time model uses them, with their sources."""

    name: str
    gpus_per_node: int
    bw_up: float
    """Scale-up bytes/s per GPU per direction: achieved where published, else datasheet × 37/45."""
    bw_out: float
    """Scale-out bytes/s per GPU per direction: achieved where published, else the datasheet."""
    latency_up: float
    latency_out: float
    base_latency: float
    efficiency: float
    memory_bytes: int
    bf16_flops: int
    fp8_flops: int | None
    notes: tuple[str, ...]
    timing: Timing = "back-to-back"
    fits: tuple[CollectiveFit, ...] = ()
    """Per collective kind and link: latency, peak bandwidth, ramp and per-op cost."""
    per_op: float = 0.0
    """Launch + synchronisation of one operation in place, for kinds without a fit of their own."""
    fixed: frozenset[str] = frozenset()
    """Which link figures the user overrode ('bw_up', 'bw_out', 'latency_up', 'latency_out'):
    those replace the fitted ones too."""

    def fits_for(self, kind: str | None, link: str) -> list[CollectiveFit]:
        """The fits of one kind on one link, fewest ranks first (an entry without ranks first)."""
        mine = [f for f in self.fits if f.kind == kind and f.link == link]
        return sorted(mine, key=lambda f: f.ranks or 0)

    def values(
        self, kind: str | None = None, nodes: Any = 1, ops: Ops = SCALAR, ranks: Any = 2
    ) -> dict[str, Any]:
        """The symbol values of collective_seconds (and tau_op) that come from the hardware.

        Without a fit for ``kind`` a link uses the generic figures: a latency per message, the
        link's bandwidth and no ramp. With fits, it uses the one measured on the most ranks
        not above ``ranks`` (the fewest-ranks one below that): its peak bandwidth and ramp, its
        latency as the fixed latency α₀ (the scale-out fit's where the operation spans nodes,
        ``nodes`` > 1, with no latency per message on either link) and no latency per message. User overrides of a link win over fits.
        Works on numbers, or on arrays through ``ops``.
        """
        v: dict[str, Any] = {
            "B_up": _exact(self.bw_up),
            "B_out": _exact(self.bw_out),
            "alpha_up": _exact(self.latency_up),
            "alpha_out": _exact(self.latency_out),
            "alpha_0": _exact(self.base_latency),
            "eta": _exact(self.efficiency),
            "nu_up": 0,
            "nu_out": 0,
            "tau_op": _exact(self.per_op),
        }
        for link, key in (("scale-up", "up"), ("scale-out", "out")):
            fits = self.fits_for(kind, link)
            if not fits:
                continue
            chosen: dict[str, Any] = {}
            for fit in fits:
                latency = (
                    v[f"alpha_{key}"] if f"latency_{key}" in self.fixed else fit.latency_seconds
                )
                this = {
                    "B": v[f"B_{key}"] if f"bw_{key}" in self.fixed else fit.bytes_per_second,
                    "nu": fit.ramp_bytes,
                    "alpha": _exact(latency),
                    "tau": _exact(fit.per_op_seconds),
                }
                if not chosen:
                    chosen = this
                else:
                    use = ranks >= (fit.ranks or 0)
                    chosen = {k: ops.where(use, this[k], chosen[k]) for k in this}
            v[f"B_{key}"], v[f"nu_{key}"], v[f"alpha_{key}"] = chosen["B"], chosen["nu"], 0
            if key == "up":
                v["alpha_0"], v["tau_op"] = chosen["alpha"], chosen["tau"]
            else:  # across nodes, the scale-out fit's latency is the operation's whole fixed cost
                v["alpha_0"] = ops.where(nodes > 1, chosen["alpha"], v["alpha_0"])
                v["alpha_up"] = ops.where(nodes > 1, 0, v["alpha_up"])
                v["tau_op"] = ops.where(nodes > 1, chosen["tau"], v["tau_op"])
        return v

    def timing_caption(self) -> str:
        """The timing convention of every time printed, stated in captions."""
        if self.timing == "per-op":
            known = self.per_op > 0 or any(f.per_op_seconds > 0 for f in self.fits)
            return (
                "Times per-op: one operation in place, launch and synchronisation included "
                "(--timing per-op)."
                + ("" if known else " This hardware gives no per-op cost: 0, as back-to-back.")
            )
        return (
            "Times back-to-back: operations queued one after another, as nccl-tests reports "
            "them (--timing back-to-back; per-op adds launch and synchronisation)."
        )

    def peak_flops(self, fp8: bool) -> int:
        """Dense peak FLOP/s: fp8 where the GPU has it and the data is fp8, else bf16."""
        return self.fp8_flops if fp8 and self.fp8_flops else self.bf16_flops

    def caption(self, timing: bool = True) -> str:
        """Where every number of the time model came from: named in every time output.

        ``timing`` adds the timing convention (left out where a report states its own).
        """
        return (
            f"Hardware {self.name}: scale-up {self.bw_up / GB:g} GB/s, scale-out "
            f"{self.bw_out / GB:g} GB/s per GPU per direction; latency {self.latency_up * 1e6:g} µs "
            f"(scale-up) / {self.latency_out * 1e6:g} µs (scale-out) per message + "
            f"{self.base_latency * 1e6:g} µs per collective; efficiency {self.efficiency:g}; "
            f"{self.gpus_per_node} GPUs per node"
            + ("" if not self.notes else " (" + "; ".join(self.notes) + ")")
            + ". "
            + self._fits_caption()
            + (self.timing_caption() + " " if timing else "")
            + "GB = 1e9 B."
        )

    def _fits_caption(self) -> str:
        if not self.fits:
            return ""
        kinds = sorted({f"{f.kind} ({f.link})" for f in self.fits})  # rank counts: see the file
        return (
            "Fitted per collective (latency, peak bandwidth, ramp; used instead of the link "
            "figures above): " + ", ".join(kinds) + ". "
        )


def _exact(value: float | int) -> Exact:
    return Fraction(value) if isinstance(value, float) else value


def links(name: str, hw: HardwareSpec, overrides: LinkOverrides | None = None) -> Links:
    """The links of one hardware spec, with the user's overrides (GB/s and µs) applied."""
    o = overrides or LinkOverrides()
    notes: list[str] = []

    def bandwidth(achieved: int | None, datasheet: int, what: str, factor: Fraction) -> float:
        if achieved is not None:
            return float(achieved)
        if factor == 1:
            notes.append(f"{what}: datasheet rate, no achieved figure published")
        else:
            notes.append(f"{what}: datasheet × 370/450 (NVLink protocol, nccl-tests #212)")
        return float(datasheet * factor)

    bw_up = bandwidth(
        hw.scale_up_achieved_bytes_per_second,
        hw.scale_up_bytes_per_second,
        "scale-up",
        NVLINK_EFFICIENCY,
    )
    bw_out = bandwidth(
        hw.scale_out_achieved_bytes_per_second,
        hw.scale_out_bytes_per_second,
        "scale-out",
        NIC_EFFICIENCY,
    )
    missing = [
        what
        for what, v in (
            ("scale-up", hw.scale_up_latency_seconds),
            ("scale-out", hw.scale_out_latency_seconds),
        )
        if v is None
    ]
    if missing:
        notes.append(f"no published {' and '.join(missing)} latency: 0")
    notes += [
        f"{_FLAGS[key]} {value:g}" for key, value in o.given().items() if not isinstance(value, str)
    ]
    return Links(
        name=name,
        gpus_per_node=o.gpus_per_node or hw.gpus_per_node,
        bw_up=o.bw_intra * GB if o.bw_intra is not None else bw_up,
        bw_out=o.bw_inter * GB if o.bw_inter is not None else bw_out,
        latency_up=_pick(_us(o.latency_intra), hw.scale_up_latency_seconds),
        latency_out=_pick(_us(o.latency_inter), hw.scale_out_latency_seconds),
        base_latency=hw.base_latency_seconds or 0.0,
        efficiency=_pick(o.efficiency, hw.efficiency, default=1.0),
        memory_bytes=hw.memory_bytes,
        bf16_flops=hw.bf16_dense_flops,
        fp8_flops=hw.fp8_dense_flops,
        notes=tuple(notes),
        timing=o.timing or "back-to-back",
        fits=hw.collectives,
        per_op=hw.per_op_seconds or 0.0,
        fixed=frozenset(
            name
            for name, value in (
                ("bw_up", o.bw_intra),
                ("bw_out", o.bw_inter),
                ("latency_up", o.latency_intra),
                ("latency_out", o.latency_inter),
            )
            if value is not None
        ),
    )


def _us(value: float | None) -> float | None:
    return None if value is None else value * 1e-6


def _pick(*values: float | None, default: float = 0.0) -> float:
    for v in values:
        if v is not None:
            return float(v)
    return default
