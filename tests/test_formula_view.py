"""The formula layer's view of one formula with values substituted, and the exact number parser."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb

import pytest
from click.testing import CliRunner

from moecomm import formulas as F
from moecomm.cli import cli
from moecomm.units import parse_exact

GROUPED = {"E": 256, "k": 8, "U": 4, "n_g": 8, "k_g": 4}


def _multigroup_by_hand(e: int, k: int, units: int, n_g: int, k_g: int) -> Fraction:
    """1 − Σ_j C(g, j)·C(n_g − g, k_g − j)/C(n_g, k_g) · C(pool − j·E/n_g, k)/C(pool, k)."""
    g, pool, per_group = n_g // units, k_g * e // n_g, e // n_g
    miss = sum(
        Fraction(comb(g, j) * comb(n_g - g, k_g - j), comb(n_g, k_g))
        * Fraction(comb(pool - j * per_group, k), comb(pool, k))
        for j in range(g + 1)
    )
    return 1 - miss


def test_multigroup_probability_evaluates_through_the_cli() -> None:
    """The sum over picked groups is summed (it used to stop at 'did not reduce to a number')."""
    args = ["formula", "unit_hit_probability_multigroup", "--format", "json"]
    for key, v in GROUPED.items():
        args += ["--subs", f"{key}={v}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = _multigroup_by_hand(256, 8, 4, 8, 4)
    assert expected == Fraction(19694412029, 26903006900)
    assert out["value"] == "19694412029/26903006900"
    assert out["expression"] == "19694412029/26903006900"
    assert out["symbols"] == []
    assert F.value("unit_hit_probability_multigroup", GROUPED) == expected


def test_show_is_the_same_evaluation_as_value_and_evaluate() -> None:
    view = F.show("unit_hit_probability_multigroup", GROUPED)
    f = F.get("unit_hit_probability_multigroup")
    from moecomm.formulas.symbols import BY_NAME

    exact = F.evaluate(f.expr, {BY_NAME[n]: v for n, v in GROUPED.items()})
    assert view.value == exact == F.value("unit_hit_probability_multigroup", GROUPED)
    assert view.latex == (
        r"\mathrm{unit\_hit\_probability\_multigroup} = \frac{19694412029}{26903006900}"
    )


def test_show_partial_substitution_keeps_free_symbols() -> None:
    view = F.show("ep_tokens_sent", {"k": 8, "ep": Fraction(3, 2)})
    assert view.value is None
    assert view.expression == "8*b*s/3"
    assert view.symbols == ["b", "s"]
    assert view.unit == "tokens"
    assert view.latex == r"\mathrm{ep\_tokens\_sent} = \frac{8 b s}{3}"


def test_formula_typesets_in_jupyter() -> None:
    assert F.get("scaling_ratio")._repr_latex_() == r"$$\mathrm{scaling\_ratio} = \frac{K}{M}$$"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", Fraction(8)),
        (" 5/4 ", Fraction(5, 4)),
        ("0.1", Fraction(1, 10)),
        ("2.50", Fraction(5, 2)),
    ],
)
def test_parse_exact(text: str, value: Fraction) -> None:
    assert parse_exact(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e3", "must be a positive integer, fraction p/q or decimal; got '1e3'"),
        ("-1", "must be a positive integer, fraction p/q or decimal; got '-1'"),
        ("\u0663", "must be a positive integer, fraction p/q or decimal; got '\u0663'"),
        ("0.0", "must be positive; got '0.0'"),
        ("3/0", "must not divide by zero; got '3/0'"),
        ("1" * 101, "must have at most 100 characters; got 101"),
    ],
)
def test_parse_exact_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_exact(text)
    assert str(info.value) == message


def _fails(*args: str) -> str:
    result = CliRunner().invoke(cli, ["formula", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    return str(result.stderr)


def test_huge_values_are_refused_at_once() -> None:
    """10^30 used to hang in sympy's binomial; now one line names the symbol and the bound."""
    big = "1" + "0" * 30
    assert _fails("unit_hit_probability", "--subs", f"k={big}") == (
        "Error: --subs k must be at most 2^64 = 18446744073709551616 (a fraction's numerator and"
        f" denominator alike); got {big}\n"
    )
    assert _fails("ep_leave_fraction", "--subs", f"ep=1/{big}") == (
        "Error: --subs ep must be at most 2^64 = 18446744073709551616 (a fraction's numerator"
        f" and denominator alike); got 1/{big}\n"
    )


def test_binomials_and_sums_too_large_to_evaluate_are_refused() -> None:
    # C(2^39, 2^32): r·(bits of n + bits of its denominator) = 2^32·(40 + 1).
    subs = ["--subs", "E=1099511627776", "--subs", "k=4294967296", "--subs", "U=4"]
    subs += ["--subs", "n_g=8", "--subs", "k_g=4"]
    assert _fails("unit_hit_probability", *subs) == (
        "Error: binomial(E*k_g/n_g, k) has up to 176093659136 bits at E = 1099511627776,"
        " k = 4294967296, k_g = 4, n_g = 8; at most 16384 bits are evaluated exactly\n"
    )
    subs = ["--subs", "E=1048576", "--subs", "k=8", "--subs", "U=1"]
    subs += ["--subs", "n_g=1048576", "--subs", "k_g=4"]
    assert _fails("unit_hit_probability_multigroup", *subs) == (
        "Error: the sum over j from 0 to n_g/U has 1048577 terms at U = 1, n_g = 1048576;"
        " at most 1024 are summed exactly\n"
    )


def test_undefined_value_is_named() -> None:
    """k above the experts a token may reach: C(pool, k) = 0, so the ratio is 0/0."""
    subs = ["--subs", "E=256", "--subs", "k=300", "--subs", "U=4", "--subs", "n_g=8"]
    assert _fails("unit_hit_probability", *subs, "--subs", "k_g=4") == (
        "Error: unit_hit_probability is undefined at these values (a division by zero)\n"
    )


def test_units_say_what_is_counted() -> None:
    """(ep−1)/ep is a share, not ranks; expected distinct units count ranks or nodes (U)."""
    units = {r.name: r.unit for r in F.catalog()}
    assert units["ep_leave_fraction"] == "ratio"
    distinct = [n for n in units if n.startswith("expected_distinct_")]
    assert len(distinct) == 4
    assert {units[n] for n in distinct} == {"ranks or nodes"}
    assert set(units.values()) == {
        "bytes",
        "count",
        "ranks",
        "ranks or nodes",
        "rate",
        "tokens/s",
        "ratio",
        "seconds",
        "tokens",
    }
    result = CliRunner().invoke(cli, ["formula", "ep_leave_fraction", "--format", "json"])
    assert json.loads(result.stdout)["unit"] == "ratio"


def test_formula_text_names_the_analyses_and_their_source() -> None:
    """No user-facing text points at notes a user cannot read ("seed", "BRIEF.md")."""
    from pathlib import Path

    from moecomm import latex

    texts = [" ".join((r.description, r.source, r.convention)) for r in F.catalog()]
    texts.append(latex.document([F.get(n) for n in F.names()]))
    texts.append((Path(__file__).parents[1] / "docs" / "formulas.md").read_text(encoding="utf-8"))
    for text in texts:
        assert "seed" not in text.lower() and "brief" not in text.lower(), text[:80]
    note = "harleyszhang/llm_note, MoE expert-parallelism note §4"
    assert F.get("ep_tokens_sent").source.startswith(f"{note}, per-rank analysis")
    assert F.get("scaling_ep_bytes").source.startswith(f"{note}, global-batch analysis")
    assert "zhuanlan.zhihu.com/p/13997146226" in F.get("scaling_ep_bytes").source
