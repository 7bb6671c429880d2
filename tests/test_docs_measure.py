"""docs/measure.md stays true: its CPU example runs under torchrun and its bytes are those of the
`moecomm traffic` command beside it; every option of `moecomm measure` is documented."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
from conftest import ok
from test_measure import needs_torch, torchrun

from moecomm.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "measure.md"
TEXT = DOC.read_text(encoding="utf-8")
PREFIX = "torchrun --standalone --nproc_per_node=2 -m moecomm measure "


def test_cpu_example_runs_and_matches_traffic(tmp_path: Path) -> None:
    needs_torch()
    (line,) = re.findall(r"^\$ (torchrun .*--backend gloo.*)$", TEXT, re.M)
    assert line.startswith(PREFIX)
    args = shlex.split(line[len(PREFIX) :])
    done = torchrun(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / args[args.index("-o") + 1]
    run = json.loads(out.read_text())["moe"]["runs"][0]
    (traffic,) = re.findall(r"^\$ moecomm (traffic .*)$", TEXT, re.M)
    result = json.loads(ok(*shlex.split(traffic)))
    assert run["dispatch_bf16"]["send_bytes"] == result["matrix_bytes"]
    assert run["combine_bf16"]["send_bytes"] == result["combine_matrix_bytes"]


def test_every_option_is_documented() -> None:
    command = cli.get_command(click.Context(cli), "measure")
    assert command is not None
    table = TEXT.split("## Options", 1)[1].split("\n## ", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "fmt"):
            assert any(f"`{opt}" in table for opt in param.opts), param.opts
