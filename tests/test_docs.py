"""Docs that cannot drift: every command has help and an example; README's examples run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from conftest import run

from moecomm.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out = []
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", cmd.commands[sub]) for sub in cmd.commands]
    return out


@pytest.mark.parametrize(("name", "cmd"), _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_help_and_an_example(name: str, cmd: click.Command) -> None:
    assert cmd.help and cmd.help.strip(), name
    assert "Example: moecomm " in (cmd.help or ""), name
    result = run(*name.split(), "--help")
    assert result.exit_code == 0
    assert "Example: moecomm" in result.output


def _examples(path: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\$ moecomm (.+)$", path.read_text(), re.M)]


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [(p.name, line) for p in DOCS for line in _examples(p)]


@pytest.mark.parametrize(("doc", "line"), EXAMPLES, ids=[f"{d}: {ln}" for d, ln in EXAMPLES])
def test_documented_examples_run(
    doc: str, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a fresh folder, so that files an example writes (--export-matrix) never exist before.
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    result = run(*shlex.split(line))
    assert result.exit_code == 0, f"{doc}: moecomm {line}\n{result.output}"
    assert result.output.strip()


def test_readme_states_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "pip install . && moecomm compare --preset deepseek-v3" in text
    command = 'pip install torch==2.13.0 ".[test,plot]" && python -m pytest'
    assert command in text
    assert f"python -m {command}" in (ROOT / ".ci" / "run").read_text()


def test_formula_reference_is_current() -> None:
    """docs/formulas.md is generated from the registry; regenerate it after changing a formula."""
    from moecomm.reference import markdown

    assert (ROOT / "docs" / "formulas.md").read_text(encoding="utf-8") == markdown()


def test_readme_python_example_prints_what_it_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the figure it draws lands here
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        expected = re.findall(r"print\(.*\)\s*# (.+)$", block, re.M)
        exec(compile(block, "README.md", "exec"), {})
        assert capsys.readouterr().out.splitlines() == [e.strip() for e in expected]


def test_help_lists_each_command_by_its_own_summary() -> None:
    """`moecomm --help` lists commands from cli.COMMANDS without importing them; they match."""
    ctx = click.Context(cli)
    for name, summary in COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        assert cmd.get_short_help_str(limit=200) == summary, name


def test_help_imports_no_command_and_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from moecomm.cli import cli; "
        "CliRunner().invoke(cli, ['--help']); "
        "print(sorted(m for m in ('sympy', 'pydantic', 'rich', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_limits_page_states_the_limits_the_code_applies() -> None:
    import importlib

    text = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_.]+)\.([A-Z_]+)` \| ([0-9.]+) \|", text, re.M)
    assert len(rows) >= 25
    for module, name, stated in rows:
        value = getattr(importlib.import_module(f"moecomm.{module}"), name)
        assert float(stated) == value, f"{module}.{name} is {value}, docs/limits.md says {stated}"


def test_planning_page_states_what_the_code_gives() -> None:
    """docs/planning.md's published-deployment tables, recomputed."""
    import moecomm

    text = (ROOT / "docs" / "planning.md").read_text(encoding="utf-8")
    cases = [
        ({"deployment": "deepseek-v3-train", "schedule": "dualpipe", "tokens": 4096}, 1543),
        ({"deployment": "deepseek-v3-prefill"}, 9213),
        ({"deployment": "deepseek-v3-decode", "tokens": 64, "context": 2048}, 1850),
    ]
    for kw, published in cases:
        rate = moecomm.step(**kw).result.tokens_per_second_per_gpu
        row = f"| {rate:.0f} tokens/s | {published} "
        assert row in text, row
        assert f"| {rate / published:.2f}× |" in text

    def place(kw: dict[str, object], match: dict[str, int]) -> str:
        rows = moecomm.plan(**kw).result
        hit = next(c for c in rows if all(getattr(c, k) == v for k, v in match.items()))
        n = hit.rank
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n // 10 % 10 != 1 else 0, "th")
        return f"{n}{suffix} of {len(rows)}"

    assert place({"deployment": "deepseek-v3-prefill"}, {"tp": 4, "ep": 32}) in text
    slow_prefill = {"deployment": "deepseek-v3-prefill", "compute_efficiency": 0.375}
    assert f"ranks {place(slow_prefill, {'tp': 4, 'ep': 32})}, tied with 18 others" in text
    decode = {"deployment": "deepseek-v3-decode", "tokens_per_gpu": 64, "context": 2048}
    assert place(decode, {"tp": 4, "ep": 320}) in text
    long = moecomm.plan(**(decode | {"context": 4989})).result
    tp4 = next(c for c in long if (c.tp, c.ep) == (4, 320))
    assert not tp4.fits and f"needs {tp4.memory_bytes_per_gpu / 1e9:.1f} GB of" in text
    assert f"gives {long[0].tokens_per_second_per_gpu:.0f} tokens/s" in text and long[0].tp == 1
    assert f"{4 * 64 * 4989 * 70272:,} B" in text
    train = {"deployment": "deepseek-v3-train", "schedule": "dualpipe"}
    assert place(train, {"tp": 1, "ep": 64, "pp": 16}) in text
    slower = train | {"compute_efficiency": 0.375}
    assert f"ranks {place(slower, {'tp': 1, 'ep': 64, 'pp': 16})}, 2.5% behind" in text
    qwen = {"deployment": "megatron-bridge-qwen3-235b-train", "micro_batch": 1, "seq": 4096,
            "global_batch": 32 * 4096}  # fmt: skip
    recipe = {"tp": 4, "cp": 2, "pp": 16, "ep": 8, "etp": 1}
    assert f"ranks it {place(qwen, recipe)} under throughput" in text
    mixtral = {"deployment": "nemo-mixtral-8x7b-train", "micro_batch": 1, "seq": 4096,
               "global_batch": 256 * 4096, "schedule": "interleaved", "vpp": 8}  # fmt: skip
    assert f"ranks {place(mixtral, {'tp': 1, 'cp': 1, 'pp': 4, 'ep': 8})} under" in text
    assert "70,272 B per token" in text and "65,168,179,200 B" in text
