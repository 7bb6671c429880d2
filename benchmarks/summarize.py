#!/usr/bin/env python3
"""Print busbw at selected sizes and MoE dispatch/combine medians from measurement files
(`moecomm measure`, schema moecomm-bench/1).

python3 benchmarks/summarize.py benchmarks/results/h100x*_nccl.json
"""

import json
import sys

SIZES = [2**20, 2**24, 2**28, 2**30]


def label(b):
    return f"{b >> 30} GiB" if b >= 2**30 else f"{b >> 20} MiB"


for path in sys.argv[1:]:
    with open(path) as f:
        d = json.load(f)
    md = d["metadata"]
    print(
        f"\n## {path}: {md['world_size']} x {md.get('gpu_names', ['cpu'])[0]}, torch {md['torch']}, "
        f"NCCL {md.get('nccl_version', '-')}, {md['date_utc']}"
    )
    print("busbw GB/s, median per-iteration / nccl-tests-style batched average")
    print("| collective | " + " | ".join(label(s) for s in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for coll, r in d["collectives"].items():
        if "rows" not in r:
            continue
        by = {row["bytes"]: row for row in r["rows"]}
        cells = []
        for s in SIZES:
            row = by.get(s)
            cells.append(
                f"{row['busbw_GBps_median']:.0f} / {row['busbw_GBps_batched']:.0f}" if row else "-"
            )
        print(f"| {coll} | " + " | ".join(cells) + " |")
    if d.get("moe"):
        print("\nMoE all-to-all (copies mode), median / batched us, max off-rank MB")
        print("| T | dispatch bf16 | dispatch fp8 | combine bf16 |")
        print("|---|---|---|---|")
        for run in d["moe"]["runs"]:
            cells = [
                f"{run[k]['median_s'] * 1e6:.0f} / {run[k]['batched_avg_s'] * 1e6:.0f} us "
                f"({run[k]['max_offrank_send_or_recv_bytes'] / 1e6:.1f} MB)"
                for k in ("dispatch_bf16", "dispatch_fp8", "combine_bf16")
            ]
            print(f"| {run['T']} | " + " | ".join(cells) + " |")
