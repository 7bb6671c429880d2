"""Shared test helpers: run the CLI in-process with a fixed terminal width."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from moecomm.cli import cli


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
