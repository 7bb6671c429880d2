"""Memory per GPU, item by item, against hand computations from the papers and configs."""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import ok_json, run

from moecomm import formulas as F
from moecomm import presets as P
from moecomm.config import MemoryOptions
from moecomm.memory import kv_bytes_per_token, memory, weight_dtype_bytes
from moecomm.step import exact


def model(name: str):  # type: ignore[no-untyped-def]
    return P.load(P.MODELS, name).model


def one_gpu(name: str, phase: str, sizes=(1, 1, 1, 1, 1, 1), tokens=1, **opts):  # type: ignore[no-untyped-def]
    return memory(
        model(name),
        phase,  # type: ignore[arg-type]
        tokens,
        sizes,
        MemoryOptions(**opts),
        redundant=0,
        device_bytes=80 * 10**9,
        ev=exact,
    )


def test_mla_kv_cache_of_deepseek_v3() -> None:
    """MLA caches kv_lora_rank + qk_rope_head_dim = 512 + 64 elements per token and layer."""
    assert kv_bytes_per_token(model("deepseek-v3")) == (512 + 64) * 2 * 61 == 70_272


@pytest.mark.parametrize(
    ("name", "per_token"),
    [
        ("qwen3-235b-a22b", 2 * 4 * 128 * 2 * 94),  # K and V, 4 kv heads of 128, bf16, 94 layers
        ("mixtral-8x7b", 2 * 8 * 128 * 2 * 32),  # 8 kv heads of 128, 32 layers: 128 KiB
        ("gpt-oss-120b", 2 * 8 * 64 * 2 * 36),  # 8 kv heads of 64, 36 layers
    ],
)
def test_gqa_kv_cache(name: str, per_token: int) -> None:
    assert kv_bytes_per_token(model(name)) == per_token


def test_gqa_kv_heads_sharded_then_replicated_by_tp() -> None:
    """Qwen3-235B has 4 kv heads: tp 2 holds 2 per rank, tp 8 replicates one per rank."""
    per_head = 2 * 128 * 2 * 94  # K and V of one head, bf16, 94 layers, per token
    for tp, heads in ((1, 4), (2, 2), (4, 1), (8, 1)):
        m = one_gpu("qwen3-235b-a22b", "decode", (tp, 1, tp, 1, 1, 1), tokens=1, context=1000)
        # an attention group of tp ranks holds T·tp = tp requests of 1000 tokens
        assert m.items["kv_cache"] == tp * 1000 * heads * per_head


def test_decode_kv_cache_through_step() -> None:
    """The issue's case: 128 requests of 4K context cost DeepSeek-V3 ~37 GB of MLA cache."""
    out = ok_json(
        "step", "--preset", "deepseek-v3", "--hardware", "h800", "--phase", "decode",
        "--tokens", "128", "--ep", "32", "--dp", "32", "--context", "4096",
    )  # fmt: skip
    assert out["kv_cache_bytes"] == 128 * 4096 * 70_272 == 36_842_766_336
    assert out["gradient_bytes"] is None and out["optimizer_bytes"] is None


def test_published_parameter_counts() -> None:
    """Whole-model parameters (ep = tp = pp = 1) against the published totals."""

    def params(name: str) -> int:
        return int(one_gpu(name, "train").items["gradients"] / 4)  # fp32 grads: 4 B per param

    assert round(params("deepseek-v3") / 1e9) == 671  # DeepSeek-V3 tech report: 671B
    assert round(params("gpt-oss-120b") / 1e8) == 1168  # OpenAI model card: 116.8B
    assert round(params("gpt-oss-20b") / 1e8) == 209  # OpenAI model card: 20.9B
    assert round(params("qwen3-235b-a22b") / 1e9) == 235
    assert round(params("mixtral-8x7b") / 1e8) == 467  # Mistral: 46.7B


def test_gpt_oss_120b_weights_in_mxfp4_fit_one_80gb_gpu() -> None:
    """Experts in MXFP4 (17/32 B: 4 bits + one E8M0 byte per 32), the rest in bf16."""
    experts = 36 * 128 * 3 * 2880 * 2880
    attention = 36 * 2880 * 64 * (2 * 64 + 2 * 8)
    router = 36 * 128 * 2880
    vocab = 2 * 201_088 * 2880
    want = experts * Fraction(17, 32) + (attention + router + vocab) * 2
    m = one_gpu("gpt-oss-120b", "decode")
    assert m.items["weights"] == want == 65_168_179_200
    assert weight_dtype_bytes(model("gpt-oss-120b"), "decode") == (Fraction(17, 32), 2, 2)
    out = ok_json(
        "step", "--preset", "gpt-oss-120b", "--hardware", "h100-sxm", "--phase", "decode",
        "--tokens", "1", "--context", "4096",
    )  # fmt: skip
    assert out["weight_bytes"] == want and out["fits"] is True


def test_fp8_block_scales_and_nvfp4() -> None:
    """DeepSeek-V3: 1 B + one fp32 per 128×128 block; NVFP4: 1/2 B + one E4M3 per 16."""
    assert weight_dtype_bytes(model("deepseek-v3"), "prefill") == (
        1 + Fraction(4, 16384),
        1 + Fraction(4, 16384),
        2,
    )
    nv = {"beta": Fraction(1, 2), "beta_s": 1, "N_blk": 16}
    assert F.value("weight_element_bytes", nv) == Fraction(9, 16)


def test_megatron_distributed_optimizer_bytes() -> None:
    """Megatron's 6 + 12/dp bytes per parameter: bf16 weights, fp32 grads, 12 B over dp / edp."""
    sizes = (1, 128, 64, 2, 1, 16)  # DeepSeek-V3 training: PP16, EP64, dp 128, edp 2
    m = one_gpu("deepseek-v3", "train", sizes, tokens=4096)
    grads = m.items["gradients"]
    assert m.items["weights"] * 2 == grads  # 2 B and 4 B per parameter
    total_params = grads / 4
    expert_params = Fraction(256, 64) * 3 * 7168 * 2048 * 4  # 4 MoE layers on the largest stage
    other = total_params - expert_params
    assert m.items["optimizer"] == 12 * expert_params / 2 + 12 * other / 128


def test_korthikanti_activations() -> None:
    """Table 2 of Korthikanti et al. 2022 with TP + SP: sbh/t·(34 + 5as/h) per layer.

    The paper's 4h GeLU MLP stores 16h per token; a gated MLP of width 8h/3 stores the same
    (6 · 8h/3), so the formula must reproduce the paper exactly there.
    """
    h, a, s, tokens = 3072, 24, 2048, 1000  # T = sb/t tokens per rank
    v = {"T": tokens, "h": h, "d_i": 8 * h // 3, "n_h": a, "s": s}
    none = F.value("dense_layer_activation_bytes", v | {"c_sc": 1})
    selective = F.value("dense_layer_activation_bytes", v | {"c_sc": 0})
    assert none == tokens * h * (34 + Fraction(5 * a * s, h))
    assert selective == 34 * tokens * h
    assert F.value("full_recompute_layer_bytes", {"T": tokens, "h": h}) == 2 * tokens * h


def test_1f1b_holds_pp_micro_batches_and_recompute_is_named() -> None:
    """Full recompute: each of the stage's layers keeps its input, for pp micro-batches."""
    out = ok_json(
        "step", "--preset", "deepseek-v3", "--hardware", "h800", "--phase", "train",
        "--pp", "16", "--ep", "64", "--dp", "128", "--tokens", "4096", "--recompute", "full",
    )  # fmt: skip
    assert out["recompute"] == "full"
    assert out["activation_bytes"] == 16 * 4 * 2 * 4096 * 7168  # pp · L_s · 2·T·h


def test_cheapest_recompute_that_fits_and_headroom_override() -> None:
    """Left out, recompute is the cheapest choice that fits: none, then selective, then full."""
    args = ("step", "--preset", "qwen3-30b-a3b", "--hardware", "h800", "--phase", "train")
    args += ("--ep", "8", "--dp", "32")

    def at(tokens: int, *more: str) -> dict[str, object]:
        out: dict[str, object] = ok_json(*args, "--tokens", str(tokens), *more)
        return out

    assert at(1024, "--recompute", "none")["fits"] is False  # 48 layers of attention scores
    assert at(1024)["recompute"] == "selective" and at(1024)["fits"] is True
    assert at(1024, "--recompute", "selective") == at(1024)
    assert at(8192, "--recompute", "selective")["fits"] is False
    assert at(8192)["recompute"] == "full" and at(8192)["fits"] is True
    assert at(256, "--seq", "1024")["recompute"] == "none"
    assert ok_json(*args, "--headroom", "0")["usable_bytes_per_gpu"] == 80 * 10**9
    assert ok_json(*args, "--headroom", "1/4")["usable_bytes_per_gpu"] == 60 * 10**9
    bad = run(*args, "--headroom", "1")
    assert bad.exit_code == 2 and bad.output == "Error: --headroom must be less than 1; got 1\n"


def test_plan_items_sum_to_the_total_and_count_the_kv_cache() -> None:
    """The issue's case: DeepSeek-V3 decode on 32 H800 now charges the MLA cache."""
    out = ok_json(
        "plan", "--preset", "deepseek-v3", "--gpus", "32", "--hardware", "h800", "--phase", "decode"
    )
    assert out["inputs"]["phase"] == "decode" and out["inputs"]["gpus"] == 32
    for c in out["candidates"]:
        items = ("weight_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes")
        total = sum(Fraction(c[k]) for k in (*items, "kv_cache_bytes"))
        assert Fraction(c["memory_bytes_per_gpu"]) == total
        assert c["kv_cache_bytes"] == 128 * c["tp"] * 4096 * 70_272
        assert c["fits"] is (total <= 72 * 10**9)


def test_mla_fields_come_together() -> None:
    bad = run(
        "step", "--hidden", "64", "--experts", "8", "--topk", "2", "--layers", "2",
        "--moe-intermediate", "64", "--hardware", "h800",
    )  # fmt: skip
    assert bad.exit_code == 0, bad.output
    from moecomm.config import MoEModel, build
    from moecomm.errors import MoecommError

    with pytest.raises(MoecommError) as err:
        build(MoEModel, {"hidden_size": 64, "num_experts": 8, "top_k": 2, "kv_lora_rank": 16})
    assert str(err.value) == "qk_rope_head_dim is required with kv_lora_rank (MLA attention)"


def test_dualpipe_keeps_two_copies_of_the_parameters() -> None:
    """DeepSeek-V3 Table 2: DualPipe holds 2x parameters and PP + 1 micro-batches in flight."""
    args = ("step", "--deployment", "deepseek-v3-train", "--tokens", "4096", "--recompute", "full")
    one = ok_json(*args)
    two = ok_json(*args, "--schedule", "dualpipe")
    assert two["weight_bytes"] == 2 * one["weight_bytes"]
    assert two["gradient_bytes"] == 2 * one["gradient_bytes"]
    assert two["optimizer_bytes"] == one["optimizer_bytes"]
    assert two["activation_bytes"] * 16 == one["activation_bytes"] * 17


def test_interleaved_schedule_holds_more_micro_batches() -> None:
    """Megatron's estimator: pp micro-batches × (1 + (pp − 1)/(pp·v)) under interleaving."""
    assert F.value("interleaved_in_flight", {"pp": 4, "v_pp": 2}) == Fraction(11, 2)
    args = (
        "step", "--preset", "mixtral-8x7b", "--hardware", "h100-sxm", "--phase", "train",
        "--pp", "4", "--ep", "8", "--dp", "16", "--tokens", "4096", "--recompute", "full",
    )  # fmt: skip
    plain = ok_json(*args)
    interleaved = ok_json(*args, "--schedule", "interleaved", "--vpp", "2")
    assert Fraction(interleaved["activation_bytes"]) * 4 == Fraction(
        plain["activation_bytes"]
    ) * Fraction(11, 2)


def test_schedule_and_recompute_counts_are_formulas() -> None:
    """DualPipe: PP + 1 micro-batches, two copies of weights and gradients (DeepSeek-V3 §3.2.1,
    Table 2); full recompute: one more forward pass, 4 passes instead of 3 (Korthikanti §4.2)."""
    assert F.value("dualpipe_in_flight", {"pp": 16}) == 17
    w = {"W_e": 10, "W_d": 3, "W_x": 1, "beta_e": 2, "beta_w": 2, "beta_x": 2}
    assert F.value("weight_bytes", w | {"c_w": 2}) == 2 * F.value("weight_bytes", w | {"c_w": 1})
    g = {"W_e": 10, "W_d": 3, "W_x": 1}
    assert F.value("gradient_bytes", g | {"c_w": 2}) == 2 * 4 * 14
    stage = {"tau": 1, "t_ac": 2, "t_dc": 3, "t": 5, "L": 4, "L_moe": 3, "pp": 1}
    plain = F.value("stage_compute_seconds", stage | {"r_f": 0})
    assert plain == 3 * (2 * 4 + 3 * 1 + 5 * 3)
    assert F.value("stage_compute_seconds", stage | {"r_f": 1}) == Fraction(4, 3) * plain
    assert F.value("stage_compute_seconds", stage | {"tau": 0, "r_f": 1}) == plain / 3
