"""Time ``moecomm plan`` over many GPUs (the issue asks for 1024 GPUs within 2 s on 2 cores).

python benchmarks/bench_plan.py [--gpus 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for phase in ("train", "prefill", "decode"):
        cmd = [
            sys.executable,
            "-m",
            "moecomm",
            "plan",
            "--preset",
            "deepseek-v3",
            "--gpus",
            str(args.gpus),
            "--hardware",
            "h800",
            "--phase",
            phase,
            "--format",
            "json",
        ]
        if phase != "train":
            cmd += ["--max-pp", str(args.gpus)]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            times.append(time.perf_counter() - start)
        count = out.count('"rank"')
        print(
            f"plan {phase:<8} {args.gpus} GPUs: {count} layouts, best of {args.repeat}: {min(times):.3f} s (whole process)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
