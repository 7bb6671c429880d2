"""``moecomm report``: one scenario as a LaTeX document that pdflatex compiles.

The formulas are typeset by ``sympy.latex`` from the registry's expressions, then shown with the
scenario's numbers in place and their exact values; the tables are the ep, tp, compare, traffic
and step reports the commands print; the figures are ``moecomm.plots`` PDFs of the same reports.
Files are written through ``safe_io``: nothing replaced without ``force``, no link followed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy as sp

from moecomm import formulas as F
from moecomm import latex, safe_io
from moecomm.errors import MoecommError
from moecomm.errors import field as flag
from moecomm.render import cell, record_cells
from moecomm.report import Report, traffic_caption
from moecomm.results import label, shown, unit
from moecomm.units import Exact, normalize

PDFLATEX_SECONDS = 120
"""Longest pdflatex run."""

CONVENTIONS = (
    "Per rank (one GPU) and per MoE layer, unless a table says per step.",
    "moecomm ep, tp and traffic count the b·s tokens on one rank; compare counts a global batch "
    "of S tokens spread over M GPUs (here S = b·s × ep, so that at M = ep each GPU holds the "
    "b·s tokens of the ep table).",
    "EP counts the bytes that leave the rank: the factor (ep−1)/ep; the approximation "
    "4·b·s·k·h drops it.",
    "Byte counts are exact integers, or exact fractions when a balanced-routing expectation is "
    "not integral (tables show them rounded after ≈).",
    "GB = 1e9 B, MB = 1e6 B, kB = 1e3 B; GiB = 2^30 B is always labelled as such.",
    "Times come from the link model of docs/time-model.md with the hardware named below.",
)


@dataclass(frozen=True)
class Scenario:
    """What the document is about: names for the title, sizes for the formulas, sources."""

    model: str
    hardware: str
    tokens: int
    ep: int
    tp: int
    hidden_size: int
    top_k: int
    num_experts: int
    tp_element_bytes: int
    sources: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    """What the document leaves out, and why."""


@dataclass(frozen=True)
class Document:
    """The LaTeX text and the PDF figures it includes (file name → bytes)."""

    tex: str
    figures: dict[str, bytes] = field(default_factory=dict)

    def write(self, path: str | Path, *, force: bool = False, pdf: bool = False) -> list[str]:
        """Write FILE.tex and its figures beside it; with ``pdf``, FILE.pdf from pdflatex.

        Every target is checked before anything is written. Returns the paths written.
        """
        tex = Path(path)
        if tex.suffix.lower() != ".tex" or not tex.stem:
            raise MoecommError(
                f"{flag('output')} must name a .tex file; got {safe_io.shown_path(path)!r}"
            )
        targets = [tex.with_name(name) for name in self.figures] + [tex]
        if pdf:
            targets.append(tex.with_suffix(".pdf"))
        for target in targets:
            safe_io.check_writable(target, force=force, what=flag("output"))
        if pdf and shutil.which("pdflatex") is None:
            raise MoecommError(
                f"{flag('pdf')} needs pdflatex, which is not installed (Debian: apt-get install "
                f"texlive-latex-base); nothing was written"
            )
        for name, data in self.figures.items():
            safe_io.write_bytes_atomic(tex.with_name(name), data, force=force, what=flag("output"))
        safe_io.write_text_atomic(tex, self.tex, force=force, what=flag("output"))
        if pdf:
            data = compile_pdf(self.tex, self.figures)
            safe_io.write_bytes_atomic(
                tex.with_suffix(".pdf"), data, force=force, what=flag("output")
            )
        return [str(t) for t in targets]


def compile_pdf(tex: str, figures: Mapping[str, bytes]) -> bytes:
    """Run pdflatex on the document in a fresh folder; the PDF bytes, or one line of its error.

    The document is compiled as ``report.tex`` whatever the user named it (TeX reads a space
    in a file name as its end), with shell escape off.
    """
    with tempfile.TemporaryDirectory(prefix="moecomm-report-") as tmp:
        folder = Path(tmp)
        (folder / "report.tex").write_text(tex, encoding="utf-8")
        for name, data in figures.items():
            (folder / name).write_bytes(data)
        command = [
            "pdflatex",
            "-no-shell-escape",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "report.tex",
        ]
        try:
            proc = subprocess.run(
                command, cwd=folder, capture_output=True, timeout=PDFLATEX_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise MoecommError(f"pdflatex ran over {PDFLATEX_SECONDS} s") from None
        out = folder / "report.pdf"
        if proc.returncode != 0 or not out.exists():
            log = proc.stdout.decode("utf-8", "replace").splitlines()
            first = next((ln for ln in log if ln.startswith("!")), "no PDF written")
            raise MoecommError(f"pdflatex failed: {first[:200]}")
        return out.read_bytes()


# ---- the document ---------------------------------------------------------------------------


def _number(value: Exact) -> str:
    """An exact value in LaTeX math: 1{,}234 or \\frac{p}{q} \\approx 1{,}234.567."""
    value = normalize(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "{,}")
    decimal = f"{float(value):,.3f}".replace(",", "{,}")
    return rf"\frac{{{value.numerator}}}{{{value.denominator}}} \approx {decimal}"


def _values(s: Scenario, element_bytes: tuple[Fraction, Fraction]) -> dict[str, Exact]:
    bd, bc = element_bytes
    return {
        "b": 1,
        "s": s.tokens,
        "h": s.hidden_size,
        "k": s.top_k,
        "ep": s.ep,
        "beta_d": normalize(bd),
        "beta_c": normalize(bc),
        "beta": s.tp_element_bytes,
        "tp": s.tp,
        "S": s.tokens * s.ep,
        "D": s.hidden_size,
        "K": s.top_k,
        "M": s.ep,
        "E": s.num_experts,
        "U": s.ep,
    }


FORMULAS = (
    "ep_tokens_sent",
    "ep_dispatch_bytes",
    "ep_combine_bytes",
    "ep_total_bytes",
    "ep_total_bytes_approx",
    "tp_allreduce_bytes",
    "tp_allreduce_bytes_bound",
    "scaling_ep_bytes",
    "scaling_tp_bytes",
    "scaling_ratio",
    "expected_distinct_units",
)
"""The formulas a report typesets, in order, with the scenario's values."""


def formula_values(
    s: Scenario, element_bytes: tuple[Fraction, Fraction]
) -> list[tuple[str, dict[str, Exact], Exact]]:
    """(formula, its values, its exact value) for each of FORMULAS."""
    every = _values(s, element_bytes)
    out = []
    for name in FORMULAS:
        f = F.get(name)
        values = {str(sym): every[str(sym)] for sym in f.symbols}
        view = F.show(name, values)
        assert view.value is not None
        out.append((name, values, view.value))
    return out


def _substituted(name: str, values: Mapping[str, Exact]) -> str:
    """The expression with the numbers in place, unevaluated (sympy.evaluate(False))."""
    f = F.get(name)
    by_name = {str(sym): sym for sym in f.symbols}
    numbers = {
        by_name[k]: sp.Rational(v.numerator, v.denominator)
        if isinstance(v, Fraction)
        else sp.Integer(v)
        for k, v in values.items()
    }
    with sp.evaluate(False):
        expr = f.expr.xreplace(numbers)
    return latex.expression(expr)


def _formulas(s: Scenario, element_bytes: tuple[Fraction, Fraction]) -> list[str]:
    lines = [r"\section{Formulas with the scenario's values}"]
    for name, values, value in formula_values(s, element_bytes):
        f = F.get(name)
        given = ", ".join(
            f"${latex.expression(sp.Symbol(k))} = {_number(v)}$" for k, v in values.items()
        )
        lines += [
            rf"\subsection*{{{latex.text(name)}}}",
            latex.text(f.description) + r"\\",
            rf"\textit{{Unit:}} {latex.text(f.unit)}; \textit{{convention:}} {latex.text(f.convention)}.\\",
            rf"\textit{{Source:}} {latex.text(f.source)}\\",
            rf"\textit{{Values:}} {given}.",
            r"\begin{align*}",
            f.latex().replace(" = ", " &= ", 1) + r" \\",
            rf"&= {_substituted(name, values)} \\",
            rf"&= {_number(value)}",
            r"\end{align*}",
        ]
    return lines


def _tabular(header: list[str], rows: list[list[str]], title: str, caption: str) -> list[str]:
    spec = "p{6.2cm}" + "r" * (len(header) - 1) if len(header) <= 3 else "r" * len(header)
    size = r"\small" if len(header) <= 6 else r"\scriptsize"
    lines = [
        rf"\subsection*{{{latex.text(title)}}}",
        r"{" + size,
        rf"\begin{{longtable}}{{{spec}}}",
        r"\hline",
        " & ".join(rf"\textbf{{{latex.text(h)}}}" for h in header) + r" \\ \hline",
        r"\endhead",
    ]
    lines += [" & ".join(latex.text(c) for c in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{longtable}", r"}", r"{\small " + latex.text(caption) + r"}", ""]
    return lines


def _record(obj: Any, title: str, caption: str) -> list[str]:
    cells = record_cells(obj, skip_none=True)
    return _tabular(
        ["quantity", "value", "decimal (1 kB = 1e3 B)"], [list(c) for c in cells], title, caption
    )


def _rows(rows: list[Any], title: str, caption: str) -> list[str]:
    fields = [
        f
        for f in (rows[0].__dataclass_fields__.values())
        if shown(f) and any(getattr(r, f.name) is not None for r in rows)
    ]
    body = [[cell(getattr(r, f.name), unit(f)) for f in fields] for r in rows]
    return _tabular([label(f) for f in fields], body, title, caption)


def tables(report: Report) -> list[str]:
    """A report's tables in LaTeX: the cells its table and Markdown show."""
    if report.layout == "rows":
        return _rows(list(report.result), report.title, report.caption)
    if report.layout == "traffic":
        r = report.result[0] if isinstance(report.result, list) else report.result
        out = _record(r, report.title, traffic_caption(r, report.caption or None))
        return out + _rows(
            r.per_rank,
            "Per rank (dispatch; combine is its transpose)",
            f"Convention: {r.convention}. GB = 1e9 B.",
        )
    return _record(report.result, report.title, report.caption)


def build(
    scenario: Scenario,
    reports: Mapping[str, Report],
    figures: Mapping[str, bytes],
    element_bytes: tuple[Fraction, Fraction],
) -> Document:
    """The whole document: scenario, conventions, formulas, tables, figures, sources.

    ``figures`` maps a file name from ``figure_files`` to its PDF bytes.
    """
    s = scenario
    title = f"moecomm report: {s.model} on {s.hardware}"
    lines = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath}",
        r"\usepackage{graphicx}",
        r"\usepackage{longtable}",
        r"\usepackage[margin=1.8cm]{geometry}",
        rf"\title{{{latex.text(title)}}}",
        r"\author{moecomm}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        r"\section{Scenario}",
        r"\begin{itemize}",
        rf"\item model: {latex.text(s.model)} (hidden size $h = {s.hidden_size}$, "
        rf"$E = {s.num_experts}$ routed experts, top-$k = {s.top_k}$)",
        rf"\item tokens per rank $b \cdot s = {_number(s.tokens)}$; EP size ${s.ep}$; TP size ${s.tp}$",
        rf"\item hardware: {latex.text(s.hardware)}",
        *[rf"\item {latex.text(n)}" for n in s.notes],
        r"\end{itemize}",
        r"\section{Conventions}",
        r"\begin{itemize}",
        *[rf"\item {latex.text(c)}" for c in CONVENTIONS],
        r"\end{itemize}",
        *_formulas(s, element_bytes),
        r"\section{Tables}",
    ]
    for report in reports.values():
        lines += tables(report)
    if figures:
        lines.append(r"\section{Figures}")
        for file in figures:
            caption = FIGURE_CAPTIONS[file.removesuffix(".pdf").rsplit("-", 1)[1]]
            lines += [
                r"\begin{figure}[htbp]",
                r"\centering",
                rf"\includegraphics[width=\textwidth]{{{file}}}",
                rf"\caption{{{latex.text(caption)}}}",
                r"\end{figure}",
            ]
    else:
        lines += [
            r"\section{Figures}",
            latex.text('No figures: matplotlib is not installed (pip install "moecomm[plot]").'),
        ]
    lines += [r"\clearpage", r"\section{Sources}", r"\begin{itemize}"]
    seen = dict(s.sources)
    for name in FORMULAS:
        seen.setdefault(f"formula {name}", F.get(name).source)
    lines += [rf"\item \textit{{{latex.text(k)}}}: {latex.text(v)}" for k, v in seen.items()]
    lines += [r"\end{itemize}", r"\end{document}"]
    return Document("\n".join(lines) + "\n", dict(figures))


FIGURE_CAPTIONS = {
    "compare": "EP against TP bytes (and times) per GPU against the group size M, global batch S.",
    "traffic": "EP traffic of one MoE layer under uniform top-k routing: rank x rank matrix, per-rank bytes, intra/inter-node split.",
    "sweep": "EP bytes and time per rank of one MoE layer against the tokens per rank, one line per EP size.",
}
"""The figures a report includes, in order, with their captions."""


def figure_files(
    reports: Mapping[str, Report], render: Callable[[Report], bytes], stem: str
) -> dict[str, bytes]:
    """The PDF figure of each report named in FIGURE_CAPTIONS: ``STEM-compare.pdf``, … (the
    stem reduced to letters, digits and dashes, which every LaTeX reads in a file name)."""
    safe = re.sub(r"[^A-Za-z0-9-]", "-", stem)[:64] or "report"
    return {f"{safe}-{key}.pdf": render(reports[key]) for key in FIGURE_CAPTIONS if key in reports}
