"""Reading Hugging Face config.json files: every key family, against the presets, and every refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moecomm import hf_config as hf
from moecomm import presets as P
from moecomm.cli import cli
from moecomm.errors import MoecommError

DATA = Path(__file__).parent / "data" / "hf_configs"
PUBLISHED = sorted(DATA.glob("*.json"))
SYNTHETIC = sorted((DATA / "synthetic").glob("*.json"))
FAMILY_FIXTURES = sorted((DATA / "families").glob("*.json"))
ISSUE_KEYS = (
    "hidden_size",
    "num_layers",
    "num_moe_layers",
    "num_experts",
    "num_shared_experts",
    "top_k",
    "moe_intermediate_size",
)
WITH_PRESET = [p for p in PUBLISHED + SYNTHETIC if p.stem in P.names(P.MODELS)]


def show_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["presets", "show", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_fixtures_cover_twenty_models_and_every_family() -> None:
    assert len(PUBLISHED) == 10
    assert len(WITH_PRESET) == 22
    families = {hf.read(p).family for p in PUBLISHED + SYNTHETIC + FAMILY_FIXTURES}
    assert families == {family.name for family in hf.FAMILIES}


def test_synthetic_fixtures_say_so() -> None:
    for path in SYNTHETIC:
        assert json.loads(path.read_text())["_synthetic"].startswith("SYNTHETIC, not a published")
    for path in PUBLISHED:
        assert "_synthetic" not in json.loads(path.read_text())


@pytest.mark.parametrize("path", WITH_PRESET, ids=lambda p: p.stem)
def test_config_json_equals_its_preset_on_the_issue_keys(path: Path) -> None:
    read = show_json("--hf-config", str(path))
    preset = show_json(path.stem)
    assert {k: read[k] for k in ISSUE_KEYS} == {k: preset[k] for k in ISSUE_KEYS}
    assert read["moe_layers"] == preset["moe_layers"]
    assert read["source"] == str(path)


@pytest.mark.parametrize("path", [p for p in PUBLISHED], ids=lambda p: p.stem)
def test_published_config_equals_its_preset_on_every_shape_field(path: Path) -> None:
    read = hf.read(path).model
    preset = P.load(P.MODELS, path.stem).model
    assert read == preset


def test_folder_holding_config_json(tmp_path: Path) -> None:
    (tmp_path / "Mixtral").mkdir()
    src = (DATA / "mixtral-8x7b.json").read_text()
    (tmp_path / "Mixtral" / "config.json").write_text(src)
    data = show_json("--hf-config", str(tmp_path / "Mixtral"))
    assert data["name"] == "Mixtral"
    assert data["source"] == str(tmp_path / "Mixtral" / "config.json")
    assert data["notes"] == "Read by moecomm from the Mixtral/Phi-MoE/gpt-oss/MiniMax key family."


def test_deepseek_family_fields() -> None:
    m = hf.read(DATA / "deepseek-v3.json").model
    assert (m.first_moe_layer, m.moe_layer_step, m.non_moe_layers) == (3, 1, ())
    assert (m.n_group, m.topk_group, m.native_dtype, m.quant_block_size) == (8, 4, "fp8", 128)
    assert m.shared_expert_intermediate_size == 2048
    lite = hf.read(DATA / "synthetic" / "deepseek-v2-lite.json").model
    assert (lite.n_group, lite.topk_group) == (None, None)  # n_group 1: no group limit


def test_glm_without_moe_layer_freq_records_the_default() -> None:
    read = hf.read(DATA / "synthetic" / "glm-4.5.json")
    assert read.model.num_moe_layers == 89
    assert read.notes == ("moe_layer_freq absent: 1 (transformers default)",)


def test_llama4_nested_text_config_and_interleave_step() -> None:
    maverick = hf.read(DATA / "synthetic" / "llama-4-maverick.json").model
    assert maverick.moe_layers == tuple(range(1, 48, 2))
    assert (maverick.num_shared_experts, maverick.shared_expert_intermediate_size) == (1, 8192)
    assert maverick.intermediate_size == 16384


def test_llama4_explicit_moe_layers_win() -> None:
    config = json.loads((DATA / "synthetic" / "llama-4-scout.json").read_text())
    config["text_config"]["moe_layers"] = [3, 7, 11, 47]
    m = hf.parse(config, "x.json").model
    assert m.moe_layers == (3, 7, 11, 47)
    assert (m.first_moe_layer, m.moe_layer_step) == (3, 4)
    assert m.non_moe_layers == tuple(range(15, 47, 4))


def test_qwen_sparse_step_and_mlp_only_layers() -> None:
    config = json.loads((DATA / "qwen3-30b-a3b.json").read_text())
    config |= {"decoder_sparse_step": 2, "mlp_only_layers": [5, 9]}
    m = hf.parse(config, "x.json").model
    expected = tuple(i for i in range(48) if (i + 1) % 2 == 0 and i not in (5, 9))
    assert m.moe_layers == expected
    assert (m.first_moe_layer, m.moe_layer_step, m.non_moe_layers) == (1, 2, (5, 9))


def test_qwen_shared_expert() -> None:
    m = hf.read(DATA / "qwen2-57b-a14b.json").model
    assert (m.num_shared_experts, m.shared_expert_intermediate_size) == (1, 20480)


def test_olmoe_expert_width_is_intermediate_size() -> None:
    m = hf.read(DATA / "olmoe-1b-7b.json").model
    assert (m.moe_intermediate_size, m.intermediate_size) == (1024, None)


def test_dbrx_nested_ffn_config() -> None:
    m = hf.read(DATA / "synthetic" / "dbrx.json").model
    assert (m.hidden_size, m.num_experts, m.top_k, m.moe_intermediate_size) == (6144, 16, 4, 10752)
    assert (m.num_attention_heads, m.num_key_value_heads) == (48, 8)


def test_jamba_period_and_offset() -> None:
    m = hf.read(DATA / "jamba-v0.1.json").model
    assert m.moe_layers == tuple(range(1, 32, 2))


def test_gpt_oss_experts_per_token_must_agree() -> None:
    config = json.loads((DATA / "gpt-oss-20b.json").read_text())
    config["experts_per_token"] = 2
    with pytest.raises(MoecommError) as err:
        hf.parse(config, "g.json")
    assert (
        str(err.value)
        == "g.json: num_experts_per_tok = 4, experts_per_token = 2 disagree; they must be equal"
    )


def test_ernie_start_index_and_interval() -> None:
    read = hf.read(DATA / "synthetic" / "ernie-4.5-21b-a3b.json")
    m = read.model
    assert (m.num_experts, m.top_k, m.num_shared_experts) == (64, 6, 2)
    assert (m.num_layers, m.num_moe_layers, m.first_moe_layer) == (28, 27, 1)
    assert m.shared_expert_intermediate_size == 2 * 1536
    config = json.loads((DATA / "synthetic" / "ernie-4.5-21b-a3b.json").read_text())
    config |= {"moe_layer_interval": 2, "moe_layer_start_index": 4, "moe_layer_end_index": 20}
    m = hf.parse(config, "e.json").model
    assert m.moe_layers == (5, 7, 9, 11, 13, 15, 17, 19)


def test_hunyuan_per_layer_lists() -> None:
    m = hf.read(DATA / "synthetic" / "hunyuan-a13b.json").model
    assert (m.num_experts, m.top_k, m.num_shared_experts, m.moe_intermediate_size) == (
        64,
        8,
        1,
        3072,
    )
    assert m.num_moe_layers == 32
    config = json.loads((DATA / "synthetic" / "hunyuan-a13b.json").read_text())
    config["moe_topk"] = [8] * 31 + [4]
    with pytest.raises(MoecommError) as err:
        hf.parse(config, "h.json")
    assert str(err.value) == "h.json: moe_topk must be the same for every layer; got [4, 8]"


def test_switch_encoder_and_decoder_steps() -> None:
    read = hf.read(DATA / "synthetic" / "switch-base-128.json")
    assert read.model.moe_layers == tuple(range(1, 24, 2))
    assert read.notes[0] == "Switch routing is top-1 by design (SwitchTransformersTop1Router)"
    config = json.loads((DATA / "synthetic" / "switch-base-128.json").read_text())
    config |= {"encoder_sparse_step": 4, "decoder_sparse_step": 1}
    m = hf.parse(config, "s.json").model
    assert m.moe_layers == (1, 5, 9, *range(12, 24))


# --- refusals: exit code 2 and a message naming the file --------------------------------------


def refusal(path: Path | str) -> str:
    result = CliRunner().invoke(cli, ["ep", "--hf-config", str(path), "--tokens", "8", "--ep", "8"])
    assert result.exit_code == 2
    assert result.stdout == ""
    return result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(text)
    return path


def test_malformed_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"hidden_size": 4096,\n "num_experts": }')
    assert refusal(path) == f"Error: {path}: not valid JSON: Expecting value at line 2 column 17\n"


def test_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "[1, 2]")
    assert refusal(path) == f"Error: {path}: a config.json must hold a JSON object; got list\n"


def test_dense_model(tmp_path: Path) -> None:
    dense = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32}
    path = write(tmp_path, json.dumps(dense))
    assert refusal(path) == (
        f"Error: {path}: model_type 'llama' is a dense model or an unknown MoE key family: "
        "none of n_routed_experts, num_local_experts, num_experts, moe_num_experts or "
        "ffn_config.moe_num_experts is present; to add a family see docs/presets.md "
        "(Adding a key family)\n"
    )


def test_dense_hunyuan(tmp_path: Path) -> None:
    config = {
        "model_type": "hunyuan",
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_experts": 1,
        "moe_topk": [1] * 32,
    }
    path = write(tmp_path, json.dumps(config))
    assert (
        refusal(path) == f"Error: {path}: num_experts is 1: a dense model has no expert traffic\n"
    )


def test_no_moe_layer(tmp_path: Path) -> None:
    config = json.loads((DATA / "deepseek-v3.json").read_text()) | {"first_k_dense_replace": 61}
    path = write(tmp_path, json.dumps(config))
    assert refusal(path) == (
        f"Error: {path}: no layer of 61 is an MoE layer: a dense model has no expert traffic\n"
    )


def test_missing_key(tmp_path: Path) -> None:
    config = json.loads((DATA / "mixtral-8x7b.json").read_text())
    del config["num_experts_per_tok"]
    path = write(tmp_path, json.dumps(config))
    assert refusal(path) == (
        f"Error: {path}: num_experts_per_tok or experts_per_token is missing; "
        "the Mixtral/Phi-MoE/gpt-oss/MiniMax key family needs it\n"
    )


def test_missing_nested_key(tmp_path: Path) -> None:
    config = json.loads((DATA / "synthetic" / "llama-4-scout.json").read_text())
    del config["text_config"]["hidden_size"]
    path = write(tmp_path, json.dumps(config))
    assert refusal(path) == (
        f"Error: {path}: text_config.hidden_size is missing; the Llama 4 key family needs it\n"
    )


def test_wrong_type(tmp_path: Path) -> None:
    config = json.loads((DATA / "synthetic" / "dbrx.json").read_text())
    config["ffn_config"]["moe_top_k"] = "4"
    path = write(tmp_path, json.dumps(config))
    assert (
        refusal(path)
        == f"Error: {path}: ffn_config.moe_top_k must be a positive integer; got '4'\n"
    )


def test_model_rule_broken(tmp_path: Path) -> None:
    config = json.loads((DATA / "mixtral-8x7b.json").read_text()) | {"num_experts_per_tok": 9}
    path = write(tmp_path, json.dumps(config))
    assert refusal(path) == (
        f"Error: {path}: top_k must be at most the number of routed experts (8); got 9\n"
    )


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nope") == f"Error: {tmp_path / 'nope'}: no such file or folder\n"
    assert refusal(tmp_path) == f"Error: {tmp_path}: the folder holds no config.json\n"


def test_preset_and_hf_config_together() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "tp",
            "--preset",
            "deepseek-v3",
            "--hf-config",
            str(DATA / "deepseek-v3.json"),
            "--tokens",
            "8",
            "--tp",
            "8",
        ],
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: give either --preset or --hf-config, not both\n",
    )


def test_mla_sizes_and_mxfp4_experts_are_read() -> None:
    """DeepSeek-V3's MLA sizes and gpt-oss's MXFP4 experts come from their config.json."""
    from pathlib import Path

    from moecomm import hf_config

    data = Path(__file__).parent / "data" / "hf_configs"
    v3 = hf_config.read(data / "deepseek-v3.json").model
    mla = (v3.q_lora_rank, v3.kv_lora_rank, v3.qk_rope_head_dim, v3.qk_nope_head_dim)
    assert mla == (1536, 512, 64, 128) and v3.v_head_dim == 128
    oss = hf_config.read(data / "gpt-oss-20b.json").model
    assert oss.expert_dtype == "mxfp4" and oss.native_dtype.value == "bf16"
