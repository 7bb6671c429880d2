"""--plot of validate and plan, and collective --measured: every drawn number is a field of the
result the command prints (its JSON), the figures are deterministic, and bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_mpl, ok, run

import moecomm
from moecomm.plots import figure_spec
from moecomm.plots.layouts import pareto

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LOGS = ROOT / "tests" / "data" / "nccl_tests"
AR8 = str(LOGS / "all_reduce_perf.g8.synthetic.txt")
BENCH4 = str(RESULTS / "h100x4_nccl.json")
VALIDATE = ["validate", str(RESULTS / "h100x2host_nccl.json"), "--hardware", "h100-sxm"]
PLAN = ["plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--phase"]
PLAN += ["prefill", "--top", "5"]
COLLECTIVE = ["collective", "all-reduce", "--bytes", "1MiB:1GiB:x4", "--ranks", "8"]
COLLECTIVE += ["--hardware", "h100-sxm"]


def _figure(report: Any, measured: tuple[str, ...] = ()) -> Any:
    from moecomm.plots.draw import figure

    return figure(figure_spec(report, measured))


def _flat(pairs: list[tuple[float, float]]) -> list[float]:
    return [v for pair in pairs for v in pair]


def _points(ax: Any) -> dict[str, list[tuple[float, float]]]:
    """The marker-only lines of an axes (cases, layouts), by label."""
    return {
        line.get_label(): list(zip(line.get_xdata(), line.get_ydata(), strict=True))
        for line in ax.lines
        if line.get_linestyle() == "None"
    }


@needs_mpl
def test_validate_figure_draws_every_case_of_the_table() -> None:
    report = moecomm.validate([str(RESULTS / "h100x2host_nccl.json")], hardware="h100-sxm")
    rows = json.loads(report.render("json"))
    cases = [r for r in rows if r["scope"] == "case"]
    fig = _figure(report)
    assert len(fig.axes) == 2  # back-to-back, per-op
    for ax, timing in zip(fig.axes, ("back-to-back", "per-op"), strict=True):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("measured time (µs)", "model time (µs)")
        drawn = _points(ax)
        mine = [c for c in cases if c["timing"] == timing]
        names = {
            "moe " + c["group"].split()[1].split("_")[0]
            if c["group"].startswith("moe ")
            else c["group"]
            for c in mine
        }
        assert set(drawn) == names
        got = sorted(p for points in drawn.values() for p in points)
        want = sorted((c["measured_seconds"] * 1e6, c["predicted_seconds"] * 1e6) for c in mine)
        assert _flat(got) == pytest.approx(_flat(want), rel=1e-12)
        total = next(r for r in rows if r["scope"] == "all" and r["timing"] == timing)
        assert ax.get_title() == (
            f"{timing}: {total['cases']} cases, median |error| "
            f"{100 * total['median_abs_error']:.1f}%, worst {100 * total['worst_abs_error']:.1f}%"
        )
        diagonal = next(ln for ln in ax.lines if ln.get_label() == "y = x (model = measured)")
        assert list(diagonal.get_xdata()) == list(diagonal.get_ydata())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[:2] == ["±25%", "±10%"]
        assert len(ax.collections) == 2  # the two shaded bands
        upper = ax.collections[1].get_paths()[0].vertices[:, 1].max()
        assert upper == pytest.approx(1.1 * max(diagonal.get_ydata()))
    sizes = [c["bytes"] for c in cases]
    title = fig._suptitle.get_text().replace("\n", " ")
    assert f"{min(sizes):,}–{max(sizes):,} B" in title
    assert "h100-sxm" in title and "back-to-back and per-op" in title
    assert "GB = 1e9 B" in figure_spec(report).caption


def test_validate_plot_needs_the_cases(tmp_path: Path) -> None:
    result = run(*VALIDATE, "--summary-only", "--plot", str(tmp_path / "v.svg"))
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --plot draws every measured case, and --summary-only lists none; leave out "
        "--summary-only\n",
    )
    assert not (tmp_path / "v.svg").exists()


def test_pareto_front_by_hand() -> None:
    points = [(1.0, 5.0), (2.0, 4.0), (3.0, 6.0), (4.0, 1.0), (4.0, 3.0)]
    assert pareto(points, more_is_better=False) == [0, 1, 3]
    assert pareto(points, more_is_better=True) == [3]
    assert pareto([(2.0, 2.0), (1.0, 1.0), (3.0, 3.0)], more_is_better=True) == [2, 0, 1]


@needs_mpl
def test_plan_figure_draws_every_layout_of_the_table() -> None:
    report = moecomm.plan(preset="deepseek-v3", gpus=64, hardware="h800", phase="prefill", top=5)
    data = json.loads(report.render("json"))
    rows = data["candidates"]
    fig = _figure(report)
    (ax,) = [a for a in fig.axes]
    assert ax.get_xlabel() == "throughput (tokens/s per GPU)"
    assert ax.get_ylabel() == "memory per GPU, largest pipeline stage (GB = 1e9 B)"
    drawn = _points(ax)
    fit = [r for r in rows if r["fits"]]
    over = [r for r in rows if not r["fits"]]
    assert drawn[f"{len(fit)} layouts that fit"] == [
        (r["tokens_per_second_per_gpu"], r["memory_bytes_per_gpu"] / 1e9) for r in fit
    ]
    assert drawn[f"{len(over)} layouts that do not fit"] == [
        (r["tokens_per_second_per_gpu"], r["memory_bytes_per_gpu"] / 1e9) for r in over
    ]
    # The front: no layout that fits is both faster and smaller than a point of it, and every
    # other layout that fits is beaten on both axes by one of its points.
    front_line = next(ln for ln in ax.lines if ln.get_label().startswith("Pareto front"))
    front = list(zip(front_line.get_xdata(), front_line.get_ydata(), strict=True))
    points = [(r["tokens_per_second_per_gpu"], r["memory_bytes_per_gpu"] / 1e9) for r in fit]
    for x, y in front:
        assert not any(px >= x and py <= y and (px, py) != (x, y) for px, py in points)
    for px, py in points:
        assert (px, py) in front or any(x >= px and y <= py for x, y in front)
    assert front_line.get_label() == f"Pareto front of the layouts that fit ({len(front)})"
    usable = data["candidates"][0]["usable_bytes_per_gpu"] / 1e9
    limits = {ln.get_label(): ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == ":"}
    assert limits == {f"usable memory {usable:g} GB per GPU": usable, "GPU memory 80 GB": 80.0}
    marks = [(t.get_text(), t.xy) for t in ax.texts if t.get_text().startswith("#")]
    assert marks == [
        (f"#{r['rank']}", (r["tokens_per_second_per_gpu"], r["memory_bytes_per_gpu"] / 1e9))
        for r in rows[:5]
    ]
    note = next(t.get_text() for t in ax.texts if t.get_text().startswith("Top 5"))
    first = rows[0]
    assert note.splitlines()[1] == (
        f"#1: tp {first['tp']} dp {first['dp']} ep {first['ep']} edp {first['edp']} "
        f"etp {first['etp']} pp {first['pp']}"
    )
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "prefill, 4,096 tokens per GPU, h800; GB = 1e9 B" in title


@pytest.mark.parametrize(
    ("options", "field", "unit", "label"),
    [
        ({"objective": "latency"}, "latency_seconds", 1e-3, "latency: TTFT (ms)"),
        ({"objective": "comm"}, "comm_seconds_per_token", 1e-6, "communication per token (µs)"),
        (
            {"objective": "comm", "rank_by": "step"},
            "comm_seconds_per_step",
            1e-3,
            "communication per step, per GPU (ms)",
        ),
        ({"objective": "memory"}, "step_seconds", 1e-3, "step time (ms)"),
    ],
)
def test_plan_figure_follows_the_objective(
    options: dict[str, str], field: str, unit: float, label: str
) -> None:
    report = moecomm.plan(preset="mixtral-8x7b", gpus=16, hardware="h100-sxm", **options)
    rows = json.loads(report.render("json"))["candidates"]
    (panel,) = figure_spec(report).panels
    assert panel.xlabel == label
    drawn = [p for s in panel.series if s.style == "points" for p in zip(s.x, s.y, strict=True)]
    assert sorted(drawn) == sorted((r[field] / unit, r["memory_bytes_per_gpu"] / 1e9) for r in rows)
    assert panel.marks[0][:2] == (rows[0][field] / unit, rows[0]["memory_bytes_per_gpu"] / 1e9)


def test_plan_plot_refuses_launch_rows(tmp_path: Path) -> None:
    result = run(*PLAN, "--launch", "sglang", "--plot", str(tmp_path / "p.svg"))
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --plot draws memory and time, which --launch rows do not hold; leave out "
        "--launch\n",
    )


@needs_mpl
def test_collective_measured_points_are_the_log_rows() -> None:
    """The synthetic log's out-of-place time and busbw columns, drawn on the model's line."""
    report = moecomm.sweep(
        "collective", kind="all-reduce", nbytes="1MiB:1GiB:x4", ranks="8", hardware="h100-sxm"
    )
    fig = _figure(report, (AR8,))
    time, busbw = fig.axes
    rows = [
        line.split()
        for line in Path(AR8).read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "NCCL"))
    ]
    label = "measured back-to-back: all-reduce, 8 ranks"
    got_time = _points(time)[label]
    want = [(float(r[0]), float(r[5])) for r in rows]
    assert _flat(got_time) == pytest.approx(_flat(want), rel=1e-12)
    got_busbw = _points(busbw)[label]
    assert [x for x, _ in got_busbw] == [float(r[0]) for r in rows]
    # nccl-tests prints time and busbw to 2 decimals: ours is size × 2(n−1)/n / time from the same row.
    for (_, y), r in zip(got_busbw, rows, strict=True):
        assert y == pytest.approx(float(r[7]), rel=1e-3, abs=0.006)
    model = json.loads(report.render("json"))
    model_line = time.lines[0]
    assert list(model_line.get_xdata()) == [float(m["bytes"]) for m in model]
    assert list(model_line.get_ydata()) == pytest.approx([m["seconds"] * 1e6 for m in model])
    assert time.lines[0].get_color() == next(
        ln.get_color() for ln in time.lines if ln.get_label() == label
    )
    caption = figure_spec(report, (AR8,)).caption
    assert "Points: measured in all_reduce_perf.g8.synthetic.txt (nccl-tests 2.19.6" in caption


@needs_mpl
def test_collective_measured_bench_file_both_timings(tmp_path: Path) -> None:
    out = tmp_path / "c.svg"
    ok(
        "collective",
        "all-reduce,all-gather",
        "--bytes",
        "1MiB:1GiB:x4",
        "--ranks",
        "4",
        "--hardware",
        "h100-sxm",
        "--plot",
        str(out),
        "--measured",
        BENCH4,
    )
    report = moecomm.sweep(
        "collective",
        kind="all-reduce,all-gather",
        nbytes="1MiB:1GiB:x4",
        ranks="4",
        hardware="h100-sxm",
    )
    labels = [s.label for s in figure_spec(report, (BENCH4,)).panels[0].series]
    assert labels == [
        "all-reduce",
        "all-gather",
        "measured back-to-back: all-reduce, 4 ranks",
        "measured per-op: all-reduce, 4 ranks",
        "measured back-to-back: all-gather, 4 ranks",
        "measured per-op: all-gather, 4 ranks",
    ]
    assert out.read_bytes().startswith(b"<?xml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--ranks", "16"],
            f"Error: --measured {AR8} holds no case of the figure's collectives (all-reduce on "
            "16 ranks, 2 nodes)\n",
        ),
        (
            ["--ranks", "8,16", "--bytes", "1MiB"],
            "Error: --measured draws measured sizes, and this figure's x-axis is ranks: give "
            "--bytes as a list or range\n",
        ),
        (
            ["--ranks", "8", "--no-plot"],
            "Error: --measured is drawn on a figure: it needs --plot FILE\n",
        ),
    ],
)
def test_collective_measured_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    plot = [] if "--no-plot" in args else ["--plot", str(tmp_path / "c.svg")]
    args = [a for a in args if a != "--no-plot"]
    bytes_ = [] if "--bytes" in args else ["--bytes", "1MiB:1GiB:x4"]
    result = run(
        "collective",
        "all-reduce",
        *bytes_,
        *args,
        "--hardware",
        "h100-sxm",
        *plot,
        "--measured",
        AR8,
    )
    assert (result.exit_code, result.stderr) == (2, message)
    assert not (tmp_path / "c.svg").exists()


@needs_mpl
@pytest.mark.parametrize(
    "command",
    [
        [*VALIDATE],
        [*PLAN],
        [*COLLECTIVE, "--measured", AR8],
    ],
    ids=["validate", "plan", "collective-measured"],
)
def test_the_same_input_gives_the_same_svg(command: list[str], tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "moecomm", *command, "--plot", str(tmp_path / f"{name}.svg")],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
    a, b = (tmp_path / "a.svg").read_bytes(), (tmp_path / "b.svg").read_bytes()
    assert a == b and a.startswith(b"<?xml")


@needs_mpl
def test_plot_leaves_the_table_unchanged(tmp_path: Path) -> None:
    for command in (VALIDATE, PLAN):
        assert ok(*command, "--plot", str(tmp_path / "x.png"), "--force") == ok(*command)


@needs_mpl
def test_a_large_scatter_is_one_raster_image_and_the_same_every_run() -> None:
    """plan over thousands of layouts: one embedded image, not thousands of SVG paths."""
    code = (
        "import sys; from moecomm.plots.spec import FigureSpec, Panel, Series; "
        "from moecomm.plots.draw import render; "
        "xs = tuple(float(i) for i in range(1, 3001)); "
        "ys = tuple(float(i * 7919 % 1000 + 1) for i in range(3000)); "
        "p = Panel('p', 'x', 'y', 'lines', (Series('layouts', xs, ys, 'points'),)); "
        "sys.stdout.buffer.write(render(FigureSpec('t', 'c', (p,)), 'svg'))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert runs[0].count(b"<image") == 1
    assert runs[0].count(b"<use ") < 100  # markers are not drawn one by one


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "--preset", "deepseek-v3", "--gpus", "7", "--hardware", "h800"],  # no layout
        ["validate", "missing.txt", "--hardware", "h100-sxm"],  # no such file
    ],
    ids=["plan", "validate"],
)
def test_plot_path_is_refused_before_the_work(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan's search and validate's files can take seconds: a bad --plot stops first."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.svg").write_text("keep\n")
    result = run(*command, "--plot", "fig.txt")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --plot must end in .png, .svg or .pdf; got 'fig.txt'\n",
    )
    result = run(*command, "--plot", "exists.svg")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: exists.svg: exists; pass --force to replace it\n",
    )
    assert (tmp_path / "exists.svg").read_text() == "keep\n"


@needs_mpl
def test_plan_figure_names_context_parallel_picks_beside_the_axes() -> None:
    report = moecomm.plan(
        deployment="megatron-bridge-qwen3-235b-train", micro_batch=1, seq=4096, top=3
    )
    rows = json.loads(report.to_json())["candidates"]
    ax = _figure(report).axes[0]
    (note,) = [t for t in ax.texts if t.get_text().startswith("Top 3")]
    assert note.get_position()[0] > 1  # right of the axes: it covers no point
    first = rows[0]
    assert first["cp"] > 1
    assert note.get_text().splitlines()[1] == (
        f"#1: tp {first['tp']} cp {first['cp']} dp {first['dp']} ep {first['ep']} "
        f"edp {first['edp']} etp {first['etp']} pp {first['pp']}"
    )
