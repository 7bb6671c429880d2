"""The layering of docs/architecture.md, enforced: imports run down the layers, never up, no cycle.

The layer table is read from docs/architecture.md itself, so the document and the code cannot
drift apart: every module must be listed once, and every import (at module level or inside a
function) must go to the same layer or one below.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "moecomm"
DOC = ROOT / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def layers() -> list[tuple[str, list[str]]]:
    """(layer, module patterns) from the table under '## Layers' in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0][:1].isdigit():
            continue
        out.append((cells[1], re.findall(r"`([^`]+)`", cells[2])))
    return out


def layer_of() -> dict[str, int]:
    """Each module's layer index, from the doc's patterns (``traffic/`` is a whole package)."""
    found: dict[str, int] = {}
    for index, (_, patterns) in enumerate(layers()):
        for pattern in patterns:
            name = "moecomm." + pattern.removesuffix(".py").removesuffix("/").replace("/", ".")
            hits = [m for m in modules() if m == name or m.startswith(name + ".")]
            if pattern == "__init__.py":
                hits = ["moecomm"]
            assert hits, f"docs/architecture.md lists {pattern!r}, which is not a module"
            for m in hits:
                assert m not in found, f"{m} is listed in two layers"
                found[m] = index
    return found


def imports(path: Path, name: str) -> set[str]:
    """moecomm modules imported by a file, at any depth (function-level imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("moecomm")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("moecomm"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known} - {name}


def test_every_module_is_in_one_layer() -> None:
    found = layer_of()
    missing = sorted(set(modules()) - set(found))
    assert not missing, f"modules missing from docs/architecture.md: {missing}"


def test_no_import_runs_up_a_layer() -> None:
    found = layer_of()
    names = [layer for layer, _ in layers()]
    bad = [
        f"{m} ({names[found[m]]}) imports {dep} ({names[found[dep]]})"
        for m, path in modules().items()
        for dep in sorted(imports(path, m))
        if found[dep] > found[m]
    ]
    assert not bad, "\n".join(bad)


def _graph() -> dict[str, set[str]]:
    return {m: imports(p, m) for m, p in modules().items()}


def test_no_cycle_between_modules() -> None:
    """A package may load its own submodules (lazily, by name); no other cycle is allowed."""
    graph = _graph()
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not d.startswith(m + ".")}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if seen.get(d) == 1:
                cycle = [*stack[stack.index(d) :], d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in seen:
                visit(d)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)


def test_no_command_imports_another_and_bodies_stay_short() -> None:
    """A command parses its options, calls one library function and renders the result."""
    from moecomm.cli import COMMANDS

    for name in COMMANDS:
        path = SRC / "cli" / f"{name}.py"
        deps = imports(path, f"moecomm.cli.{name}")
        others = {f"moecomm.cli.{c}" for c in COMMANDS} - {f"moecomm.cli.{name}"}
        assert not deps & others, f"cli/{name}.py imports {deps & others}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call | ast.Attribute | ast.Name) for d in node.decorator_list
            ):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1 if body else 0  # type: ignore[operator]
                assert lines <= 40, f"cli/{name}.py: {node.name} body is {lines} lines"
