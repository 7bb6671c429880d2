"""moecomm calibrate and validate: nccl-tests logs read exactly, known parameters recovered,
malformed logs refused with one line and no file, and the model checked against measurements."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import nccl_logs
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import presets as P
from moecomm import resolve, timing
from moecomm.calibration import nccl_tests
from moecomm.calibration.samples import read
from moecomm.cli import cli

ROOT = Path(__file__).resolve().parents[1]
LOGS = nccl_logs.OUT
RESULTS = ROOT / "benchmarks" / "results"
KIND = {
    "all_reduce_perf": "all-reduce",
    "all_gather_perf": "all-gather",
    "reduce_scatter_perf": "reduce-scatter",
    "alltoall_perf": "all-to-all",
    "broadcast_perf": "broadcast",
    "sendrecv_perf": "send-recv",
}


BASE_TAU = {
    "all-reduce": 5.151e-05,
    "all-gather": 5.004e-05,
    "reduce-scatter": 6.628e-05,
    "all-to-all": 7.938e-05,
    "broadcast": 7.119e-05,
    "send-recv": 5.078e-05,
}
"""h100-sxm's per-op costs on 4 ranks (presets/hardware/h100-sxm.toml)."""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="moecomm")
    return result.exit_code, result.stdout, result.stderr


def test_fixtures_are_current() -> None:
    """The synthetic logs are printed by tests/nccl_logs.py; regenerate them after a change."""
    for name, spec in nccl_logs.LOGS.items():
        assert (LOGS / name).read_text(encoding="utf-8") == nccl_logs.log(spec), name


def test_fixture_rows_print_as_nccl_tests_does() -> None:
    # getFloatStr: 2 decimals within the width, then fewer, then scientific.
    assert nccl_logs.float_str(16.01, 7) == "  16.01"
    assert nccl_logs.float_str(123456.7, 7) == " 123457"
    assert nccl_logs.float_str(1234567.0, 6) == " 1e+06"  # %6.0e
    text = (LOGS / "all_reduce_perf.g8.synthetic.txt").read_text()
    row = next(line for line in text.splitlines() if line.startswith("     1048576"))
    # %12li  %12li  %8s  %6s  %6s, then time algbw busbw #wrong twice.
    assert row.split()[:5] == ["1048576", "262144", "float", "sum", "-1"]
    assert row.startswith("     1048576        262144     float     sum      -1  ")


def test_parse_reads_header_devices_and_both_columns() -> None:
    text = (LOGS / "all_gather_perf.g8.synthetic.txt").read_text()
    log = nccl_tests.parse(text, "all_gather_perf.g8.synthetic.txt")
    assert (log.kind, log.test, log.version, log.nccl_library) == (
        "all-gather", "all_gather_perf", "2.19.6", "2.28.9"
    )  # fmt: skip
    assert (log.ranks, log.hosts, log.gpus, log.iters) == (
        8, ("dgx-a",), ("NVIDIA H100 80GB HBM3",), 20
    )  # fmt: skip
    first = log.rows[0]
    assert (first.bytes, first.count, first.type) == (1024, 32, "float")
    spec = nccl_logs.LOGS["all_gather_perf.g8.synthetic.txt"]
    assert first.out_of_place_us == pytest.approx(nccl_logs.seconds(spec, 1024) * 1e6, abs=0.006)
    assert first.in_place_us == pytest.approx(first.out_of_place_us * 1.003, abs=0.01)
    assert len(log.rows) == 21  # 1 KiB … 1 GiB


def test_parse_mpi_log_over_two_hosts_and_old_layout() -> None:
    mpi = nccl_tests.parse((LOGS / "all_reduce_perf.mpi16.synthetic.txt").read_text(), "x")
    assert (mpi.ranks, mpi.nodes, mpi.gpus_per_node) == (16, 2, 8)
    old = nccl_tests.parse((LOGS / "sendrecv_perf.g8.synthetic.txt").read_text(), "sendrecv.txt")
    assert (old.kind, old.version, old.test) == ("send-recv", None, "sendrecv_perf")
    per_iter = nccl_tests.parse((LOGS / "reduce_scatter_perf.g8.synthetic.txt").read_text(), "x")
    assert per_iter.kind == "reduce-scatter" and len(per_iter.rows) == 21


@pytest.mark.parametrize("name", sorted(nccl_logs.LOGS))
def test_calibrate_recovers_the_synthetic_parameters(name: str, tmp_path: Path) -> None:
    spec = nccl_logs.LOGS[name]
    out = tmp_path / "cluster.toml"
    code, stdout, stderr = invoke("calibrate", str(LOGS / name), "-o", str(out), "--format", "json")
    assert code == 0, stderr
    (row,) = json.loads(stdout)
    assert row["kind"] == KIND[spec.test] and row["ranks"] == spec.ranks
    assert row["link"] == ("scale-up" if len(spec.hosts) == 1 else "scale-out")
    assert row["latency_seconds"] == pytest.approx(spec.alpha_s, rel=0.005)
    assert row["bytes_per_second"] == pytest.approx(spec.bw, rel=0.005)
    assert row["ramp_bytes"] == pytest.approx(spec.ramp, rel=0.03)
    assert row["median_abs_error"] < 0.002 and row["worst_abs_error"] < 0.005
    # nccl-tests has no per-op times: τ_op is the base preset's (h100-sxm's 4-rank fits, used
    # from 4 ranks up; its hardware-wide per-op cost for send-recv, which has no fit).
    assert row["per_op_cases"] == 0
    assert row["per_op_seconds"] == BASE_TAU[row["kind"]]
    preset = P.load(P.HARDWARE, str(out))
    assert preset.name == "cluster" and preset.calibration is not None
    assert preset.calibration.logs == [name]
    assert preset.calibration.nccl_versions == ["2.28.9"] or spec.old
    assert preset.calibration.gpus == ["NVIDIA H100 80GB HBM3"]
    assert preset.calibration.nodes == [len(spec.hosts)]
    assert preset.calibration.base == "h100-sxm"  # the built-in preset of the GPU in the log


def test_calibrated_file_is_used_by_every_timed_command(tmp_path: Path) -> None:
    out = tmp_path / "cluster.toml"
    logs = [str(p) for p in sorted(LOGS.glob("*.txt"))]
    code, _, stderr = invoke("calibrate", *logs, "-o", str(out), "--date", "2026-12-01")
    assert code == 0, stderr
    data = tomllib.loads(out.read_text())
    assert data["calibration"]["date_utc"] == "2026-12-01"
    assert {r["timing"] for r in data["calibration"]["residuals"]} == {"back-to-back"}
    assert len(data["hardware"]["collectives"]) == 7
    # The calibrated all-reduce on one host, by hand from the log's parameters: 1 GiB on 8 ranks.
    spec = nccl_logs.LOGS["all_reduce_perf.g8.synthetic.txt"]
    hw = resolve.hardware(str(out))
    assert hw is not None
    got = timing.collective("all-reduce", 2**30, 8, hw).seconds
    assert got == pytest.approx(nccl_logs.seconds(spec, 2**30), rel=0.003)
    # Across the two hosts, the scale-out fit sets the time.
    mpi = nccl_logs.LOGS["all_reduce_perf.mpi16.synthetic.txt"]
    got16 = timing.collective("all-reduce", 2**30, 16, hw).seconds
    assert got16 == pytest.approx(nccl_logs.seconds(mpi, 2**30), rel=0.003)
    for command in (
        ("collective", "all-to-all", "--bytes", "64MiB", "--ranks", "8"),
        ("ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "8"),
        ("tp", "--hidden", "7168", "--tokens", "4096", "--tp", "8"),
    ):
        code, stdout, stderr = invoke(*command, "--hardware", str(out), "--timing", "per-op")
        assert code == 0, stderr
        assert "Times per-op" in " ".join(stdout.split())


def test_refit_of_the_h100_preset_is_reproducible(tmp_path: Path) -> None:
    """presets/hardware/h100-sxm.toml is moecomm calibrate's output on the four H100 files."""
    files = [RESULTS / f for f in ("h100x2_nccl.json", "h100x2_nccl_graph.json",
                                   "h100x4_nccl.json", "h100x4_nccl_graph.json")]  # fmt: skip
    if not all(f.is_file() for f in files):
        pytest.skip("measured results not in the repository")
    out = tmp_path / "h100-sxm.toml"
    shipped = P.load(P.HARDWARE, "h100-sxm")
    assert shipped.calibration is not None
    code, _, stderr = invoke(
        "calibrate", *map(str, files), "--base", "h100-sxm", "--name", "h100-sxm", "-o", str(out),
        "--date", shipped.calibration.date_utc,
    )  # fmt: skip
    assert code == 0, stderr
    assert out.read_text() == (ROOT / "presets" / "hardware" / "h100-sxm.toml").read_text()


MALFORMED = {
    "truncated": (
        lambda t: "\n".join(t.splitlines()[:30]) + "\n",
        "line 30: truncated: the run ends before its '# Avg bus bandwidth' line",
    ),
    "two runs": (
        lambda t: t + t,
        "line 45: text after the end of the run (two runs in one file?)",
    ),
    "not a number": (
        lambda t: t.replace("18.02    0.23", "18.O2    0.23", 1),
        "line 22: time, algbw and busbw must be numbers",
    ),
    "columns": (
        lambda t: t.replace("       0    18.06", "    18.06", 1),
        "line 20: a data row has 13 columns, as its header says; got 12",
    ),
    "algbw": (
        lambda t: t.replace("18.01    0.06    0.05", "18.01    9.06    0.05", 1),
        "line 20: algbw 9.06 is not size / time (1024 B / 18.01 µs)",
    ),
    "size": (
        lambda t: t.replace("        2048            64", "        2048            65", 1),
        "line 21: size 2048 is not count 65 × 4 B × 8 ranks = 2080 (a log of another run or tool?)",
    ),
    "no ranks": (
        lambda t: "\n".join(x for x in t.splitlines() if "Rank " not in x) + "\n",
        "line 36: no 'Rank … on HOST device …' lines: the devices are unknown",
    ),
    "foreign": (
        lambda t: (
            "# OSU MPI Latency Test v7.1\n# Size          Latency (us)\n0                       1.62\n"
        ),
        "line 1: neither nccl-tests output (no '# nThread … nGpus …' line) nor a "
        "moecomm-bench/1 JSON file",
    ),
    "unknown test": (
        lambda t: t.replace("starting: all_gather_perf", "starting: hypercube_perf"),
        "line 44: hypercube_perf is not one of all_reduce_perf, all_gather_perf, "
        "reduce_scatter_perf, alltoall_perf, sendrecv_perf, broadcast_perf",
    ),
}
"""Broken variants of all_gather_perf.g8.synthetic.txt (data rows on lines 20 to 40)."""


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_log_one_line_exit_2_no_file(case: str, tmp_path: Path) -> None:
    change, message = MALFORMED[case]
    bad = tmp_path / "bad.txt"
    bad.write_text(change((LOGS / "all_gather_perf.g8.synthetic.txt").read_text()))
    out = tmp_path / "cluster.toml"
    good = str(LOGS / "broadcast_perf.g8.synthetic.txt")
    code, stdout, stderr = invoke("calibrate", good, str(bad), "-o", str(out))
    assert (code, stdout) == (2, "")
    assert stderr == f"Error: {bad}: {message}\n"
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_real_layout_variants() -> None:
    """Layouts real logs show: nccl-tests 2.20's version line with a git hash
    (NVIDIA/dgx-spark-playbooks #103), size-0 rows of small reduce-scatters (nccl-tests #128),
    and the layout before 2.10 without redop and root (NVIDIA/nccl #340)."""
    text = (LOGS / "all_gather_perf.g8.synthetic.txt").read_text()
    v220 = text.replace("version 2.19.6 nccl-headers", "version 2.20.0 (b4d5bee) nccl-headers")
    assert nccl_tests.parse(v220, "x").version == "2.20.0"
    first = next(line for line in text.splitlines() if line.startswith("        1024"))
    zero = text.replace(
        first,
        "           0             0     float    none      -1     5.70    0.00    0.00       0"
        "     5.54    0.00    0.00       0",
    )
    assert nccl_tests.parse(zero, "x").rows[0].bytes == 0
    old = "\n".join(
        line.replace("   redop    root", "", 1).replace("    none      -1", "", 1)
        if not line.startswith("#") or "size" in line
        else line
        for line in text.splitlines()
    )
    stamped = "\n".join(  # -T: a timestamp after each row, labelled in the header
        line + "  timestamp" if line.startswith("#       size")
        else line + "  2026-11-28 00:26:50" if line[:1] == " "
        else line
        for line in text.splitlines()
    )  # fmt: skip
    assert len(nccl_tests.parse(stamped + "\n", "x").rows) == 21
    old = re.sub(r"Rank (..) Group  0 Pid", r"Rank \1 Pid", old)  # before 2.13: no Group
    log = nccl_tests.parse(old + "\n", "x")
    assert log.ranks == 8
    assert len(log.rows) == 21 and log.rows[-1].out_of_place_us == pytest.approx(
        nccl_logs.seconds(nccl_logs.LOGS["all_gather_perf.g8.synthetic.txt"], 2**30) * 1e6,
        rel=1e-5,
    )


def test_old_layout_needs_the_binary_in_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "run1.txt"
    bad.write_text((LOGS / "sendrecv_perf.g8.synthetic.txt").read_text())
    code, _, stderr = invoke("calibrate", str(bad), "-o", str(tmp_path / "c.toml"))
    assert code == 2
    assert stderr == (
        f"Error: {bad}: line 41: no '# Collective test starting' line (nccl-tests before 2.14): "
        "name the file after its binary, e.g. all_gather_perf.log\n"
    )


def test_mixed_gpu_types_and_bad_files_are_refused(tmp_path: Path) -> None:
    h200 = tmp_path / "all_gather_perf.h200.txt"
    h200.write_text(
        (LOGS / "all_gather_perf.g8.synthetic.txt").read_text().replace("H100 80GB HBM3", "H200")
    )
    out = tmp_path / "c.toml"
    code, _, stderr = invoke(
        "calibrate", str(LOGS / "all_reduce_perf.g8.synthetic.txt"), str(h200), "-o", str(out)
    )
    assert code == 2 and not out.exists()
    assert stderr == (
        "Error: all_gather_perf.h200.txt: GPUs NVIDIA H200 differ from NVIDIA H100 80GB HBM3 in "
        "all_reduce_perf.g8.synthetic.txt; calibrate one GPU type at a time\n"
    )
    wrong = tmp_path / "x.json"
    wrong.write_text('{"schema": "other/2"}')
    code, _, stderr = invoke("calibrate", str(wrong), "-o", str(out))
    assert (code, stderr) == (
        2,
        f"Error: {wrong}: schema must be 'moecomm-bench/1'; got 'other/2'\n",
    )
    a100 = tmp_path / "all_gather_perf.a100.txt"
    a100.write_text(h200.read_text().replace("NVIDIA H200", "NVIDIA A100-SXM4-80GB"))
    code, _, stderr = invoke("calibrate", str(a100), "-o", str(out))
    assert code == 2 and stderr.startswith(
        "Error: --base is needed: no built-in preset for the GPUs"
    )
    code, _, stderr = invoke("calibrate", str(a100), "-o", str(out), "--base", "a100-sxm")
    assert code == 0, stderr
    code, _, stderr = invoke("calibrate", str(a100), "-o", str(out), "--base", "a100-sxm")
    assert (code, stderr) == (2, f"Error: {out}: exists; pass --force to replace it\n")


def test_bench_files_read_both_conventions() -> None:
    path = RESULTS / "h100x2_nccl.json"
    if not path.is_file():
        pytest.skip("measured results not in the repository")
    samples, prov = read(str(path))
    assert prov.nccl == "2.28.9" and prov.nodes == 1 and prov.gpus == ("NVIDIA H100 80GB HBM3",)
    ar = next(s for s in samples if s.kind == "all-reduce" and s.bytes == 2**30)
    assert (ar.back_to_back_s, ar.per_op_s) == pytest.approx((3226.2e-6, 3277.2e-6), abs=0.1e-6)
    moe = [s for s in samples if s.moe]
    assert len(moe) == 12 and all(s.kind == "all-to-all" for s in moe)
    graph, _ = read(str(RESULTS / "h100x2_nccl_graph.json"))
    assert all(s.per_op_s is None for s in graph)  # CUDA-graph times are back-to-back only


def test_validate_exact_case_and_summaries(tmp_path: Path) -> None:
    log = LOGS / "broadcast_perf.g8.synthetic.txt"
    code, stdout, stderr = invoke(
        "validate", str(log), "--hardware", "h100-sxm", "--min-bytes", "256MiB", "--format", "json"
    )
    assert code == 0, stderr
    rows = json.loads(stdout)
    cases = [r for r in rows if r["scope"] == "case"]
    assert [c["bytes"] for c in cases] == [2**28, 2**29, 2**30]
    assert {c["timing"] for c in rows} == {"back-to-back"}  # nccl-tests has no per-op times
    spec = nccl_logs.LOGS["broadcast_perf.g8.synthetic.txt"]
    # h100-sxm's 4-rank broadcast fit, used on 8 ranks, by hand; against the log's rounded time.
    a, b, nu = 1.692e-05, 364.4e9, 8855000
    for c in cases:
        x = c["bytes"]
        assert c["predicted_seconds"] == pytest.approx(a + x * (x + 2 * nu) / ((x + nu) * b))
        assert c["measured_seconds"] == pytest.approx(nccl_logs.seconds(spec, x), rel=1e-5)
        assert c["error"] == pytest.approx(c["predicted_seconds"] / c["measured_seconds"] - 1)
    errors = sorted(abs(c["error"]) for c in cases)
    total = next(r for r in rows if r["scope"] == "all")
    assert (total["cases"], total["median_abs_error"], total["worst_abs_error"]) == (
        3, errors[1], errors[2]
    )  # fmt: skip
    bands = {r["group"]: r["cases"] for r in rows if r["scope"] == "size band"}
    assert bands == {"≥ 256 MiB": 3}


def test_validate_per_op_only_and_errors(tmp_path: Path) -> None:
    path = RESULTS / "h100x2host_nccl.json"
    if not path.is_file():
        pytest.skip("measured results not in the repository")
    code, stdout, _ = invoke(
        "validate", str(path), "--hardware", "h100-sxm", "--timing", "per-op", "--summary-only",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(stdout)
    assert {r["timing"] for r in rows} == {"per-op"} and {r["scope"] for r in rows} == {
        "collective", "size band", "all"
    }  # fmt: skip
    code, _, stderr = invoke("validate", str(path), "--hardware", "h100-sxm", "--min-bytes", "4GiB")
    assert (code, stderr) == (
        2,
        "Error: no measured case of at least 4294967296 bytes (--min-bytes)\n",
    )
    code, _, stderr = invoke("validate", str(path))
    assert (code, stderr) == (2, "Error: --hardware is required (a preset name or a TOML file)\n")


def test_time_model_validation_tables_are_current() -> None:
    """docs/time-model.md's tables are `python benchmarks/validate_time_model.py --write-docs`."""
    import sys

    if not (RESULTS / "h100x2host_nccl.json").is_file():
        pytest.skip("measured results not in the repository")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import validate_time_model as V

    assert V.tables() in (ROOT / "docs" / "time-model.md").read_text(encoding="utf-8")


def test_presets_show_lists_the_fits() -> None:
    code, stdout, _ = invoke("presets", "show", "h100-sxm", "--format", "markdown")
    assert code == 0
    assert (
        "all-gather scale-up 2 ranks: α 13.51 µs, B 264.4 GB/s, ν 9048000 B, τ 40.78 µs;" in stdout
    )
    code, stdout, _ = invoke("presets", "show", "h800", "--format", "markdown")
    assert "| collectives | none (the generic law) | moecomm default |" in stdout


def test_per_op_without_a_known_cost_says_so() -> None:
    code, stdout, _ = invoke(
        "collective", "all-reduce", "--bytes", "1GiB", "--ranks", "8", "--hardware", "h800",
        "--timing", "per-op", "--format", "markdown",
    )  # fmt: skip
    assert code == 0
    assert "This hardware gives no per-op cost: 0, as back-to-back." in stdout
    per_op = json.loads(invoke(
        "collective", "all-reduce", "--bytes", "1GiB", "--ranks", "8", "--hardware", "h100-sxm",
        "--timing", "per-op", "--format", "json",
    )[1])  # fmt: skip
    b2b = json.loads(invoke(
        "collective", "all-reduce", "--bytes", "1GiB", "--ranks", "8", "--hardware", "h100-sxm",
        "--format", "json",
    )[1])  # fmt: skip
    assert per_op["seconds"] == pytest.approx(b2b["seconds"] + BASE_TAU["all-reduce"], rel=1e-12)


def test_bench_file_phases_and_extra_fields(tmp_path: Path) -> None:
    """moecomm-bench/1 files as `moecomm measure` writes them: any dispatch_/combine_<dtype>
    phase, extra fields tolerated; a bad value named by run and phase."""
    phase = {"median_s": 2e-4, "batched_avg_s": 1e-4, "max_offrank_send_or_recv_bytes": 2**24}
    data = {
        "schema": "moecomm-bench/1",
        "metadata": {"world_size": 4, "nodes": 1, "extra": {"anything": [1, 2]}},
        "moe": {"runs": [{"T": 512, "combine_fp8": phase, "dispatch_bf16": phase, "note": "x"}]},
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    samples, _ = read(str(path))
    assert sorted(s.case for s in samples) == ["moe combine_fp8 T=512", "moe dispatch_bf16 T=512"]
    assert all(s.back_to_back_s == 1e-4 and s.per_op_s == 2e-4 for s in samples)
    data["moe"]["runs"][0]["combine_fp8"] = phase | {"median_s": float("nan")}  # type: ignore[index]
    path.write_text(json.dumps(data))
    code, _, stderr = invoke("validate", str(path), "--hardware", "h800")
    assert (code, stderr) == (
        2, f"Error: {path}: moe.runs[0].combine_fp8: median_s must be a finite number; got nan\n"
    )  # fmt: skip


def test_calibrate_without_numpy_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy raises ImportError
    out = tmp_path / "c.toml"
    code, _, stderr = invoke(
        "calibrate", str(LOGS / "all_gather_perf.g8.synthetic.txt"), "-o", str(out)
    )
    assert (code, stderr) == (
        2,
        'Error: moecomm calibrate needs numpy: pip install "moecomm[plan]"\n',
    )
    assert not out.exists()


def test_runs_across_nodes_set_the_node_size(tmp_path: Path) -> None:
    text = (LOGS / "all_reduce_perf.mpi16.synthetic.txt").read_text()
    four = tmp_path / "all_reduce_perf.4x4.txt"  # the same 16 ranks as 4 nodes of 4 GPUs
    four.write_text(
        "\n".join(
            re.sub(
                r"on      dgx-(.) device  (\d)",
                lambda m: (
                    f"on     node{int(m.group(2)) // 4}{m.group(1)} device  {int(m.group(2)) % 4}"
                ),
                line,
            )
            for line in text.splitlines()
        )
        + "\n"
    )
    out = tmp_path / "c.toml"
    code, _, stderr = invoke("calibrate", str(four), "-o", str(out))
    assert code == 0, stderr
    assert tomllib.loads(out.read_text())["hardware"]["gpus_per_node"] == 4
    code, _, stderr = invoke(
        "calibrate", str(four), str(LOGS / "all_reduce_perf.mpi16.synthetic.txt"), "-o", str(out),
        "--force",
    )  # fmt: skip
    assert (code, stderr) == (
        2,
        "Error: all_reduce_perf.mpi16.synthetic.txt: 8 GPUs per node, but 4 in "
        "all_reduce_perf.4x4.txt; calibrate one cluster at a time\n",
    )


TIMED = [
    ("ep", "--preset", "deepseek-v3", "--tokens", "128", "--ep", "8"),
    ("tp", "--hidden", "7168", "--tokens", "4096", "--tp", "8"),
    ("compare", "--preset", "deepseek-v3", "--tokens", "4096", "--sizes", "2,8"),
    ("traffic", "--preset", "deepseek-v3", "--tokens", "64", "--ep", "8", "--dedup", "rank"),
    ("collective", "all-gather", "--bytes", "64MiB", "--ranks", "4"),
    ("step", "--deployment", "deepseek-v3-decode", "--tokens", "32"),
    ("plan", "--preset", "deepseek-v3", "--gpus", "16", "--top", "2"),
]


@pytest.mark.parametrize("args", TIMED, ids=[a[0] for a in TIMED])
def test_every_timed_command_states_its_timing(args: tuple[str, ...]) -> None:
    for timing_args, said in (
        ((), "Times back-to-back: operations queued one after another, as nccl-tests reports"),
        (("--timing", "per-op"), "Times per-op: one operation in place, launch and"),
    ):
        code, stdout, stderr = invoke(
            *args, "--hardware", "h100-sxm", *timing_args, "--format", "markdown"
        )
        assert code == 0, stderr
        assert said in " ".join(stdout.split())
    code, _, stderr = invoke(*args, "--hardware", "h100-sxm", "--timing", "eager")
    assert code == 2 and "'eager' is not one of 'back-to-back', 'per-op'" in stderr


@settings(max_examples=15, deadline=None)
@given(
    alpha=st.floats(min_value=5e-6, max_value=50e-6),
    bw=st.floats(min_value=20e9, max_value=400e9),
    ramp=st.floats(min_value=1e6, max_value=200e6),
    test=st.sampled_from(sorted(nccl_logs.FACTOR)),
)
def test_calibrate_recovers_any_law(alpha: float, bw: float, ramp: float, test: str) -> None:
    from moecomm.calibration.fit import fit
    from moecomm.calibration.samples import _log

    spec = nccl_logs.Spec(test, ("dgx-a",), 8, alpha, bw, ramp)
    samples, _ = _log(nccl_tests.parse(nccl_logs.log(spec), f"{test}.txt"))
    rates = {"scale-up": 450e9, "scale-out": 50e9}
    (found,) = fit(samples, 2**20, rates, lambda kind, link, ranks: 0.0)
    # The latency within 2% or 0.5 µs: at 20 GB/s the smallest time fitted is ~20× α.
    assert found.latency_seconds == pytest.approx(alpha, rel=0.02, abs=0.5e-6)
    assert found.bytes_per_second == pytest.approx(bw, rel=0.01)
    assert found.ramp_bytes == pytest.approx(ramp, rel=0.05)


def test_too_many_rows_are_refused(tmp_path: Path) -> None:
    text = (LOGS / "broadcast_perf.g8.synthetic.txt").read_text().splitlines()
    row = next(line for line in text if line.startswith("        1024"))
    at = text.index(row)
    long = tmp_path / "broadcast_perf.txt"
    long.write_text("\n".join(text[:at] + [row] * (nccl_tests.MAX_ROWS + 1) + text[at:]) + "\n")
    code, _, stderr = invoke("validate", str(long), "--hardware", "h800")
    assert (code, stderr) == (2, f"Error: {long}: line {at + 4097}: more than 4096 data rows\n")
