"""The formula reference page (docs/formulas.md), generated from the formula registry.

Regenerate with ``python -m moecomm.reference docs/formulas.md``; a test fails if it drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from moecomm import formulas as F
from moecomm import latex
from moecomm.formulas.symbols import DESCRIPTIONS


def markdown() -> str:
    lines = [
        "# Formula reference",
        "",
        "Generated from `src/moecomm/formulas/` by `python -m moecomm.reference docs/formulas.md`;"
        " do not edit by hand. Every number moecomm prints is evaluated exactly from these"
        " expressions. Show one with `moecomm formula NAME`, or all as a LaTeX document with"
        " `moecomm formula --all --latex`.",
        "",
        "## Symbols",
        "",
        "| symbol | `--subs` name | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| ${latex.expression(s)}$ | `{s}` | {d} |" for s, d in DESCRIPTIONS.items()]
    for name in F.names():
        f = F.get(name)
        lines += [
            "",
            f"## `{name}`",
            "",
            f.description,
            "",
            f"- unit: {f.unit}",
            f"- convention: {f.convention}",
            f"- source: {f.source}",
            f"- sympy: `{f.expr}`",
            "",
            "$$",
            latex.equation(f),
            "$$",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/formulas.md")
    target.write_text(markdown(), encoding="utf-8")
    print(f"wrote {target}")
