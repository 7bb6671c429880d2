"""Capacity planning: valid layouts, sorting, the memory formula, fast against exact evaluation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import ok_json, run

from moecomm import presets as P
from moecomm import resolve
from moecomm.plan import divisors, layouts
from moecomm.step import StepLayout, approx, exact, step_times

V3 = P.load(P.MODELS, "deepseek-v3").model


def test_every_candidate_is_valid_and_sorted() -> None:
    rows = ok_json(
        "plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--phase", "decode"
    )["candidates"]
    assert len(rows) == len(list(layouts(64, V3, 8, max_pp=1)))
    for r in rows:
        assert r["tp"] * r["dp"] * r["pp"] == 64
        assert r["etp"] * r["ep"] * r["edp"] * r["pp"] == 64
        assert 256 % r["ep"] == 0
        assert r["tp"] <= 8 and r["etp"] <= 8
        assert r["pp"] == 1
    fits = [r["fits"] for r in rows]
    assert fits == sorted(fits, reverse=True)  # fitting layouts first
    fitting = [r["tokens_per_second_per_gpu"] for r in rows if r["fits"]]
    assert fitting == sorted(fitting, reverse=True)  # default objective: throughput
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["reason"] == "best"
    assert all(r["reason"].startswith("does not fit: ") for r in rows if not r["fits"])


def test_memory_matches_the_items_by_hand() -> None:
    """DeepSeek-V3 decode: fp8 weights with 128×128 fp32 scales, bf16 embeddings, MLA KV cache."""
    rows = ok_json(
        "plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--phase", "decode"
    )["candidates"]
    best = rows[0]
    tp, ep, etp = best["tp"], best["ep"], best["etp"]
    assert best["pp"] == 1
    h, d_ff = 7168, 2048
    experts = Fraction(256, ep) * 3 * h * d_ff / etp * 58
    # MLA attention: q_a 7168×1536, q_b 1536×128·192, kv_a 7168×576, kv_b 512×128·256, o 16384×7168
    attention = 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168
    assert attention == 187_105_280
    dense = Fraction(61 * attention + 3 * 3 * h * 18432 + 58 * 3 * h * 2048, tp) + 58 * 256 * h
    vocab = Fraction(2 * 129280 * h, tp)
    fp8 = 1 + Fraction(4, 128 * 128)
    assert Fraction(best["weight_bytes"]) == (experts + dense) * fp8 + vocab * 2
    # 128 requests per GPU × tp, 4096 tokens each, (512 + 64) · 2 B per token and layer.
    assert best["kv_cache_bytes"] == 128 * tp * 4096 * 576 * 2 * 61
    assert best["gradient_bytes"] == best["optimizer_bytes"] == 0
    total = sum(Fraction(best[k]) for k in ("weight_bytes", "activation_bytes", "kv_cache_bytes"))
    assert Fraction(best["memory_bytes_per_gpu"]) == total
    assert best["usable_bytes_per_gpu"] == 72 * 10**9
    assert best["fits"] is (total <= 72 * 10**9)


def test_deepseek_on_h800_picks_ep_over_tp() -> None:
    """The seed's conclusion: once M > K (8), EP moves less than TP; plan picks tp = etp = 1."""
    rows = ok_json(
        "plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800",
        "--objective", "comm",
    )["candidates"]  # fmt: skip
    best = rows[0]
    assert best["tp"] == 1 and best["etp"] == 1 and best["ep"] > 8
    assert any(r["reason"].startswith("TP all-reduce") for r in rows[1:5])


def test_reason_over_ib() -> None:
    rows = ok_json(
        "plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800",
        "--allow-tp-across-nodes", "--phase", "prefill", "--objective", "comm",
    )["candidates"]  # fmt: skip
    assert any(
        r["reason"].startswith("TP all-reduce over IB") for r in rows if r["tp"] > 8 and r["fits"]
    )


@pytest.mark.parametrize("phase", ["train", "prefill", "decode"])
def test_fast_evaluation_matches_exact(phase: str) -> None:
    hw = resolve.hardware("h800")
    for lay in list(layouts(256, V3, 8))[::17]:
        tp, dp, ep, edp, etp, pp, _ = lay
        layout = StepLayout(
            tp=tp,
            pp=pp,
            ep=ep,
            etp=etp,
            dp=dp,
            edp=edp,
            dispatch_bytes_per_element=Fraction(33, 32),
        )
        kw = {"compute_efficiency": 0.5, "peak_flops": hw.bf16_flops}
        a = step_times(V3, phase, 4096, layout, hw, ev=approx, **kw)  # type: ignore[arg-type]
        e = step_times(V3, phase, 4096, layout, hw, ev=exact, **kw)  # type: ignore[arg-type]
        assert a.comm_seconds_per_step == pytest.approx(e.comm_seconds_per_step, rel=1e-9)


def test_divisors_and_layout_count() -> None:
    assert divisors(12) == [1, 2, 3, 4, 6, 12]
    # 8 GPUs, one node, pp ≤ 1: tp ∈ {1,2,4,8}, etp ∈ {1,2,4,8}, ep | 8/etp and 256.
    assert len(list(layouts(8, V3, 8, max_pp=1))) == 4 * (4 + 3 + 2 + 1)


def test_plan_table_and_errors() -> None:
    result = run(
        "plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--top", "3"
    )
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "88 layouts of 64 GPUs, 48 fit in 72 GB (80 GB less 1/10 headroom)." in text
    assert "Hardware h800" in text
    bad = run("plan", "--preset", "deepseek-v3", "--gpus", "0", "--hardware", "h800")
    assert bad.exit_code == 2 and bad.output == "Error: --gpus must be at least 1; got 0\n"


def test_when_nothing_fits_the_first_row_says_so() -> None:
    rows = ok_json("plan", "--preset", "mixtral-8x7b", "--gpus", "7", "--hardware", "h100-sxm")
    first = rows["candidates"][0]
    assert first["fits"] is False
    assert first["reason"].startswith("does not fit: ") and first["reason"].endswith(" GB usable")
    bad = run(
        "plan", "--preset", "mixtral-8x7b", "--gpus", "16", "--hardware", "h100-sxm",
        "--min-ep", "16",
    )  # fmt: skip
    assert bad.exit_code == 2
    assert bad.output.startswith(
        "Error: no valid layout of 16 GPUs for mixtral-8x7b with --min-ep 16 (ep must divide"
    )
