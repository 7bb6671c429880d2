"""Sweeps: comma lists and ranges of sizes, one row per point, byte for byte the single points."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_mpl, ok, run

import moecomm
from moecomm import render
from moecomm.errors import MoecommError
from moecomm.sweep import MAX_POINTS, values


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("8,16,32,64", False, (8, 16, 32, 64)),
        ("128:8192:x2", False, (128, 256, 512, 1024, 2048, 4096, 8192)),
        ("128:1000:x2", False, (128, 256, 512)),
        ("1024:4096:+1024", False, (1024, 2048, 3072, 4096)),
        ("8, 16:64:x2 ,3", False, (8, 16, 32, 64, 3)),
        ("64", False, (64,)),
        ("1MiB:4MiB:x2", True, (2**20, 2**21, 2**22)),
        ("1KB,1MiB", True, (1000, 2**20)),
        ("-4", False, (-4,)),  # refused by the config model, naming its own rule
    ],
)
def test_values(text: str, size: bool, expected: tuple[int, ...]) -> None:
    assert values(text, "ep", size=size) == expected


RULE = "a positive integer, a comma list, or a range A:B:xF (geometric) or A:B:+S (additive)"
RANGE = "range A:B:xF or A:B:+S needs A ≤ B and an integer step F ≥ 2 (with A ≥ 1) or S ≥ 1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tp", "x"), f"--tp must be {RULE}; got 'x'"),
        (("--tp", "8,,16"), f"--tp must be {RULE}; got '8,,16'"),
        (("--tp", "1:8"), f"--tp must be {RULE}; got '1:8'"),
        (("--tp", "8:2:x2"), f"--tp {RANGE}; got '8:2:x2'"),
        (("--tp", "2:8:x1"), f"--tp {RANGE}; got '2:8:x1'"),
        (("--tp", "0:8:x2"), f"--tp {RANGE}; got '0:8:x2'"),
        (("--tp", "2:8:*2"), f"--tp {RANGE}; got '2:8:*2'"),
        (("--tp", "2:8:+0"), f"--tp {RANGE}; got '2:8:+0'"),
        (("--tp", "2:8:x٢"), f"--tp {RANGE}; got '2:8:x٢'"),
        (
            ("--tp", "1:1000:+1"),
            f"--tp gives 1000 points, more than a sweep runs ({MAX_POINTS}); got '1:1000:+1'",
        ),
        (
            ("--tp", "1:2:+1," * 65),
            f"--tp gives 130 points, more than a sweep runs ({MAX_POINTS}); got "
            f"{('1:2:+1,' * 65)[:64]!r}",
        ),
        (
            ("--tp", "2,4", "--tokens", "8,16", "--batch", "1,2"),
            "at most 2 options may be swept at once; got --tokens, --batch, --tp",
        ),
        (
            ("--tp", "1:16:+1", "--tokens", "1:16:+1"),
            f"the sweep of --tokens and --tp has 256 points, more than a sweep runs ({MAX_POINTS})",
        ),
        (("--tp", "2,0"), "--tp must be at least 1; got 0"),
    ],
)
def test_bad_sweeps_are_one_line_naming_the_flag(args: tuple[str, ...], message: str) -> None:
    result = run("tp", "--hidden", "8", "--tokens", "8", *args)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_collective_bytes_keep_their_own_message() -> None:
    result = run(
        "collective", "all-reduce", "--bytes", "1MiB,1XB", "--ranks", "8", "--hardware", "h800"
    )
    assert result.stderr == (
        "Error: --bytes must be a positive integer, optionally with KiB/MiB/GiB or KB/MB/GB; "
        "got '1XB'\n"
    )


SWEEPS: list[tuple[str, dict[str, Any]]] = [
    ("ep", {"preset": "deepseek-v3", "tokens": "128:1024:x2", "ep": "8,64"}),
    ("ep", {"hidden_size": 1, "top_k": 1, "num_experts": 3, "tokens": "1,2,3", "ep": 3}),
    ("ep", {"preset": "deepseek-v3", "tokens": "256,4096", "ep": 64, "hardware": "h800"}),
    (
        "ep",
        {"preset": "deepseek-v3", "tokens": 512, "ep": "8,16", "dedup": "node", "gpus_per_node": 8},
    ),
    ("tp", {"hidden_size": 7168, "tokens": "1024:4096:+1024", "tp": "2,8", "hardware": "h800"}),
    ("traffic", {"preset": "deepseek-v3", "tokens": "64,128", "ep": 16, "routing": "zipf:1.2"}),
    (
        "collective",
        {"kind": "all-reduce", "nbytes": "1MiB:64MiB:x4", "ranks": "8,16", "hardware": "h100-sxm"},
    ),
]


def _points(job: str, kw: dict[str, Any]) -> list[dict[str, Any]]:
    report = moecomm.api.sweep(job, **kw)
    return [dict(kw, **point) for point in report.facts["points"]]


@pytest.mark.parametrize(("job", "kw"), SWEEPS, ids=[f"{j}-{i}" for i, (j, _) in enumerate(SWEEPS)])
def test_every_row_is_byte_for_byte_the_single_point(job: str, kw: dict[str, Any]) -> None:
    report = moecomm.api.sweep(job, **kw)
    points = report.facts["points"]
    assert len(report.result) == len(points) > 1
    single = {
        "ep": moecomm.ep,
        "tp": moecomm.tp,
        "traffic": moecomm.traffic,
        "collective": moecomm.collective,
    }[job]
    for row, point in zip(report.result, points, strict=True):
        alone = single(**dict(kw, **point))
        assert render.dumps(row) + "\n" == alone.to_json()
    assert json.loads(report.to_json()) == [
        json.loads(single(**dict(kw, **p)).to_json()) for p in points
    ]


def test_cli_sweep_gives_one_row_per_point_in_every_format() -> None:
    args = ("ep", "--preset", "deepseek-v3", "--tokens", "128:8192:x2", "--ep", "8,16,32,64")
    rows = json.loads(ok(*args, "--format", "json"))
    assert len(rows) == 28
    table = list(csv.DictReader(io.StringIO(ok(*args, "--format", "csv"))))
    assert [(int(r["input_tokens_per_rank"]), int(r["ep"])) for r in table] == [
        (t, e) for e in (8, 16, 32, 64) for t in (128, 256, 512, 1024, 2048, 4096, 8192)
    ]
    single = ok(
        "ep", "--preset", "deepseek-v3", "--tokens", "2048", "--ep", "32", "--format", "csv"
    )
    assert single.splitlines()[1] in ok(*args, "--format", "csv").splitlines()
    md = ok(*args, "--format", "markdown")
    body = [ln for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(body) == 28
    assert (
        "| 2,048 | 32 | 15,872 | 227,540,992 (227.541 MB) | 227,540,992 (227.541 MB) "
        "| 455,081,984 (455.082 MB) | 469,762,048 (469.762 MB) |"
    ) in body
    assert "Same at every point: dispatch dtype bf16; combine dtype bf16" in md
    text = ok(*args)
    assert text.count("│") >= 28 * 2


def test_one_value_is_exactly_the_single_command() -> None:
    for args in (
        ("ep", "--preset", "deepseek-v3", "--tokens", "4096", "--ep", "64"),
        ("collective", "all-to-all", "--bytes", "1MiB", "--ranks", "8", "--hardware", "h800"),
        ("tp", "--hidden", "7168", "--batch", "1", "--seq", "4096", "--tp", "8"),
    ):
        assert ok(*args) == ok(*[a.replace("4096", "4096:4096:x2") for a in args])


def test_sweep_is_silent_when_piped_and_reports_progress_to_the_library() -> None:
    result = run("tp", "--hidden", "8", "--tokens", "8:1024:x2", "--tp", "2")
    assert result.exit_code == 0 and result.stderr == ""
    seen: list[tuple[int, int]] = []
    moecomm.api.sweep(
        "tp", hidden_size=8, tokens="8:32:x2", tp=2, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_routing_file_with_layers_is_refused_in_a_sweep(tmp_path: Path) -> None:
    data = {"layers": [[[1, 1], [1, 1]], [[2, 0], [0, 2]]]}
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MoecommError, match="one result per point"):
        moecomm.api.sweep(
            "traffic", hidden_size=8, top_k=1, num_experts=2, ep="2,2", expert_counts=path
        )


@needs_mpl
def test_sweep_figure_has_one_line_per_swept_value(tmp_path: Path) -> None:
    from moecomm.plots import figure_spec
    from moecomm.plots.draw import figure

    report = moecomm.api.sweep(
        "ep", preset="deepseek-v3", tokens="128:8192:x2", ep="8,16,32,64", hardware="h800"
    )
    fig = figure(figure_spec(report))
    bytes_ax, time_ax = fig.axes
    assert [line.get_label() for line in bytes_ax.lines] == [
        "ep = 8",
        "ep = 16",
        "ep = 32",
        "ep = 64",
    ]
    rows = {(r.input_tokens_per_rank, r.ep): r for r in report.result}
    for line in bytes_ax.lines:
        ep = int(str(line.get_label()).split(" = ")[1])
        xs = [int(x) for x in line.get_xdata()]
        assert xs == [128, 256, 512, 1024, 2048, 4096, 8192]
        assert [round(y * 1e9) for y in line.get_ydata()] == [
            rows[(x, ep)].ep_bytes_per_rank for x in xs
        ]
    assert bytes_ax.get_xlabel() == "tokens b·s per rank"
    assert time_ax.get_ylabel() == "time (µs): dispatch + combine"
    out = tmp_path / "sweep.svg"
    ok(
        "collective",
        "all-reduce",
        "--bytes",
        "1KiB:1GiB:x2",
        "--ranks",
        "8,16,64",
        "--hardware",
        "h100-sxm",
        "--plot",
        str(out),
    )
    assert out.read_bytes().startswith(b"<?xml")


def _on_a_terminal(*args: str) -> bytes:
    """Run moecomm with stderr on a pseudo-terminal; what the terminal received."""
    import pty
    import subprocess
    import sys

    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "moecomm", *args],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env=env,
        check=True,
        timeout=120,
    )
    os.close(child)
    out = b""
    try:
        while chunk := os.read(main, 65536):
            out += chunk
    except OSError:  # the terminal closed
        pass
    os.close(main)
    assert proc.returncode == 0
    return out


def test_progress_bar_only_on_a_terminal_and_never_with_json() -> None:
    args = ("ep", "--preset", "deepseek-v3", "--tokens", "1:128:+1", "--ep", "8")
    shown = _on_a_terminal(*args)
    assert b"ep sweep" in shown
    assert _on_a_terminal(*args, "--format", "json") == b""
    assert run(*args).stderr == ""  # piped


def test_collective_kinds_are_swept_by_name_one_line_each() -> None:
    report = moecomm.api.sweep(
        "collective", kind="all-to-all,all-gather", nbytes="1MiB:4MiB:x2", ranks=8, hardware="h800"
    )
    assert [(r.kind, r.bytes) for r in report.result] == [
        (k, b) for k in ("all-to-all", "all-gather") for b in (2**20, 2**21, 2**22)
    ]
    assert report.title.startswith("all-gather (ring), all-to-all (flat) under nccl-tests'")
    assert report.facts["x"] == "nbytes" and report.facts["line"] == "kind"
    result = run(
        "collective", "all-reduce,nope", "--bytes", "1MiB", "--ranks", "8", "--hardware", "h800"
    )
    assert result.stderr == (
        "Error: collective must be one of all-reduce, all-gather, reduce-scatter, all-to-all, "
        "broadcast; got 'nope'\n"
    )
    result = run(
        "collective",
        "all-reduce,all-to-all",
        "--bytes",
        "1MiB,2MiB",
        "--ranks",
        "8,16",
        "--hardware",
        "h800",
    )
    assert (
        result.stderr
        == "Error: at most 2 options may be swept at once; got --bytes, --ranks, KIND\n"
    )


def test_export_matrix_takes_one_point(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = run(
        "ep",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "64,128",
        "--ep",
        "8",
        "--export-matrix",
        str(out),
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --export-matrix writes the matrices of one point; this is a sweep of 2 points\n",
    )
    assert not out.exists()
