"""The one resolver: presets, config.json, deployments and explicit values into validated models.

Precedence, for every command and the Python API alike: an explicit value wins; then a
``--preset`` or ``--hf-config`` model (never both); then the ``--deployment``'s own model, sizes
and wire format; then the model's defaults. The wire format (dtypes, fp8 scale block, dispatch
header) is resolved here once, so that ``ep``, ``traffic``, ``step`` and ``plan`` cannot disagree
on the bytes of a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moecomm import presets as P
from moecomm.config import Deployment, LinkOverrides, MoEModel, WireFormat, build
from moecomm.dtypes import DTYPE_NAMES, DType
from moecomm.errors import MoecommError
from moecomm.errors import field as f
from moecomm.hardware import Links, links

MODEL_FIELDS = ("hidden_size", "top_k", "num_experts", "num_layers", "moe_intermediate_size")
"""Model fields a caller may override one by one (the CLI's --hidden, --topk, ...)."""


def first(*values: Any) -> Any:
    """The first value that is not None, in order of precedence."""
    return next((v for v in values if v is not None), None)


def deployment(ref: str | Deployment | None) -> Deployment | None:
    """A deployment preset by name or TOML file (or one already built)."""
    if ref is None or isinstance(ref, Deployment):
        return ref
    return P.load(P.DEPLOYMENTS, ref).deployment


def base_model(
    model: MoEModel | None = None,
    *,
    preset: str | None = None,
    hf_config: str | None = None,
    dep: Deployment | None = None,
) -> MoEModel | None:
    """The model given, or named by preset or config.json, else the deployment's, else none."""
    given = [name for name, v in (("preset", preset), ("hf_config", hf_config)) if v is not None]
    if model is not None:
        given.insert(0, "model")
    if len(given) > 1:
        raise MoecommError(f"give either {f(given[0])} or {f(given[1])}, not both")
    if model is not None:
        return model
    if preset is not None:
        return P.load(P.MODELS, preset).model
    if hf_config is not None:
        from moecomm import hf_config as hf

        return hf.read(hf_config).model
    if dep is not None:
        return P.load(P.MODELS, dep.model).model
    return None


def model(
    model: MoEModel | None = None,
    *,
    preset: str | None = None,
    hf_config: str | None = None,
    dep: Deployment | None = None,
    **overrides: Any,
) -> MoEModel:
    """The model shape, with explicit field values (``hidden_size=...``) overriding it."""
    unknown = set(overrides) - set(MODEL_FIELDS)
    if unknown:
        raise TypeError(f"unknown model fields: {sorted(unknown)}")
    base = base_model(model, preset=preset, hf_config=hf_config, dep=dep)
    data: dict[str, Any] = {} if base is None else base.model_dump(exclude_none=True)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return build(MoEModel, data)


def dtypes(
    dispatch: str | DType | None,
    combine: str | DType | None,
    dtype: str | DType | None = None,
    dep: Deployment | None = None,
) -> tuple[DType, DType]:
    """Dispatch and combine dtypes: each phase's own, then ``dtype``, the deployment's, bf16."""
    for name, value in (("dispatch_dtype", dispatch), ("combine_dtype", combine), ("dtype", dtype)):
        if value is not None and value not in DTYPE_NAMES and not isinstance(value, DType):
            raise MoecommError(f"{f(name)} must be one of {', '.join(DTYPE_NAMES)}; got {value!r}")
    d = first(dispatch, dtype, None if dep is None else dep.dispatch_dtype, DType.BF16)
    c = first(combine, dtype, None if dep is None else dep.combine_dtype, DType.BF16)
    return DType(d), DType(c)


def wire_format(
    hidden_size: int,
    dispatch: DType,
    combine: DType,
    *,
    scale_block: int | None = None,
    header_bytes: int | None = None,
    dep: Deployment | None = None,
) -> WireFormat:
    """The wire format: explicit values, else the deployment's.

    A deployment's scale block applies only while a phase is fp8, so that choosing bf16 for both
    phases overrides it cleanly; an explicit scale block with no fp8 phase is an error.
    """
    fp8 = DType.FP8 in (dispatch, combine)
    dep_block = dep.scale_block if dep is not None and fp8 else None
    return build(
        WireFormat,
        {
            "hidden_size": hidden_size,
            "dispatch_dtype": dispatch,
            "combine_dtype": combine,
            "scale_block": first(scale_block, dep_block),
            "header_bytes": first(header_bytes, None if dep is None else dep.header_bytes, 0),
        },
    )


def hardware(
    ref: str | None,
    overrides: LinkOverrides | Mapping[str, Any] | None = None,
    *,
    required: bool = False,
) -> Links | None:
    """The links of a hardware preset name or TOML file, with overrides in GB/s and µs."""
    o = overrides if isinstance(overrides, LinkOverrides) else build(LinkOverrides, overrides or {})
    if ref is None:
        if required:
            raise MoecommError(f"{f('hardware')} is required (a preset name or a TOML file)")
        used = list(o.given())
        if used:
            raise MoecommError(f"{f(used[0])} needs {f('hardware')}")
        return None
    preset = P.load(P.HARDWARE, ref)
    return links(preset.name, preset.hardware, o)
