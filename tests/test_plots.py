"""--plot: figures drawn from the same result the table renders, deterministic, written safely."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_mpl, ok, run

import moecomm
from moecomm.plots import figure_spec as spec

ROOT = Path(__file__).resolve().parents[1]

TRAFFIC = [
    "traffic",
    "--preset",
    "deepseek-v3",
    "--tokens",
    "256",
    "--ep",
    "16",
    "--routing",
    "zipf:1.2",
    "--redundant-experts",
    "16",
    "--gpus-per-node",
    "8",
]
COMPARE = "compare --preset deepseek-v3 --tokens 8192 --sizes 1,2,4,8,16,32,64 --hardware h800"


def _figure(report: Any) -> Any:
    from moecomm.plots.draw import figure

    return figure(spec(report))


def _ints(cell: str) -> int:
    """The exact count of a Markdown cell: '469,762,048 (469.762 MB)' → 469762048."""
    return int(cell.split(" (")[0].replace(",", "").strip("* "))


def _markdown_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[1:]]


@needs_mpl
def test_compare_figure_plots_the_table_numbers() -> None:
    report = moecomm.compare(preset="deepseek-v3", tokens=8192, sizes="1,2,4,8,16,32,64")
    fig = _figure(report)
    ax = fig.axes[0]
    ep_line, tp_line = ax.lines[0], ax.lines[1]
    table = _markdown_rows(report.render("markdown"))
    drawn = [row for row in table if _ints(row[2]) > 0]  # M = 1 moves nothing: not on log axes
    assert list(ep_line.get_xdata()) == [float(_ints(r[0])) for r in drawn]
    assert [round(y * 1e9) for y in ep_line.get_ydata()] == [_ints(r[2]) for r in drawn]
    assert [round(y * 1e9) for y in tp_line.get_ydata()] == [_ints(r[3]) for r in drawn]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "bytes per GPU (GB = 1e9 B)"
    assert ax.lines[2].get_label() == "M = K = 8: EP moves less beyond"
    assert list(ax.lines[2].get_xdata()) == [8.0, 8.0]
    assert "S = 8,192 tokens" in fig.get_suptitle()


@needs_mpl
def test_compare_with_hardware_adds_times_from_the_same_rows() -> None:
    report = moecomm.compare(preset="deepseek-v3", tokens=8192, sizes="2,8,64", hardware="h800")
    fig = _figure(report)
    times = fig.axes[1]
    assert times.get_ylabel() == "time (µs)"
    expected = [(r.dispatch_seconds + r.combine_seconds) * 1e6 for r in report.result]
    assert list(times.lines[0].get_ydata()) == pytest.approx(expected, rel=1e-12)
    caption = fig.texts[-1].get_text().replace("\n", " ")
    assert "per GPU, per MoE layer" in caption and "Hardware h800" in caption
    assert "GB = 1e9 B" in caption


@needs_mpl
def test_traffic_figure_plots_the_matrix_and_per_rank_table() -> None:
    report = moecomm.traffic(
        preset="deepseek-v3",
        tokens=256,
        ep=16,
        routing="zipf:1.2",
        redundant_experts=16,
        gpus_per_node=8,
    )
    r = report.result
    fig = _figure(report)
    heat, bars, split, eplb = fig.axes[0], fig.axes[2], fig.axes[3], fig.axes[4]
    image = heat.images[0].get_array()
    assert [[round(float(x) * 1e6) for x in row] for row in image] == [
        [round(Fraction(x)) for x in row] for row in r.matrix_bytes
    ]
    assert heat.figure.axes[1].get_ylabel().startswith("bytes (MB; ")  # the colour bar
    per_rank = _markdown_rows(report.render("markdown").split("**Per rank")[1])
    send = [round(p.get_height() * 1e6) for p in bars.containers[0]]
    recv = [round(p.get_height() * 1e6) for p in bars.containers[1]]
    assert send == [_ints(row[1]) for row in per_rank]
    assert recv == [_ints(row[2]) for row in per_rank]
    (mark,) = bars.texts
    assert mark.get_text() == f"busiest rank {r.busiest_rank}"
    assert split.get_title() == "Intra- and inter-node bytes (8 ranks per node, mean)"
    assert [round(p.get_height() * 1e6) for p in split.containers[0]] == [
        round(Fraction(r.dispatch_intra_node_bytes_per_rank)),
        round(Fraction(r.combine_intra_node_bytes_per_rank)),
    ]
    before, after = (round(p.get_height() * 1e6) for p in eplb.containers[0])
    assert (before, after) == (r.busiest_rank_recv_bytes_before, r.busiest_rank_recv_bytes)
    assert "tokens b·s = 256 per rank" in fig.get_suptitle()


@needs_mpl
def test_collective_and_tp_figures_carry_units_and_values() -> None:
    ar = moecomm.collective("all-reduce", nbytes="1GiB", ranks=8, hardware="h100-sxm")
    fig = _figure(ar)
    time, busbw = fig.axes
    assert time.get_ylabel() == "time (µs)"
    assert busbw.get_ylabel() == "busbw (GB/s, GB = 1e9 B)"
    assert list(busbw.lines[0].get_ydata()) == [ar.result.busbw_bytes_per_second / 1e9]
    assert list(busbw.lines[0].get_xdata()) == [2.0**30]
    tp = moecomm.tp(hidden_size=7168, tokens=4096, tp=8)
    fig = _figure(tp)
    heights = [round(p.get_height() * 1e6) for p in fig.axes[0].containers[0]]
    assert heights == [102_760_448, 117_440_512]


@needs_mpl
@pytest.mark.parametrize("suffix", ["svg", "pdf", "png"])
def test_the_same_input_gives_the_same_file(tmp_path: Path, suffix: str) -> None:
    """Two runs in two processes: fixed font, fixed SVG ids, no dates in the metadata."""
    for name in ("a", "b"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "moecomm",
                *TRAFFIC,
                "--plot",
                str(tmp_path / f"{name}.{suffix}"),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
    a, b = (tmp_path / f"a.{suffix}").read_bytes(), (tmp_path / f"b.{suffix}").read_bytes()
    assert a == b
    magic = {"svg": b"<?xml", "pdf": b"%PDF", "png": b"\x89PNG"}[suffix]
    assert a.startswith(magic)
    if suffix == "svg":
        assert b"<dc:date>" not in a  # no date, and glyphs drawn as paths of one bundled font:
        assert b'<path id="DejaVuSans-' in a and b"font-family" not in a


@needs_mpl
def test_plot_written_through_the_cli_and_the_table_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "c.svg"
    with_plot = ok(*COMPARE.split(), "--plot", str(out))
    assert with_plot == ok(*COMPARE.split())
    assert out.read_bytes().startswith(b"<?xml")


@needs_mpl
def test_ep_plot_draws_the_routing_aware_result_it_prints(tmp_path: Path) -> None:
    """--plot on ep, like --export-matrix, reports (and draws) the rank × rank matrices."""
    args = ("ep", "--preset", "deepseek-v3", "--tokens", "4096", "--ep", "8")
    text = ok(*args, "--plot", str(tmp_path / "ep.png"))
    assert text.startswith(ok(*args, "--export-matrix", str(tmp_path / "m.json"))[:200])
    assert "EP traffic per rank" in text
    assert (tmp_path / "ep.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out.txt", "Error: --plot must end in .png, .svg or .pdf; got 'out.txt'\n"),
        ("", "Error: --plot must end in .png, .svg or .pdf; got ''\n"),
        ("nofolder/x.svg", "Error: nofolder: no such folder\n"),
        ("exists.svg", "Error: exists.svg: exists; pass --force to replace it\n"),
        (
            "link.svg",
            "Error: link.svg: is a symbolic link; pass --force to replace the link (never its "
            "target)\n",
        ),
    ],
)
def test_plot_paths_are_checked_before_anything_is_drawn(
    name: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.svg").write_text("keep\n")
    (tmp_path / "target").write_text("target\n")
    (tmp_path / "link.svg").symlink_to(tmp_path / "target")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # refused before matplotlib is needed
    result = run("tp", "--hidden", "8", "--tokens", "8", "--tp", "2", "--plot", name)
    assert (result.exit_code, result.stderr) == (2, message)
    assert (tmp_path / "exists.svg").read_text() == "keep\n"
    assert (tmp_path / "target").read_text() == "target\n"


@needs_mpl
def test_force_replaces_a_link_itself_never_its_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("target\n")
    (tmp_path / "link.svg").symlink_to(target)
    ok(
        "tp",
        "--hidden",
        "8",
        "--tokens",
        "8",
        "--tp",
        "2",
        "--plot",
        str(tmp_path / "link.svg"),
        "--force",
    )
    assert target.read_text() == "target\n"
    assert not (tmp_path / "link.svg").is_symlink()


@pytest.mark.parametrize(
    "command",
    [
        "compare --hidden 8 --topk 2 --sizes 2,4",
        "tp --hidden 8 --tokens 8 --tp 2",
        "ep --hidden 8 --experts 4 --topk 2 --tokens 8 --ep 2",
        "traffic --hidden 8 --experts 4 --topk 2 --tokens 8 --ep 2",
        "collective all-to-all --bytes 1MiB --ranks 8 --hardware h800",
        "collective all-reduce --bytes 1MiB --ranks 8 --hardware h800 --measured "
        "tests/data/nccl_tests/all_reduce_perf.g8.synthetic.txt",
        "plan --preset mixtral-8x7b --gpus 8 --hardware h100-sxm",
        "validate tests/data/nccl_tests/all_reduce_perf.g8.synthetic.txt --hardware h100-sxm",
    ],
)
def test_without_matplotlib_commands_work_and_plot_names_the_extra(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    if "--measured" not in command:  # --measured is drawn on a figure: it needs --plot
        assert run(*command.split()).exit_code == 0
    result = run(*command.split(), "--plot", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.stderr == 'Error: --plot needs matplotlib: pip install "moecomm[plot]"\n'
    assert not (tmp_path / "x.png").exists()


def test_commands_without_plot_never_import_matplotlib() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from moecomm.cli import cli; "
        "r = CliRunner().invoke(cli, ['compare', '--preset', 'deepseek-v3']); "
        "assert r.exit_code == 0; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert out.stdout.strip() == "False"


def test_every_figure_states_its_convention() -> None:
    """Per rank or per GPU, per layer, GB = 1e9 B: in the title or caption of every figure."""
    reports: list[Any] = [
        moecomm.compare(preset="deepseek-v3", tokens=4096),
        moecomm.tp(hidden_size=7168, tokens=4096, tp=8),
        moecomm.ep(preset="deepseek-v3", tokens=4096, ep=8, matrices=True),
        moecomm.ep(preset="deepseek-v3", tokens=4096, ep=8),  # balanced: bars of its bytes
        moecomm.collective("all-gather", nbytes="64MiB", ranks=8, hardware="h100-sxm"),
    ]
    for report in reports:
        figure = spec(report)
        text = figure.title + " " + figure.caption
        assert "GB = 1e9 B" in text, report.title
        if report.figure != "collective":
            assert re.search(r"per (rank|GPU)", text) and "layer" in text, report.title
            assert "tokens" in text, report.title


@needs_mpl
def test_heatmap_and_bars_each_pick_their_own_unit() -> None:
    """2 copies of 128 B per rank pair (256 B) but 63 × 256 B = 16,128 B sent per rank."""
    report = moecomm.ep(hidden_size=64, num_experts=64, top_k=2, tokens=64, ep=64, matrices=True)
    fig = _figure(report)
    heat, colorbar, bars = fig.axes[0], fig.axes[1], fig.axes[2]
    assert colorbar.get_ylabel().startswith("bytes (B; ")
    assert float(heat.images[0].get_array().max()) == 256.0
    assert bars.get_ylabel() == "bytes (kB)"
    assert [p.get_height() for p in bars.containers[0]] == [16.128] * 64


@needs_mpl
def test_balanced_ep_figure_plots_its_record() -> None:
    report = moecomm.ep(preset="deepseek-v3", tokens=4096, ep=64)
    r = report.result
    bars = _figure(report).axes[0]
    assert bars.get_ylabel() == "bytes (MB; kB/MB/GB = 1e3/1e6/1e9 B)"
    heights = [round(p.get_height() * 1e6) for p in bars.containers[0]]
    expected = [r.dispatch_bytes_per_rank, r.combine_bytes_per_rank]
    assert heights == [*expected, r.ep_bytes_per_rank, r.ep_bytes_per_rank_approx]
