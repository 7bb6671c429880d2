"""The time model: formulas against hand-derived values, collectives, --hardware times, step."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import ok_json, run
from hypothesis import given
from hypothesis import strategies as st

from moecomm import formulas as F
from moecomm import resolve, timing

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


def test_wire_bytes_and_busbw_factors_follow_nccl_tests() -> None:
    # NVIDIA/nccl-tests doc/PERFORMANCE.md: 2(n-1)/n, (n-1)/n, (n-1)/n, 1.
    assert F.value("allreduce_wire_bytes", {"X": 800, "n": 8}) == 1400
    assert F.value("allgather_wire_bytes", {"X": 800, "n": 8}) == 700
    assert F.value("reducescatter_wire_bytes", {"X": 800, "n": 8}) == 700
    assert F.value("alltoall_wire_bytes", {"X": 800, "n": 8}) == 700
    assert F.value("broadcast_wire_bytes", {"X": 800, "n": 8}) == 800
    assert F.value("busbw_factor_allreduce", {"n": 8}) == Fraction(7, 4)
    assert F.value("busbw_factor_allgather", {"n": 4}) == Fraction(3, 4)
    assert F.value("busbw_factor_alltoall", {"n": 2}) == Fraction(1, 2)
    assert F.value("busbw_factor_broadcast", {}) == 1


def test_ring_split_over_nodes() -> None:
    # One node: all on NVLink. 4 nodes of 8: each NIC carries W/8, NVLink the other 7/8.
    assert F.value("ring_inter_bytes", {"X": 800, "g": 8, "N": 1}) == 0
    assert F.value("ring_intra_bytes", {"X": 800, "g": 8, "N": 1}) == 800
    assert F.value("ring_inter_bytes", {"X": 800, "g": 8, "N": 4}) == 100
    assert F.value("ring_intra_bytes", {"X": 800, "g": 8, "N": 4}) == 700


def test_balanced_ep_split() -> None:
    # EP64 over 8 nodes: of b·s·k·h·β = 1·1·8·10·2 = 160 B, 7/64 stay on the node, 56/64 leave.
    v = {"b": 1, "s": 1, "k": 8, "h": 10, "beta": 2, "ep": 64, "g": 8}
    assert F.value("ep_intra_bytes", v) == Fraction(35, 2)
    assert F.value("ep_inter_bytes", v) == 140
    total = F.value("ep_dispatch_bytes", {"b": 1, "s": 1, "k": 8, "h": 10, "beta_d": 2, "ep": 64})
    assert F.value("ep_intra_bytes", v) + F.value("ep_inter_bytes", v) == total


def test_collective_seconds_by_hand() -> None:
    # 1 µs fixed + max(2 messages × 3 µs + 1e9 B / (100 GB/s × 0.5), 1 × 5 µs + 0) = 20.007 ms.
    values = {
        "alpha_0": Fraction(1, 10**6),
        "alpha_up": Fraction(3, 10**6),
        "alpha_out": Fraction(5, 10**6),
        "B_up": 100 * 10**9,
        "B_out": 50 * 10**9,
        "eta": Fraction(1, 2),
        "x_up": 10**9,
        "x_out": 0,
        "m_up": 2,
        "m_out": 1,
        "nu_up": 0,
        "nu_out": 0,
    }
    assert F.value("collective_seconds", values) == Fraction(20007, 10**6)


def test_bandwidth_ramp_by_hand() -> None:
    # ν = 0.5 GB: 1 GB reaches (1 + 0.5)/(1 + 1) = 3/4 of the peak; at x = ν, 2/3; small x, 1/2.
    assert F.value("bandwidth_ramp", {"x": 10**9, "nu": 5 * 10**8}) == Fraction(3, 4)
    assert F.value("bandwidth_ramp", {"x": 10**6, "nu": 10**6}) == Fraction(2, 3)
    assert F.value("bandwidth_ramp", {"x": 1, "nu": 10**12}) == Fraction(10**12 + 1, 2 * 10**12 + 1)
    assert F.value("bandwidth_ramp", {"x": 0, "nu": 0}) == 1
    # 1 µs fixed + 1 GB over 100 GB/s × 0.5 at 3/4 of the peak: 1e9 / (5e10 · 3/4) = 26.667 ms.
    values = {
        "alpha_0": Fraction(1, 10**6),
        "alpha_up": 0,
        "alpha_out": 0,
        "B_up": 100 * 10**9,
        "B_out": 50 * 10**9,
        "eta": Fraction(1, 2),
        "x_up": 10**9,
        "x_out": 0,
        "m_up": 0,
        "m_out": 0,
        "nu_up": 5 * 10**8,
        "nu_out": 0,
    }
    assert F.value("collective_seconds", values) == Fraction(1, 10**6) + Fraction(2, 75)
    # per-op adds τ_op to the back-to-back time.
    assert F.value("per_op_seconds", {"t_comm": Fraction(1, 10), "tau_op": Fraction(3, 10**5)}) == (
        Fraction(10003, 10**5)
    )


def law(alpha: float, bw: float, nu: float, x: float) -> float:
    """The time model by hand: latency + x·(x + 2ν)/((x + ν)·B) (docs/time-model.md)."""
    return alpha + x * (x + 2 * nu) / ((x + nu) * bw)


# h100-sxm's fits on 4 ranks (presets/hardware/h100-sxm.toml), used from 4 ranks up:
AR4 = (20.27e-6, 349.9e9, 8388000)
AG4 = (17.55e-6, 327.9e9, 14800000)
A2A4 = (16.69e-6, 329.8e9, 12560000)
BC2 = (10.4e-6, 370.5e9, 2522000)


def test_h100_all_reduce_one_gib_on_eight_gpus() -> None:
    # The 4-rank all-reduce fit (the most ranks measured): 20.27 µs + W·(W + 2ν)/((W + ν)·B)
    # with W = 2·7/8·2^30 B on NVLink, B = 349.9 GB/s, ν = 8.388 MB.
    hw = resolve.hardware("h100-sxm")
    result = timing.collective("all-reduce", GIB, 8, hw)
    expected = law(*AR4, 2 * 7 / 8 * GIB)
    assert result.seconds == pytest.approx(expected, rel=1e-12)
    assert result.busbw_bytes_per_second == pytest.approx(GIB * 7 / 4 / expected, rel=1e-12)
    assert result.wire_bytes_per_rank == 2 * 7 * GIB // 8


def test_deepseek_decode_worked_check() -> None:
    """Zhao et al. arXiv 2505.09343: (1 B + 2 B) × 32 × 9 × 7K / 50 GB/s = 120.96 µs per layer.

    "7K" is 7000, not the hidden size 7168: 3 × 32 × 9 × 7000 / 5e10 = 120.96 µs exactly, while
    7168 gives 123.86 µs. Two micro-batches over 61 layers give 14.76 ms per token.
    """
    v = {"beta_d": 1, "beta_c": 2, "T": 32, "k": 9, "h": 7000, "B": 50 * 10**9, "L": 61, "mu": 2}
    assert F.value("ep_decode_layer_seconds_estimate", v) == Fraction(12096, 10**8)
    assert F.value("ep_decode_token_seconds_estimate", v) == Fraction(1475712, 10**8)
    with_hidden = F.value("ep_decode_layer_seconds_estimate", v | {"h": 7168})
    assert round(float(with_hidden) * 1e6, 2) == 123.86
    data = ok_json(
        "step", "--phase", "decode", "--hidden", "7000", "--topk", "9", "--experts", "256",
        "--layers", "61", "--moe-intermediate", "2048", "--tokens", "32", "--ep", "256",
        "--dispatch-dtype", "fp8", "--combine-dtype", "bf16", "--hardware", "h800",
        "--bw-inter", "50",
    )  # fmt: skip
    assert data["decode_layer_seconds_estimate"] == pytest.approx(120.96e-6, rel=1e-12)
    assert data["decode_token_seconds_estimate"] == pytest.approx(14.75712e-3, rel=1e-12)
    assert data["layers"] == 61 and data["moe_layers"] == 61


def test_deepep_low_latency_ep64_golden() -> None:
    """DeepEP README (H800, CX7 400 Gb/s IB; 128 tokens, h 7168, top-8): EP64 dispatch 173 µs,
    combine 314 µs. The model with the h800 preset (40 GB/s IB) and DeepEP's low-latency wire
    format (7408 B per FP8 copy with scales and header) lands within 10%."""
    data = ok_json(
        "ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "64",
        "--dispatch-dtype", "fp8", "--combine-dtype", "bf16", "--hardware", "h800",
        "--scale-block", "128", "--header-bytes", "16",
    )  # fmt: skip
    assert data["dispatch_copy_bytes"] == 7408
    assert data["dispatch_seconds"] == pytest.approx(173e-6, rel=0.10)
    assert data["combine_seconds"] == pytest.approx(314e-6, rel=0.10)
    assert (
        data["dispatch_inter_bytes_per_rank"] + data["dispatch_intra_bytes_per_rank"]
        == (data["dispatch_bytes_per_rank"])
    )


def test_collective_cli_exact_json() -> None:
    data = ok_json(
        "collective", "all-gather", "--bytes", "64MiB", "--ranks", "4", "--hardware", "h100-sxm"
    )
    assert data["bytes"] == 64 * 2**20
    assert data["wire_bytes_per_rank"] == 48 * 2**20
    assert data["busbw_factor"] == "3/4"
    assert data["nodes"] == 1 and data["inter_bytes_per_rank"] == 0
    assert data["seconds"] == pytest.approx(law(*AG4, 48 * 2**20), rel=1e-12)
    assert data["hardware"] == "h100-sxm" and data["efficiency"] == 1.0
    assert data["buffer"] == "the total output (each rank contributes bytes/ranks)"


def test_overrides_change_the_time() -> None:
    base = ok_json(
        "collective", "broadcast", "--bytes", "1GB", "--ranks", "2", "--hardware", "h100-sxm"
    )
    slow = ok_json(
        "collective", "broadcast", "--bytes", "1GB", "--ranks", "2", "--hardware", "h100-sxm",
        "--bw-intra", "100", "--latency-intra", "0", "--efficiency", "0.5",
    )  # fmt: skip
    assert base["bytes"] == 10**9
    # The overrides replace the fit's bandwidth and latency (one message); its ramp stays.
    assert slow["seconds"] == pytest.approx(law(0, 100e9 * 0.5, BC2[2], 10**9), rel=1e-12)
    assert slow["seconds"] > base["seconds"]


def test_hardware_file(tmp_path: Path) -> None:
    text = (ROOT / "presets" / "hardware" / "h100-sxm.toml").read_text()
    path = tmp_path / "calibrated.toml"
    path.write_text(
        text.replace('name = "h100-sxm"', 'name = "calibrated"').replace(
            "base_latency_seconds = 8.4e-06", "base_latency_seconds = 8.4e-06\nefficiency = 0.8"
        )
    )
    data = ok_json(
        "collective", "broadcast", "--bytes", "1GB", "--ranks", "2", "--hardware", str(path)
    )
    assert data["hardware"] == "calibrated" and data["efficiency"] == 0.8
    assert data["seconds"] == pytest.approx(law(BC2[0], BC2[1] * 0.8, BC2[2], 10**9), rel=1e-12)


def test_two_level_alltoall_wins_on_small_messages_only() -> None:
    hw = resolve.hardware("h800")
    small_flat = timing.collective("all-to-all", 64 * 1024, 256, hw).seconds
    small_2dh = timing.collective("all-to-all", 64 * 1024, 256, hw, algorithm="2dh").seconds
    big_flat = timing.collective("all-to-all", GIB, 256, hw).seconds
    big_2dh = timing.collective("all-to-all", GIB, 256, hw, algorithm="2dh").seconds
    assert small_2dh < small_flat
    assert big_2dh > big_flat


def test_times_on_ep_tp_compare() -> None:
    ep = ok_json(
        "ep",
        "--hidden",
        "4096",
        "--topk",
        "2",
        "--experts",
        "8",
        "--tokens",
        "8192",
        "--ep",
        "8",
        "--hardware",
        "h100-sxm",
    )
    # One node: everything on NVLink, at the all-to-all fit of 4 ranks (used from 4 up).
    assert ep["dispatch_inter_bytes_per_rank"] == 0
    assert ep["dispatch_seconds"] == pytest.approx(
        law(*A2A4, ep["dispatch_bytes_per_rank"]), rel=1e-12
    )
    tp = ok_json(
        "tp", "--hidden", "7168", "--tokens", "4096", "--tp", "8", "--hardware", "h100-sxm"
    )
    assert tp["allreduce_seconds"] == pytest.approx(
        law(*AR4, tp["allreduce_bytes_per_rank"]), rel=1e-12
    )
    rows = ok_json("compare", "--preset", "deepseek-v3", "--sizes", "4,64", "--hardware", "h800")
    assert [r["size"] for r in rows] == [4, 64]
    assert {"dispatch_seconds", "combine_seconds", "allreduce_seconds", "ep_faster"} <= set(rows[0])
    assert rows[1]["ep_faster"] is True


def test_table_names_hardware_and_units() -> None:
    result = run(
        "collective", "all-reduce", "--bytes", "1GiB", "--ranks", "8", "--hardware", "h100-sxm"
    )
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Hardware h100-sxm: scale-up 370 GB/s" in text
    assert "efficiency 1" in text
    assert "5.414 ms" in text  # law(*AR4, 2·7/8·2^30 B)
    assert "347.0 GB/s" in text  # 2^30 B × 7/4 / 5.414 ms


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "collective",
                "all-reduce",
                "--bytes",
                "1GiB",
                "--ranks",
                "12",
                "--hardware",
                "h100-sxm",
            ),
            "ranks must be at most, or a multiple of, the GPUs per node (8); got 12",
        ),
        (
            (
                "collective",
                "all-reduce",
                "--bytes",
                "lots",
                "--ranks",
                "2",
                "--hardware",
                "h100-sxm",
            ),
            "--bytes must be a positive integer, optionally with KiB/MiB/GiB or KB/MB/GB; got 'lots'",
        ),
        (
            (
                "collective",
                "all-reduce",
                "--bytes",
                "1",
                "--ranks",
                "2",
                "--hardware",
                "h100-sxm",
                "--efficiency",
                "2",
            ),
            "--efficiency must be at most 1; got 2",
        ),
        (
            (
                "collective",
                "all-reduce",
                "--bytes",
                "1",
                "--ranks",
                "2",
                "--hardware",
                "h100-sxm",
                "--bw-intra",
                "0",
            ),
            "--bw-intra must be at least 0.001; got 0",
        ),
        (
            ("collective", "all-reduce", "--bytes", "1", "--ranks", "2"),
            "--hardware is required (a preset name or a TOML file)",
        ),
        (
            ("collective", "all-reduce", "--bytes", "1", "--ranks", "2", "--hardware", "tpu"),
            "hardware preset must be one of a100-sxm, b200, gb200-nvl72, h100-sxm, h20, h200, h800, mi300x; got 'tpu'",
        ),
        (
            (
                "collective",
                "all-reduce",
                "--bytes",
                "1",
                "--ranks",
                "2",
                "--hardware",
                "h100-sxm",
                "--algorithm",
                "2dh",
            ),
            "--algorithm for all-reduce must be one of ring; got '2dh'",
        ),
        (
            ("tp", "--hidden", "8", "--tokens", "1", "--tp", "2", "--bw-intra", "100"),
            "--bw-intra needs --hardware",
        ),
        (
            (
                "plan",
                "--preset",
                "deepseek-v3",
                "--gpus",
                "8",
                "--hardware",
                "h800",
                "--tokens-per-gpu",
                "1",
                "--global-batch",
                "8",
            ),
            "give --tokens-per-gpu or --global-batch, not both",
        ),
    ],
)
def test_errors(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.output == f"Error: {message}\n"


@given(
    st.sampled_from(timing.KINDS),
    st.integers(1, 2**34),
    st.integers(1, 2**34),
    st.sampled_from([2, 4, 8, 16, 64]),
)
def test_time_is_monotone_in_bytes(kind: timing.Kind, a: int, b: int, n: int) -> None:
    hw = resolve.hardware("h100-sxm")
    lo, hi = sorted((a, b))
    assert timing.collective(kind, lo, n, hw).seconds <= timing.collective(kind, hi, n, hw).seconds


@given(st.integers(1, 2**32), st.sampled_from([2, 8, 16, 128]), st.floats(0.1, 1.0))
def test_busbw_never_beats_the_link_and_efficiency_slows(x: int, n: int, eta: float) -> None:
    full = resolve.hardware("h100-sxm")
    slow = resolve.hardware("h100-sxm", {"efficiency": eta})
    r = timing.collective("all-gather", x, n, full)
    # Both links carry a ring across nodes at once (W/g over each NIC), so the bound is their sum.
    assert r.busbw_bytes_per_second <= (full.bw_up + full.bw_out) * (1 + 1e-9)
    assert timing.collective("all-gather", x, n, slow).seconds >= r.seconds


@given(st.integers(1, 10**6), st.sampled_from([2, 8, 16, 64, 256]), st.sampled_from([1, 2, 4, 8]))
def test_link_split_sums_to_wire_bytes(x: int, n: int, g_cap: int) -> None:
    g = min(n, g_cap)
    nodes = n // g if n % g == 0 else 1
    if n % g:
        return
    w = F.value("alltoall_wire_bytes", {"X": x, "n": n})
    v = {"X": x, "n": n, "g": g, "N": nodes}
    assert F.value("alltoall_intra_bytes", v) + F.value("alltoall_inter_bytes", v) == w
    r = {"X": w, "g": g, "N": nodes}
    assert F.value("ring_intra_bytes", r) + F.value("ring_inter_bytes", r) == w


def test_fast_evaluators_match_exact() -> None:
    values = {"X": 123456789, "n": 24, "g": 8, "N": 3}
    for name in ("alltoall_intra_bytes", "alltoall_inter_bytes", "ring_inter_bytes"):
        sub = {
            k: values[k] for k in ("X", "n", "g", "N") if k in [str(s) for s in F.get(name).symbols]
        }
        assert F.fast(name)(**{k: float(v) for k, v in sub.items()}) == pytest.approx(
            float(F.value(name, sub)), rel=1e-12
        )


def test_step_train_has_backward_and_gradients() -> None:
    train = ok_json("step", "--deployment", "deepseek-v3-train", "--tokens", "4096")
    prefill = ok_json(
        "step", "--deployment", "deepseek-v3-train", "--tokens", "4096", "--phase", "prefill"
    )
    assert train["ep_seconds_per_step"] == pytest.approx(
        2 * prefill["ep_seconds_per_step"], rel=1e-12
    )
    assert train["grad_seconds_per_step"] > 0 == prefill["grad_seconds_per_step"]
    assert train["compute_seconds_per_step"] == pytest.approx(
        3 * prefill["compute_seconds_per_step"], rel=1e-12
    )
    # 3 matrices of h × 2048 per (token, expert) pair, 2 FLOPs each; 8 routed + 1 shared.
    assert train["expert_flops_per_layer"] == 2 * 3 * 7168 * 2048 * 4096 * 9
    assert train["moe_layers"] == 58 and train["layers"] == 61


def test_validation_script_is_moecomm_validate() -> None:
    """benchmarks/validate_time_model.py is `moecomm validate` on the stored results, h100-sxm."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import validate_time_model as V

    files = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    if not files:
        pytest.skip("no measured results in the repository")
    args = V.arguments(["--summary-only"])
    assert args == ["validate", *map(str, files), "--summary-only", "--hardware", "h100-sxm"]
    assert V.arguments([str(files[0]), "--hardware", "h800"]) == [
        "validate",
        str(files[0]),
        "--hardware",
        "h800",
    ]


@given(
    x=st.integers(min_value=0, max_value=2**42),
    dx=st.integers(min_value=1, max_value=2**40),
    nu=st.integers(min_value=0, max_value=2**36),
)
def test_ramp_properties(x: int, dx: int, nu: int) -> None:
    """The ramp's share lies in [1/2, 1] and never falls with size; the link time grows with
    size at any ramp, never beats the peak rate and reduces to Hockney's at ν = 0."""
    share = F.value("bandwidth_ramp", {"x": x, "nu": nu})
    assert Fraction(1, 2) <= share <= 1
    assert F.value("bandwidth_ramp", {"x": x + dx, "nu": nu}) >= share
    v = {"m": 1, "alpha": Fraction(1, 10**5), "B": 10**11, "eta": 1, "nu": nu}
    t, t_more = F.value("link_seconds", v | {"x": x}), F.value("link_seconds", v | {"x": x + dx})
    assert t_more > t
    assert t >= Fraction(1, 10**5) + Fraction(x, 10**11)
    assert t <= Fraction(1, 10**5) + Fraction(2 * x, 10**11)
    hockney = F.value("link_seconds", v | {"x": x, "nu": 0})
    assert hockney == Fraction(1, 10**5) + Fraction(x, 10**11)
