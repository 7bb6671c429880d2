"""Compare moecomm's time model with the measured runs in benchmarks/results: ``moecomm validate``.

A thin wrapper: without files it checks every benchmarks/results/*.json, and without
``--hardware`` it uses the built-in ``h100-sxm`` preset; every other option is
``moecomm validate``'s (``--timing``, ``--min-bytes``, ``--summary-only``, ``--format``).

    python benchmarks/validate_time_model.py [FILE ...] [moecomm validate options]
"""

from __future__ import annotations

import sys
from pathlib import Path

from moecomm.cli import cli

RESULTS = Path(__file__).with_name("results")


def arguments(argv: list[str]) -> list[str]:
    """``moecomm validate``'s arguments: the stored results and h100-sxm unless given."""
    args = list(argv)
    if not any(Path(a).is_file() for a in args):
        args = [str(p) for p in sorted(RESULTS.glob("*.json"))] + args
    if not any(a == "--hardware" or a.startswith("--hardware=") for a in args):
        args += ["--hardware", "h100-sxm"]
    return ["validate", *args]


def main(argv: list[str] | None = None) -> int:
    cli.main(arguments(sys.argv[1:] if argv is None else argv), prog_name="moecomm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
