"""``moecomm measure``: a real torchrun run with gloo on CPU, its bytes checked exactly against
``moecomm traffic`` and the file against the schema; the routing plan without torch; every error
path with its exact one-line message, none of which ever waits for a rendezvous."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run

import moecomm
from moecomm import api
from moecomm.config import MoEModel
from moecomm.errors import MoecommError
from moecomm.measure import launch as L
from moecomm.measure.job import variants
from moecomm.measure.plan import Routing, moe_runs
from moecomm.measure.spec import COLLECTIVES, buffer_elements, busbw_factor, sweep

HAS_TORCH = importlib.util.find_spec("torch") is not None
REQUIRE_TORCH = bool(os.environ.get("MOECOMM_REQUIRE_TORCH"))

TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
"""A faked torchrun environment: only for cases that must fail before any rendezvous."""

SMALL = ["--hidden", "256", "--experts", "8", "--topk", "2"]
MODEL = MoEModel(hidden_size=256, num_experts=8, top_k=2)


def needs_torch() -> None:
    if HAS_TORCH:
        return
    if REQUIRE_TORCH:
        pytest.fail("MOECOMM_REQUIRE_TORCH=1 but torch is not installed")
    pytest.skip("torch is not installed (pip install torch==2.13.0)")


@pytest.fixture
def no_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*L.REQUIRED, "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun's variables, for cases that must fail first: a case that did not would reach
    the rendezvous, so that is refused here instead of waiting for it."""
    for name, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)

    def no_rendezvous(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("reached the process group: the case should have failed first")

    monkeypatch.setattr(importlib.import_module("moecomm.measure.run"), "run", no_rendezvous)


def traffic_matrix(name: str, **kw: Any) -> list[list[int]]:
    """``moecomm traffic``'s matrix for one variant (``dispatch_fp8`` …), --count logical."""
    phase, dtype = name.split("_")
    extra = {"scale_block": 128} if dtype == "fp8" else {}
    r = api.traffic(
        count="logical", dispatch_dtype=dtype, combine_dtype=dtype, **extra, **kw
    ).result
    m = r.matrix_bytes if phase == "dispatch" else r.combine_matrix_bytes
    return [[int(x) for x in row] for row in m]


def torchrun(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc_per_node=2 -m moecomm measure ...`` on this moecomm."""
    env = dict(os.environ)
    src = str(Path(moecomm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    return subprocess.run(
        [*cmd, "-m", "moecomm", "measure", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_torchrun_gloo_two_ranks_bytes_exact(tmp_path: Path) -> None:
    needs_torch()
    import torch

    out = tmp_path / "m.json"
    done = torchrun(
        tmp_path,
        *("-o", str(out), "--backend", "gloo", "--dtype", "fp32"),
        *("--min-bytes", "1KiB", "--max-bytes", "4KiB", "--iters", "3", "--warmup", "1"),
        *SMALL,
        *("--tokens", "16,40", "--routing", "zipf:1.2", "--seed", "3", "--moe-iters", "2"),
        "--save-routing-max-tokens=16",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["schema"] == "moecomm-bench/1"
    assert set(doc) == {"schema", "metadata", "conventions", "checks", "collectives", "moe"}
    md = doc["metadata"]
    assert (md["world_size"], md["backend"], md["nodes"]) == (2, "gloo", 1)
    assert md["torch"] == torch.__version__
    assert [r["local_rank"] for r in md["ranks"]] == [0, 1]
    assert doc["conventions"]["timing_conventions"] == {
        "per-op": "median_s",
        "back-to-back": "batched_avg_s",
    }
    # Collectives: every kind, every size of the sweep, checked on known data, exact buffers.
    assert doc["checks"] == {c.key: "ok" for c in COLLECTIVES.values()}
    for kind, c in COLLECTIVES.items():
        block = doc["collectives"][c.key]
        assert block["busbw_factor"] == busbw_factor(kind, 2)
        assert (block["dtype"], block["size_convention"]) == ("float32", c.size_convention)
        counts = [buffer_elements(s, 4, 2) for s in sweep(1024, 4096)]
        assert [r["bytes"] for r in block["rows"]] == [4 * n for n in counts] == [1024, 2048, 4096]
        for row in block["rows"]:
            shares = {"all-gather": (2, 1), "reduce-scatter": (1, 2)}.get(kind, (1, 1))
            assert row["input_bytes_per_rank"] == row["bytes"] // shares[0]
            assert row["output_bytes_per_rank"] == row["bytes"] // shares[1]
            assert row["median_s"] > 0 and row["batched_avg_s"] > 0
            assert len(row["rank_median_s"]) == 2
            assert row["busbw_GBps_batched"] == pytest.approx(
                row["bytes"] / row["batched_avg_s"] / 1e9 * block["busbw_factor"]
            )
    # MoE: each variant's bytes are moecomm traffic's matrix for the same routing, exactly.
    moe = doc["moe"]
    assert moe["row_bytes"] == {"dispatch_bf16": 512, "dispatch_fp8": 264, "combine_bf16": 512}
    assert [r["T"] for r in moe["runs"]] == [16, 40]
    for rec in moe["runs"]:
        assert rec["check"] == "ok"
        same = {"hidden_size": 256, "num_experts": 8, "top_k": 2, "tokens": rec["T"], "ep": 2}
        for name, width in moe["row_bytes"].items():
            sent = rec[name]["send_bytes"]
            assert sent == traffic_matrix(name, routing="zipf:1.2", seed=3, **same)
            rows = rec["send_rows"]
            if name.startswith("combine"):  # the received rows go back: the transpose
                rows = [list(col) for col in zip(*rows, strict=True)]
            assert sent == [[r * width for r in row] for row in rows]
            off = [sum(row) - row[i] for i, row in enumerate(sent)]
            recv = [sum(sent[s][d] for s in range(2) if s != d) for d in range(2)]
            assert rec[name]["max_offrank_send_or_recv_bytes"] == max(*off, *recv)
            assert rec[name]["bytes_check"].startswith("ok")
    # The recorded routing replays through `moecomm traffic --topk-ids`.
    first = moe["runs"][0]
    assert "topk_ids" in first and "topk_ids" not in moe["runs"][1]
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"topk_ids": first["topk_ids"]}))
    del same["tokens"]
    replay = traffic_matrix("dispatch_bf16", topk_ids=ids, **same)
    assert replay == first["dispatch_bf16"]["send_bytes"]
    assert "Measured on 2 ranks (gloo, 1 node(s)); wrote" in done.stdout
    assert "[moe T=40] combine_bf16" in done.stderr


def test_uniform_plan_is_traffic_of_its_sampled_ids(tmp_path: Path) -> None:
    wires = variants(256, (), (), scale_block=None, header_bytes=None, dep=None)
    assert [v.name for v in wires] == ["dispatch_bf16", "dispatch_fp8", "combine_bf16"]
    (plan,) = moe_runs(MODEL, wires, Routing(seed=5), (24,), 4, save_max=24)
    assert plan.topk_ids is not None and plan.tokens_per_rank == [24] * 4
    assert all(len(set(t)) == 2 for rank in plan.topk_ids for t in rank)  # k distinct experts
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(plan.topk_ids))
    same = {"hidden_size": 256, "num_experts": 8, "top_k": 2, "topk_ids": path}
    for v in wires:
        assert plan.send_bytes[v.name] == traffic_matrix(v.name, **same)
    assert sum(map(sum, plan.copies)) == 4 * 24 * 2  # every (token, expert) pair, once


def test_topk_file_and_rank_dedup_plan(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"topk_ids": [[[0, 1], [4, 5], [0, -1]], [[6, 7], [2, 3]]]}))
    wires = variants(256, ("bf16",), ("bf16",), scale_block=None, header_bytes=None, dep=None)
    (plan,) = moe_runs(MODEL, wires, Routing(topk_ids=path), (), 2, dedup="rank")
    assert plan.copies == [[2, 1], [1, 1]]  # one row per (token, destination rank)
    assert plan.tokens is None and plan.tokens_per_rank == [3, 2]
    assert plan.send_bytes["dispatch_bf16"] == [[1024, 512], [512, 512]]
    assert plan.send_bytes["dispatch_bf16"] == traffic_matrix(
        "dispatch_bf16", dedup="rank", hidden_size=256, num_experts=8, top_k=2, topk_ids=path
    )
    assert plan.splits(wires[1], 0) == ([2, 1], [2, 1])  # combine sends back what came in


def test_deployment_wire_format_is_the_resolvers() -> None:
    from moecomm import resolve as R

    dep = R.deployment("deepseek-v3-decode")
    wires = variants(7168, (), (), scale_block=None, header_bytes=None, dep=dep)
    assert [(v.name, v.copy_bytes) for v in wires] == [
        ("dispatch_fp8", 7408),
        ("combine_bf16", 14336),
    ]


ERRORS = [
    (
        ["--min-bytes", "2KiB", "--max-bytes", "1KiB"],
        "--min-bytes must be at most --max-bytes (1024); got 2048",
    ),
    (
        ["--max-bytes", "1QB"],
        "--max-bytes must be a positive integer, optionally with KiB/MiB/GiB or KB/MB/GB; "
        "got '1QB'",
    ),
    (["--max-bytes", "128GiB"], "--max-bytes must be at most 68719476736; got 137438953472"),
    (["--iters", "0"], "--iters must be at least 1; got 0"),
    (
        ["--collectives", "all-reduce,gather"],
        "--collectives must be none or a comma-separated list of all-reduce, all-gather, "
        "reduce-scatter, all-to-all, broadcast; got 'gather'",
    ),
    (["--backend", "gloo", "--cuda-graph", "10"], "--cuda-graph needs --backend nccl; got gloo"),
    (["--tokens", "0", *SMALL], "--tokens must lie in 1..1048576 per rank; got 0"),
    (
        ["--routing", "zipf:9", *SMALL],
        "--routing must be uniform or zipf:S with 0 < S ≤ 4; got 'zipf:9'",
    ),
    (["--routing", "zipf:1"], "the MoE options need a model: --preset or --hidden"),
    (
        ["--collectives", "none"],
        "--collectives none leaves nothing to measure: give a model (--preset or --hidden, ...) "
        "for MoE dispatch and combine",
    ),
    (["--topk", "2", "--experts", "8"], "--hidden is required"),
    (
        [*SMALL, "--dispatch-dtype", "fp8", "--hidden", "200"],
        "--scale-block must divide the hidden size (200); got 128",
    ),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_bad_options_one_line(args: list[str], message: str, no_torchrun: None) -> None:
    result = run("measure", "-o", "m.json", *args)
    assert (result.exit_code, result.output) == (2, f"Error: {message}\n")


def test_outside_torchrun_stops_at_once(no_torchrun: None, tmp_path: Path) -> None:
    needs_torch()
    result = run("measure", "-o", str(tmp_path / "m.json"), *SMALL)
    assert result.exit_code == 2
    assert result.output == (
        "Error: moecomm measure must run under torchrun, one process per rank (torchrun "
        "--nproc_per_node=N -m moecomm measure ...); RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT "
        "not set\n"
    )
    assert not (tmp_path / "m.json").exists()


def test_without_torch_names_the_extra(no_torchrun: None, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    result = run("measure", "-o", "m.json")
    assert (result.exit_code, result.output) == (
        2,
        "Error: moecomm measure needs torch, the optional extra 'measure': "
        'pip install "moecomm[measure]"\n',
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WORLD_SIZE": "1"},
            "moecomm measure needs 2..512 ranks (torchrun --nproc_per_node, "
            "--nnodes); got WORLD_SIZE 1",
        ),
        ({"RANK": "2"}, "torchrun's RANK must be an integer in 0..1; got '2'"),
        ({"WORLD_SIZE": "x"}, "torchrun's WORLD_SIZE must be an integer in 1..1048576; got 'x'"),
    ],
)
def test_bad_torchrun_environment(
    env: dict[str, str], message: str, fake_torchrun: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_torch()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run("measure", "-o", "m.json")
    assert (result.exit_code, result.output) == (2, f"Error: {message}\n")


def test_bad_topk_ids_files(fake_torchrun: None, tmp_path: Path) -> None:
    needs_torch()
    three = tmp_path / "three.json"
    three.write_text(json.dumps([[[0, 1]], [[2, 3]], [[4, 5]]]))
    bad_id = tmp_path / "bad.json"
    bad_id.write_text(json.dumps([[[0, 9]], [[2, 3]]]))
    broken = tmp_path / "broken.json"
    broken.write_text("[[[0, 1]], ")
    cases = {
        three: f"{three}: topk_ids must have one list per rank (the world size, 2); got 3",
        bad_id: f"{bad_id}: topk_ids[0][0][1] must be an expert id in 0..7 or -1 (masked); got 9",
        broken: f"{broken}: not valid JSON: Expecting value at line 1 column 12",
    }
    for path, message in cases.items():
        result = run("measure", "-o", str(tmp_path / "m.json"), *SMALL, "--topk-ids", str(path))
        assert (result.exit_code, result.output) == (2, f"Error: {message}\n")
    both = run("measure", "-o", "m.json", *SMALL, "--topk-ids", str(three), "--tokens", "8")
    assert both.output == "Error: give --topk-ids or --tokens, not both\n"


def test_world_must_divide_the_experts(
    fake_torchrun: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_torch()
    monkeypatch.setenv("WORLD_SIZE", "3")
    result = run("measure", "-o", "m.json", *SMALL, "--tokens", "8")
    assert (result.exit_code, result.output) == (
        2,
        "Error: the world size (3 ranks) must divide the number of routed experts (8): it is the "
        "EP size\n",
    )


def test_rank_zero_refuses_an_existing_file_before_it_starts(
    fake_torchrun: None, tmp_path: Path
) -> None:
    needs_torch()
    out = tmp_path / "m.json"
    out.write_text("keep")
    result = run("measure", "-o", str(out))
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {out}: exists; pass --force to replace it\n",
    )
    link = tmp_path / "link.json"
    link.symlink_to(out)
    result = run("measure", "-o", str(link))
    assert result.output == (
        f"Error: {link}: is a symbolic link; pass --force to replace the link (never its target)\n"
    )
    assert out.read_text() == "keep"


def test_sampling_limits_name_the_world_size(fake_torchrun: None) -> None:
    needs_torch()
    result = run("measure", "-o", "m.json", "--preset", "deepseek-v3", "--tokens", "1048576")
    assert (result.exit_code, result.output) == (
        2,
        "Error: --tokens × the world size × --experts must be at most 268435456 for sampled "
        "routing; got 536870912: lower --tokens\n",
    )


def test_torch_is_imported_only_by_a_run(no_torchrun: None) -> None:
    """Help, bad options and the refusal outside torchrun never import torch (seconds)."""
    code = (
        "import sys; from click.testing import CliRunner; from moecomm.cli import cli; "
        "r = CliRunner(); r.invoke(cli, ['measure', '--help']); "
        "r.invoke(cli, ['measure', '-o', 'm.json', '--preset', 'mixtral-8x7b']); "
        "r.invoke(cli, ['ep', '--preset', 'deepseek-v3', '--tokens', '8', '--ep', '8']); "
        "print('torch' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in L.REQUIRED}
    src = str(Path(moecomm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


def test_launch_reads_torchrun_variables() -> None:
    env = {**TORCHRUN_ENV, "RANK": "5", "WORLD_SIZE": "16", "LOCAL_RANK": "1"}
    assert L.launch({**env, "LOCAL_WORLD_SIZE": "8"}) == L.Launch(5, 16, 1, 8)
    assert L.launch(env) == L.Launch(5, 16, 1, 16)  # one node unless told
    with pytest.raises(MoecommError) as caught:
        L.launch({**env, "LOCAL_WORLD_SIZE": "8", "LOCAL_RANK": "8"})
    assert str(caught.value) == "torchrun's LOCAL_RANK must be an integer in 0..7; got '8'"
