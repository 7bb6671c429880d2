"""Each formula against values worked out by hand from the seed's equations and nccl-tests."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import formulas as F
from moecomm.formulas import codegen
from moecomm.formulas.symbols import BY_NAME

DSV3 = {"b": 1, "s": 4096, "h": 7168, "k": 8, "ep": 64, "beta_d": 2, "beta_c": 2}


def exact(name: str, values: dict[str, int | Fraction]) -> int | Fraction:
    """Evaluate through sympy itself, independently of the generated evaluators."""
    return F.evaluate(F.get(name).expr, {BY_NAME[k]: v for k, v in values.items()})


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        # Seed §4, first analysis, DeepSeek-V3 shape: 4096 tokens, top-8, EP64, bf16.
        ("ep_tokens_sent", DSV3, 4096 * 8 * 63 // 64),  # 32256 token copies
        ("ep_dispatch_bytes", DSV3, 32256 * 7168 * 2),  # 462,422,016 B
        ("ep_combine_bytes", DSV3, 462_422_016),
        ("ep_total_bytes", DSV3, 924_844_032),
        ("ep_total_bytes_approx", DSV3, 4 * 4096 * 8 * 7168),  # 939,524,096 B
        ("ep_leave_fraction", {"ep": 64}, Fraction(63, 64)),
        # FP8 dispatch (1 B) and BF16 combine (2 B).
        ("ep_total_bytes", {**DSV3, "beta_d": 1}, 32256 * 7168 * 3),
        # Not integral: 1 token, top-1, ep 3 -> 2/3 of a copy leaves on average.
        ("ep_tokens_sent", {"b": 1, "s": 1, "k": 1, "ep": 3}, Fraction(2, 3)),
        # Ring all-reduce, nccl-tests: 2(n-1)/n of the buffer, here 4096 x 7168 bf16 over tp 8.
        ("tp_allreduce_bytes", {"b": 1, "s": 4096, "h": 7168, "tp": 8, "beta": 2}, 102_760_448),
        ("tp_allreduce_bytes_bound", {"b": 1, "s": 4096, "h": 7168, "beta": 2}, 117_440_512),
        # Second analysis: S 4096, D 7168, K 8, M 16, bf16.
        ("scaling_ep_bytes", {"S": 4096, "D": 7168, "K": 8, "M": 16, "beta": 2}, 55_050_240),
        ("scaling_tp_bytes", {"S": 4096, "D": 7168, "M": 16, "beta": 2}, 110_100_480),
        ("scaling_ratio", {"K": 8, "M": 16}, Fraction(1, 2)),
        ("scaling_crossover_size", {"K": 8}, 9),
    ],
)
def test_hand_derived(name: str, values: dict[str, int], expected: int | Fraction) -> None:
    assert exact(name, values) == expected
    assert F.value(name, values) == expected
    assert type(F.value(name, values)) is type(expected)


def test_every_formula_cites_a_source_and_describes_itself() -> None:
    for name in F.names():
        f = F.get(name)
        assert f.description and f.source and f.convention, name
        units = {"bytes", "tokens", "ratio", "ranks", "ranks or nodes", "count", "seconds", "rate"}
        units.add("tokens/s")
        assert f.unit in units, name


def test_generated_evaluators_are_current() -> None:
    """_generated.py is printed from the expressions; regenerate it after changing a formula."""
    assert codegen.TARGET.read_text(encoding="utf-8") == codegen.generate()


@settings(deadline=None)  # one example evaluates every formula; the first builds them all
@given(data=st.data())
def test_generated_evaluators_equal_exact_sympy(data: st.DataObject) -> None:
    # Routing formulas have integer domains (binomials of E/R, sums up to n_g/R): they are
    # checked at valid points in test_routing_formulas.py.
    for name in F.names():
        if F.get(name).build.__module__ == "moecomm.formulas.routing":
            continue
        symbols = F.get(name).symbols
        values: dict[str, int | Fraction] = {
            str(s): data.draw(st.integers(1, 10**6), label=f"{name}.{s}") for s in symbols
        }
        assert F.value(name, values) == exact(name, values)


def test_second_analysis_is_the_first_by_substitution() -> None:
    """scaling_ep_bytes is ep_total_bytes with b·s = S/M, h = D, k = K, ep = M, both β equal."""
    s = BY_NAME
    first = F.get("ep_total_bytes").expr.xreplace(
        {
            s["b"]: s["S"] / s["M"],
            s["s"]: 1,
            s["h"]: s["D"],
            s["k"]: s["K"],
            s["ep"]: s["M"],
            s["beta_d"]: s["beta"],
            s["beta_c"]: s["beta"],
        }
    )
    assert sp.simplify(first - F.get("scaling_ep_bytes").expr) == 0
    assert F.get("scaling_ratio").expr == s["K"] / s["M"]


def test_missing_values_are_named() -> None:
    with pytest.raises(ValueError, match="values are missing for h"):
        F.value("ep_dispatch_bytes", {"b": 1, "s": 1, "k": 1, "ep": 2, "beta_d": 2})


def test_unknown_formula_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"formula must be one of ep_leave_fraction, .*; got 'x'"):
        F.get("x")
