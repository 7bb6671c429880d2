"""End-to-end step time: its parts add up, by hand; objectives and limits; published figures."""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import ok_json, run

from moecomm import formulas as F

STEP = ("step", "--preset", "qwen3-30b-a3b", "--hardware", "h100-sxm")


def test_attention_and_dense_flops_by_hand() -> None:
    """Qwen3-30B-A3B attention: 32 heads of 128, 4 kv heads; h 2048."""
    p_attn = 2048 * 128 * (2 * 32 + 2 * 4)
    v = {"P_attn": p_attn, "T": 1000, "n_h": 32, "d_qk": 128, "d_v": 128, "n_att": 2048}
    assert F.value("attention_flops", v) == 2 * p_attn * 1000 + 2 * 1000 * 32 * 256 * 2048
    assert F.value("dense_mlp_flops", {"h": 2048, "d_i": 6144, "T": 10}) == 6 * 2048 * 6144 * 10


def test_attention_scores_run_at_the_bf16_rate() -> None:
    """DeepSeek-V3 §3.3: FP8 GEMMs for the projections, BF16 attention operators for the scores.
    P_attn 10, T 3, 2 heads, d_qk 4, d_v 2, 5 keys: projections 2·10·3 = 60 FLOPs, scores
    2·3·2·(4 + 2)·5 = 360; at P 100, P_s 50, η 1/2: 60/50 + 360/25 = 15.6 s."""
    v = {"P_attn": 10, "T": 3, "n_h": 2, "d_qk": 4, "d_v": 2, "n_att": 5}
    assert F.value("attention_score_flops", v) == 360
    rate = {"P": 100, "P_s": 50, "eta_c": Fraction(1, 2)}
    assert F.value("attention_seconds", v | rate) == Fraction(156, 10)
    # one rate for both where the GEMMs are bf16 too: the FLOPs over the rate
    same = F.value("attention_seconds", v | rate | {"P_s": 100})
    assert same == Fraction(F.value("attention_flops", v), 50)


def test_decode_step_is_the_roofline_plus_exposed_communication() -> None:
    out = ok_json(*STEP, "--phase", "decode", "--tokens", "64", "--ep", "8", "--dp", "8")
    hbm = (out["weight_bytes"] + out["kv_cache_bytes"]) / 3.35e12  # H100 SXM HBM3
    assert out["hbm_seconds"] == pytest.approx(hbm, rel=1e-12)
    work = max(out["stage_compute_seconds"], out["hbm_seconds"])
    parts = work + out["exposed_ep_seconds_per_step"] + out["tp_seconds_per_step"]
    assert out["micro_batch_seconds"] == pytest.approx(parts + out["pp_seconds_per_step"])
    assert out["tpot_seconds"] == out["step_seconds"] == out["micro_batch_seconds"]
    assert out["tokens_per_second_per_gpu"] == pytest.approx(64 / out["step_seconds"])
    assert out["ttft_seconds"] is None


def test_overlap_rule() -> None:
    """Without overlap all of the EP all-to-all shows; with it, only what outlasts the compute."""
    args = (*STEP, "--phase", "prefill", "--tokens", "4096", "--ep", "8", "--dp", "8")
    hidden = ok_json(*args)
    shown = ok_json(*args, "--no-overlap")
    assert shown["exposed_ep_seconds_per_step"] == pytest.approx(shown["ep_seconds_per_step"])
    assert hidden["exposed_ep_seconds_per_step"] < shown["exposed_ep_seconds_per_step"]
    assert hidden["ttft_seconds"] == hidden["step_seconds"]


def test_dualpipe_overlaps_a_forward_and_a_backward_chunk() -> None:
    """DeepSeek-V3 §3.2.1: DualPipe overlaps a pair of forward and backward chunks, so both
    all-to-alls of a layer (forward and backward, 2·(t_d + t_c)) run under the forward and
    backward compute (3·(t_ac + t)). t_d 3, t_c 4, t_ac 1, t 1, 4 MoE layers over pp 2:
    DualPipe max(0, 14 − 6)·4/2 = 16; 1F1B (no overlap) 14·4/2 = 28; inference with the
    two-micro-batch overlap max(0, 7 − 2)·4/2 = 10."""
    v = {"t_d": 3, "t_c": 4, "t_ac": 1, "t": 1, "L_moe": 4, "pp": 2}
    assert F.value("exposed_ep_step_seconds", v | {"tau": 1, "o_v": 1}) == 16
    assert F.value("exposed_ep_step_seconds", v | {"tau": 1, "o_v": 0}) == 28
    assert F.value("exposed_ep_step_seconds", v | {"tau": 0, "o_v": 1}) == 10
    # all hidden once the compute of the pair outlasts both all-to-alls: 3·5 ≥ 2·7
    assert F.value("exposed_ep_step_seconds", v | {"tau": 1, "o_v": 1, "t": 4}) == 0


def test_training_dispatch_is_node_limited() -> None:
    """DeepSeek-V3 §3.2.2: each token reaches at most 4 nodes (n_group 8, topk_group 4; EP64 on
    8 nodes puts one group of 32 experts on each node). The 8 experts fall in the 4 chosen
    groups, so a node is hit with probability 4/8 · (1 − C(96, 8)/C(128, 8)); each rank sends
    one FP8 copy (7168 · 33/32 B) per token and remote node hit, over 40 GB/s."""
    from math import comb

    p = Fraction(4, 8) * (1 - Fraction(comb(96, 8), comb(128, 8)))
    inter = 4096 * 7 * p * 7168 * Fraction(33, 32)
    out = ok_json("step", "--deployment", "deepseek-v3-train", "--schedule", "dualpipe")
    assert out["tokens_per_rank"] == 4096
    # the wire time, plus a few latencies of µs (NVLink forwarding runs beside it)
    assert float(inter) / 40e9 < out["dispatch_seconds_per_layer"] < float(inter) / 40e9 + 20e-6
    unlimited = 1 - Fraction(comb(224, 8), comb(256, 8))  # 8 experts anywhere: 0.66 > 0.45
    assert p < Fraction(1, 2) < unlimited


def test_prefill_hides_tp_beside_the_all_to_all() -> None:
    """DeepSeek-V3 §3.4.1: prefill's two micro-batches hide 'all-to-all and TP communication'.
    5 layers, 4 of them MoE, pp 1; t_attn 1, t_moe 1/2, t_mlp 1; compute t_ac 1, t 1, t_dc 2.
    Without the overlap all TP shows: 1·5 + 1·1 + 1/2·4 = 8. With it, a MoE layer shows what TP
    adds beyond the all-to-all that outlasts its compute: t_d 3, t_c 4: max(0, 7 + 3/2 − 2)
    − max(0, 7 − 2) = 3/2, ×4 = 6; the dense layer's 1 + 1 hides under 1 + 2."""
    v = {"tau": 0, "t_d": 3, "t_c": 4, "t_ac": 1, "t": 1, "t_dc": 2, "t_attn": 1,
         "t_moe": Fraction(1, 2), "t_mlp": 1, "L": 5, "L_moe": 4, "pp": 1}  # fmt: skip
    assert F.value("exposed_tp_step_seconds", v | {"o_t": 0}) == 8
    assert F.value("exposed_tp_step_seconds", v | {"o_t": 1}) == 6
    # the all-to-all hidden (t_d = t_c = 1/2): 1 + 3/2 − 2 = 1/2 per MoE layer, ×4 = 2; a dense
    # layer with t_mlp 3 shows 1 + 3 − 3 = 1
    quick = v | {"t_d": Fraction(1, 2), "t_c": Fraction(1, 2), "t_mlp": 3, "o_t": 1}
    assert F.value("exposed_tp_step_seconds", quick) == 3


def test_prefill_step_adds_the_tp_left_exposed() -> None:
    args = (*STEP, "--phase", "prefill", "--tokens", "4096", "--tp", "2", "--ep", "4", "--dp", "2")
    out = ok_json(*args)
    work = max(out["stage_compute_seconds"], out["hbm_seconds"])
    shown = out["exposed_ep_seconds_per_step"] + out["exposed_tp_seconds_per_step"]
    assert out["micro_batch_seconds"] == pytest.approx(work + shown + out["pp_seconds_per_step"])
    assert out["exposed_tp_seconds_per_step"] < out["tp_seconds_per_step"]
    off = ok_json(*args, "--no-overlap")
    assert off["exposed_tp_seconds_per_step"] == off["tp_seconds_per_step"]


@pytest.mark.parametrize(
    ("schedule", "bubble"),
    [("1f1b", 3), ("interleaved", Fraction(3, 2)), ("dualpipe", 1)],
)
def test_pipeline_bubble(schedule: str, bubble: Fraction) -> None:
    """pp 4: 1F1B idles pp − 1, interleaved (vpp 2) (pp − 1)/2, DualPipe pp/2 − 1 micro-batches."""
    extra = ["--vpp", "2"] if schedule == "interleaved" else []
    out = ok_json(
        *STEP, "--phase", "train", "--tokens", "2048", "--pp", "4", "--ep", "8", "--dp", "8",
        "--schedule", schedule, "--micro-batches", "16", *extra,
    )  # fmt: skip
    assert Fraction(out["pipeline_bubble"]) == bubble
    pipelined = out["micro_batch_seconds"] * (16 + float(bubble))
    grad = max(0.0, out["grad_seconds_per_step"] - 2 / 3 * out["stage_compute_seconds"])
    assert out["step_seconds"] == pytest.approx(pipelined + grad, rel=1e-12)
    assert out["tokens_per_second_per_gpu"] == pytest.approx(16 * 2048 / (4 * out["step_seconds"]))


def test_vpp_needs_the_interleaved_schedule() -> None:
    bad = run(*STEP, "--phase", "train", "--vpp", "2")
    assert bad.exit_code == 2
    assert bad.output == "Error: --vpp needs --schedule interleaved; got 2\n"


PLAN = ("plan", "--preset", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--gpus", "16")


@pytest.mark.parametrize(
    ("objective", "key", "reverse"),
    [
        ("throughput", "tokens_per_second_per_gpu", True),
        ("latency", "latency_seconds", False),
        ("memory", "memory_bytes_per_gpu", False),
    ],
)
def test_objectives_order_the_fitting_layouts(objective: str, key: str, reverse: bool) -> None:
    rows = ok_json(*PLAN, "--phase", "decode", "--objective", objective)["candidates"]
    fitting = [Fraction(r[key]) for r in rows if r["fits"]]
    assert len(fitting) > 3
    assert fitting == sorted(fitting, reverse=reverse)
    assert all(r["reason"] != "" for r in rows)
    if objective == "throughput":
        assert all("tokens/s" in r["reason"] or r["reason"] in ("best", "ties the best")
                   for r in rows if r["fits"])  # fmt: skip


def test_tpot_limit_and_min_ep() -> None:
    free = ok_json(*PLAN, "--phase", "decode", "--min-ep", "4")["candidates"]
    fitting = sorted(r["latency_seconds"] for r in free if r["fits"])
    limit_ms = (fitting[2] + fitting[3]) / 2 * 1e3  # three layouts meet it
    rows = ok_json(*PLAN, "--phase", "decode", "--tpot-max", f"{limit_ms:.6f}", "--min-ep", "4")[
        "candidates"
    ]
    assert all(r["ep"] >= 4 for r in rows)
    meets = [r["latency_seconds"] * 1e3 <= limit_ms for r in rows if r["fits"]]
    assert meets == [True] * 3 + [False] * (len(meets) - 3)  # those within the limit first
    missed = [r for r in rows if r["fits"] and r["latency_seconds"] * 1e3 > limit_ms]
    assert missed and all(r["reason"].startswith("latency ") for r in missed)
    none = ok_json(*PLAN, "--phase", "decode", "--tpot-max", "0.001")["candidates"]
    assert none[0]["reason"].startswith("latency ") or not none[0]["fits"]
    bad = run(*PLAN, "--phase", "prefill", "--tpot-max", "20")
    assert bad.exit_code == 2
    assert bad.output == "Error: --tpot-max applies to decode; got phase prefill\n"


# Published throughputs, per GPU:
# - DeepSeek-V3 tech report arXiv 2412.19437 §1: 180K H800 GPU hours per trillion training
#   tokens, 10^12 / (180e3 · 3600) = 1543 tokens/s per GPU (PP16 EP64 DualPipe, 2048 GPUs).
# - DeepSeek "Inference System Overview" (deepseek-ai/open-infra-index, 2025-03-01): each H800
#   node averages 73.7k input tokens/s in prefill (cache hits included) and 14.8k output
#   tokens/s in decode: 9.2k and 1.85k per GPU.
PUBLISHED = [
    # Training lands 2.1x above: every GEMM at DeepGEMM's best FP8 rate (attention scores at
    # BF16), and neither the MTP module, the non-GEMM kernels nor DeepSeek's partial
    # recomputation is counted (docs/planning.md).
    (("--deployment", "deepseek-v3-train", "--schedule", "dualpipe", "--tokens", "4096"),
     10**12 / (180e3 * 3600), 2.25),
    (("--deployment", "deepseek-v3-prefill"), 73.7e3 / 8, 1.25),
    (("--deployment", "deepseek-v3-decode", "--tokens", "64", "--context", "2048"),
     14.8e3 / 8, 1.25),
]  # fmt: skip


@pytest.mark.parametrize(("args", "published", "factor"), PUBLISHED)
def test_deepseek_deployments_fit_and_land_near_the_published_throughput(
    args: tuple[str, ...], published: float, factor: float
) -> None:
    out = ok_json("step", *args)
    assert out["fits"] is True
    ratio = out["tokens_per_second_per_gpu"] / published
    assert 1 / factor <= ratio <= factor, ratio


def test_megatron_bridge_qwen3_recipe_fits_and_launches_as_published() -> None:
    """Megatron-Bridge's Qwen3-235B recipe: TP4 CP2 PP16 EP8 on 128 GPUs, 512 tokens per rank."""
    out = ok_json(
        "step", "--deployment", "megatron-bridge-qwen3-235b-train", "--tokens", "512",
        "--micro-batches", "32",
    )  # fmt: skip
    assert out["fits"] is True
    assert out["layout"]["cp"] == 2 and out["layout"]["dp"] == 1
    assert out["stage_layers"] == "5/6/5"
    flags = out["launch"]["megatron"]
    assert "--context-parallel-size 2" in flags and "--expert-model-parallel-size 8" in flags
    assert "--decoder-first-pipeline-num-layers 5" in flags
    # 32 micro-batches of 4096 tokens over 128 GPUs per step
    assert out["tokens_per_second_per_gpu"] == pytest.approx(32 * 4096 / 128 / out["step_seconds"])


def test_context_parallel_exchange_by_hand() -> None:
    """Megatron-Core CP: a rank sends the K and V of its chunk round the CP ring. Qwen3-235B
    (4 kv heads of 128) at tp 4, 512 tokens per GPU: a chunk of 512·4 tokens, one kv head per
    rank: 2·2048·1·128·2 B = 1,048,576 B. Forward once, training three times (KV all-gather
    forward; KV all-gather and dKV reduce-scatter backward), each under its attention compute:
    t_cp 5, t_ac 2, 4 layers over pp 2: 3·(5 − 2)·4/2 = 18; inference 6; hidden when t_cp ≤ t_ac.
    """
    v = {"T": 512, "tp": 4, "n_kv": 1, "d_h": 128, "beta": 2}
    assert F.value("cp_kv_chunk_bytes", v) == 1_048_576
    t = {"t_cp": 5, "t_ac": 2, "L": 4, "pp": 2}
    assert F.value("cp_step_seconds", t | {"tau": 1}) == 18
    assert F.value("cp_step_seconds", t | {"tau": 0}) == 6
    assert F.value("cp_step_seconds", t | {"tau": 1, "t_cp": 2}) == 0
    out = ok_json(
        "step", "--deployment", "megatron-bridge-qwen3-235b-train", "--tokens", "512",
        "--micro-batches", "32",
    )  # fmt: skip
    assert out["cp_seconds_per_step"] == 0.0  # 1 MiB per rank over NVLink, under 139 µs
    assert ok_json(*STEP, "--phase", "train", "--ep", "8")["cp_seconds_per_step"] is None


def test_nemo_mixtral_recipe_fits_and_ranks_first_with_its_own_batch() -> None:
    """NVIDIA's Mixtral-8x7B recipe: TP1 PP4 VPP8 EP8 on 64 H100, micro-batch 1 × 4096, global
    batch 256 sequences (16 micro-batches per DP rank)."""
    run_as = ("--schedule", "interleaved", "--vpp", "8")
    batch = ("--micro-batch", "1", "--seq", "4096")
    out = ok_json(
        "step", "--deployment", "nemo-mixtral-8x7b-train", *batch, "--micro-batches", "16", *run_as
    )
    assert out["fits"] is True and out["tokens_per_rank"] == 4096
    assert Fraction(out["pipeline_bubble"]) == Fraction(3, 8)
    assert "--num-layers-per-virtual-pipeline-stage 1" in out["launch"]["megatron"]
    rows = ok_json(
        "plan", "--deployment", "nemo-mixtral-8x7b-train", *batch, "--global-batch",
        str(256 * 4096), *run_as,
    )["candidates"]  # fmt: skip
    recipe = next(r for r in rows if (r["tp"], r["pp"], r["ep"], r["etp"]) == (1, 4, 8, 1))
    assert recipe["rank"] == 1
    assert all(32 % (r["pp"] * 8) == 0 for r in rows)  # every stage splits into 8 virtual ones


def test_micro_batch_sets_tokens_per_gpu_and_micro_batches() -> None:
    """b·seq/(tp·cp) tokens per GPU; global batch / (b·seq·dp) micro-batches per step."""
    rows = ok_json(
        "plan", "--preset", "mixtral-8x7b", "--hardware", "h100-sxm", "--gpus", "16",
        "--phase", "train", "--micro-batch", "2", "--seq", "2048", "--global-batch", "262144",
    )["candidates"]  # fmt: skip
    assert {r["cp"] for r in rows} == {1, 2, 4, 8, 16}  # cp·2 divides the sequence
    for r in rows:
        assert r["tp"] * r["cp"] * r["dp"] * r["pp"] == 16
        tokens = Fraction(2 * 2048, r["tp"] * r["cp"])
        m = Fraction(262144, 2 * 2048 * r["dp"])
        if r["fits"]:
            assert r["tokens_per_second_per_gpu"] == pytest.approx(
                float(m * tokens / r["pp"]) / r["step_seconds"], rel=1e-9
            )
    bad = run("step", "--preset", "mixtral-8x7b", "--hardware", "h100-sxm", "--tp", "8",
              "--micro-batch", "1", "--seq", "1001")  # fmt: skip
    assert bad.exit_code == 2
    assert (
        bad.output
        == "Error: --micro-batch·--seq must be a multiple of tp·cp (8); got 1·1001 = 1001\n"
    )
