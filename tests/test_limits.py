"""Inputs too large to list or evaluate are refused with a one-line reason, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run
from hypothesis import given
from hypothesis import strategies as st

from moecomm.plan import divisors


@given(st.integers(1, 200_000))
def test_divisors(n: int) -> None:
    found = divisors(n)
    assert found == sorted(set(found))
    assert all(n % d == 0 for d in found)
    assert found[0] == 1 and found[-1] == n
    if n < 5000:
        assert found == [d for d in range(1, n + 1) if n % d == 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("groups", "--world", "131072"),
            "--world must be at most 65536 to list its groups; got 131072",
        ),
        (
            ("plan", "--preset", "deepseek-v3", "--hardware", "h800", "--gpus", "2000000"),
            "--gpus must be at most 1048576; got 2000000",
        ),
        (
            (
                "traffic",
                "--hidden",
                "8",
                "--topk",
                "1",
                "--experts",
                "8192",
                "--tokens",
                "1",
                "--ep",
                "8192",
            ),
            "--ep must be at most 512 for a ranks × ranks traffic matrix; got 8192",
        ),
        (
            (
                "traffic",
                "--hidden",
                "8",
                "--topk",
                "2",
                "--experts",
                "8",
                "--tokens",
                "1000000",
                "--ep",
                "8",
                "--routing",
                "zipf:1",
            ),
            "--tokens × --ep must be at most 4000000 for sampled routing; got 8000000",
        ),
    ],
)
def test_too_large(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"


def test_export_matrix_needs_a_json_or_csv_name(tmp_path: Path) -> None:
    target = tmp_path / "passwd"
    target.write_text("keep me")
    result = run(
        "traffic",
        "--preset",
        "deepseek-v3",
        "--tokens",
        "8",
        "--ep",
        "8",
        "--export-matrix",
        str(target),
    )
    assert result.exit_code == 2
    assert result.stderr == f"Error: --export-matrix must end in .json or .csv; got '{target}'\n"
    assert target.read_text() == "keep me"


def test_plan_refuses_a_global_batch_beyond_the_token_bound() -> None:
    result = run(
        "plan",
        "--preset",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--gpus",
        "64",
        "--global-batch",
        "99999999999999999999",
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --global-batch must be at most 1099511627776; got 99999999999999999999\n"
    )
