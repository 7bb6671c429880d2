"""Shared test helpers: run the CLI in-process with a fixed terminal width."""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

import pytest
from click.testing import CliRunner, Result

from moecomm.cli import cli

needs_mpl = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None and not os.environ.get("MOECOMM_REQUIRE_PLOT"),
    reason='matplotlib not installed (pip install ".[plot]")',
)
"""Figure tests: skipped without the plot extra, failing under MOECOMM_REQUIRE_PLOT=1 (CI)."""


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def run(*args: str) -> Result:
    """Invoke moecomm in-process, as a user would from a shell."""
    return CliRunner().invoke(cli, list(args), prog_name="moecomm")


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--format", "json"))


def stripped(text: str) -> str:
    """Rendered output without the trailing spaces rich pads lines with."""
    return "".join(line.rstrip() + "\n" for line in text.splitlines())
