"""Time a typical command against the bare import of its four libraries, interleaved.

Usage: python benchmarks/bench_startup.py [--runs 21] [-- moecomm args...]

Prints the median wall time of each and their ratio; both are measured in the same run, in
alternation, so machine noise hits them alike. The goal is a ratio of at most 1.5.
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
    wall(BARE), wall(command)  # warm the file cache
    bare, cmd = [], []
    for _ in range(opts.runs):
        bare.append(wall(BARE))
        cmd.append(wall(command))
    b, c = statistics.median(bare), statistics.median(cmd)
    print(f"bare import  median {b * 1000:7.1f} ms  ({' '.join(BARE[1:])})")
    print(f"command      median {c * 1000:7.1f} ms  (moecomm {' '.join(opts.args)})")
    print(f"ratio        {c / b:.2f}x (goal <= 1.5x), {opts.runs} interleaved runs each")


if __name__ == "__main__":
    main()
