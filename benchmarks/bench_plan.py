"""Time ``moecomm plan``: vectorised (numpy) against the scalar loop, in-process and whole-process.

The issue asks for 10^4 candidates "well under a second" and 1024 GPUs within 2 s on 2 cores.

(a) In-process, about 10^4 candidates: DeepSeek-V3 with the 32 redundant experts of its prefill
    deployment (E + R = 288 = 2^5·3^2, arXiv 2412.19437 §3.4.1) on 1536 GPUs with
    --allow-tp-across-nodes has 9840 valid layouts; ``plan`` enumerates, evaluates and ranks
    them. ``evaluate_vector`` alone is also timed on exactly 10^4 layouts (those 9840, then the
    first 160 again). Cold = the first call in the process (imports sympy and numpy, lambdifies).
(b) Whole process: ``python -m moecomm plan --preset deepseek-v3 --gpus 1024 --hardware h800``
    per phase, with numpy and with numpy hidden (``sys.modules["numpy"] = None``: the fallback),
    beside ``python -c "import click, rich, pydantic, sympy"``.

python benchmarks/bench_plan.py [--gpus 1024] [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

HIDE_NUMPY = "import sys; sys.modules['numpy'] = None; "
CLI = "from moecomm.cli import main; sys.argv = ['moecomm', *sys.argv[1:]]; main()"


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def in_process(repeat: int, bare: float) -> None:
    from moecomm import presets as P
    from moecomm import resolve
    from moecomm.config import MemoryOptions, Phase, ScheduleOptions
    from moecomm.plan import Goal, evaluate_vector, layouts, plan, rank
    from moecomm.step import StepLayout

    model = P.load(P.MODELS, "deepseek-v3").model
    hw = resolve.hardware("h800")
    base = StepLayout(redundant_experts=32)
    kw: dict[str, Any] = {
        "tokens_per_gpu": 4096,
        "base": base,
        "compute_efficiency": 0.5,
        "peak_flops": hw.bf16_flops,
        "memory_inputs": MemoryOptions(),
        "allow_tp_across_nodes": True,
    }
    gpus = 1536
    found = list(layouts(gpus, model, hw.gpus_per_node, redundant=32, allow_tp_across_nodes=True))
    print(f"(a) DeepSeek-V3 + 32 redundant experts on {gpus} GPUs: {len(found)} layouts")
    start = time.perf_counter()
    plan(model, gpus, hw, "train", vectorised=True, **kw)
    print(
        f"    plan, vectorised, cold (imports sympy + numpy, lambdifies): {time.perf_counter() - start:.3f} s"
    )
    phases: tuple[Phase, ...] = ("train", "prefill", "decode")
    for phase in phases:

        def run(vectorised: bool, phase: Phase = phase) -> Any:
            return plan(model, gpus, hw, phase, vectorised=vectorised, **kw)

        t_vec, rows = best(lambda: run(True), repeat)
        t_loop, loop_rows = best(lambda: run(False), max(1, repeat // 3))
        assert rows == loop_rows, "vectorised and scalar plans differ"
        print(
            f"    plan {phase:<8} {len(rows)} layouts: vectorised {t_vec:.3f} s, "
            f"scalar loop {t_loop:.3f} s ({t_loop / t_vec:.0f}x), identical results"
        )
    ten_k = (found * 2)[:10_000]

    def evaluate() -> Any:
        return evaluate_vector(
            model, gpus, hw, "train", ten_k, 4096, None, base,
            compute_efficiency=0.5, peak_flops=hw.bf16_flops, memory_inputs=MemoryOptions(),
            schedule=ScheduleOptions(),
        )  # fmt: skip

    t_eval, _ = best(evaluate, repeat)
    print(f"    evaluate_vector, train, exactly 10^4 layouts: {t_eval * 1e3:.1f} ms")
    hundred_k = (found * (100_000 // len(found) + 1))[:100_000]
    for phase in phases:

        def evaluate_and_rank(phase: Phase = phase) -> Any:
            ev = evaluate_vector(
                model, gpus, hw, phase, hundred_k, 4096, None, base,
                compute_efficiency=0.5, peak_flops=hw.bf16_flops, memory_inputs=MemoryOptions(),
                schedule=ScheduleOptions(),
            )  # fmt: skip
            return rank(hundred_k, ev, hw, Goal())

        t_100k, _ = best(evaluate_and_rank, max(1, repeat // 2))
        print(
            f"    evaluate_vector + rank, {phase}, exactly 10^5 layouts: {t_100k:.3f} s "
            f"({t_100k / bare:.1f}x the bare imports)"
        )


def bare_imports(repeat: int) -> float:
    """The baseline of this run: a process that only imports the runtime libraries."""
    bare = [sys.executable, "-c", "import click, rich, pydantic, sympy"]
    t_bare, _ = best(lambda: subprocess.run(bare, check=True), repeat)
    print(f"baseline: python -c 'import click, rich, pydantic, sympy': {t_bare:.3f} s")
    return t_bare


def whole_process(gpus: int, repeat: int, t_bare: float) -> None:
    print(f"(b) moecomm plan --preset deepseek-v3 --gpus {gpus} --hardware h800 (whole process)")
    for phase in ("train", "prefill", "decode"):
        args = ["plan", "--preset", "deepseek-v3", "--gpus", str(gpus), "--hardware", "h800"]
        args += ["--phase", phase, "--format", "json"]
        if phase != "train":
            args += ["--max-pp", str(gpus)]
        line = [f"    plan {phase:<8}"]
        outputs = []
        for label, code in (("numpy", "import sys; " + CLI), ("no numpy", HIDE_NUMPY + CLI)):
            cmd = [sys.executable, "-c", code, *args]

            def once(cmd: list[str] = cmd) -> str:
                return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

            t, out = best(once, repeat)
            outputs.append(out)
            line.append(f"{label} {t:.3f} s ({t / t_bare:.1f}x baseline)")
        assert outputs[0] == outputs[1], "outputs differ with and without numpy"
        count = outputs[0].count('"rank"')
        line.insert(1, f"{count} layouts:")
        print(" ".join(line) + ", same JSON")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    t_bare = bare_imports(args.repeat)
    in_process(args.repeat, t_bare)
    whole_process(args.gpus, args.repeat, t_bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
