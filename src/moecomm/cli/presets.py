"""``moecomm presets``: list, show and import presets (models, hardware, deployments)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import InputError, emit
from moecomm.cli.options import format_option, hf_config_option
from moecomm.render import dumps, render_rows
from moecomm.results import quantity
from moecomm.safe_io import shown_path, write_text_atomic

KIND_CHOICE = click.Choice([k.folder for k in P.ALL_KINDS])
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class ModelRow:
    """Key numbers of one model preset."""

    name: str = quantity("name", "text")
    hidden_size: int = quantity("h", "count")
    num_layers: int | None = quantity("layers", "count")
    num_moe_layers: int | None = quantity("MoE layers", "count")
    num_experts: int = quantity("routed E", "count")
    num_shared_experts: int = quantity("shared", "count")
    top_k: int = quantity("top-k", "count")
    moe_intermediate_size: int | None = quantity("expert FFN", "count")
    source: str = quantity("source", "text", show=False)


@dataclass(frozen=True)
class HardwareRow:
    """Key numbers of one hardware preset (per GPU, per direction)."""

    name: str = quantity("name", "text")
    gpus_per_node: int = quantity("GPUs/domain", "count")
    scale_up_bytes_per_second: int = quantity("scale-up GB/s", "bytes_per_second")
    scale_up_achieved_bytes_per_second: int | None = quantity("achieved GB/s", "bytes_per_second")
    scale_out_bytes_per_second: int = quantity("scale-out GB/s", "bytes_per_second")
    memory_bytes: int = quantity("memory GB", "capacity")
    bf16_dense_flops: int = quantity("BF16 TFLOP/s", "flops")
    fp8_dense_flops: int | None = quantity("FP8 TFLOP/s", "flops")
    source: str = quantity("source", "text", show=False)


@dataclass(frozen=True)
class DeploymentRow:
    """Key numbers of one deployment preset."""

    name: str = quantity("name", "text")
    model: str = quantity("model", "text")
    hardware: str = quantity("hardware", "text")
    phase: str = quantity("phase", "text")
    world: int = quantity("GPUs", "ranks")
    tp: int = quantity("tp", "ranks")
    dp: int = quantity("dp", "ranks")
    pp: int = quantity("pp", "ranks")
    ep: int = quantity("ep", "ranks")
    redundant_experts: int = quantity("redundant", "count")
    wire: str = quantity("wire", "text")
    source: str = quantity("source", "text", show=False)


@dataclass(frozen=True)
class PresetField:
    """One field of a preset, for `presets show`."""

    field: str = quantity("field", "text")
    value: str = quantity("value", "text")
    source: str = quantity("source", "text")


def model_summary(preset: P.ModelPreset) -> ModelRow:
    m = preset.model
    return ModelRow(
        name=preset.name,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        num_moe_layers=m.num_moe_layers,
        num_experts=m.num_experts,
        num_shared_experts=m.num_shared_experts,
        top_k=m.top_k,
        moe_intermediate_size=m.moe_intermediate_size,
        source=preset.source,
    )


def hardware_summary(preset: P.HardwarePreset) -> HardwareRow:
    h = preset.hardware
    return HardwareRow(
        name=preset.name,
        gpus_per_node=h.gpus_per_node,
        scale_up_bytes_per_second=h.scale_up_bytes_per_second,
        scale_up_achieved_bytes_per_second=h.scale_up_achieved_bytes_per_second,
        scale_out_bytes_per_second=h.scale_out_bytes_per_second,
        memory_bytes=h.memory_bytes,
        bf16_dense_flops=h.bf16_dense_flops,
        fp8_dense_flops=h.fp8_dense_flops,
        source=preset.source,
    )


def deployment_summary(preset: P.DeploymentPreset) -> DeploymentRow:
    d = preset.deployment
    layout = d.layout
    return DeploymentRow(
        name=preset.name,
        model=d.model,
        hardware=d.hardware,
        phase=d.phase,
        world=d.world,
        tp=d.tp,
        dp=layout.data_parallel,
        pp=d.pp,
        ep=d.ep,
        redundant_experts=d.redundant_experts,
        wire=f"{d.dispatch_dtype}/{d.combine_dtype}",
        source=preset.source,
    )


def model_fields(preset: P.ModelPreset) -> dict[str, Any]:
    """Every field of a model preset, flat, with the derived MoE layer count and list."""
    m = preset.model
    return {
        "name": preset.name,
        "display_name": preset.display_name,
        **m.model_dump(mode="json"),
        "num_moe_layers": m.num_moe_layers,
        "moe_layers": list(m.moe_layers),
        "source": preset.source,
        "notes": preset.notes,
    }


def hardware_fields(preset: P.HardwarePreset) -> dict[str, Any]:
    return {
        "name": preset.name,
        "display_name": preset.display_name,
        **preset.hardware.model_dump(mode="json"),
        "source": preset.source,
        "sources": dict(preset.sources),
        "notes": preset.notes,
    }


def deployment_fields(preset: P.DeploymentPreset) -> dict[str, Any]:
    layout = preset.deployment.layout
    return {
        "name": preset.name,
        "display_name": preset.display_name,
        **preset.deployment.model_dump(mode="json"),
        "derived_dp": layout.data_parallel,
        "derived_etp": layout.expert_tp,
        "derived_edp": layout.expert_dp,
        "source": preset.source,
        "notes": preset.notes,
    }


@click.group("presets")
def command() -> None:
    """Built-in presets: published MoE models, GPUs and deployments.

    Example: moecomm presets show deepseek-v3
    """


_CAPTIONS = {
    "models": "Values from each model's published config.json (see presets show NAME).",
    "hardware": "Per GPU, bandwidths per direction; GB = 1e9 B; dense peak FLOP/s (TFLOP = 1e12).",
    "deployments": "dp = world/(tp·cp·pp); wire = dispatch/combine dtype of the EP all-to-all.",
}
_TITLES = {
    "models": "Model presets",
    "hardware": "Hardware presets",
    "deployments": "Deployment presets",
}


def _rows(kind: str) -> list[Any]:
    if kind == "models":
        return [model_summary(p) for p in P.load_all(P.MODELS)]
    if kind == "hardware":
        return [hardware_summary(p) for p in P.load_all(P.HARDWARE)]
    return [deployment_summary(p) for p in P.load_all(P.DEPLOYMENTS)]


@command.command("list")
@click.option("--kind", type=KIND_CHOICE, help="Only this kind [default: all three].")
@format_option
def list_cmd(kind: str | None, fmt: str) -> None:
    """List the presets, one table per kind, with their key numbers.

    JSON is an object with one list per kind: models, hardware, deployments.

    Example: moecomm presets list --kind hardware --format json
    """
    kinds = [kind] if kind is not None else [k.folder for k in P.ALL_KINDS]
    if fmt == "json":
        emit(dumps({k: _rows(k) for k in kinds}) + "\n")
        return
    parts = [render_rows(_rows(k), fmt, title=_TITLES[k], caption=_CAPTIONS[k]) for k in kinds]
    emit("\n".join(parts))


_SCALES = (
    ("_bytes_per_second", 10**9, "GB/s"),
    ("memory_bytes", 10**9, "GB"),
    ("_flops", 10**12, "TFLOP/s"),
)


def _text(value: Any, key: str = "") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        for suffix, scale, unit in _SCALES:
            if key.endswith(suffix):
                return f"{value} ({value / scale:g} {unit})"
    if isinstance(value, float) and key.endswith("_seconds"):
        return f"{value:g} ({value * 10**6:g} µs)"
    if key == "collectives" and isinstance(value, list):  # fitted time-model parameters
        return (
            "; ".join(
                f"{c['kind']} {c['link']} {c['ranks'] or 'any'} ranks: α {c['latency_seconds'] * 1e6:g} µs, "
                f"B {c['bytes_per_second'] / 1e9:g} GB/s, ν {c['ramp_bytes']} B, "
                f"τ {c['per_op_seconds'] * 1e6:g} µs"
                for c in value
            )
            or "none (the generic law)"
        )
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


_DERIVED = {
    "num_moe_layers": "derived from num_layers, first_moe_layer, moe_layer_step, non_moe_layers",
    "moe_layers": "derived from num_layers, first_moe_layer, moe_layer_step, non_moe_layers",
    "derived_dp": "derived: world / (tp·cp·pp)",
    "derived_etp": "derived: etp, else tp",
    "derived_edp": "derived: world / (etp·ep·pp)",
}


def _sources(
    fields: dict[str, Any], given: set[str], source: str, own: dict[str, str] | None = None
) -> dict[str, str]:
    """Where each field's value comes from: the field's own source (hardware [sources]), else
    the file's ``source`` for the values the file gives, the rule for derived values, "moecomm
    default" for defaults; nothing for the preset's name and for values left empty."""
    out = {}
    for key, value in fields.items():
        if own and key in own:
            out[key] = own[key]
        elif key in given:
            out[key] = source
        elif key in _DERIVED:
            out[key] = _DERIVED[key]
        elif value is not None and key not in ("name", "display_name"):
            out[key] = "moecomm default"
        else:
            out[key] = ""
    return out


def _show(fields: dict[str, Any], sources: dict[str, str], fmt: str, title: str) -> str:
    if fmt == "json":
        return dumps(fields) + "\n"
    rows = [
        PresetField(field=k, value=_text(v, k), source=sources[k])
        for k, v in fields.items()
        if k not in ("source", "sources", "notes")
    ]
    rows += [PresetField(field="notes", value=str(fields.get("notes", "")).strip(), source="")]
    return render_rows(rows, fmt, title=title, caption=f"Source: {fields['source']}")


@command.command("show")
@click.argument("name", required=False)
@click.option("--kind", type=KIND_CHOICE, help="Look NAME up in this kind only.")
@hf_config_option
@format_option
def show_cmd(name: str | None, kind: str | None, hf_config: str | None, fmt: str) -> None:
    """Show every field of one preset with its source: a name of any kind, or a TOML file.

    Names are unique across models, hardware and deployments, so NAME alone finds it; --kind
    restricts the search. --hf-config PATH shows the model read from a config.json instead.

    Example: moecomm presets show h800
    """
    if (name is None) == (hf_config is None):
        raise InputError("give a preset NAME or --hf-config PATH (one of them)")
    if hf_config is not None:
        preset: P.AnyPreset = _from_hf(hf_config, name=None)
    else:
        assert name is not None
        chosen = None if kind is None else next(k for k in P.ALL_KINDS if k.folder == kind)
        preset = P.find(name, chosen)
    if isinstance(preset, P.ModelPreset):
        fields = model_fields(preset)
        sources = _sources(fields, preset.model.model_fields_set, preset.source)
        title = f"Model preset {preset.name}"
    elif isinstance(preset, P.HardwarePreset):
        fields = hardware_fields(preset)
        given = preset.hardware.model_fields_set
        sources = _sources(fields, given, preset.source, preset.sources)
        title = f"Hardware preset {preset.name}"
    else:
        assert isinstance(preset, P.DeploymentPreset)
        fields = deployment_fields(preset)
        sources = _sources(fields, preset.deployment.model_fields_set, preset.source)
        title = f"Deployment preset {preset.name}"
    emit(_show(fields, sources, fmt, title))


def _default_name(file: Path) -> str:
    """A folder's name for its config.json, else the file's own stem."""
    return file.parent.resolve().name if file.name == "config.json" else file.stem


def _from_hf(path: str, name: str | None) -> P.ModelPreset:
    from moecomm import hf_config as hf

    read = hf.read(path)
    notes = [f"Read by moecomm from the {read.family} key family."]
    if read.defaults:
        notes.append(f"Defaults (config class values for absent keys): {'; '.join(read.defaults)}.")
    notes += [f"{n}." for n in read.notes if n not in read.defaults]
    return P.ModelPreset(
        name=name or _default_name(Path(read.path)),
        source=read.path,
        notes=" ".join(notes),
        model=read.model,
    )


def _real(path: str) -> Path:
    """The path with links resolved; unlike Path.resolve, never raises (on a link loop, say)."""
    return Path(os.path.realpath(path))


@command.command("import")
@click.argument("path")
@click.option("--name", required=True, help="Preset name: lower-case letters, digits, . _ -.")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    help="Where to write the preset [default: ./NAME.toml in the current folder].",
)
@click.option(
    "--force", is_flag=True, help="Replace an existing file or symbolic link (never its target)."
)
def import_cmd(path: str, name: str, output: str | None, force: bool) -> None:
    """Write a model preset TOML from a Hugging Face config.json (or a folder holding one).

    The preset's source is the config.json's path. Use the file anywhere a preset name is
    accepted: --preset ./NAME.toml.

    Example: moecomm presets import ./Qwen3-30B-A3B/config.json --name qwen3-30b-a3b
    """
    if not _NAME.fullmatch(name):
        raise InputError(
            f"--name must be lower-case letters, digits, '.', '_' or '-'; got {name!r}"
        )
    target = output if output is not None else f"{name}.toml"
    package = Path(P.__file__).resolve().parent
    if target and "\0" not in target and package in _real(target).parents:
        raise InputError(
            f"--output must lie outside the installed package ({package}); got {shown_path(target)}"
        )
    if os.path.lexists(target) and not force:  # early, before reading; writing checks again
        raise InputError(f"--output {shown_path(target)} exists; pass --force to overwrite it")
    preset = _from_hf(path, name)
    write_text_atomic(target, P.model_toml(preset), force=force, what="--output")
    m = preset.model
    click.echo(
        f"Wrote {shown_path(target)}: {name} (h {m.hidden_size}, {m.num_moe_layers} MoE layers of "
        f"{m.num_layers}, {m.num_experts} routed + {m.num_shared_experts} shared experts, "
        f"top-{m.top_k}) from {preset.source}"
    )
