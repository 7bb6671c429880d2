"""LaTeX export of the formula layer, produced by ``sympy.latex`` from the same expressions."""

from __future__ import annotations

import sympy as sp

from moecomm.formulas import Formula, latex_expression
from moecomm.formulas.symbols import DESCRIPTIONS

_TEXT = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "·": r"$\cdot$",
    "−": r"$-$",
    "≈": r"$\approx$",
    "≪": r"$\ll$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "→": r"$\to$",
    "×": r"$\times$",
    "β": r"$\beta$",
    "§": r"\S{}",
    "—": "---",
    "–": "--",
    "…": r"\ldots{}",
    "“": "``",
    "”": "''",
    "’": "'",
}


def text(s: str) -> str:
    """Escape plain text for LaTeX; characters pdflatex lacks become math or ASCII."""
    out = []
    for ch in s:
        if ch in _TEXT:
            out.append(_TEXT[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def expression(expr: sp.Expr) -> str:
    """An expression in LaTeX (``formulas.latex_expression``: sympy.latex, the papers' names)."""
    return latex_expression(expr)


def equation(formula: Formula, expr: sp.Expr | None = None) -> str:
    """``name = expression`` in LaTeX math (no delimiters): ``Formula.latex``."""
    return formula.latex(expr)


def document(formulas: list[Formula]) -> str:
    """A complete LaTeX document of the given formulas, with their sources and symbols."""
    lines = [
        r"\documentclass{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\title{moecomm formulas}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        r"\section*{Symbols}",
        r"\begin{itemize}",
    ]
    used = set().union(*(f.expr.free_symbols for f in formulas)) if formulas else set()
    for sym in DESCRIPTIONS:
        if sym in used:
            lines.append(rf"\item ${expression(sym)}$: {text(DESCRIPTIONS[sym])}")
    lines.append(r"\end{itemize}")
    for f in formulas:
        lines += [
            rf"\section*{{{text(f.name)}}}",
            text(f.description) + r"\\",
            rf"\textit{{Unit:}} {text(f.unit)}; \textit{{convention:}} {text(f.convention)}.\\",
            rf"\textit{{Source:}} {text(f.source)}",
            r"\begin{equation*}",
            equation(f),
            r"\end{equation*}",
        ]
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"
