"""Preset data files (TOML), looked up by exact name or path and validated by the config models.

Presets ship inside the package (``moecomm/presets/<kind>/<name>.toml``); from a source checkout
they are read from the repository's ``presets/`` folder.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moecomm import safe_io
from moecomm.config import Deployment, HardwareSpec, MoEModel
from moecomm.errors import MoecommError, from_validation, shown

KINDS = ("models", "hardware", "deployments")


class _PresetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(min_length=1)
    display_name: str = ""
    source: str = Field(min_length=1, description="where the values were read")
    notes: str = ""


class ModelPreset(_PresetFile):
    """A published MoE model: its shape and where it was read."""

    model: MoEModel


class FitResidual(BaseModel):
    """How far a calibrated file's model lies from the times it was fitted to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    link: str
    ranks: int | None = None
    timing: str
    cases: int = Field(ge=1)
    median_abs_error: float = Field(ge=0, allow_inf_nan=False)
    worst_abs_error: float = Field(ge=0, allow_inf_nan=False)


class Calibration(BaseModel):
    """Provenance of a hardware file written by ``moecomm calibrate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    date_utc: str
    base: str
    min_bytes: int = Field(ge=0)
    logs: list[str]
    tools: list[str] = Field(default_factory=list)
    nccl_versions: list[str] = Field(default_factory=list)
    gpus: list[str] = Field(default_factory=list)
    nodes: list[int] = Field(default_factory=list)
    residuals: list[FitResidual] = Field(default_factory=list)


class HardwarePreset(_PresetFile):
    """A GPU type: links, memory and compute, each figure with its own source."""

    hardware: HardwareSpec
    sources: dict[str, str] = Field(default_factory=dict, description="field -> source")
    calibration: Calibration | None = None


class DeploymentPreset(_PresetFile):
    """A published deployment of a model on hardware."""

    deployment: Deployment


P = TypeVar("P", bound=_PresetFile)


@dataclass(frozen=True)
class PresetKind(Generic[P]):
    """One folder of presets and the model that validates its files."""

    folder: str
    schema: type[P]


MODELS = PresetKind("models", ModelPreset)
HARDWARE = PresetKind("hardware", HardwarePreset)
DEPLOYMENTS = PresetKind("deployments", DeploymentPreset)


def _root() -> Traversable:
    packaged = resources.files("moecomm") / "presets"
    if packaged.is_dir():
        return packaged
    # Editable install or source checkout: the repository's top-level presets/ folder.
    return Path(__file__).resolve().parents[2] / "presets"


def names(kind: PresetKind[Any]) -> list[str]:
    """Names of the built-in presets of one kind, sorted."""
    folder = _root() / kind.folder
    if not folder.is_dir():
        return []
    return sorted(
        f.name.removesuffix(".toml") for f in folder.iterdir() if f.name.endswith(".toml")
    )


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or "\\" in ref


_TABLES = {"models": "model", "hardware": "hardware", "deployments": "deployment"}
"""The top-level table that marks each kind of preset file."""


def _validate(data: dict[str, Any], where: str, kind: PresetKind[P]) -> P:
    own = _TABLES[kind.folder]
    other = next((t for t in _TABLES.values() if t != own and t in data), None)
    if own not in data and other is not None:
        raise MoecommError(
            f"{where}: is a {other} preset (it has a [{other}] table), not a {own} preset"
        )
    try:
        return kind.schema.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, prefix=f"{where}: ") from None


def load(kind: PresetKind[P], ref: str) -> P:
    """Load a preset by exact built-in name, or a user's TOML file by path."""
    if _looks_like_path(ref):
        return _validate(safe_io.read_toml(ref), safe_io.shown_path(ref), kind)
    if ref not in names(kind):
        known = ", ".join(names(kind)) or "none"
        singular = _TABLES[kind.folder]
        other = next(
            (_TABLES[k.folder] for k in ALL_KINDS if k is not kind and ref in names(k)), None
        )
        what = f" (a {other} preset)" if other is not None else ""
        raise MoecommError(f"{singular} preset must be one of {known}; got {shown(ref)}{what}")
    entry = _root() / kind.folder / f"{ref}.toml"
    data = tomllib.loads(entry.read_text(encoding="utf-8"))  # shipped with the package
    return _validate(data, f"presets/{kind.folder}/{ref}.toml", kind)


def load_all(kind: PresetKind[P]) -> Iterator[P]:
    for name in names(kind):
        yield load(kind, name)


ALL_KINDS: tuple[PresetKind[Any], ...] = (MODELS, HARDWARE, DEPLOYMENTS)

AnyPreset = ModelPreset | HardwarePreset | DeploymentPreset


def find(ref: str, kind: PresetKind[Any] | None = None) -> AnyPreset:
    """A preset of any kind by exact name (names are unique across kinds), or a TOML file.

    A file is tried against each kind's schema by its top-level table ([model], [hardware] or
    [deployment]); ``kind`` restricts the search to one kind.
    """
    kinds = ALL_KINDS if kind is None else (kind,)
    if _looks_like_path(ref):
        if kind is not None:
            found: AnyPreset = load(kind, ref)
            return found
        data = safe_io.read_toml(ref)
        table: dict[str, PresetKind[Any]] = {
            "model": MODELS,
            "hardware": HARDWARE,
            "deployment": DEPLOYMENTS,
        }
        chosen = next((k for key, k in table.items() if key in data), MODELS)
        found = _validate(data, safe_io.shown_path(ref), chosen)
        return found
    for k in kinds:
        if ref in names(k):
            found = load(k, ref)
            return found
    known = ", ".join(n for k in kinds for n in names(k)) or "none"
    raise MoecommError(f"preset must be one of {known}; got {shown(ref)}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite (validated): Python's repr is a TOML float
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def model_toml(preset: ModelPreset) -> str:
    """A model preset as TOML text that :func:`load` reads back to an equal preset."""
    lines = [f"{key} = {_toml_value(getattr(preset, key))}" for key in _PresetFile.model_fields]
    lines += ["", "[model]"]
    model = preset.model.model_dump(mode="json", exclude_none=True)
    lines += [f"{key} = {_toml_value(value)}" for key, value in model.items()]
    return "\n".join(lines) + "\n"


def hardware_toml(preset: HardwarePreset) -> str:
    """A hardware preset as TOML text that :func:`load` reads back to an equal preset."""
    lines = [f"{key} = {_toml_value(getattr(preset, key))}" for key in _PresetFile.model_fields]
    hw = preset.hardware.model_dump(mode="json", exclude_none=True)
    fits = hw.pop("collectives", [])
    lines += ["", "[hardware]"] + [f"{key} = {_toml_value(v)}" for key, v in hw.items()]
    for fit in fits:
        lines += ["", "[[hardware.collectives]]"]
        lines += [f"{key} = {_toml_value(v)}" for key, v in fit.items()]
    lines += ["", "[sources]"] + [
        f"{_toml_value(k)} = {_toml_value(v)}" for k, v in preset.sources.items()
    ]
    if preset.calibration is not None:
        cal = preset.calibration.model_dump(mode="json")
        residuals = cal.pop("residuals")
        lines += ["", "[calibration]"] + [f"{key} = {_toml_value(v)}" for key, v in cal.items()]
        for r in residuals:
            lines += ["", "[[calibration.residuals]]"]
            lines += [f"{key} = {_toml_value(v)}" for key, v in r.items()]
    return "\n".join(lines) + "\n"


def validate_hardware_toml(text: str, where: str) -> HardwarePreset:
    """Read back a written hardware preset, as ``--hardware`` will read it."""
    return _validate(tomllib.loads(text), where, HARDWARE)
