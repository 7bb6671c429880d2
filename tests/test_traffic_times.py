"""Times of routing-aware EP traffic (--hardware on `traffic` and routed `ep`), one time model
with the balanced `ep` path, and deployment wire formats on `ep`, to the byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import resolve, timing
from moecomm.cli import cli
from moecomm.config import EPConfig, MoEModel, RoutingConfig, Workload
from moecomm.dtypes import DType
from moecomm.traffic.balanced import ep_traffic
from moecomm.traffic.expected import expected_traffic
from moecomm.wire import make_wire

US = 1e-6
ROOT = Path(__file__).resolve().parents[1]
H100 = str(ROOT / "tests" / "data" / "h100-sxm-links.toml")
"""h100-sxm's link figures without its per-collective fits: the generic law, which these tests
derive by hand (tests/test_timing.py checks the fitted law; this file's drift is checked below)."""
H100_BASE = 8.4 * US  # h100-sxm base latency per collective (NCCL Ring/Simple, tuning.cc)
# Round link figures so that times are easy to derive by hand: 1 GB/s and 0.5 GB/s, 1 µs and 3 µs.
SLOW = ("--hardware", H100, "--bw-intra", "1", "--bw-inter", "0.5")
SLOW += ("--latency-intra", "1", "--latency-inter", "3")
TIME_KEYS = (
    "dispatch_busiest_intra_node_bytes",
    "dispatch_busiest_inter_node_bytes",
    "combine_busiest_intra_node_bytes",
    "combine_busiest_inter_node_bytes",
    "dispatch_seconds",
    "combine_seconds",
    "dispatch_seconds_before",
    "combine_seconds_before",
    "hardware",
    "efficiency",
)


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def data(*args: str) -> Any:
    code, out, err = invoke(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def times(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in TIME_KEYS}


def slow_seconds(up_bytes: int, out_bytes: int) -> float:
    """collective_seconds on the SLOW links: α₀ + max(1 µs + x/1 GB/s, 3 µs + x/0.5 GB/s)."""
    return H100_BASE + max(1 * US + up_bytes / 1e9, 3 * US + out_bytes / 0.5e9)


# Expert e on rank e (4 experts, 4 ranks); nodes {0, 1} and {2, 3} with --gpus-per-node 2.
COUNTS = {"expert_counts": [[5, 1, 2, 0], [0, 0, 3, 1], [4, 3, 0, 0], [1, 0, 6, 2]]}


@pytest.fixture
def counts(tmp_path: Path) -> str:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(COUNTS))
    return str(path)


def test_traffic_counts_busiest_rank_per_link(counts: str) -> None:
    """Off the diagonal, same node: 0→1 1, 3→2 6 (busiest: rank 3 sends 6, rank 2 receives 6).
    Other nodes: sent 0: 2, 1: 3+1, 2: 4+3, 3: 1; received 0: 4+1, 1: 3, 2: 2+3, 3: 1 (busiest:
    rank 2 sends 7). 2000-byte copies (h 1000, bf16): 12000 B scale-up, 14000 B scale-out."""
    d = data(
        "traffic", "--hidden", "1000", "--expert-counts", counts, "--gpus-per-node", "2", *SLOW
    )
    t = slow_seconds(12000, 14000)  # 8.4 + max(1 + 12, 3 + 28) = 39.4 µs
    assert t == pytest.approx(39.4 * US, rel=1e-12)
    assert times(d) == {
        "dispatch_busiest_intra_node_bytes": 12000,
        "dispatch_busiest_inter_node_bytes": 14000,
        "combine_busiest_intra_node_bytes": 12000,
        "combine_busiest_inter_node_bytes": 14000,
        "dispatch_seconds": pytest.approx(t, rel=1e-12),
        "combine_seconds": pytest.approx(t, rel=1e-12),
        "dispatch_seconds_before": None,
        "combine_seconds_before": None,
        "hardware": "h100-sxm",
        "efficiency": 1.0,
    }
    assert d["gpus_per_node"] == 2


def test_traffic_times_price_each_phase_at_its_wire_format(counts: str) -> None:
    """fp8 dispatch (1000 B) + 24 B header = 1024 B a copy; bf16 combine 2000 B. A faster NIC
    (10 GB/s) leaves the scale-up link the slower one."""
    d = data(
        "traffic", "--hidden", "1000", "--expert-counts", counts, "--gpus-per-node", "2",
        "--dispatch-dtype", "fp8", "--combine-dtype", "bf16", "--header-bytes", "24",
        *SLOW, "--bw-inter", "10",
    )  # fmt: skip
    assert (d["dispatch_copy_bytes"], d["combine_copy_bytes"]) == (1024, 2000)
    assert times(d)["dispatch_busiest_intra_node_bytes"] == 6 * 1024
    assert times(d)["dispatch_busiest_inter_node_bytes"] == 7 * 1024
    assert times(d)["combine_busiest_intra_node_bytes"] == 12000
    assert times(d)["combine_busiest_inter_node_bytes"] == 14000
    # dispatch: 8.4 + max(1 + 6.144, 3 + 0.7168); combine: 8.4 + max(1 + 12, 3 + 1.4)
    assert d["dispatch_seconds"] == pytest.approx((8.4 + 7.144) * US, rel=1e-12)
    assert d["combine_seconds"] == pytest.approx((8.4 + 13) * US, rel=1e-12)


def test_traffic_hardware_sets_the_gpus_per_node(counts: str) -> None:
    """Without --gpus-per-node, the hardware's 8-GPU domain holds all 4 ranks: no network bytes.
    The busiest rank on NVLink is rank 2, receiving 2 + 3 + 6 = 11 copies (22000 B)."""
    d = data("traffic", "--hidden", "1000", "--expert-counts", counts, *SLOW)
    assert d["gpus_per_node"] == 4
    assert d["dispatch_inter_node_bytes_per_rank"] == 0
    assert d["dispatch_busiest_intra_node_bytes"] == 22000 == d["busiest_rank_bytes"]
    assert d["dispatch_busiest_inter_node_bytes"] == 0
    assert d["dispatch_seconds"] == pytest.approx(H100_BASE + 1 * US + 22 * US, rel=1e-12)


def test_traffic_without_hardware_has_null_times(counts: str) -> None:
    d = data("traffic", "--hidden", "1000", "--expert-counts", counts, "--gpus-per-node", "2")
    assert set(times(d).values()) == {None}


# Experts 2r, 2r+1 on rank r; 2 tokens of 3 ids per rank; nodes {0, 1}, {2, 3}.
TOPK = {
    "topk_ids": [
        [[2, 3, 4], [5, 6, 7]],
        [[0, 1, 6], [2, 4, 5]],
        [[0, 2, 3], [4, 5, 6]],
        [[0, 1, 4], [1, 6, 7]],
    ]
}


@pytest.fixture
def topk(tmp_path: Path) -> str:
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(TOPK))
    return str(path)


@pytest.mark.parametrize(
    ("dedup", "up", "out"),
    [
        # copies: same node 0↔1 2 each, 2↔3 1 each; other nodes: rank 0 sends 2 + 2 = 4.
        ("copies", 2, 4),
        # rank: same node 1 each way; other nodes: rank 0 sends to 2 (twice) and 3, = 3.
        ("rank", 1, 3),
        # node: network 0→2 2, 1→3 2, 3→1 2, 2→0 1; NVLink forwards 1→0: 1 + 2 (for rank 3) = 3.
        ("node", 3, 2),
    ],
)
def test_dedup_modes_time_their_own_bytes(topk: str, dedup: str, up: int, out: int) -> None:
    d = data(
        "traffic", "--hidden", "1000", "--experts", "8", "--topk-ids", topk,
        "--gpus-per-node", "2", "--dedup", dedup, *SLOW,
    )  # fmt: skip
    assert d["dispatch_busiest_intra_node_bytes"] == up * 2000
    assert d["dispatch_busiest_inter_node_bytes"] == out * 2000
    assert d["dispatch_seconds"] == pytest.approx(slow_seconds(up * 2000, out * 2000), rel=1e-12)


def test_node_dedup_is_faster_than_copies_here(topk: str) -> None:
    args = ("traffic", "--hidden", "1000", "--experts", "8", "--topk-ids", topk)
    args += ("--gpus-per-node", "2", *SLOW)
    copies = data(*args)["dispatch_seconds"]
    node = data(*args, "--dedup", "node")["dispatch_seconds"]
    assert copies == pytest.approx(27.4 * US, rel=1e-12)  # 8.4 + max(1 + 4, 3 + 16)
    assert node == pytest.approx(19.4 * US, rel=1e-12)  # 8.4 + max(1 + 6, 3 + 8)


def test_logical_counting_does_not_change_the_time(topk: str) -> None:
    """Copies a rank keeps (counted under --count logical) cross no link."""
    args = ("traffic", "--hidden", "1000", "--experts", "8", "--topk-ids", topk)
    args += ("--gpus-per-node", "2", "--dedup", "rank", *SLOW)
    wire, logical = data(*args), data(*args, "--count", "logical")
    assert logical["dispatch_bytes_per_rank"] > wire["dispatch_bytes_per_rank"]
    assert times(logical) == times(wire)


def test_imbalance_busiest_rank_sets_the_time() -> None:
    """4096 tokens · top-2 = 8192 copies per rank, 1024·u to each rank; rank 0 gets u = 2.5 from
    each of the 7 others: 17920 copies of 8192 B, all on one 8-GPU node."""
    d = data(
        "ep", "--hidden", "4096", "--experts", "8", "--topk", "2", "--tokens", "4096",
        "--ep", "8", "--imbalance", "2.5", "--hardware", H100,
    )  # fmt: skip
    busiest = 7 * 2560 * 8192
    assert d["busiest_rank_recv_bytes"] == busiest == d["dispatch_busiest_intra_node_bytes"]
    assert d["dispatch_busiest_inter_node_bytes"] == 0
    expected = H100_BASE + 3.4 * US + busiest / 370e9
    assert d["dispatch_seconds"] == pytest.approx(expected, rel=1e-12)
    assert d["combine_seconds"] == d["dispatch_seconds"]
    balanced = data(
        "ep", "--hidden", "4096", "--experts", "8", "--topk", "2", "--tokens", "4096",
        "--ep", "8", "--hardware", H100,
    )  # fmt: skip
    assert d["dispatch_seconds"] > balanced["dispatch_seconds"]


def test_padded_capacity_is_timed_full() -> None:
    """C = ceil(6·2·1/8) = 2 per expert, 2 experts per rank: 4 copies to every rank, padded.
    One peer on the node (4 copies), two on the other (8 copies), 2000 B each."""
    d = data(
        "ep", "--hidden", "1000", "--experts", "8", "--topk", "2", "--tokens", "6", "--ep", "4",
        "--capacity-factor", "1", "--pad", *SLOW, "--gpus-per-node", "2",
    )  # fmt: skip
    assert d["expert_capacity"] == 2
    assert (d["dispatch_busiest_intra_node_bytes"], d["dispatch_busiest_inter_node_bytes"]) == (
        8000,
        16000,
    )
    assert d["dispatch_seconds"] == pytest.approx(43.4 * US, rel=1e-12)  # 8.4 + max(9, 35)


def test_eplb_times_before_and_after(tmp_path: Path) -> None:
    """Expert 0 is hot; 4 redundant replicas spread it. Before = the contiguous placement's time."""
    path = tmp_path / "hot.json"
    path.write_text(json.dumps({"expert_counts": [[40, 2, 2, 2]] * 4}))
    args = ("traffic", "--hidden", "1000", "--expert-counts", str(path), "--topk", "2")
    args += ("--gpus-per-node", "2", *SLOW)
    plain = data(*args)
    eplb = data(*args, "--redundant-experts", "4")
    assert eplb["dispatch_seconds_before"] == plain["dispatch_seconds"]
    assert eplb["combine_seconds_before"] == plain["combine_seconds"]
    assert eplb["dispatch_seconds"] < eplb["dispatch_seconds_before"]
    # Before: rank 0 receives 40 from rank 1 (NVLink) and 80 from ranks 2, 3 (network).
    assert plain["dispatch_busiest_intra_node_bytes"] == 40 * 2000
    assert plain["dispatch_busiest_inter_node_bytes"] == 80 * 2000


def test_layers_are_timed_each(tmp_path: Path) -> None:
    path = tmp_path / "layers.json"
    layers = [COUNTS, {"expert_counts": [[0, 1, 0, 0]] * 4}]
    path.write_text(json.dumps({"layers": layers}))
    d = data("traffic", "--hidden", "1000", "--expert-counts", str(path), "--gpus-per-node", "2",
             *SLOW)  # fmt: skip
    first, second = d["layers"]
    assert first["dispatch_seconds"] == pytest.approx(39.4 * US, rel=1e-12)
    # Layer 2: every rank sends one copy to rank 1; rank 1 receives 1 on NVLink, 2 by network.
    assert second["dispatch_busiest_intra_node_bytes"] == 2000
    assert second["dispatch_busiest_inter_node_bytes"] == 4000
    assert second["dispatch_seconds"] == pytest.approx(slow_seconds(2000, 4000), rel=1e-12)


# ---- one time model: the balanced `ep` path and the routing-aware path agree ----------------


@pytest.mark.parametrize(
    "args",
    [
        ("--preset", "deepseek-v3", "--tokens", "128", "--ep", "64", "--hardware", "h800"),
        ("--preset", "deepseek-v3", "--tokens", "4096", "--ep", "8", "--hardware", H100),
        ("--preset", "mixtral-8x7b", "--tokens", "77", "--ep", "8", "--hardware", "h800",
         "--gpus-per-node", "2"),
        ("--deployment", "deepseek-v3-train", "--tokens", "4096", "--hardware", "h800"),
        ("--preset", "deepseek-v3", "--tokens", "128", "--ep", "64", "--dispatch-dtype", "fp8",
         "--combine-dtype", "bf16", "--scale-block", "128", "--header-bytes", "16",
         "--hardware", "gb200-nvl72"),
    ],
)  # fmt: skip
def test_balanced_and_routing_aware_times_agree(args: tuple[str, ...]) -> None:
    seed = data("ep", *args)
    routed = data("ep", *args, "--dedup", "copies")
    uniform = data("traffic", *args)
    for r in (routed, uniform):
        assert r["scenario"] == "balanced routing (exact expectation)"
        assert r["dispatch_seconds"] == seed["dispatch_seconds"]
        assert r["combine_seconds"] == seed["combine_seconds"]
        assert r["dispatch_busiest_intra_node_bytes"] == seed["dispatch_intra_bytes_per_rank"]
        assert r["dispatch_busiest_inter_node_bytes"] == seed["dispatch_inter_bytes_per_rank"]
        assert r["combine_busiest_inter_node_bytes"] == seed["combine_inter_bytes_per_rank"]
        assert r["gpus_per_node"] == seed["ep_ranks_per_node"]
        assert r["dispatch_bytes_per_rank"] == seed["dispatch_bytes_per_rank"]


@settings(max_examples=40, deadline=None)
@given(
    ep=st.sampled_from([1, 2, 4, 8, 16, 32]),
    per_node=st.sampled_from([1, 2, 4, 8, 72]),
    tokens=st.integers(1, 1 << 12),
    per_rank=st.integers(1, 4),
    topk=st.integers(1, 8),
    header=st.integers(0, 32),
    fp8=st.booleans(),
)
def test_one_time_model_property(
    ep: int, per_node: int, tokens: int, per_rank: int, topk: int, header: int, fp8: bool
) -> None:
    experts = ep * per_rank
    cfg = EPConfig(
        model=MoEModel(hidden_size=1024, num_experts=experts, top_k=min(topk, experts)),
        workload=Workload(tokens=tokens),
        ep=ep,
        dispatch_dtype=DType.FP8 if fp8 else DType.BF16,
    )
    rc = RoutingConfig(header_bytes=header, scale_block=128 if fp8 else None)
    wire = make_wire(1024, cfg.dispatch_dtype, cfg.combine_dtype, rc.scale_block, header)
    hw = resolve.hardware("h800", {"gpus_per_node": per_node})
    seed = timing.ep_times(
        tokens, cfg.model.top_k, ep, wire.dispatch_copy_bytes, wire.combine_copy_bytes, hw
    )
    routed = expected_traffic(cfg, rc, hw)
    assert routed.dispatch_seconds == seed.dispatch_seconds
    assert routed.combine_seconds == seed.combine_seconds
    assert routed.dispatch_busiest_intra_node_bytes == seed.dispatch_intra_bytes_per_rank
    assert routed.combine_busiest_inter_node_bytes == seed.combine_inter_bytes_per_rank
    assert routed.dispatch_bytes_per_rank == ep_traffic(cfg, wire).dispatch_bytes_per_rank


# ---- deployment wire formats on `ep` -------------------------------------------------------


def test_ep_deepseek_v3_decode_wire_format_to_the_byte() -> None:
    """DeepSeek-V3 decode (EP320, 128 tokens, top-8): FP8 dispatch with one fp32 scale per 128
    channels and DeepEP's 16-byte low-latency header, 7168 + 4·7168/128 + 16 = 7408 B a copy;
    BF16 combine, 2·7168 = 14336 B. Balanced routing: 128·8·319/320 = 5104/5 copies leave."""
    d = data("ep", "--deployment", "deepseek-v3-decode", "--tokens", "128")
    assert d == {
        "convention": "per rank, per MoE layer; tokens b·s on this rank; balanced routing; "
        "bytes that leave the rank",
        "input_tokens_per_rank": 128,
        "ep": 320,
        "dispatch_dtype": "fp8",
        "combine_dtype": "bf16",
        "scale_block": 128,
        "header_bytes": 16,
        "dispatch_copy_bytes": 7408,
        "combine_copy_bytes": 14336,
        "tokens_per_rank": "5104/5",
        "dispatch_bytes_per_rank": "37810432/5",  # 5104/5 · 7408
        "combine_bytes_per_rank": "73170944/5",  # 5104/5 · 14336
        "ep_bytes_per_rank": "110981376/5",  # 5104/5 · 21744
        "ep_bytes_per_rank_approx": 29360128,  # the seed's 4·b·s·k·h = 4·128·8·7168
        "expectation": True,
    }


def test_ep_deepseek_v3_decode_times_use_the_wire_format() -> None:
    """On h800 (8 GPUs per node): 7 peers on NVLink, 312 over IB, 128·8/320 copies to each."""
    d = data("ep", "--deployment", "deepseek-v3-decode", "--tokens", "128", "--hardware", "h800")
    assert d["dispatch_intra_bytes_per_rank"] == "829696/5"  # 7 · 16/5 · 7408
    assert d["dispatch_inter_bytes_per_rank"] == "36980736/5"  # 312 · 16/5 · 7408
    assert d["combine_inter_bytes_per_rank"] == "71565312/5"  # 312 · 16/5 · 14336
    # h800: 40 GB/s IB, 3.7 µs per message, 8.4 µs per collective; IB is the slower link.
    assert d["dispatch_seconds"] == pytest.approx(8.4e-6 + 3.7e-6 + 36980736 / 5 / 40e9, rel=1e-12)


def test_ep_wire_options_keep_the_balanced_output() -> None:
    """--scale-block and --header-bytes set bytes per copy; they no longer switch the output."""
    d = data(
        "ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "8", "--dispatch-dtype",
        "fp8", "--combine-dtype", "bf16", "--scale-block", "128", "--header-bytes", "16",
    )  # fmt: skip
    assert "scenario" not in d
    assert (d["dispatch_copy_bytes"], d["combine_copy_bytes"]) == (7408, 14336)
    assert d["dispatch_bytes_per_rank"] == 896 * 7408  # 128·8·7/8 copies
    header_only = data(
        "ep", "--hidden", "10", "--experts", "2", "--topk", "1", "--tokens", "4", "--ep", "2",
        "--header-bytes", "3",
    )  # fmt: skip
    assert header_only["dispatch_bytes_per_rank"] == 2 * 23
    assert header_only["combine_bytes_per_rank"] == 2 * 20


def test_deployment_scale_block_yields_to_a_bf16_override() -> None:
    d = data("ep", "--deployment", "deepseek-v3-prefill", "--tokens", "8", "--dtype", "bf16")
    assert (d["scale_block"], d["dispatch_copy_bytes"]) == (None, 14336)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("ep", "--preset", "deepseek-v3", "--tokens", "8", "--ep", "8", "--scale-block", "128"),
            "--scale-block applies to fp8 only; got --dispatch-dtype bf16 and --combine-dtype bf16",
        ),
        (
            ("ep", "--preset", "deepseek-v3", "--tokens", "8", "--ep", "8", "--dtype", "fp8",
             "--scale-block", "100"),
            "--scale-block must divide the hidden size (7168); got 100",
        ),
        (
            ("ep", "--preset", "deepseek-v3", "--tokens", "8", "--ep", "8", "--header-bytes", "-1"),
            "--header-bytes must be at least 0; got -1",
        ),
        (
            ("traffic", "--hidden", "8", "--experts", "12", "--topk", "2", "--tokens", "4",
             "--ep", "12", "--hardware", "h800"),
            "--ep must be at most, or a multiple of, the EP ranks per node (8); got 12",
        ),
        (
            ("ep", "--hidden", "8", "--experts", "12", "--topk", "2", "--tokens", "4",
             "--ep", "12", "--dedup", "rank", "--hardware", "h800"),
            "--ep must be at most, or a multiple of, the EP ranks per node (8); got 12",
        ),
        (
            ("traffic", "--hidden", "8", "--experts", "8", "--topk", "2", "--tokens", "4",
             "--ep", "8", "--bw-inter", "10"),
            "--bw-inter needs --hardware",
        ),
        (
            ("traffic", "--hidden", "8", "--experts", "8", "--topk", "2", "--tokens", "4",
             "--ep", "8", "--hardware", "h800", "--efficiency", "2"),
            "--efficiency must be at most 1; got 2",
        ),
    ],
)  # fmt: skip
def test_errors(args: tuple[str, ...], message: str) -> None:
    code, out, err = invoke(*args)
    assert (code, out, err) == (2, "", f"Error: {message}\n")


def test_traffic_table_names_the_hardware(counts: str) -> None:
    code, out, _ = invoke(
        "traffic", "--hidden", "1000", "--expert-counts", counts, "--gpus-per-node", "2", *SLOW
    )
    assert code == 0
    flat = " ".join(out.split())
    assert "│ dispatch time │ 39.40 µs │" in flat
    assert "EP times: the busiest rank's max(send, recv) bytes on each link" in flat
    assert "2 EP ranks per node. Hardware h100-sxm: scale-up 1 GB/s" in flat


def test_deployment_times_load_neither_sympy_nor_numpy() -> None:
    """The wire format and the times evaluate through the generated evaluators."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from moecomm.cli import cli\n"
        "cli.main(['ep', '--deployment', 'deepseek-v3-decode', '--tokens', '128', '--hardware',"
        " 'h800'], standalone_mode=False)\n"
        "assert 'sympy' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_links_file_is_h100_sxm_without_its_fits() -> None:
    from moecomm import presets as P

    preset = P.load(P.HARDWARE, "h100-sxm")
    links_only = P.load(P.HARDWARE, H100)
    assert links_only.hardware == preset.hardware.model_copy(update={"collectives": ()})
    assert links_only.name == "h100-sxm" and links_only.calibration is None
