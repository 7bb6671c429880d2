"""The LaTeX export: produced by sympy.latex, and a complete document that pdflatex compiles."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ok

from moecomm import formulas as F


def test_document_lists_every_formula() -> None:
    doc = ok("formula", "--all", "--latex")
    assert doc.startswith(r"\documentclass{article}")
    assert doc.rstrip().endswith(r"\end{document}")
    for name in F.names():
        assert rf"\section*{{{name.replace('_', chr(92) + '_')}}}" in doc
    assert r"\mathrm{scaling\_ratio} = \frac{K}{M}" in doc


def test_pdflatex_compiles_the_document(tmp_path: Path) -> None:
    if shutil.which("pdflatex") is None:
        if os.environ.get("MOECOMM_REQUIRE_PDFLATEX"):
            pytest.fail("pdflatex is required here (apt-get install texlive-latex-base)")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base)")
    (tmp_path / "formulas.tex").write_text(ok("formula", "--all", "--latex"), encoding="utf-8")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "formulas.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "formulas.pdf").stat().st_size > 1000
    assert "Missing character" not in (tmp_path / "formulas.log").read_text(errors="replace")
