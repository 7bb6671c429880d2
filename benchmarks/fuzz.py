"""Long fuzz of the CLI: ≥ 10^4 seeded cases (tests/fuzz_cases.py), counts by outcome class.

Run it as an unprivileged user from a scratch folder, never as root (a fuzz once overwrote
/etc/passwd); it refuses to start as root:

    mkdir -m 777 /tmp/fuzz && cd /tmp/fuzz
    runuser -u nobody -- env PYTHONPATH=/path/to/moecomm/src python /path/to/benchmarks/fuzz.py

Exits 1 if any case failed (a traceback, a bad error, a hang, a runaway or a stray write).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_cases import Report, run_cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--examples", type=int, default=2, help="Command lines per failure class.")
    parser.add_argument("--short", action="store_true", help="Without the 10^7-row file.")
    args = parser.parse_args()
    if os.geteuid() == 0:
        print("fuzz: refusing to run as root; use runuser -u nobody -- ...", file=sys.stderr)
        return 2
    start = time.monotonic()

    def progress(n: int, report: Report) -> None:
        if n % 1000 == 0:
            print(f"  {n} cases, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)

    report = run_cases(args.seed, args.cases, long=not args.short, progress=progress)
    print(report.summary(examples=args.examples))
    print(f"{time.monotonic() - start:.1f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
