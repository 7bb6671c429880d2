"""``moecomm formula``: list, show, substitute and export the formulas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import click
import sympy as sp

from moecomm import formulas as F
from moecomm import latex
from moecomm.cli.base import InputError, emit
from moecomm.cli.options import format_option
from moecomm.formulas.symbols import BY_NAME
from moecomm.render import render_record, render_rows
from moecomm.results import convention_field, quantity
from moecomm.units import Exact, normalize

_NUMBER = re.compile(r"^(\d+)(?:/(\d+)|\.(\d+))?$")


@dataclass(frozen=True)
class FormulaRow:
    """One formula in the list."""

    name: str = quantity("name", "text")
    unit: str = quantity("unit", "text")
    description: str = quantity("description", "text")
    convention: str = quantity("convention", "text", show=False)
    source: str = quantity("source", "text", show=False)


@dataclass(frozen=True)
class FormulaView:
    """One formula, possibly with values substituted."""

    convention: str = convention_field()
    name: str = quantity("formula", "text")
    description: str = quantity("description", "text")
    expression: str = quantity("expression", "text")
    latex: str = quantity("LaTeX", "text", show=False)
    symbols: list[str] = quantity("free symbols", "text", show=False)
    value: Exact | None = quantity("value", "text")
    unit: str = quantity("unit", "text")
    source: str = quantity("source", "text")


def parse_value(key: str, text: str) -> Exact:
    """A positive integer, fraction p/q or decimal, parsed here; user text never reaches sympy."""
    m = _NUMBER.match(text.strip())
    if not m:
        raise InputError(
            f"--subs {key} must be a positive integer, fraction p/q or decimal; got {text!r}"
        )
    whole, den, dec = m.groups()
    if den is not None:
        if int(den) == 0:
            raise InputError(f"--subs {key} must not divide by zero; got {text!r}")
        value = Fraction(int(whole), int(den))
    elif dec is not None:
        value = Fraction(int(whole + dec), 10 ** len(dec))
    else:
        value = Fraction(int(whole))
    if value <= 0:
        raise InputError(f"--subs {key} must be positive; got {text!r}")
    return normalize(value)


def parse_subs(items: tuple[str, ...], formula: F.Formula) -> dict[sp.Symbol, Exact]:
    allowed = {str(s) for s in formula.symbols}
    out: dict[sp.Symbol, Exact] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise InputError(f"--subs must look like NAME=VALUE; got {item!r}")
        if key not in allowed:
            raise InputError(
                f"--subs name must be a symbol of {formula.name} ({', '.join(sorted(allowed))}); "
                f"got {key!r}"
            )
        out[BY_NAME[key]] = parse_value(key, raw)
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
        chosen = [F.get(n) for n in F.names()]
        if all_ and as_latex:
            emit(latex.document(chosen))
            return
        rows = [FormulaRow(f.name, f.unit, f.description, f.convention, f.source) for f in chosen]
        emit(
            render_rows(
                rows,
                fmt,
                title="moecomm formulas",
                caption="Show one with: moecomm formula NAME [--latex] [--subs k=8 ...]",
            )
        )
        return
    formula = F.get(name)
    values = parse_subs(subs, formula)
    expr = formula.expr.xreplace({s: sp.nsimplify(v) for s, v in values.items()})
    value = F.to_exact(expr) if not expr.free_symbols else None
    if as_latex and fmt == "table":
        emit(latex.equation(formula, expr) + "\n")
        return
    view = FormulaView(
        convention=formula.convention,
        name=formula.name,
        description=formula.description,
        expression=str(expr),
        latex=latex.equation(formula, expr),
        symbols=sorted(str(s) for s in expr.free_symbols),
        value=value,
        unit=formula.unit,
        source=formula.source,
    )
    emit(
        render_record(
            view, fmt, title=f"Formula {formula.name}", caption=f"Convention: {formula.convention}."
        )
    )
