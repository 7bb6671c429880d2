"""Time a typical command against the bare import of its four libraries, interleaved.

Usage: python benchmarks/bench_startup.py [--runs 21] [-- moecomm args...]

Prints the median wall time of each and their ratio; both are measured in the same run, in
alternation, so machine noise hits them alike. Goals: a numeric command at most 1.5x the bare
import; `moecomm --help` (measured too, in the same alternation) at most 0.6x.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

BARE = [sys.executable, "-c", "import click, rich, pydantic, sympy"]
DEFAULT = ["ep", "--preset", "deepseek-v3", "--batch", "1", "--seq", "4096", "--ep", "64"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("args", nargs="*", default=DEFAULT)
    opts = parser.parse_args()
    exe = shutil.which("moecomm")
    command = [exe] if exe else [sys.executable, "-m", "moecomm"]
    command += opts.args
    help_command = [*command[: len(command) - len(opts.args)], "--help"]
    wall(BARE), wall(command), wall(help_command)  # warm the file cache
    bare, cmd, helps = [], [], []
    for _ in range(opts.runs):
        bare.append(wall(BARE))
        cmd.append(wall(command))
        helps.append(wall(help_command))
    b, c, h = statistics.median(bare), statistics.median(cmd), statistics.median(helps)
    print(f"bare import  median {b * 1000:7.1f} ms  ({' '.join(BARE[1:])})")
    print(f"command      median {c * 1000:7.1f} ms  (moecomm {' '.join(opts.args)})")
    print(f"--help       median {h * 1000:7.1f} ms  (moecomm --help)")
    print(f"ratio        {c / b:.2f}x command (goal <= 1.5x), {h / b:.2f}x --help (goal <= 0.6x),")
    print(f"             {opts.runs} interleaved runs each")


if __name__ == "__main__":
    main()
