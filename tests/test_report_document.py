"""moecomm report: formulas from the sympy expressions with the scenario's values, the commands'
tables, PDF figures, and a document pdflatex compiles."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ok, run

import moecomm
from moecomm import api
from moecomm import formulas as F
from moecomm.document import FORMULAS

ARGS = ("report", "--preset", "deepseek-v3", "--tokens", "4096", "--ep", "64", "--tp", "8")
HW = ("--hardware", "h800")


@pytest.fixture(scope="module")
def document() -> moecomm.document.Document:
    return api.report(preset="deepseek-v3", tokens=4096, ep=64, tp=8, hardware="h800", stem="ds")


def test_formulas_are_typeset_from_the_registry_with_values(
    document: moecomm.document.Document,
) -> None:
    tex = document.tex
    for name in FORMULAS:
        assert F.get(name).latex().replace(" = ", " &= ", 1) in tex, name
    # The values are the commands' own numbers.
    ep = moecomm.ep(preset="deepseek-v3", tokens=4096, ep=64).result
    tp = moecomm.tp(preset="deepseek-v3", tokens=4096, tp=8).result
    assert ep.ep_bytes_per_rank == 924_844_032 and tp.allreduce_bytes_per_rank == 102_760_448
    assert r"&= 924{,}844{,}032" in tex
    assert r"&= 102{,}760{,}448" in tex
    # ep_dispatch_bytes with the numbers in place, unevaluated
    assert (
        r"&= 1 \cdot 2 \cdot 7168 \cdot 8 \cdot 4096 \cdot \frac{1}{64} \left(-1 + 64\right)" in tex
    )
    assert r"&= \frac{1}{8} \approx 0.125" in tex  # scaling_ratio K/M


def test_tables_are_the_commands_tables(document: moecomm.document.Document) -> None:
    tex = document.tex
    for title in (
        "EP all-to-all per rank, one MoE layer",
        "TP all-reduce per rank, one layer",
        "EP vs TP per GPU, one MoE layer",
        "EP traffic per rank, one MoE layer",
        "One train step per rank",
    ):
        assert rf"\subsection*{{{title}}}" in tex
    assert "dispatch bytes & 462,422,016 & 462.422 MB" in tex
    assert "ring all-reduce bytes & 102,760,448 & 102.760 MB" in tex
    compare = moecomm.compare(preset="deepseek-v3", tokens=4096 * 64, sizes=(64,)).result[0]
    assert f"64 & 4,096 & {compare.ep_bytes_per_rank:,} & {compare.tp_bytes_per_rank:,}" in tex


def test_figures_are_included_pdfs(document: moecomm.document.Document) -> None:
    if not _mpl():
        if os.environ.get("MOECOMM_REQUIRE_PLOT"):
            pytest.fail('matplotlib is required here (pip install ".[plot]")')
        pytest.skip('matplotlib not installed (pip install ".[plot]")')
    assert list(document.figures) == ["ds-compare.pdf", "ds-traffic.pdf", "ds-sweep.pdf"]
    for name, data in document.figures.items():
        assert data.startswith(b"%PDF")
        assert rf"\includegraphics[width=\textwidth]{{{name}}}" in document.tex


def test_conventions_and_sources(document: moecomm.document.Document) -> None:
    tex = document.tex
    assert "GB = 1e9 B, MB = 1e6 B, kB = 1e3 B; GiB = 2\\textasciicircum{}30 B" in tex
    assert (
        r"\item \textit{model deepseek-v3}: https://huggingface.co/deepseek-ai/DeepSeek-V3" in tex
    )
    assert r"\item \textit{hardware h800}:" in tex
    assert r"\textit{formula ep\_dispatch\_bytes}: harleyszhang/llm\_note" in tex


def _need_pdflatex() -> None:
    if shutil.which("pdflatex") is None:
        if os.environ.get("MOECOMM_REQUIRE_PDFLATEX"):
            pytest.fail("pdflatex is required here (apt-get install texlive-latex-base)")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base)")


def test_cli_writes_tex_figures_and_a_pdf_that_pdflatex_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_pdflatex()
    monkeypatch.chdir(tmp_path)
    out = ok(*ARGS, *HW, "-o", "ds.tex", "--pdf")
    figures = ["ds-compare.pdf", "ds-traffic.pdf", "ds-sweep.pdf"] if _mpl() else []
    assert out == "wrote " + ", ".join([*figures, "ds.tex", "ds.pdf"]) + "\n"
    pdf = (tmp_path / "ds.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*figures, "ds.tex", "ds.pdf"])


def test_a_deployment_report_compiles_and_says_what_it_leaves_out(tmp_path: Path) -> None:
    _need_pdflatex()
    doc = api.report(deployment="deepseek-v3-decode", tokens=128, figures=False)
    assert "No traffic table or matrix: the deployment's 64 redundant experts" in doc.tex
    assert "No figures: matplotlib is not installed" in doc.tex
    doc.write(tmp_path / "dec.tex", pdf=True)
    assert (tmp_path / "dec.pdf").read_bytes().startswith(b"%PDF")


def _mpl() -> bool:
    from moecomm.plots import available

    return available()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("-o", "ds.txt"), "--output must name a .tex file; got 'ds.txt'"),
        (("-o", ".tex"), "--output must name a .tex file; got '.tex'"),
        (("-o", "nofolder/ds.tex"), "nofolder: no such folder"),
        (("-o", "old.tex"), "old.tex: exists; pass --force to replace it"),
    ],
)
def test_bad_outputs_are_refused_before_anything_is_written(
    extra: tuple[str, ...], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.tex").write_text("keep\n")
    result = run(*ARGS, *HW, *extra)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.tex"]
    assert (tmp_path / "old.tex").read_text() == "keep\n"


def test_missing_inputs_name_the_flag(tmp_path: Path) -> None:
    out = str(tmp_path / "x.tex")
    result = run("report", "--preset", "deepseek-v3", *HW, "-o", out)
    assert result.stderr == "Error: --ep is required (or --deployment)\n"
    result = run("report", "--preset", "deepseek-v3", "--ep", "8", "-o", out)
    assert result.stderr == "Error: --hardware is required (or --deployment)\n"


def test_pdf_without_pdflatex_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run(*ARGS, *HW, "-o", "ds.tex", "--pdf")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --pdf needs pdflatex, which is not installed (Debian: apt-get install "
        "texlive-latex-base); nothing was written\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_report_has_no_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert ok(*ARGS, *HW, "-o", "ds.tex") == "wrote ds.tex\n"
    assert "No figures: matplotlib is not installed" in (tmp_path / "ds.tex").read_text()


def test_a_file_name_with_spaces_compiles(tmp_path: Path) -> None:
    _need_pdflatex()
    doc = api.report(
        preset="deepseek-v3", tokens=64, ep=8, hardware="h800", stem="my report", figures=False
    )
    written = doc.write(tmp_path / "my report.tex", pdf=True)
    assert written == [str(tmp_path / "my report.tex"), str(tmp_path / "my report.pdf")]
    assert (tmp_path / "my report.pdf").read_bytes().startswith(b"%PDF")


def test_figure_files_are_named_from_a_safe_stem() -> None:
    from moecomm.document import figure_files

    report = moecomm.compare(preset="deepseek-v3")
    names = figure_files({"compare": report}, lambda r: b"%PDF", "my report/é")
    assert list(names) == ["my-report---compare.pdf"]
