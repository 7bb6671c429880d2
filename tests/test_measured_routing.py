"""Routing captured on real H100s (benchmarks/results) fed back as --expert-counts.

The measurement script routed random top-8 tokens over E = 256 experts on 2 and 4 GPUs and ran
the dispatch with NCCL's all_to_all_single; it recorded each source rank's per-expert counts and
the rows it actually sent to every destination. moecomm must reproduce those bytes exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ok_json

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
FILES = sorted(RESULTS.glob("h100x*_nccl*.json"))
RUNS = [(f.name, run) for f in FILES for run in json.loads(f.read_text())["moe"]["runs"]]


@pytest.mark.parametrize(("name", "run"), RUNS, ids=[f"{n}-T{r['T']}" for n, r in RUNS])
@pytest.mark.parametrize(
    ("phase_args", "row_bytes"),
    [((), 7168 * 2), (("--dispatch-dtype", "fp8", "--scale-block", "128"), 7168 + 4 * 7168 // 128)],
    ids=["bf16", "fp8"],
)
def test_measured_send_matrix_to_the_byte(
    tmp_path: Path, name: str, run: dict[str, Any], phase_args: tuple[str, ...], row_bytes: int
) -> None:
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"expert_counts": run["expert_counts"]}))
    sent = run["send_rows"]
    n = len(sent)
    for count, diagonal in (("wire", False), ("logical", True)):
        out = ok_json(
            "traffic",
            "--preset",
            "deepseek-v3",
            "--expert-counts",
            str(counts),
            "--combine-dtype",
            "bf16",
            "--count",
            count,
            *phase_args,
        )
        assert out["ep"] == n
        expected = [
            [sent[i][j] * row_bytes if (i != j or diagonal) else 0 for j in range(n)]
            for i in range(n)
        ]
        assert out["matrix_bytes"] == expected
        for r in out["per_rank"]:
            i = r["rank"]
            assert r["send_bytes"] == sum(expected[i])
            assert r["recv_bytes"] == sum(expected[j][i] for j in range(n))
        # Combine sends every row back to its source, in bf16.
        assert out["combine_matrix_bytes"] == [
            [sent[j][i] * 7168 * 2 if (i != j or diagonal) else 0 for j in range(n)]
            for i in range(n)
        ]
        assert out["busiest_rank_bytes"] == max(
            max(r["send_bytes"], r["recv_bytes"]) for r in out["per_rank"]
        )


@pytest.mark.parametrize("pad", [False, True])
@pytest.mark.parametrize("factor", ["0.5", "1", "1.25"])
def test_capacity_on_measured_counts(tmp_path: Path, factor: str, pad: bool) -> None:
    """Megatron-Core capacity ceil(tokens·k·F/E) per source rank, applied to real counts."""
    from fractions import Fraction
    from math import ceil

    run = RUNS[0][1]
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"expert_counts": run["expert_counts"]}))
    args = ["traffic", "--preset", "deepseek-v3", "--expert-counts", str(counts)]
    args += ["--capacity-factor", factor] + (["--pad"] if pad else [])
    out = ok_json(*args)
    rows = run["expert_counts"]
    n, per = len(rows), 256 // len(rows)
    caps = [ceil(sum(r) * Fraction(factor) / 256) for r in rows]  # tokens·k = row sum
    assert out["expert_capacity"] == max(caps)
    dropped = [sum(c - min(c, caps[i]) for c in r) for i, r in enumerate(rows)]
    assert Fraction(out["dropped_copies_per_rank"]) == Fraction(sum(dropped), n)
    for i, r in enumerate(rows):
        for j in range(n):
            kept = [caps[i] if pad else min(c, caps[i]) for c in r[j * per : (j + 1) * per]]
            assert out["matrix_bytes"][i][j] == (0 if i == j else sum(kept) * 7168 * 2)


def test_capacity_on_data_needs_topk(tmp_path: Path) -> None:
    from conftest import run

    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"expert_counts": [[1, 2], [3, 4]]}))
    result = run(
        "traffic", "--hidden", "8", "--expert-counts", str(counts), "--capacity-factor", "1"
    )
    assert result.exit_code == 2
    assert (
        result.stderr == "Error: --capacity-factor with routing data needs --topk (or --preset)\n"
    )
