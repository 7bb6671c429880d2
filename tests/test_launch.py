"""Outputs for decisions: plan's JSON envelope, step's layout and dtypes, launch flags, and plan,
step and ep agreeing to the byte on one layout and wire format."""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import ok, ok_json

import moecomm
from moecomm.launch import flags, megatron, sglang, vllm


def test_plan_json_is_an_object_with_inputs_conventions_and_candidates() -> None:
    out = ok_json(
        "plan", "--preset", "gpt-oss-120b", "--gpus", "8", "--hardware", "h100-sxm",
        "--phase", "decode", "--concurrency", "64", "--context", "8192",
    )  # fmt: skip
    assert sorted(out) == ["candidates", "conventions", "inputs"]
    assert out["inputs"]["model"] == "gpt-oss-120b"
    assert out["inputs"]["phase"] == "decode"
    assert out["inputs"]["concurrency"] == 64 and out["inputs"]["context"] == 8192
    assert out["inputs"]["tokens_per_gpu"] is None
    assert "tokens the whole job processes" in out["conventions"]["comm_seconds_per_token"]
    # 64 requests over 8 GPUs: 8 per GPU, tp of them per attention group, 8192 tokens each
    per_token = 2 * 8 * 64 * 2 * 36  # gpt-oss-120b GQA: 8 kv heads of 64, 36 layers
    for c in out["candidates"]:
        heads = max(1, 8 // c["tp"])
        assert c["kv_cache_bytes"] == 8 * c["tp"] * 8192 * per_token * heads // 8


def test_step_json_carries_layout_dtypes_and_launch_flags() -> None:
    out = ok_json("step", "--deployment", "deepseek-v3-decode", "--tokens", "32")
    assert out["layout"] == {
        "tp": 4, "cp": 1, "pp": 1, "ep": 320, "etp": 1, "dp": 80, "edp": 1,
        "derived": [], "sequence_parallel": True,
    }  # fmt: skip
    assert out["dtypes"] == {
        "dispatch": "fp8",
        "dispatch_bytes_per_element": "463/448",
        "combine": "bf16",
        "combine_bytes_per_element": 2,
        "activations": "bf16",
        "gradients": None,
        "weights": "fp8",
        "expert_weights": "fp8",
        "weight_bytes_per_element": {"experts": "4097/4096", "other": "4097/4096", "vocabulary": 2},
        "kv_cache": "bf16",
    }
    assert out["launch"]["sglang"] == (
        "--tp-size 320 --dp-size 80 --enable-dp-attention --ep-size 320 --moe-a2a-backend deepep "
        "--ep-num-redundant-experts 64 --nnodes 40"
    )


def test_deepseek_estimate_rows_say_whose_figures() -> None:
    """The deployment's 7408 B copies at 40 GB/s give 156.56 µs; DeepSeek published 120.96 µs."""
    out = ok_json("step", "--deployment", "deepseek-v3-decode", "--tokens", "32")
    # 32 tokens · 9 selections · (7408 + 14336) B / 40 GB/s = 156.5568 µs
    assert out["decode_layer_seconds_estimate"] == pytest.approx(156.5568e-6, rel=1e-12)
    assert out["decode_layer_seconds_published"] == pytest.approx(120.96e-6, rel=1e-12)
    text = ok(
        "step", "--deployment", "deepseek-v3-decode", "--tokens", "32", "--format", "markdown"
    )
    assert "DeepSeek's published figure per layer (1+2 B, T 32, k 9, h 7K, 50 GB/s)" in text
    assert "DeepSeek's formula (β_d+β_c)·T·k·h/B_out per layer, at this step's inputs" in text


def test_megatron_flags() -> None:
    assert megatron(61, 1, 64, 1, 16, phase="train", recompute="selective") == (
        "--tensor-model-parallel-size 1 --pipeline-model-parallel-size 16 "
        "--expert-model-parallel-size 64 --expert-tensor-parallel-size 1 "
        "--decoder-first-pipeline-num-layers 2 --decoder-last-pipeline-num-layers 3 "
        "--use-distributed-optimizer --recompute-granularity selective"
    )
    assert megatron(94, 4, 8, 1, 2, phase="prefill") == (
        "--tensor-model-parallel-size 4 --pipeline-model-parallel-size 2 "
        "--expert-model-parallel-size 8 --expert-tensor-parallel-size 1 --sequence-parallel"
    )


def test_sglang_and_vllm_flags() -> None:
    assert sglang(1, 32, 32, 1, 1, phase="prefill", gpus_per_node=8, redundant=32) == (
        "--tp-size 32 --dp-size 32 --enable-dp-attention --ep-size 32 --moe-a2a-backend deepep "
        "--ep-num-redundant-experts 32 --nnodes 4"
    )
    assert sglang(8, 1, 1, 1, 1, phase="decode", gpus_per_node=8) == "--tp-size 8"
    assert sglang(1, 8, 4, 2, 1, phase="decode", gpus_per_node=8).startswith("n/a: SGLang")
    assert vllm(1, 8, 8, 1, 1, phase="decode") == (
        "--tensor-parallel-size 1 --data-parallel-size 8 --enable-expert-parallel"
    )
    assert vllm(8, 1, 1, 8, 1, phase="decode") == "--tensor-parallel-size 8"
    assert vllm(2, 4, 4, 2, 1, phase="decode").startswith("n/a: vLLM")
    assert flags(61, (1, 8, 8, 1, 1, 1), phase="train", gpus_per_node=8)["vllm"].startswith("n/a")


def test_plan_launch_lists_the_flags_of_every_row() -> None:
    out = ok_json(
        "plan", "--preset", "mixtral-8x7b", "--gpus", "8", "--hardware", "h100-sxm",
        "--phase", "decode", "--launch", "vllm",
    )  # fmt: skip
    assert out["inputs"]["launch"] == "vllm"
    for row in out["candidates"]:
        assert row["flags"] == row["launch"]["vllm"]
        assert set(row["launch"]) == {"megatron", "sglang", "vllm"}


@pytest.mark.parametrize("phase", ["train", "prefill", "decode"])
def test_plan_step_and_ep_agree_to_the_byte(phase: str) -> None:
    """The top layouts of plan, timed and sized again by step and ep, give the same numbers."""
    wire = {"dispatch_dtype": "fp8", "scale_block": 128}
    report = moecomm.plan(
        preset="deepseek-v3", gpus=32, hardware="h800", phase=phase, redundant_experts=32, **wire
    )
    tokens = 128 if phase == "decode" else 4096
    for one in report.result[:5]:
        sizes = {k: getattr(one, k) for k in ("tp", "dp", "ep", "edp", "etp", "pp")}
        step = moecomm.step(
            preset="deepseek-v3",
            hardware="h800",
            phase=phase,
            tokens=tokens,
            redundant_experts=32,
            **sizes,
            **wire,
        ).result
        for item in ("weight_bytes", "activation_bytes", "memory_bytes_per_gpu"):
            assert getattr(step, item) == getattr(one, item), item
        if phase == "train":
            assert step.gradient_bytes == one.gradient_bytes
            assert step.optimizer_bytes == one.optimizer_bytes
            assert step.recompute == one.recompute
        else:
            assert step.kv_cache_bytes == one.kv_cache_bytes
        assert step.ep_seconds_per_step == pytest.approx(one.ep_seconds_per_step, rel=1e-12)
        ep = moecomm.ep(preset="deepseek-v3", tokens=tokens, ep=one.ep, **wire).result
        assert ep.dispatch_copy_bytes == 7168 + 7168 // 128 * 4  # FP8 + one fp32 per 128
        assert Fraction(ep.dispatch_copy_bytes, 7168) == Fraction(1) + Fraction(4, 128)


def test_step_and_ep_agree_under_node_dedup() -> None:
    """DeepEP normal kernels: one network copy per (token, node); step times what ep counts."""
    wire = {"dispatch_dtype": "fp8", "scale_block": 128}
    ep = moecomm.ep(
        preset="deepseek-v3", tokens=4096, ep=32, dedup="node", hardware="h800", **wire
    ).result
    step = moecomm.step(
        preset="deepseek-v3", hardware="h800", phase="prefill", tokens=4096, ep=32, dp=32,
        dedup="node", **wire,
    ).result  # fmt: skip
    assert step.dispatch_seconds_per_layer == pytest.approx(ep.dispatch_seconds, rel=1e-12)
    assert step.combine_seconds_per_layer == pytest.approx(ep.combine_seconds, rel=1e-12)
    copies = moecomm.step(
        preset="deepseek-v3", hardware="h800", phase="prefill", tokens=4096, ep=32, dp=32, **wire
    ).result
    assert copies.dispatch_seconds_per_layer > 2 * step.dispatch_seconds_per_layer
