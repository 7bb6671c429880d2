"""Presets of every kind: loading, list/show/import, user preset files and --deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moecomm import presets as P
from moecomm.cli import cli

DATA = Path(__file__).parent / "data" / "hf_configs"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "100"})
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--format", "json"))


@pytest.mark.parametrize(
    ("kind", "name"), [(k, n) for k in P.ALL_KINDS for n in P.names(k)], ids=str
)
def test_every_preset_loads(kind: P.PresetKind[Any], name: str) -> None:
    preset = P.load(kind, name)
    assert preset.name == name
    assert preset.source


def test_names_are_unique_across_kinds_and_the_required_ones_exist() -> None:
    every = [n for k in P.ALL_KINDS for n in P.names(k)]
    assert len(every) == len(set(every))
    assert len(P.names(P.MODELS)) == 23
    assert set(P.names(P.HARDWARE)) == {
        "h100-sxm",
        "h800",
        "h200",
        "h20",
        "a100-sxm",
        "b200",
        "gb200-nvl72",
        "mi300x",
    }


def test_hardware_figures_have_their_own_sources() -> None:
    for preset in P.load_all(P.HARDWARE):
        given = preset.hardware.model_dump(exclude_none=True, exclude_unset=True)
        assert set(given) <= set(preset.sources), preset.name


def test_deployment_models_and_hardware_exist() -> None:
    for preset in P.load_all(P.DEPLOYMENTS):
        d = preset.deployment
        assert d.model in P.names(P.MODELS) and d.hardware in P.names(P.HARDWARE)


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("deepseek-v3-prefill", (32, 4, 8, 1, 32, 1, 1)),
        ("deepseek-v3-decode", (320, 4, 80, 1, 320, 1, 1)),
        ("deepseek-v3-train", (2048, 1, 128, 16, 64, 1, 2)),
        ("sglang-h100-prefill", (32, 1, 32, 1, 32, 1, 1)),
        ("sglang-h100-decode", (72, 1, 72, 1, 72, 1, 1)),
    ],
)
def test_deployment_layouts(name: str, sizes: tuple[int, ...]) -> None:
    data = run_json("groups", "--deployment", name)
    assert tuple(data[k] for k in ("world", "tp", "dp", "pp", "ep", "etp", "edp")) == sizes
    world, tp, _, _, ep, _, _ = sizes
    assert len(data["ep_groups"]) == world // ep
    assert all(len(g) == ep for g in data["ep_groups"])
    assert len(data["tp_groups"]) == world // tp
    assert sorted(r for g in data["ep_groups"] for r in g) == list(range(world))


def test_groups_flags_override_the_deployment_and_rederive_dp() -> None:
    data = run_json("groups", "--deployment", "deepseek-v3-train", "--ep", "8")
    assert (data["world"], data["pp"], data["ep"], data["edp"], data["dp"]) == (
        2048,
        16,
        8,
        16,
        128,
    )


def test_groups_table_summarises_large_worlds() -> None:
    out = run("groups", "--deployment", "deepseek-v3-decode")
    assert (
        "│ EP groups                         │                                                  {0,1,…,319} │"
        in out
    )
    assert "{0,4,…,316} {1,5,…,317} {2,6,…,318} {3,7,…,319}" in out
    assert "{0} {1} {2} {3} {4} {5} {6} {7} … 312 more (320 groups)" in out
    assert "the first 8 groups of each kind are listed; --format json lists all." in out
    assert len(run_json("groups", "--deployment", "deepseek-v3-decode")["tp_groups"]) == 80


def test_groups_without_world() -> None:
    assert run("groups", "--ep", "2", code=2) == "Error: --world is required without --deployment\n"


def test_ep_deployment_fills_sizes_and_dtypes() -> None:
    data = run_json("ep", "--deployment", "deepseek-v3-prefill", "--tokens", "4096")
    assert data == {
        "convention": "per rank, per MoE layer; tokens b·s on this rank; balanced routing; "
        "bytes that leave the rank",
        "input_tokens_per_rank": 4096,
        "ep": 32,
        "dispatch_dtype": "fp8",
        "combine_dtype": "bf16",
        # The deployment's wire format: fp8 with one fp32 scale per 128 channels, no header
        # (DeepEP normal kernels): 7168 + 4·7168/128 = 7392 B per dispatched copy.
        "scale_block": 128,
        "header_bytes": 0,
        "dispatch_copy_bytes": 7392,
        "combine_copy_bytes": 14336,
        "tokens_per_rank": 31744,
        "dispatch_bytes_per_rank": 31744 * 7392,
        "combine_bytes_per_rank": 31744 * 7168 * 2,
        "ep_bytes_per_rank": 31744 * (7392 + 14336),
        "ep_bytes_per_rank_approx": 4 * 4096 * 8 * 7168,
        "expectation": False,
    }


def test_ep_flags_override_the_deployment() -> None:
    data = run_json(
        "ep",
        "--deployment",
        "deepseek-v3-prefill",
        "--tokens",
        "64",
        "--ep",
        "8",
        "--redundant-experts",
        "0",
        "--dtype",
        "bf16",
        "--preset",
        "mixtral-8x7b",
    )
    assert (data["ep"], data["dispatch_dtype"], data["combine_dtype"]) == (8, "bf16", "bf16")
    assert data["dispatch_bytes_per_rank"] == 64 * 2 * 7 // 8 * 4096 * 2


def test_ep_deployment_checks_redundant_experts() -> None:
    err = run("ep", "--deployment", "deepseek-v3-prefill", "--tokens", "8", "--ep", "64", code=2)
    assert (
        err
        == "Error: --ep must divide the routed plus redundant experts (256 + 32 = 288); got 64\n"
    )


def test_tp_and_compare_take_the_deployment() -> None:
    tp = run_json("tp", "--deployment", "deepseek-v3-prefill", "--tokens", "4096")
    assert (tp["tp"], tp["allreduce_bytes_per_rank"]) == (4, 2 * 3 * 4096 * 7168 * 2 // 4)
    rows = run_json(
        "compare", "--deployment", "deepseek-v3-decode", "--sizes", "8", "--tokens", "64"
    )
    assert rows[0]["tp_bytes_per_rank"] == 2 * 7 * 64 * 7168 * 2 // 8


def test_unknown_deployment() -> None:
    err = run("groups", "--deployment", "nope", code=2)
    assert err == (
        "Error: deployment preset must be one of deepseek-v3-decode, deepseek-v3-prefill, "
        "deepseek-v3-train, sglang-h100-decode, sglang-h100-prefill; got 'nope'\n"
    )


def test_presets_list_json_has_one_list_per_kind() -> None:
    data = run_json("presets", "list")
    assert list(data) == ["models", "hardware", "deployments"]
    assert [len(v) for v in data.values()] == [23, 8, 5]
    assert data["hardware"][6] == {
        "name": "h800",
        "gpus_per_node": 8,
        "scale_up_bytes_per_second": 200_000_000_000,
        "scale_up_achieved_bytes_per_second": 160_000_000_000,
        "scale_out_bytes_per_second": 50_000_000_000,
        "memory_bytes": 80_000_000_000,
        "bf16_dense_flops": 989_500_000_000_000,
        "fp8_dense_flops": 1_979_000_000_000_000,
        "source": P.load(P.HARDWARE, "h800").source,
    }


def test_presets_list_hardware_table() -> None:
    out = run("presets", "list", "--kind", "hardware")
    assert (
        "│ h800      │         8 │        200 │       160 │         50 │        80 │     989.5 │       1979 │"
        in out
    )
    assert "Per GPU, bandwidths per direction; GB = 1e9 B; dense peak FLOP/s (TFLOP = 1e12)." in out
    assert "Model presets" not in out


def test_presets_show_model_json_keys() -> None:
    data = run_json("presets", "show", "deepseek-v3")
    assert {
        k: data[k]
        for k in (
            "hidden_size",
            "num_layers",
            "num_moe_layers",
            "num_experts",
            "num_shared_experts",
            "top_k",
            "moe_intermediate_size",
        )
    } == {
        "hidden_size": 7168,
        "num_layers": 61,
        "num_moe_layers": 58,
        "num_experts": 256,
        "num_shared_experts": 1,
        "top_k": 8,
        "moe_intermediate_size": 2048,
    }
    assert data["source"] == "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json"


def test_presets_show_hardware_with_sources() -> None:
    data = run_json("presets", "show", "h800")
    preset = P.load(P.HARDWARE, "h800")
    assert data["sources"] == preset.sources
    assert data["scale_up_achieved_bytes_per_second"] == 160_000_000_000
    out = run("presets", "show", "h800")
    assert (
        "│ scale_up_bytes_per_second      │ 200000000000 (200 GB/s)        │ Zhao et al., 'Insights into    │"
        in out
    )


def _source_column(*args: str) -> dict[str, str]:
    import csv
    import io

    rows = csv.DictReader(io.StringIO(run("presets", "show", *args, "--format", "csv")))
    return {r["field"]: r["source"] for r in rows}


def test_presets_show_source_column_names_each_fields_source() -> None:
    """The column used to hold the word "source" on every row of models and deployments."""
    v3 = "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json"
    layers = "derived from num_layers, first_moe_layer, moe_layer_step, non_moe_layers"
    model = _source_column("deepseek-v3")
    assert (model["name"], model["hidden_size"], model["n_group"]) == ("", v3, v3)
    assert model["num_moe_layers"] == model["moe_layers"] == layers
    assert model["notes"] == ""
    assert "source" not in model.values()

    h800 = P.load(P.HARDWARE, "h800")
    hardware = _source_column("h800")
    assert hardware["gpus_per_node"] == h800.sources["gpus_per_node"]
    assert hardware["memory_bytes"] == h800.sources["memory_bytes"]
    assert (hardware["name"], hardware["efficiency"]) == ("", "")  # efficiency is not set

    report = P.load(P.DEPLOYMENTS, "deepseek-v3-decode").source
    deployment = _source_column("deepseek-v3-decode")
    assert report == "DeepSeek-V3 Technical Report, arXiv 2412.19437 §3.4.2 'Decoding'"
    assert (deployment["ep"], deployment["redundant_experts"]) == (report, report)
    assert deployment["derived_dp"] == "derived: world / (tp·cp·pp)"
    assert deployment["derived_etp"] == "derived: etp, else tp"


def test_presets_show_source_column_marks_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nsource = "hand-written"\n[model]\nhidden_size = 16\nnum_experts = 4\n'
        "top_k = 2\n"
    )
    model = _source_column(str(path))
    assert (model["hidden_size"], model["top_k"]) == ("hand-written", "hand-written")
    assert model["num_shared_experts"] == "moecomm default"  # 0 unless the file says otherwise
    assert model["n_group"] == ""  # no value, no source


def test_presets_show_deployment_and_kind() -> None:
    data = run_json("presets", "show", "deepseek-v3-train", "--kind", "deployments")
    assert (data["model"], data["hardware"], data["pp"], data["derived_edp"]) == (
        "deepseek-v3",
        "h800",
        16,
        2,
    )
    err = run("presets", "show", "h800", "--kind", "models", code=2)
    assert err.startswith("Error: preset must be one of dbrx, deepseek-moe-16b,")
    assert err.endswith("; got 'h800'\n")


def test_presets_show_needs_one_of_name_or_hf_config() -> None:
    assert (
        run("presets", "show", code=2)
        == "Error: give a preset NAME or --hf-config PATH (one of them)\n"
    )


def test_import_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = str(DATA / "deepseek-v3.json")
    out = run("presets", "import", src, "--name", "my-v3")
    assert out == (
        "Wrote my-v3.toml: my-v3 (h 7168, 58 MoE layers of 61, 256 routed + 1 shared experts, "
        f"top-8) from {src}\n"
    )
    mine = P.load(P.MODELS, "my-v3.toml")
    assert mine.source == src
    assert mine.notes == "Read by moecomm from the DeepSeek/Kimi/GLM key family."
    assert mine.model == P.load(P.MODELS, "deepseek-v3").model
    # the file works wherever a preset name does
    a = run_json("ep", "--preset", "./my-v3.toml", "--tokens", "128", "--ep", "64")
    b = run_json("ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "64")
    assert a == b
    assert run_json("presets", "show", "my-v3.toml")["num_moe_layers"] == 58
    assert run("presets", "import", src, "--name", "my-v3", code=2) == (
        "Error: --output my-v3.toml exists; pass --force to overwrite it\n"
    )


def test_import_to_output_and_bad_name(tmp_path: Path) -> None:
    target = tmp_path / "sub.toml"
    run("presets", "import", str(DATA / "jamba-v0.1.json"), "--name", "j", "--output", str(target))
    assert P.load(P.MODELS, str(target)).model.num_moe_layers == 16
    assert run("presets", "import", "x", "--name", "Bad Name", code=2) == (
        "Error: --name must be lower-case letters, digits, '.', '_' or '-'; got 'Bad Name'\n"
    )


def test_user_deployment_file(tmp_path: Path) -> None:
    text = (
        Path(__file__).resolve().parents[1] / "presets" / "deployments" / "deepseek-v3-prefill.toml"
    ).read_text()
    path = tmp_path / "mine.toml"
    path.write_text(
        text.replace("ep = 32", "ep = 16")
        .replace("edp = 1", "edp = 2")
        .replace('name = "deepseek-v3-prefill"', 'name = "mine"')
    )
    data = run_json("ep", "--deployment", str(path), "--tokens", "16")
    assert data["ep"] == 16
    assert run_json("presets", "show", str(path))["ep"] == 16
