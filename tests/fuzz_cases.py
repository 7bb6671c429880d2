"""Seeded random moecomm invocations and malformed files, shared by tests/test_fuzz.py and
benchmarks/fuzz.py.

Cases are built from the commands' own click parameters (a new option is fuzzed without an edit
here), from valid invocations mutated with adversarial values (huge, negative, zero, NaN, inf,
unicode, empty) and from adversarial files (folders, FIFOs, devices, non-UTF-8 bytes, deep
nesting, huge arrays, wrong types, symbolic links: tests/fuzz_files.py). Each runs in-process through click's
CliRunner. A case passes when it exits 0, or exits 2 with one line ``Error: ...``, within
SOFT_SECONDS, without growing the process past MEMORY_BYTES, and without writing outside its
scratch folder. Never run as root: :func:`run_isolated` drops to ``nobody`` first.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import random
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import click
from click.testing import CliRunner, Result
from fuzz_files import CANARY, INPUTS_BAD, INPUTS_GOOD, OUTPUTS, REPO_FILES, Scratch, repo_text

import moecomm
from moecomm import presets as P
from moecomm.cli import COMMANDS, cli

SOFT_SECONDS = 5.0
"""A case running longer than this is a hang (interrupted by SIGALRM)."""

SOFT_SECONDS_BY_COMMAND = {"report": 20.0}
COMMAND_WEIGHTS = {"report": 0.1}
"""Commands drawn less often than the others because each case costs seconds."""
"""Commands that do more by design: a report runs five commands, draws three figures and may
run pdflatex."""

HARD_SECONDS = 60.0
"""A case not interrupted after this long (stuck in C code) ends the whole process."""

MEMORY_BYTES = 2**30
"""A case that takes the process past this peak resident size is a runaway."""

ADDRESS_SPACE = 6 * 2**30
"""Address-space limit while fuzzing, so a runaway allocation is a MemoryError, not the OOM killer."""


# Values

# fmt: off
SANE_INTS = ["1", "2", "4", "8", "16", "64", "128", "256", "4096"]
BAD_INTS = [
    "0", "-1", "-8", "3", "7", "4097", "65536", "1000000", "1000000000", "9223372036854775808",
    "99999999999999999999", "9" * 400, "9" * 4000, "9" * 5000, "", " ", "nan", "inf", "1e3",
    "0x10", "+5", "-0", "1_000", "٣", "８",
]
SANE_FLOATS = ["0.5", "0.9", "1", "50", "1e-6"]
BAD_FLOATS = [
    "0", "-1", "nan", "-nan", "inf", "-inf", "1e308", "1e400", "1e-320", "", "x", "9" * 400,
]
NUMBER_TEXTS = [
    "1", "1.25", "2.5", "0", "-1", "nan", "inf", "-inf", "1e400", "1e-400", "1e30", "1/3", "1/0",
    "0/0", "10**9", "", " ", "1GiB", "256MiB", "64KiB", "1GB", "-1GiB", "0B", "9" * 5000,
    "1e9999999999", "0.0001", "__import__('os')",
]
TEXTS = [
    "", " ", "x", "é", "\u202e", "\udcff", "a\nb", "x" * 10000, "-", "--", "%s%n", "{0}", "[b]",
    "../x", "\t",
]
SIZES = [
    "2,4,8", "1", "0", "", ",", "2,,4", "-2", "2.5", "1e3", "9" * 5000, ",".join(["2"] * 10000),
    ",".join(str(2**i) for i in range(40)), "nan", "inf", "١,٢",
]
SWEEPS = [
    "8,16", "2:64:x2", "1:128:+1", "1:1000000:+1", "0:8:x2", "8:1:x2", "2:8:x1", "2:8:+0", "1:8",
    "::", "1::x2", ":8:x2", "x2", "1:8:x", "1:8:x-2", "2,,4", ",", "1:2:+1," * 200, "8:" * 40,
    "9" * 30 + ":" + "9" * 31 + ":x2", "1MiB:1GiB:x2", "1KiB:1TiB:x2", "1:9" + "9" * 300 + ":x2",
    "-8,8", "+8", "٣:٨:x2", "8,16,32,64,128,256",
]
SWEPT = ("tokens", "batch", "seq", "ep", "tp", "ranks", "nbytes")
ROUTINGS = [
    "uniform", "zipf:1.2", "zipf:0", "zipf:-1", "zipf:nan", "zipf:inf", "zipf:", "zipf:1e308",
    "zipf:1e-308", "zipf:x", "zipf", "foo", "",
]
COLLECTIVE_LISTS = [
    "all-reduce", "all-reduce,broadcast", "none", "all-to-all,all-to-all", "all_reduce", "", ",",
    "all-reduce,,broadcast", "x" * 300, "none,all-reduce",
]
SUBS = [
    "b=1", "s=4096", "k=8", "h=7168", "E=256", "U=8", "ep=64", "ep=0", "b=-1", "k=nan", "k=inf",
    "b=1e400", "b=1/3", "b=1/0", "x=1", "b=", "=1", "b", "b=1=2", "b=" + "9" * 5000,
    "h=" + "9" * 4000, "E=1000000000", "k=1000000000", "b=__import__('os').system('id')", "é=1",
]
# fmt: on

# Commands and their parameters


def leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command that runs, as (words, command): ``("presets", "show")``, ``("ep",)``."""
    ctx = click.Context(cli)
    out: list[tuple[tuple[str, ...], click.Command]] = []
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out += [((name, sub), c) for sub, c in sorted(cmd.commands.items())]
        else:
            out.append(((name,), cmd))
    return out


BASES: dict[str, list[list[str]]] = {
    "ep": [
        ["--preset", "deepseek-v3", "--tokens", "128", "--ep", "8"],
        ["--hidden", "64", "--experts", "8", "--topk", "2", "--tokens", "64", "--ep", "8"],
        ["--deployment", "deepseek-v3-decode", "--tokens", "32"],
        ["--hf-config", "cfg", "--tokens", "16", "--ep", "8", "--dedup", "rank"],
    ],
    "traffic": [
        ["--hidden", "8", "--experts", "8", "--topk", "2", "--expert-counts", "counts.json"],
        ["--hidden", "8", "--experts", "8", "--topk", "2", "--topk-ids", "topk.json"],
        ["--hidden", "8", "--experts", "8", "--topk", "2", "--topk-ids", "topk.npy"],
        ["--preset", "deepseek-v3", "--tokens", "16", "--ep", "8"],
        ["--hidden", "8", "--experts", "8", "--topk", "2", "--tokens", "8", "--ep", "4"],
    ],
    "tp": [["--hidden", "4096", "--tokens", "128", "--tp", "8"]],
    "compare": [["--preset", "deepseek-v3", "--tokens", "256", "--sizes", "2,4,8"]],
    "groups": [["--world", "16", "--tp", "2", "--ep", "4"], ["--deployment", "deepseek-v3-decode"]],
    "presets list": [[]],
    "presets show": [["deepseek-v3"], ["h800"], ["--hf-config", "cfg"], ["model.toml"]],
    "presets import": [["cfg/config.json", "--name", "mine", "-o", "out.toml"]],
    "formula": [[], ["ep_dispatch_bytes", "--subs", "b=1"], ["expected_distinct_units"]],
    "collective": [
        ["all-to-all", "--bytes", "1MiB", "--ranks", "8", "--hardware", "h800"],
        [
            "all-reduce",
            "--bytes",
            "1MiB:64MiB:x4",
            "--ranks",
            "16",
            "--hardware",
            "h100-sxm",
            "--plot",
            "out.svg",
            "--measured",
            "all_reduce_perf.txt",
        ],
    ],
    "step": [
        ["--preset", "mixtral-8x7b", "--hardware", "h100-sxm", "--tp", "2", "--micro-batch", "1"],
        ["--deployment", "megatron-bridge-qwen3-235b-train", "--tokens", "512", "--cp", "2"],
        ["--deployment", "deepseek-v3-train", "--dedup", "copies", "--tokens", "1024"],
        ["--deployment", "deepseek-v3-decode", "--tokens", "32"],
        [
            "--preset",
            "qwen3-30b-a3b",
            "--hardware",
            "h800",
            "--phase",
            "train",
            "--ep",
            "8",
            "--recompute",
            "selective",
            "--seq",
            "2048",
            "--headroom",
            "0.05",
        ],
        [
            "--preset",
            "gpt-oss-20b",
            "--hardware",
            "h100-sxm",
            "--phase",
            "decode",
            "--context",
            "8192",
        ],
        [
            "--preset",
            "deepseek-v3",
            "--hardware",
            "h800",
            "--phase",
            "prefill",
            "--tokens",
            "4096",
            "--ep",
            "32",
            "--dp",
            "32",
            "--redundant-experts",
            "32",
        ],
        [
            "--deployment",
            "deepseek-v3-train",
            "--schedule",
            "dualpipe",
            "--micro-batches",
            "64",
            "--overlap",
        ],
    ],
    "plan": [
        [
            "--preset",
            "mixtral-8x7b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "16",
            "--phase",
            "train",
            "--micro-batch",
            "2",
            "--seq",
            "2048",
            "--global-batch",
            "262144",
        ],
        ["--deployment", "nemo-mixtral-8x7b-train", "--schedule", "interleaved", "--vpp", "8"],
        ["--deployment", "deepseek-v3-prefill", "--dedup", "node", "--top", "3"],
        ["--preset", "deepseek-v3", "--hardware", "h800", "--gpus", "16", "--top", "3"],
        ["--preset", "deepseek-v3", "--hardware", "h800", "--gpus", "16", "--plot", "out.png"],
        [
            "--preset",
            "gpt-oss-120b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
            "--phase",
            "decode",
            "--concurrency",
            "64",
            "--context",
            "8192",
            "--headroom",
            "1/20",
        ],
        [
            "--preset",
            "mixtral-8x7b",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "16",
            "--phase",
            "train",
            "--recompute",
            "full",
            "--seq",
            "8192",
            "--launch",
            "megatron",
        ],
        [
            "--preset",
            "qwen3-30b-a3b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
            "--phase",
            "prefill",
            "--launch",
            "sglang",
        ],
        [
            "--preset",
            "qwen3-30b-a3b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "16",
            "--phase",
            "decode",
            "--objective",
            "latency",
            "--tpot-max",
            "20",
            "--min-ep",
            "4",
        ],
        [
            "--preset",
            "qwen3-30b-a3b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "32",
            "--phase",
            "prefill",
            "--ttft-max",
            "500",
            "--no-overlap",
        ],
        [
            "--preset",
            "mixtral-8x7b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "32",
            "--phase",
            "train",
            "--schedule",
            "interleaved",
            "--vpp",
            "2",
            "--micro-batches",
            "32",
            "--objective",
            "memory",
        ],
    ],
    "report": [
        [
            "--preset",
            "deepseek-v3",
            "--tokens",
            "64",
            "--ep",
            "8",
            "--hardware",
            "h800",
            "-o",
            "out.tex",
        ]
    ],
    "calibrate": [
        ["all_gather_perf.txt", "-o", "out.toml"],
        ["all_reduce_perf.txt", "bench.json", "-o", "out.toml", "--base", "h800"],
    ],
    "validate": [
        ["all_gather_perf.txt", "--hardware", "h100-sxm"],
        ["bench.json", "all_reduce_perf.txt", "--hardware", "hardware.toml", "--timing", "per-op"],
        ["all_reduce_perf.txt", "--hardware", "h100-sxm", "--plot", "out.svg"],
    ],
    # Outside torchrun every case must stop at once (one line, exit 2), never wait for a rendezvous.
    "measure": [
        ["-o", "out.json", "--backend", "gloo", "--max-bytes", "64KiB"],
        [
            "-o",
            "out.json",
            "--preset",
            "mixtral-8x7b",
            "--tokens",
            "16,32",
            "--routing",
            "zipf:1.2",
        ],
        [
            "-o",
            "out.json",
            "--hidden",
            "8",
            "--experts",
            "8",
            "--topk",
            "2",
            "--topk-ids",
            "topk.json",
        ],
        ["-o", "out.json", "--deployment", "deepseek-v3-decode", "--collectives", "none"],
    ],
}


@dataclass
class Pools:
    """Values to draw from: names of presets and formulas, files, outputs."""

    models: list[str]
    hardware: list[str]
    deployments: list[str]
    formulas: list[str]
    long: bool

    @classmethod
    def load(cls, long: bool) -> Pools:
        from moecomm import formulas

        return cls(
            models=P.names(P.MODELS),
            hardware=P.names(P.HARDWARE),
            deployments=P.names(P.DEPLOYMENTS),
            formulas=list(formulas.names()),
            long=long,
        )

    def inputs(self, rng: random.Random, good: list[str]) -> str:
        bad = [*INPUTS_BAD, "rows.json"] if self.long else INPUTS_BAD
        return rng.choice(good + INPUTS_GOOD if rng.random() < 0.4 else bad)


def _value(rng: random.Random, param: click.Parameter, pools: Pools, command: str) -> str:
    """One value for a parameter of a command, chosen by its name and type."""
    name = param.name or ""
    sane = rng.random() < 0.5
    files = {
        "preset": (["model.toml", "hardware.toml"], pools.models),
        "hardware": (["hardware.toml", "hardware_nan.toml"], pools.hardware),
        "deployment": (["deployment.toml", "deployment_bad.toml"], pools.deployments),
        "hf_config": (["cfg", "mixtral.json", "config_types.json"], []),
        "path": (["cfg", "mixtral.json", "config_huge.json", "config_nan.json"], []),
        "expert_counts": (["counts.json", "counts.csv", "counts_flat.json"], []),
        "topk_ids": (["topk.json", "topk.npy"], []),
        "placement": (["placement.json"], []),
        "logs": (["all_gather_perf.txt", "all_reduce_perf.txt", "bench.json"], []),
        "measurements": (["all_gather_perf.txt", "all_reduce_perf.txt", "bench.json"], []),
        "measured": (["all_gather_perf.txt", "all_reduce_perf.txt", "bench.json"], []),
        "base": (["hardware.toml", "hardware_nan.toml"], pools.hardware),
    }
    if name in files:
        good, names = files[name]
        if names and sane:
            return rng.choice(names)
        if name == "path" or rng.random() < 0.7:
            return pools.inputs(rng, good)
        return rng.choice(TEXTS + pools.models + pools.hardware + pools.deployments)
    if name in ("export_matrix", "output", "plot"):  # never a path that names a place outside
        return rng.choice(OUTPUTS + [t for t in TEXTS if ".." not in t])
    if name == "name" and command == "presets show":
        pool = pools.models + pools.hardware + pools.deployments
        return rng.choice(pool) if sane else pools.inputs(rng, ["model.toml", "deployment.toml"])
    if name == "name" and command == "formula":
        return rng.choice(pools.formulas) if sane else rng.choice([*TEXTS, "ep_dispatch_bytes\n"])
    if name == "name":  # presets import --name
        return rng.choice(["mine", "my-v3", "Bad Name", "mine\n", "../x", "a" * 300, *TEXTS])
    if name == "routing":
        return rng.choice(ROUTINGS)
    if name == "sizes" or (name == "tokens" and command == "measure"):
        return rng.choice(SIZES)
    if name == "collectives":
        return rng.choice(COLLECTIVE_LISTS)
    if name == "subs":
        return rng.choice(SUBS)
    if name == "kind" and command == "collective":
        kinds = ["all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast"]
        pool = [*kinds, "all-reduce,all-to-all", ",".join(kinds), "all-reduce,", ",", *TEXTS]
        return rng.choice(kinds if sane else pool)
    if name in SWEPT and not isinstance(param.type, click.types.IntParamType):
        pool = SANE_INTS if sane else BAD_INTS + NUMBER_TEXTS
        return rng.choice(pool if rng.random() < 0.5 else SWEEPS)
    if name in ("bytes", "capacity_factor", "imbalance", "min_bytes"):
        return rng.choice(NUMBER_TEXTS)
    if isinstance(param.type, click.Choice):
        choices = [str(c) for c in param.type.choices]
        return rng.choice(choices) if rng.random() < 0.9 else rng.choice(TEXTS)
    if isinstance(param.type, click.types.IntParamType):
        return rng.choice(SANE_INTS if sane else BAD_INTS)
    if isinstance(param.type, click.types.FloatParamType):
        return rng.choice(SANE_FLOATS if sane else BAD_FLOATS)
    if isinstance(param.type, click.Path):
        return pools.inputs(rng, [])
    return rng.choice(TEXTS + NUMBER_TEXTS)


def _words(rng: random.Random, param: click.Parameter, pools: Pools, command: str) -> list[str]:
    if isinstance(param, click.Option):
        flag = rng.choice(param.opts)
        if param.is_flag:
            return [flag]
        return [flag, _value(rng, param, pools, command)]
    return [_value(rng, param, pools, command)]


def make_case(rng: random.Random, pools: Pools, commands: list[Any]) -> list[str]:
    """One invocation: a valid base mutated by a few random parameters, or parameters alone."""
    weights = [COMMAND_WEIGHTS.get(" ".join(w), 1.0) for w, _ in commands]
    words, cmd = rng.choices(commands, weights)[0]
    command = " ".join(words)
    args = list(words)
    bases = BASES.get(command, [[]])
    if rng.random() < 0.6:
        args += rng.choice(bases)
    params = [p for p in cmd.params if p.name != "help"]
    arguments = [p for p in params if isinstance(p, click.Argument)]
    options = [p for p in params if isinstance(p, click.Option)]
    if arguments and (len(args) == len(words) or rng.random() < 0.3):
        args[len(words) : len(words)] = _words(rng, arguments[0], pools, command)
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
        if options:
            args += _words(rng, rng.choice(options), pools, command)
    roll = rng.random()
    if roll < 0.02:
        args.append("--help")
    elif roll < 0.04:
        args.append(rng.choice(["--nope", "extra", "-x", "--format="]))
    return args


def cases(seed: int, count: int, pools: Pools) -> Iterator[list[str]]:
    commands = leaf_commands()
    rng = random.Random(seed)
    for _ in range(count):
        yield make_case(rng, pools, commands)


# Running


class CaseTimeout(BaseException):
    """Raised by SIGALRM in a case that ran past SOFT_SECONDS (BaseException: click passes it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise CaseTimeout


@dataclass
class Outcome:
    kind: str
    """ok, error, or a failure: traceback, hang, bad-error, memory, stray-write."""
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    runs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[tuple[list[str], str]]] = field(default_factory=dict)
    slowest: tuple[float, list[str]] = (0.0, [])

    def add(self, args: list[str], outcome: Outcome) -> None:
        self.runs += 1
        self.kinds[outcome.kind] += 1
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, args)
        if outcome.kind not in ("ok", "error"):
            key = f"{outcome.kind}: {outcome.detail}"
            self.failures.setdefault(key, []).append((args, outcome.detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "kinds": dict(self.kinds),
            "failures": {k: [a for a, _ in v] for k, v in self.failures.items()},
            "slowest": list(self.slowest),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        report = cls(runs=data["runs"], kinds=Counter(data["kinds"]))
        report.failures = {k: [(a, k) for a in v] for k, v in data["failures"].items()}
        report.slowest = (data["slowest"][0], data["slowest"][1])
        return report

    def summary(self, examples: int = 1) -> str:
        lines = [
            f"{self.runs} runs: " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        ]
        lines.append(f"slowest {self.slowest[0]:.2f} s: moecomm {shown(self.slowest[1])}")
        for key, found in sorted(self.failures.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"{len(found)} × {key}")
            lines += [f"    moecomm {shown(args)}" for args, _ in found[:examples]]
        return "\n".join(lines)


def shown(args: list[str]) -> str:
    """A command line for a report, long values cut, quoted as a shell would need."""
    import shlex

    out = []
    for a in args:
        text = a if len(a) <= 60 else f"{a[:20]}…({len(a)} chars)"
        out.append(shlex.quote(text.encode("utf-8", "backslashreplace").decode()))
    return " ".join(out)


def _where(tb: TracebackType | None) -> str:
    """The innermost moecomm frame of a traceback (else the innermost frame)."""
    found = last = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        last = f"{Path(code.co_filename).name}:{code.co_name}"
        if f"{os.sep}moecomm{os.sep}" in code.co_filename:
            rel = code.co_filename.split(f"{os.sep}moecomm{os.sep}", 1)[1]
            found = f"{rel}:{code.co_name}"
        tb = tb.tb_next
    return found or last


def classify(result: Result) -> Outcome:
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        assert result.exc_info is not None
        return Outcome("traceback", f"{type(exc).__name__} in {_where(result.exc_info[2])}")
    if result.exit_code == 0:
        return Outcome("ok")
    err = result.stderr
    if (
        result.exit_code == 2
        and err.startswith("Error: ")
        and err.count("\n") == 1
        and len(err) > 8
    ):
        return Outcome("error")
    return Outcome("bad-error", f"exit {result.exit_code}: {err.strip()[:60]!r}")


def run_case(args: list[str], scratch: Scratch) -> Outcome:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.monotonic()
    _Watchdog.start(args)
    limit = SOFT_SECONDS_BY_COMMAND.get(args[0] if args else "", SOFT_SECONDS)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        result = CliRunner().invoke(cli, args, prog_name="moecomm")
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = classify(result)
    except CaseTimeout:
        outcome = Outcome("hang", f"over {limit:g} s in {' '.join(args[:2])}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _Watchdog.stop()
    outcome.seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if after > MEMORY_BYTES and after > before and outcome.kind in ("ok", "error"):
        outcome = Outcome("memory", f"peak {after >> 20} MiB in {' '.join(args[:2])}")
    stray = scratch.stray_writes()
    if stray:
        outcome = Outcome("stray-write", ", ".join(stray))
        for path in stray:  # so that later cases are judged on their own
            p = Path(path.removesuffix(" (changed)"))
            if p.name == "passwd":
                p.unlink(missing_ok=True)
                p.write_text(CANARY)
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    scratch.restore()
    return outcome


class _Watchdog:
    """Ends the process if a case is stuck where SIGALRM cannot reach it (inside C code)."""

    current: list[str] | None = None
    since = 0.0
    thread: threading.Thread | None = None

    @classmethod
    def start(cls, args: list[str]) -> None:
        cls.current, cls.since = args, time.monotonic()
        if cls.thread is None:
            cls.thread = threading.Thread(target=cls._watch, daemon=True)
            cls.thread.start()

    @classmethod
    def stop(cls) -> None:
        cls.current = None

    @classmethod
    def _watch(cls) -> None:
        while True:
            time.sleep(1)
            args = cls.current
            if args is not None and time.monotonic() - cls.since > HARD_SECONDS:
                line = f"fuzz: stuck over {HARD_SECONDS:g} s: moecomm {shown(args)}\n"
                os.write(2, line.encode("utf-8", "backslashreplace"))
                os._exit(70)


def run_cases(
    seed: int,
    count: int,
    *,
    long: bool = False,
    progress: Callable[[int, Report], None] | None = None,
) -> Report:
    """Run ``count`` cases in a fresh scratch folder (removed afterwards)."""
    if os.geteuid() == 0:
        raise RuntimeError("never fuzz as root: use run_isolated, or runuser -u nobody")
    pools = Pools.load(long)
    report = Report()
    old_cwd = os.getcwd()
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    root = Path(tempfile.mkdtemp(prefix="moecomm-fuzz-"))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (min(ADDRESS_SPACE, hard), hard))
        scratch = Scratch(root, long)
        os.chdir(scratch.scratch)
        for n, args in enumerate(cases(seed, count, pools)):
            report.add(args, run_case(args, scratch))
            if progress is not None:
                progress(n + 1, report)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old_handler)
        os.chdir(old_cwd)
        shutil.rmtree(root, ignore_errors=True)
    return report


def warm() -> None:
    """Import every moecomm module (and what commands load lazily) before privileges drop:
    the interpreter's own files may be unreadable to ``nobody``."""
    for mod in pkgutil.walk_packages(moecomm.__path__, "moecomm."):
        if not mod.name.endswith(("__main__", "codegen")):
            importlib.import_module(mod.name)
    lazy = ("csv", "encodings.latin_1", "encodings.utf_8_sig", "reprlib", "shlex", "tomllib")
    drawing = ("matplotlib.backends.backend_svg", "matplotlib.backends.backend_pdf")
    for module in (*lazy, *drawing, "unicodedata", "numpy", "numpy.lib.format", "sympy"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    runner = CliRunner()
    for line in (
        "formula --all --latex",
        "formula ep_dispatch_bytes --subs b=1 --format json",
        "presets list",
        "plan --preset deepseek-v3 --hardware h800 --gpus 16 --top 2",
        "traffic --preset deepseek-v3 --tokens 16 --ep 8 --routing zipf:1.2 --hardware h800",
        "step --deployment deepseek-v3-decode --tokens 32",
        "collective all-to-all --bytes 1MiB --ranks 8 --hardware h800 --format markdown",
        "groups --world 16 --tp 2 --format csv",
        "tp --hidden 8 --tokens 8 --tp 2 --format nope",
    ):
        runner.invoke(cli, line.split())
    with contextlib.suppress(ImportError):  # matplotlib (the plot extra) loads its backends late
        from moecomm import api, plots

        for fmt in ("png", "svg", "pdf"):
            plots.render(api.compare(hidden_size=8, top_k=2, sizes=(2, 4)), fmt)
    Pools.load(False)
    for name in REPO_FILES:
        repo_text(name)


class Unreadable(RuntimeError):
    """The installed package is not readable to ``nobody``: the fuzz cannot run isolated."""


def _check_readable() -> None:
    """moecomm reads its presets at run time: as ``nobody`` they must be readable."""
    package = Path(P.__file__).parent
    try:
        presets = Path(str(P._root()))
    except PermissionError:
        presets = package
    for path in (package, presets):
        if not os.access(path, os.R_OK | os.X_OK):
            raise Unreadable(f"{path} is not readable to nobody")


def run_isolated(seed: int, count: int, *, long: bool = False) -> Report:
    """:func:`run_cases` as an unprivileged user: in this process if it is one, else in a
    forked child that drops to ``nobody`` first and reports back through a pipe."""
    if os.geteuid() != 0:
        return run_cases(seed, count, long=long)
    import pwd

    nobody = pwd.getpwnam("nobody")
    warm()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_end)
            os.chdir("/")  # the working folder may be closed to nobody
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            tempfile.tempdir = None  # chosen again, as nobody
            try:
                _check_readable()
                result: dict[str, Any] = run_cases(seed, count, long=long).to_json()
            except Unreadable as exc:
                result = {"unreadable": str(exc)}
            with os.fdopen(write_end, "w") as out:
                json.dump(result, out)
            code = 0
        except BaseException:  # report anything, never return into the parent's stack
            os.write(2, f"fuzz child failed:\n{traceback.format_exc()}".encode())
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as src:
        text = src.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not text:
        raise RuntimeError(f"the fuzz child failed (status {status})")
    data = json.loads(text)
    if "unreadable" in data:
        raise Unreadable(data["unreadable"])
    return Report.from_json(data)
