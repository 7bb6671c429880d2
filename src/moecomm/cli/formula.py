"""``moecomm formula``: list, show, substitute and export the formulas."""

from __future__ import annotations

import click

from moecomm import formulas as F
from moecomm import latex
from moecomm.cli.base import InputError, emit
from moecomm.cli.options import format_option
from moecomm.render import render_record, render_rows
from moecomm.units import Exact, normalize, parse_exact


def parse_subs(items: tuple[str, ...]) -> dict[str, Exact]:
    """``NAME=VALUE`` options as symbol names and exact numbers (``units.parse_exact``)."""
    out: dict[str, Exact] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise InputError(f"--subs must look like NAME=VALUE; got {item!r}")
        try:
            out[key] = normalize(parse_exact(raw))
        except ValueError as exc:
            raise InputError(f"--subs {key} {exc}") from None
    return out


@click.command("formula")
@click.argument("name", required=False)
@click.option("--latex", "as_latex", is_flag=True, help="LaTeX (from sympy.latex) instead of text.")
@click.option("--all", "all_", is_flag=True, help="Every formula; with --latex a full document.")
@click.option(
    "--subs",
    multiple=True,
    metavar="SYMBOL=VALUE",
    help="Substitute an integer, fraction or decimal value; repeatable.",
)
@format_option
def command(name: str | None, as_latex: bool, all_: bool, subs: tuple[str, ...], fmt: str) -> None:
    """List the formulas, or show one as sympy text or LaTeX, optionally with values substituted.

    Every number moecomm prints is evaluated from these expressions.

    Example: moecomm formula ep_dispatch_bytes --subs b=1 --subs s=4096 --subs h=7168 --subs k=8
    --subs ep=64 --subs beta_d=2
    """
    if name is not None and all_:
        raise InputError("give a formula NAME or --all, not both")
    if name is None:
        if subs:
            raise InputError("--subs needs a formula NAME")
        if all_ and as_latex:
            emit(latex.document([F.get(n) for n in F.names()]))
            return
        caption = "Show one with: moecomm formula NAME [--latex] [--subs k=8 ...]"
        emit(render_rows(F.catalog(), fmt, title="moecomm formulas", caption=caption))
        return
    values = parse_subs(subs)
    try:
        view = F.show(name, values)
    except F.SubstitutionError as exc:
        raise InputError(f"--subs {exc}") from None
    if as_latex and fmt == "table":
        emit(view.latex + "\n")
        return
    caption = f"Convention: {view.convention}."
    emit(render_record(view, fmt, title=f"Formula {view.name}", caption=caption))
