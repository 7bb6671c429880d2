"""``moecomm ep`` routing options and ``moecomm traffic``: exact JSON and every error message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from moecomm.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def main_run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(args, prog_name="moecomm")
    return int(str(exc.value.code)), capsys.readouterr().err


def test_ep_json_unchanged_without_new_options() -> None:
    code, out, _ = run(
        "ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "64", "--format", "json"
    )
    assert code == 0
    assert code == 0
    assert json.loads(out) == {
        "convention": "per rank, per MoE layer; tokens b·s on this rank; balanced routing; "
        "bytes that leave the rank",
        "input_tokens_per_rank": 128,
        "ep": 64,
        "dispatch_dtype": "bf16",
        "combine_dtype": "bf16",
        "scale_block": None,
        "header_bytes": 0,
        "dispatch_copy_bytes": 14336,
        "combine_copy_bytes": 14336,
        "tokens_per_rank": 1008,
        "dispatch_bytes_per_rank": 14450688,
        "combine_bytes_per_rank": 14450688,
        "ep_bytes_per_rank": 28901376,
        "ep_bytes_per_rank_approx": 29360128,
        "expectation": False,
    }


def test_ep_deepep_low_latency_bytes() -> None:
    code, out, _ = run(
        "ep",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "128",
        "--ep",
        "8",
        "--dispatch-dtype",
        "fp8",
        "--combine-dtype",
        "bf16",
        "--scale-block",
        "128",
        "--header-bytes",
        "16",
        "--count",
        "logical",
        "--format",
        "json",
    )
    assert code == 0
    assert code == 0
    d = json.loads(out)
    assert d["dispatch_copy_bytes"] == 7408
    assert d["dispatch_bytes_per_rank"] == 1024 * 7408
    assert d["combine_bytes_per_rank"] == 1024 * 14336
    assert d["per_rank"][3] == {
        "rank": 3,
        "send_bytes": 7585792,
        "recv_bytes": 7585792,
        "combine_send_bytes": 14680064,
        "combine_recv_bytes": 14680064,
    }
    assert len(d["matrix_bytes"]) == 8 and d["matrix_bytes"][0][0] == 128 * 7408


def test_ep_split_and_node_dedup_exact() -> None:
    code, out, _ = run(
        "ep",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "4096",
        "--ep",
        "64",
        "--gpus-per-node",
        "8",
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    # 4096·8/64 = 512 copies per pair: 7 pairs in the node, 56 outside, 14336 B each.
    assert d["dispatch_intra_node_bytes_per_rank"] == 7 * 512 * 14336
    assert d["dispatch_inter_node_bytes_per_rank"] == 56 * 512 * 14336
    assert d["dispatch_bytes_per_rank"] == 63 * 512 * 14336 == 462422016
    code, out, _ = run(
        "ep",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "4096",
        "--ep",
        "64",
        "--gpus-per-node",
        "8",
        "--dedup",
        "node",
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["expected_distinct_nodes_per_token"] == "697366471/192164335"
    assert d["n_group"] == 8 and d["topk_group"] == 4


def test_ep_capacity_padding() -> None:
    code, out, _ = run(
        "ep",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "4096",
        "--ep",
        "64",
        "--capacity-factor",
        "1.25",
        "--pad",
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["expert_capacity"] == 160
    assert d["dispatch_copies_per_rank"] == 160 * (256 - 4)
    assert d["capacity_factor"] == "5/4" and d["pad"] is True
    assert d["dropped_copies_per_rank"] == 0


def test_ep_imbalance() -> None:
    code, out, _ = run(
        "ep",
        "--hidden",
        "4",
        "--experts",
        "8",
        "--topk",
        "2",
        "--tokens",
        "16",
        "--ep",
        "4",
        "--imbalance",
        "2",
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["busiest_rank"] == 0 and d["imbalance"] == 2
    assert d["busiest_rank_recv_bytes"] == 2 * d["mean_rank_recv_bytes"] == 2 * 3 * 8 * 8


def test_table_shows_only_used_options() -> None:
    _, plain, _ = run(
        "ep",
        "--hidden",
        "4",
        "--experts",
        "8",
        "--topk",
        "2",
        "--tokens",
        "16",
        "--ep",
        "4",
        "--count",
        "wire",
    )
    assert "GPUs per node" not in plain and "capacity" not in plain
    _, split, _ = run(
        "ep",
        "--hidden",
        "4",
        "--experts",
        "8",
        "--topk",
        "2",
        "--tokens",
        "16",
        "--ep",
        "4",
        "--gpus-per-node",
        "2",
    )
    assert "GPUs per node" in split and "dispatch inter-node" in split


def _write(tmp: Path, name: str, data: object) -> str:
    p = tmp / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return str(p)


def test_traffic_counts_exact(tmp_path: Path) -> None:
    f = _write(tmp_path, "c.json", {"expert_counts": [[10, 0, 5, 3], [0, 7, 1, 2]]})
    m = tmp_path / "m.json"
    code, out, _ = run(
        "traffic",
        "--hidden",
        "4",
        "--expert-counts",
        f,
        "--export-matrix",
        str(m),
        "--format",
        "json",
    )
    assert code == 0
    assert code == 0
    d = json.loads(out)
    # Rank 0 holds experts 0, 1: it sends 5 + 3 copies to rank 1; rank 1 sends 0 + 7 to rank 0.
    assert d["matrix_bytes"] == [[0, 64], [56, 0]]
    assert [(r["send_bytes"], r["recv_bytes"]) for r in d["per_rank"]] == [(64, 56), (56, 64)]
    assert d["busiest_rank_bytes"] == 64 and d["imbalance"] == "16/15"
    assert json.loads(m.read_text())["layers"][0]["combine_matrix_bytes"] == [[0, 56], [64, 0]]


def test_traffic_flat_counts_split_and_csv(tmp_path: Path) -> None:
    f = _write(tmp_path, "c.json", {"expert_counts": [5, 2, 0, 4]})
    code, out, _ = run(
        "traffic",
        "--hidden",
        "1",
        "--dtype",
        "fp8",
        "--ep",
        "2",
        "--expert-counts",
        f,
        "--format",
        "json",
    )
    assert code == 0
    # 5 → 3 + 2 (remainder to the first sources), 2 → 1 + 1, 4 → 2 + 2.
    assert json.loads(out)["matrix_bytes"] == [[0, 2], [3, 0]]
    c = _write(tmp_path, "c.csv", "e0,e1,e2,e3\n3,1,0,2\n2,1,0,2\n")
    code, out2, _ = run(
        "traffic", "--hidden", "1", "--dtype", "fp8", "--expert-counts", c, "--format", "json"
    )
    assert code == 0
    assert json.loads(out2)["matrix_bytes"] == [[0, 2], [3, 0]]


def test_traffic_layers(tmp_path: Path) -> None:
    f = _write(
        tmp_path, "c.json", {"layers": [{"expert_counts": [[1, 1], [1, 1]]}, [[2, 0], [0, 2]]]}
    )
    code, out, _ = run(
        "traffic", "--hidden", "2", "--dtype", "fp8", "--expert-counts", f, "--format", "json"
    )
    assert code == 0
    d = json.loads(out)
    assert [x["matrix_bytes"] for x in d["layers"]] == [[[0, 2], [2, 0]], [[0, 0], [0, 0]]]


def test_traffic_topk_dedup_and_placement(tmp_path: Path) -> None:
    ids = _write(tmp_path, "ids.json", {"topk_ids": [[[2, 3], [0, 2]], [[0, 1], [3, -1]]]})
    args = [
        "traffic",
        "--hidden",
        "1",
        "--dtype",
        "fp8",
        "--experts",
        "4",
        "--topk-ids",
        ids,
        "--format",
        "json",
    ]
    assert json.loads(run(*args)[1])["matrix_bytes"] == [[0, 3], [2, 0]]
    assert json.loads(run(*args, "--dedup", "rank")[1])["matrix_bytes"] == [[0, 2], [1, 0]]
    p = _write(tmp_path, "p.json", {"placement": [1, 1, 0, [0, 1]]})
    d = json.loads(run(*args, "--placement", p)[1])
    # Rank 0: e0 goes to rank 1; e3's one copy goes to its replica at index 0 % 2 (rank 0 itself).
    # Rank 1: e0, e1 are local; e3's copy goes to the replica at index 1 % 2 (rank 1 itself).
    assert d["matrix_bytes"] == [[0, 1], [0, 0]]


ERRORS = [
    (
        {"expert_counts": [[1, 2], [3]]},
        [],
        "c.json: expert_counts[1] must have one count per expert (2); got 1",
    ),
    (
        {"expert_counts": [[1, -2], [3, 4]]},
        [],
        "c.json: expert_counts[0][1] must be a non-negative integer; got -2",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--ep", "3"],
        "c.json: expert_counts must have one list per source rank (--ep 3); got 2",
    ),
    (
        {"expert_counts": [1, 2]},
        [],
        "c.json: a flat per-expert list needs --ep to split it over sources",
    ),
    ({"counts": []}, [], "c.json: expert_counts is required (or layers)"),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--dedup", "rank"],
        "--dedup rank needs --topk-ids: expert counts do not say which selections share a token",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--dedup", "node"],
        "--dedup node needs --gpus-per-node",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--scale-block", "2"],
        "--scale-block applies to fp8 only; got --dispatch-dtype bf16 and --combine-dtype bf16",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--dtype", "fp8", "--scale-block", "3"],
        "--scale-block must divide the hidden size (4); got 3",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--gpus-per-node", "3"],
        "--gpus-per-node must divide --ep (2); got 3",
    ),
    (
        {"expert_counts": [[1, 2], [3, 4]]},
        ["--capacity-factor", "x"],
        "Invalid value for --capacity-factor: must be a positive integer, fraction p/q or decimal; got 'x'",
    ),
]


@pytest.mark.parametrize(("data", "extra", "message"), ERRORS)
def test_traffic_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: object, extra: list[str], message: str
) -> None:
    f = _write(tmp_path, "c.json", data)
    code, err = main_run(["traffic", "--hidden", "4", "--expert-counts", f, *extra], capsys)
    assert code == 2
    assert err == f"Error: {message.replace('c.json', f)}\n"


def test_topk_and_placement_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _write(tmp_path, "ids.json", {"topk_ids": [[[0, 4]], [[1, 2]]]})
    code, err = main_run(["traffic", "--hidden", "4", "--experts", "4", "--topk-ids", ids], capsys)
    assert (code, err) == (
        2,
        f"Error: {ids}: topk_ids[0][0][1] must be an expert id in 0..3 or -1 (masked); got 4\n",
    )
    ok = _write(tmp_path, "ok.json", {"topk_ids": [[[0, 3]], [[1, 2]]]})
    p = _write(tmp_path, "p.json", {"placement": [0, 1, 2, 0]})
    code, err = main_run(
        ["traffic", "--hidden", "4", "--experts", "4", "--topk-ids", ok, "--placement", p], capsys
    )
    assert (code, err) == (2, f"Error: {p}: placement[2] must hold ranks in 0..1; got 2\n")
    npy = tmp_path / "ids.npy"
    npy.write_bytes(b"\x93NUMPY")
    code, err = main_run(
        ["traffic", "--hidden", "4", "--experts", "4", "--topk-ids", str(npy)], capsys
    )
    try:
        import numpy  # noqa: F401
    except ImportError:
        assert (code, err) == (
            2,
            f"Error: {npy}: reading .npy needs numpy (pip install numpy), or give the ids as JSON\n",
        )
    else:
        assert code == 2 and err.startswith(f"Error: {npy}: not a readable .npy array")


def test_ep_option_errors(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["ep", "--hidden", "4", "--experts", "8", "--topk", "2", "--tokens", "16", "--ep", "4"]
    cases = [
        (["--imbalance", "5"], "--imbalance must be at most --ep (4); got 5"),
        (["--pad"], "--pad needs --capacity-factor"),
        (
            ["--dedup", "rank", "--imbalance", "2"],
            "--imbalance needs --dedup copies; got --dedup rank",
        ),
        (["--n-group", "2"], "--n-group and --topk-group must be given together"),
        (
            ["--n-group", "3", "--topk-group", "1"],
            "--n-group must divide the number of routed experts (8); got 3",
        ),
    ]
    for extra, message in cases:
        assert main_run([*base, *extra], capsys) == (2, f"Error: {message}\n")


def test_traffic_zipf_sampled_is_seeded() -> None:
    args = [
        "traffic",
        "--hidden",
        "2",
        "--experts",
        "16",
        "--topk",
        "2",
        "--tokens",
        "50",
        "--ep",
        "4",
        "--routing",
        "zipf:1.2",
        "--format",
        "json",
    ]
    a, b = json.loads(run(*args)[1]), json.loads(run(*args)[1])
    assert a["matrix_bytes"] == b["matrix_bytes"]
    assert a["busiest_rank"] == 0 and a["imbalance"] != 1
    assert a["scenario"] == "zipf:1.2 sampled (seed 0, 50 tokens per rank)"
