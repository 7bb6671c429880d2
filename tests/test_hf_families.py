"""The config.json families of issue 13: each published fixture against its modeling code's rule,
the counted-key rule, class defaults, hybrid layer reports and one-line refusals."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moecomm import hf_config as hf
from moecomm.cli import cli
from moecomm.errors import MoecommError

DATA = Path(__file__).parent / "data" / "hf_configs"
FAMILIES = DATA / "families"
SYNTHETIC = DATA / "synthetic"
SOURCES = tomllib.loads((FAMILIES / "SOURCES.toml").read_text())

# Expected values, each from the rule of the family's transformers modeling code (v5.24):
# (family, num_layers, MoE layers, routed experts, top-k, shared experts, expert width,
#  shared width, layers by sequence mixer).
EXPECTED: dict[str, tuple[Any, ...]] = {
    # modeling_lfm2_moe.Lfm2MoeDecoderLayer: dense Lfm2MoeMLP iff layer_idx < num_dense_layers;
    # layer_types "conv" is a short convolution, other entries attention.
    "lfm2-8b-a1b-augment-multi-ft2": (
        "LFM2-MoE",
        24,
        tuple(range(2, 24)),
        32,
        4,
        0,
        1792,
        None,
        (("short conv", 18), ("attention", 6)),
    ),
    # modeling_aria.AriaTextDecoderLayer: every layer an AriaTextMoELayer; experts of
    # intermediate_size; AriaSharedExpertsMLP = intermediate_size x moe_num_shared_experts,
    # AriaTextConfig default moe_num_shared_experts = 2.
    "aria": ("Aria", 28, tuple(range(28)), 64, 6, 2, 1664, 3328, ()),
    # NemotronHConfig._pattern_to_list: M Mamba-2, E MoE, * attention, - MLP; NemotronHMoE adds
    # one shared MLP of moe_shared_expert_intermediate_size.
    "nvidia-nemotron-3-nano-30b-a3b": (
        "Nemotron-H",
        52,
        tuple(
            i
            for i, c in enumerate("MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME")
            if c == "E"
        ),
        128,
        6,
        1,
        1856,
        3712,
        (("Mamba", 23), ("attention", 6)),
    ),
    # modeling_granitemoe.GraniteMoeDecoderLayer: block_sparse_moe in every layer, no shared MLP.
    "granite-3.0-1b-a400m-base": ("GraniteMoE", 24, tuple(range(24)), 32, 8, 0, 512, None, ()),
    # modeling_dots1.Dots1DecoderLayer: MoE iff layer_idx >= first_k_dense_replace; shared block
    # Dots1MLP(moe_intermediate_size * n_shared_experts).
    "dots.llm1.base": (
        "DeepSeek/Kimi/GLM",
        62,
        tuple(range(1, 62)),
        128,
        6,
        2,
        1408,
        2816,
        (),
    ),
    # modeling_bailing_moe.BailingMoeDecoderLayer: MoE iff layer_id >= first_k_dense_replace;
    # shared BailingMoeMLP(moe_intermediate_size * num_shared_experts).
    "ling-coder-lite": ("Ling (bailing_moe)", 28, tuple(range(28)), 64, 6, 2, 1408, 2816, ()),
    # modeling_glm4_moe.Glm4MoeDecoderLayer: MoE iff layer_idx >= first_k_dense_replace; the
    # num_nextn_predict_layers MTP layer is not a decoder layer.
    "intellect-3": ("DeepSeek/Kimi/GLM", 46, tuple(range(1, 46)), 128, 8, 1, 1408, 1408, ()),
    # modeling_afmoe.AfmoeDecoderLayer: MoE iff layer_idx >= num_dense_layers; shared
    # AfmoeMLP(moe_intermediate_size * num_shared_experts).
    "tiny-random-trinity": ("Trinity (afmoe)", 4, (2, 3), 4, 2, 1, 16, 16, ()),
    # modeling_qwen3_next.Qwen3NextDecoderLayer: MoE iff not in mlp_only_layers and
    # (i + 1) % decoder_sparse_step == 0; Qwen3NextSparseMoeBlock always has a shared expert.
    "qwen3-next-tiny-test": (
        "Qwen3-Next",
        10,
        tuple(range(10)),
        4,
        2,
        1,
        256,
        256,
        (("linear attention", 8), ("attention", 2)),
    ),
}

EXPECTED_SYNTHETIC: dict[str, tuple[Any, ...]] = {
    # GraniteMoeHybridDecoderLayer: block_sparse_moe and shared_mlp on Mamba and attention
    # layers alike.
    "granite-4.0-h-tiny": (
        "GraniteMoE",
        40,
        tuple(range(40)),
        64,
        6,
        1,
        512,
        1024,
        (("Mamba", 36), ("attention", 4)),
    ),
    # MiniMaxM2SparseMoeBlock in every layer; experts of intermediate_size (not
    # mlp_intermediate_size).
    "minimax-m2": ("MiniMax-M2", 62, tuple(range(62)), 256, 8, 0, 1536, None, ()),
    # Qwen3VLMoeTextDecoderLayer: the Qwen3-MoE rule, read from text_config.
    "qwen3-vl-30b-a3b": (
        "Qwen2/Qwen3 MoE/OLMoE",
        48,
        tuple(range(48)),
        128,
        8,
        0,
        768,
        None,
        (),
    ),
}


def shape(read: hf.HFModel) -> tuple[Any, ...]:
    m = read.model
    return (
        read.family,
        m.num_layers,
        m.moe_layers,
        m.num_experts,
        m.top_k,
        m.num_shared_experts,
        m.moe_intermediate_size,
        m.shared_expert_intermediate_size,
        read.mixers,
    )


def test_every_family_fixture_has_a_source_with_repository_and_revision() -> None:
    stems = {p.stem for p in FAMILIES.glob("*.json")}
    assert stems == set(SOURCES) == set(EXPECTED)
    for stem, entry in SOURCES.items():
        assert entry["source"].startswith("https://huggingface.co/"), stem
        assert entry["repository"] in entry["source"], stem
        assert entry["revision"] and entry["notes"], stem
        assert "_synthetic" not in json.loads((FAMILIES / f"{stem}.json").read_text())


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_published_family_fixture_read_by_its_modeling_rule(stem: str) -> None:
    assert shape(hf.read(FAMILIES / f"{stem}.json")) == EXPECTED[stem]


@pytest.mark.parametrize("stem", sorted(EXPECTED_SYNTHETIC))
def test_synthetic_family_fixture_read_by_its_modeling_rule(stem: str) -> None:
    assert shape(hf.read(SYNTHETIC / f"{stem}.json")) == EXPECTED_SYNTHETIC[stem]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_lfm2_dense_layers_come_first() -> None:
    read = hf.read(FAMILIES / "lfm2-8b-a1b-augment-multi-ft2.json")
    m = read.model
    assert (m.num_moe_layers, m.first_moe_layer, m.intermediate_size) == (22, 2, 7168)
    assert read.notes == (
        "layers by sequence mixer: 18 short conv, 6 attention (mixers move no EP traffic)",
    )
    config = load(FAMILIES / "lfm2-8b-a1b-augment-multi-ft2.json")
    del config["num_dense_layers"]
    defaulted = hf.parse(config, "l.json")
    assert defaulted.model.num_moe_layers == 22
    assert defaulted.defaults == (
        "num_dense_layers absent: 2 (transformers Lfm2MoeConfig default)",
    )


def test_granite_hybrid_shared_mlp_and_mamba_layers() -> None:
    read = hf.read(SYNTHETIC / "granite-4.0-h-tiny.json")
    assert (read.attention_layers, read.mamba_layers) == (4, 36)
    config = load(SYNTHETIC / "granite-4.0-h-tiny.json")
    del config["shared_intermediate_size"], config["layer_types"]
    defaulted = hf.parse(config, "g.json")
    assert defaulted.model.shared_expert_intermediate_size == 1024
    assert defaulted.mixers == (("Mamba", 40),)
    assert defaulted.defaults == (
        "layer_types absent: every layer Mamba (transformers GraniteMoeHybridConfig default)",
        "shared_intermediate_size absent: 1024 (transformers GraniteMoeHybridConfig default)",
    )


def test_granite_dense_and_granitemoe_shared_mlp_refused() -> None:
    config = load(SYNTHETIC / "granite-4.0-h-tiny.json") | {"num_local_experts": 0}
    with pytest.raises(MoecommError, match=r"^g.json: num_local_experts is 0: a dense model"):
        hf.parse(config, "g.json")
    config = load(FAMILIES / "granite-3.0-1b-a400m-base.json") | {"shared_intermediate_size": 64}
    with pytest.raises(MoecommError, match="GraniteMoe builds no shared MLP"):
        hf.parse(config, "g.json")
    shared = hf.parse(config | {"model_type": "granitemoeshared"}, "g.json").model
    assert (shared.num_shared_experts, shared.shared_expert_intermediate_size) == (1, 64)


def test_nemotron_pattern_checks() -> None:
    config = load(FAMILIES / "nvidia-nemotron-3-nano-30b-a3b.json")
    with pytest.raises(MoecommError) as err:
        hf.parse(config | {"num_hidden_layers": 50}, "n.json")
    assert str(err.value) == "n.json: num_hidden_layers = 50 but the block pattern has 52 blocks"
    with pytest.raises(MoecommError, match="moe_latent_size = 1024: latent MoE"):
        hf.parse(config | {"moe_latent_size": 1024}, "n.json")
    with pytest.raises(MoecommError, match="no layer of 4 is an MoE layer"):
        hf.parse(config | {"hybrid_override_pattern": "M*-M", "num_hidden_layers": 4}, "n.json")
    listed = ["mamba", "moe", "attention", "mlp"]
    with pytest.raises(MoecommError) as err:
        hf.parse(config | {"layers_block_type": listed}, "n.json")
    assert str(err.value) == "n.json: hybrid_override_pattern and layers_block_type disagree"
    del config["hybrid_override_pattern"]
    m = hf.parse(config | {"layers_block_type": listed, "num_hidden_layers": 4}, "n.json")
    assert (m.model.moe_layers, m.model.intermediate_size, m.mixers) == (
        (1,),
        1856,
        (("Mamba", 1), ("attention", 1)),
    )


def test_aria_defaults_shown_in_presets_show() -> None:
    result = CliRunner().invoke(
        cli, ["presets", "show", "--hf-config", str(FAMILIES / "aria.json"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["notes"] == (
        "Read by moecomm from the Aria key family. Defaults (config class values for absent "
        "keys): text_config.moe_num_shared_experts absent: 2 (transformers AriaTextConfig "
        "default)."
    )


def test_aria_expert_width_keys_must_agree() -> None:
    config = load(FAMILIES / "aria.json")
    config["text_config"]["intermediate_size"] = 13568
    with pytest.raises(MoecommError) as err:
        hf.parse(config, "a.json")
    assert str(err.value) == (
        "a.json: text_config.intermediate_size = 13568, text_config.moe_intermediate_size = 1664 "
        "disagree; they must be equal"
    )


def test_aria_remote_code_takes_moe_intermediate_size() -> None:
    config = load(FAMILIES / "aria.json")
    config["text_config"] |= {"model_type": "aria_moe_lm", "intermediate_size": 13568}
    m = hf.parse(config, "a.json").model
    assert (m.moe_intermediate_size, m.shared_expert_intermediate_size) == (1664, 3328)


def test_qwen3_next_sparse_step_and_attention_interval() -> None:
    config = load(FAMILIES / "qwen3-next-tiny-test.json")
    del config["layer_types"]
    config |= {"decoder_sparse_step": 2, "full_attention_interval": 2}
    read = hf.parse(config, "q.json")
    assert read.model.moe_layers == (1, 3, 5, 7, 9)
    assert read.model.intermediate_size == 2048
    assert read.mixers == (("linear attention", 5), ("attention", 5))


def test_qwen3_vl_reads_text_config() -> None:
    read = hf.read(SYNTHETIC / "qwen3-vl-30b-a3b.json")
    assert (read.model_type, read.model.hidden_size) == ("qwen3_vl_moe_text", 2048)


def test_nested_language_model_parts() -> None:
    text = load(DATA / "qwen3-30b-a3b.json")
    plain = hf.parse(text, "q.json").model
    omni = {"model_type": "qwen3_omni_moe", "thinker_config": {"text_config": text}}
    assert hf.parse(omni, "o.json").model == plain
    assert hf.parse({"llm_config": text}, "i.json").model == plain
    with pytest.raises(MoecommError, match=r"^l.json: language_config.num_experts_per_tok is"):
        hf.parse(
            {"language_config": {k: v for k, v in text.items() if k != "num_experts_per_tok"}},
            "l.json",
        )


def test_minimax_m2_expert_width_and_no_shared_expert() -> None:
    m = hf.read(SYNTHETIC / "minimax-m2.json").model
    assert (m.moe_intermediate_size, m.intermediate_size) == (1536, None)
    assert (m.native_dtype, m.quant_block_size) == ("fp8", 128)
    config = load(SYNTHETIC / "minimax-m2.json") | {"shared_intermediate_size": 1536}
    with pytest.raises(MoecommError, match="shared_intermediate_size = 1536 asks for a shared"):
        hf.parse(config, "m.json")
    config = load(SYNTHETIC / "minimax-m2.json") | {"attn_type_list": [0, 1] * 31}
    assert hf.parse(config, "m.json").mixers == (("linear attention", 31), ("attention", 31))


def test_switch_sparse_layers_per_stack_from_num_sparse_layers() -> None:
    config = load(SYNTHETIC / "switch-base-128.json")
    del config["encoder_sparse_step"], config["decoder_sparse_step"]
    config |= {"num_sparse_encoder_layers": 6, "num_sparse_decoder_layers": 3}
    read = hf.parse(config, "s.json")
    # SwitchTransformersConfig: step = 12 // 6 = 2 (encoder) and 12 // 3 = 4 (decoder); a block
    # is sparse iff i % step == 1. Layers are counted over both stacks, encoder first.
    assert read.model.moe_layers == (1, 3, 5, 7, 9, 11, 13, 17, 21)
    assert (
        read.notes[1]
        == "layers counted over both stacks, encoder first: 0..11 encoder, 12..23 decoder"
    )
    with pytest.raises(MoecommError, match="encoder_sparse_step = 4 disagrees"):
        hf.parse(config | {"encoder_sparse_step": 4}, "s.json")
    with pytest.raises(MoecommError, match="num_selected_experts = 2"):
        hf.parse(config | {"num_selected_experts": 2}, "s.json")


# --- the counted-key rule --------------------------------------------------------------------


def refusal(path: Path) -> str:
    result = CliRunner().invoke(cli, ["ep", "--hf-config", str(path), "--tokens", "8", "--ep", "8"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    return result.stderr


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def test_unknown_family_names_file_model_type_and_first_unread_key(tmp_path: Path) -> None:
    config = load(FAMILIES / "ling-coder-lite.json") | {"model_type": "ling_next"}
    path = write(tmp_path, config)
    assert refusal(path) == (
        f"Error: {path}: model_type 'ling_next' (BailingMoeForCausalLM) is not a known MoE family: "
        "first_k_dense_replace changes a counted quantity and the Qwen2/Qwen3 MoE/OLMoE key "
        "family does not read it; to add a family see docs/presets.md (Adding a key family)\n"
    )


def test_known_family_with_an_unread_counted_key_is_refused(tmp_path: Path) -> None:
    config = load(DATA / "qwen3-30b-a3b.json") | {"num_dense_layers": 3}
    path = write(tmp_path, config)
    assert refusal(path) == (
        f"Error: {path}: num_dense_layers changes a counted quantity and the Qwen2/Qwen3 "
        "MoE/OLMoE reader does not read it (model_type 'qwen3_moe' (Qwen3MoeForCausalLM)); "
        "to add a family see docs/presets.md (Adding a key family)\n"
    )


def test_unknown_model_type_whose_every_counted_key_is_read() -> None:
    config = load(DATA / "mixtral-8x7b.json") | {"model_type": "mixtral_fork"}
    read = hf.parse(config, "x.json")
    assert read.model == hf.read(DATA / "mixtral-8x7b.json").model
    assert read.notes == (
        "model_type 'mixtral_fork' (MixtralForCausalLM) is read with the "
        "Mixtral/Phi-MoE/gpt-oss/MiniMax key family's rule (every counted key in the file is "
        "one that family reads)",
    )


def test_unknown_model_type_missing_key_says_so(tmp_path: Path) -> None:
    config = {"model_type": "newmoe", "num_experts": 8, "hidden_size": 64}
    path = write(tmp_path, config)
    assert refusal(path) == (
        f"Error: {path}: num_hidden_layers is missing; the Qwen2/Qwen3 MoE/OLMoE key family "
        "needs it (model_type 'newmoe' is not a known MoE family; to add a family see "
        "docs/presets.md (Adding a key family))\n"
    )


def test_transformers5_mlp_layer_types_must_agree() -> None:
    config = load(DATA / "deepseek-v3.json")
    config["mlp_layer_types"] = ["dense"] * 3 + ["sparse"] * 58
    assert hf.parse(config, "d.json").model.num_moe_layers == 58
    config["mlp_layer_types"] = ["dense"] * 4 + ["sparse"] * 57
    with pytest.raises(MoecommError, match="mlp_layer_types disagrees with first_k_dense_replace"):
        hf.parse(config, "d.json")


@pytest.mark.parametrize(
    "change",
    [
        {"layer_types": "conv"},
        {"layer_types": ["conv"] * 24},
        {"num_experts": 2.5},
        {"num_dense_layers": True},
    ],
    ids=["not-a-list", "wrong-length", "float", "bool"],
)
def test_malformed_values_are_one_line_refusals(tmp_path: Path, change: dict[str, Any]) -> None:
    config = load(FAMILIES / "lfm2-8b-a1b-augment-multi-ft2.json") | change
    if change.get("layer_types") == ["conv"] * 24:
        config["num_hidden_layers"] = 20
    path = write(tmp_path, config)
    assert refusal(path).startswith(f"Error: {path}: ")
