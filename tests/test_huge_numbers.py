"""Display of exact numbers beyond float range and beyond Python's int→str digit limit."""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import pytest
from conftest import run

from moecomm import render, units
from moecomm.errors import MoecommError

HUGE = 10**5000 + 1  # beyond float and beyond the default 4300-digit limit
TOO_LONG = (
    f"a result has more than {sys.get_int_max_str_digits()} digits, too many to write as exact "
    "decimal text (Python's int→str limit); tables show it in scientific notation"
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1.000e+00"),
        (999_950, "1.000e+06"),
        (123_456, "1.235e+05"),
        (Fraction(-1, 3), "-3.333e-01"),
        (Fraction(99_995, 10**9), "1.000e-04"),
        (HUGE, "1.000e+5000"),
        (Fraction(HUGE, 3), "3.333e+4999"),
        (0, "0"),
    ],
    ids=lambda v: v if isinstance(v, str) else "value",
)
def test_sci_text(value: units.Exact, text: str) -> None:
    assert units.sci_text(value) == text


def test_normal_numbers_display_as_before() -> None:
    assert units.decimal_text(1234567) == "1,234,567"
    assert units.decimal_text(Fraction(1792, 3)) == "597.333"
    assert units.gb_text(37810432) == "0.038"
    assert units.gib_text(2**31) == "2.000"
    assert render.cell(Fraction(1792, 3), "bytes") == "≈ 597.333"
    assert render.cell(10**29, "bytes") == f"{10**29:,}"
    assert render.cell(462422016, "bytes") == "462,422,016"
    assert render.cell(462422016, "text") == "462422016"
    assert render.cell(900 * 10**9, "bytes_per_second") == "900"
    assert render.cell(1.5e-6, "seconds") == "1.5"
    assert units.json_value(Fraction(1792, 3)) == "1792/3"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (Fraction(4, 3), "≈ 1.333 B"),
        (1000, "1.000 kB"),
        (14336, "14.336 kB"),
        (462422016, "462.422 MB"),
        (1_129_170_954, "1.129 GB"),
        (Fraction(2_258_341_909, 2), "1.129 GB"),
        (3 * 10**12, "3.000 TB"),
        (10**30, "1.000e+18 TB"),
    ],
)
def test_scaled_bytes_are_decimal_and_labelled(value: units.Exact, text: str) -> None:
    """The scaled column beside bytes: kB/MB/GB/TB, each 1000 times the last, never 0.000."""
    assert units.scaled_bytes_text(value) == text


def test_huge_numbers_in_tables() -> None:
    assert units.decimal_text(HUGE) == "1.000e+5000"
    assert units.gb_text(HUGE) == "1.000e+4991"
    assert units.gib_text(-HUGE) == "-9.313e+4990"
    assert render.cell(HUGE, "bytes") == "1.000e+5000"
    assert render.cell(10**30, "count") == "1.000e+30"
    assert render.cell(HUGE, "capacity") == "1.000e+4991"
    assert render.cell(HUGE, "flops") == "1.000e+4988"
    assert render.cell(HUGE, "seconds") == "1.000e+5006"
    assert render.cell(HUGE, "duration") == "1.000e+5000 s"
    assert render.cell(HUGE, "rate") == "1.000e+4991 GB/s"
    # A long numerator and denominator, a moderate value: the decimal view alone.
    assert render.cell(Fraction(10**50 + 1, 10**50), "bytes") == "≈ 1.000"
    assert render.cell(Fraction(1, HUGE), "bytes") == "≈ 0.000"


def test_json_is_exact_up_to_the_digit_limit_then_refuses() -> None:
    near = 10**4000
    assert json.loads(render.dumps({"a": near})) == {"a": near}
    for value in (HUGE, Fraction(1, HUGE)):
        with pytest.raises(MoecommError) as err:
            render.dumps({"a": value})
        assert str(err.value) == TOO_LONG
    with pytest.raises(MoecommError):
        units.exact_text(HUGE)


def test_commands_refuse_sizes_beyond_their_bounds_before_any_arithmetic() -> None:
    """Sizes have stated bounds (docs/limits.md), so no command result grows beyond them."""
    tokens = "9" * 4000
    result = run(
        "step", "--deployment", "deepseek-v3-decode", "--hidden", tokens, "--tokens", tokens
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --hidden must be at most 1048576; got <an integer of about 4000 digits>\n"
    )
    # Options that sweep (tp --tokens) refuse long text before reading a number from it.
    result = run("tp", "--hidden", tokens, "--tokens", tokens, "--tp", "8")
    assert result.stderr == "Error: --tokens must have at most 1000 characters; got 4000\n"
