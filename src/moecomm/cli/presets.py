"""``moecomm presets``: list and show the built-in presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from moecomm import presets as P
from moecomm.cli.base import emit
from moecomm.cli.options import format_option
from moecomm.render import dumps, render_rows
from moecomm.results import quantity


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
class PresetField:
    """One field of a preset, for `presets show`."""

    field: str = quantity("field", "text")
    value: str = quantity("value", "text")


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


@click.group("presets")
def command() -> None:
    """Built-in presets: published MoE models.

    Example: moecomm presets show deepseek-v3
    """


@command.command("list")
@format_option
def list_cmd(fmt: str) -> None:
    """List the model presets with their key numbers.

    Example: moecomm presets list --format json
    """
    rows = [model_summary(p) for p in P.load_all(P.MODELS)]
    emit(
        render_rows(
            rows,
            fmt,
            title="Model presets",
            caption="Values from each model's published config.json.",
        )
    )


@command.command("show")
@click.argument("name")
@format_option
def show_cmd(name: str, fmt: str) -> None:
    """Show every field of one preset (a name or a TOML file), with its source.

    Example: moecomm presets show deepseek-v3 --format json
    """
    preset = P.load(P.MODELS, name)
    fields = model_fields(preset)
    if fmt == "json":
        emit(dumps(fields) + "\n")
        return
    rows = [PresetField(field=k, value=_text(v)) for k, v in fields.items()]
    emit(
        render_rows(
            rows, fmt, title=f"Model preset {preset.name}", caption=f"Source: {preset.source}"
        )
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return "" if value is None else str(value)
