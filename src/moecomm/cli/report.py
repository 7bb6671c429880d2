"""``moecomm report``: one scenario as a LaTeX document (and a PDF with --pdf)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from moecomm.cli.base import emit
from moecomm.cli.options import hardware_options, link, progress, source_options


@click.command("report")
@source_options
@click.option(
    "--tokens", "-t", type=int, default=4096, show_default=True, help="Tokens b·s per rank."
)
@click.option("--ep", type=int, help="EP size [default: the deployment's].")
@click.option("--tp", type=int, help="TP size [default: the deployment's, else 1].")
@click.option(
    "--phase",
    type=click.Choice(["train", "prefill", "decode"]),
    help="Phase of the step table [default: the deployment's, else train].",
)
@hardware_options
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE.tex",
    help="The LaTeX file; its figures are written beside it as FILE-*.pdf.",
)
@click.option("--pdf", is_flag=True, help="Also run pdflatex, writing FILE.pdf beside it.")
@click.option("--force", is_flag=True, help="Replace existing files or links (never through).")
def command(output: str, pdf: bool, force: bool, **kw: Any) -> None:
    """One scenario as a LaTeX document: formulas, their values, tables and figures.

    Typesets the formulas from the same sympy expressions with the scenario's numbers, the ep,
    tp, compare, traffic and step tables, the figures as PDF (with the plot extra), the
    conventions and the sources. --pdf compiles it with pdflatex when installed.

    Example: moecomm report --preset deepseek-v3 --tokens 4096 --ep 64 --hardware h800 -o ds.tex
    """
    from moecomm import api

    bar = progress("table", "building the report")
    document = api.report(link=link(kw), stem=Path(output).stem, progress=bar, **kw)
    written = document.write(output, force=force, pdf=pdf)
    emit("wrote " + ", ".join(written) + "\n")
