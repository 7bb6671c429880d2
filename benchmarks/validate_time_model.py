"""Compare moecomm's time model with the measured runs in benchmarks/results: ``moecomm validate``.

A thin wrapper: without files it checks every benchmarks/results/*.json, and without
``--hardware`` it uses the built-in ``h100-sxm`` preset; every other option is
``moecomm validate``'s (``--timing``, ``--min-bytes``, ``--summary-only``, ``--format``).
``--write-docs`` rewrites the validation tables of docs/time-model.md (a test checks them).

    python benchmarks/validate_time_model.py [FILE ...] [moecomm validate options]
    python benchmarks/validate_time_model.py --write-docs
"""

from __future__ import annotations

import sys
from pathlib import Path

from moecomm.cli import cli

RESULTS = Path(__file__).with_name("results")
DOC = Path(__file__).resolve().parents[1] / "docs" / "time-model.md"
GRAPH = ("h100x2_nccl_graph.json", "h100x4_nccl_graph.json")
EAGER = ("h100x2_nccl.json", "h100x4_nccl.json")
"""The files presets/hardware/h100-sxm.toml is fitted to (moecomm calibrate): back-to-back
from the CUDA-graph runs, per-op from the eager runs."""
HELD_OUT = ("h100x2host_nccl.json",)
"""Another machine and run (eager only), kept out of the fit."""
START, END = "<!-- validation tables: start -->", "<!-- validation tables: end -->"


def arguments(argv: list[str]) -> list[str]:
    """``moecomm validate``'s arguments: the stored results and h100-sxm unless given."""
    args = list(argv)
    if not any(Path(a).is_file() for a in args):
        args = [str(p) for p in sorted(RESULTS.glob("*.json"))] + args
    if not any(a == "--hardware" or a.startswith("--hardware=") for a in args):
        args += ["--hardware", "h100-sxm"]
    return ["validate", *args]


def table(files: tuple[str, ...], min_bytes: int) -> str:
    """Median and worst |error| per collective, size band and over all, in both conventions."""
    from moecomm import api

    rows = api.validate(
        [str(RESULTS / f) for f in files], hardware="h100-sxm", min_bytes=min_bytes,
        summary_only=True,
    ).result  # fmt: skip
    found: dict[tuple[str, str], dict[str, tuple[int, float, float]]] = {}
    for r in rows:
        found.setdefault((r.scope, r.group), {})[r.timing] = (
            r.cases, r.median_abs_error, r.worst_abs_error
        )  # fmt: skip
    lines = [
        "| group | cases | back-to-back median | worst | per-op median | worst |",
        "|---|---|---|---|---|---|",
    ]
    for (scope, group), by in found.items():
        cells = []
        for conv in ("back-to-back", "per-op"):
            _, med, worst = by.get(conv, (0, None, None))
            cells += ["—", "—"] if med is None else [f"{med:.1%}", f"{worst:.1%}"]
        cases = by.get("back-to-back", (0, 0, 0))[0]
        name = group if scope == "collective" else f"*{group}*"
        lines.append(f"| {name} | {cases} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tables() -> str:
    """The validation tables of docs/time-model.md, from the stored results."""
    mib = 2**20
    return "\n\n".join(
        [
            START,
            f"Fitted, CUDA-graph runs ({', '.join(GRAPH)}: device times, back to back), sizes "
            "≥ 1 MiB:",
            table(GRAPH, mib),
            f"Fitted, eager runs ({', '.join(EAGER)}; their back-to-back average is bound by the "
            "host's launch rate below about 16 MiB), sizes ≥ 1 MiB:",
            table(EAGER, mib),
            f"Held out ({', '.join(HELD_OUT)}: another machine, another run), sizes ≥ 1 MiB:",
            table(HELD_OUT, mib),
            "Held out, sizes ≥ 16 MiB:",
            table(HELD_OUT, 16 * mib),
            END,
        ]
    )


def write_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    DOC.write_text(head + tables() + rest.split(END, 1)[1], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write-docs"]:
        write_docs()
        return 0
    cli.main(arguments(args), prog_name="moecomm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
