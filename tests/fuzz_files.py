"""Scratch folder of the fuzz (tests/fuzz_cases.py): adversarial files beside valid ones.

root/scratch is the working directory of every case and holds every file the cases name;
root/outside holds a canary that no case may change, and no case may add a file there.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPO_FILES = (
    "presets/models/mixtral-8x7b.toml",
    "presets/hardware/h800.toml",
    "presets/deployments/deepseek-v3-decode.toml",
    "tests/data/hf_configs/deepseek-v3.json",
    "tests/data/hf_configs/mixtral-8x7b.json",
    "tests/data/nccl_tests/all_gather_perf.g8.synthetic.txt",
    "tests/data/nccl_tests/all_reduce_perf.mpi16.synthetic.txt",
)


@functools.cache
def repo_text(name: str) -> str:
    """A file of the repository, read once: read before privileges drop, the checkout need not
    be readable to ``nobody``."""
    return (REPO / name).read_text()


CANARY = "root:x:0:0:canary:/root:/bin/sh\n"

# fmt: off
INPUTS_BAD = [
    "folder", "fifo", "fifo.json", "/dev/zero", "/dev/urandom", "/dev/null", "latin1.json",
    "latin1.toml", "deep.json", "deep.toml", "dots.toml", "bigint.json", "bigint.toml", "nan.json",
    "types.json", "strings.json", "empty.json", "blank.json", "null.json", "bom.json", "huge.json",
    "wide.json", "ranks.json", "negative.json", "bad.csv", "wide.csv", "bad.npy", "header.npy",
    "floats.npy", "bad.toml", "types.toml", "model_huge.toml", "model_zero.toml",
    "hardware_nan.toml", "deployment_bad.toml", "config_types.json", "config_huge.json",
    "all_gather_cut.txt", "all_gather_twice.txt", "bench_bad.json",
    "config_nan.json", "config_deep.json", "link.json", "dangling.json", "loop.json",
    "outlink.toml", "x" * 300, "a/" * 2100 + "x.json", "", "-", "nope.json", "nope/x.json",
    "\udcff.json",
]
INPUTS_GOOD = [
    "counts.json", "counts_layers.json", "counts_flat.json", "counts.csv", "topk.json", "topk.npy",
    "placement.json", "model.toml", "hardware.toml", "deployment.toml", "cfg", "cfg/config.json",
    "mixtral.json", "all_gather_perf.txt", "all_reduce_perf.txt", "bench.json",
]
OUTPUTS = [
    "out.json", "out.csv", "out.toml", "out.txt", "sub/out.json", "folder/out.json", "victim.json",
    "victim.toml", "passwd.json", "passwd.toml", "ghost.json", "fifo.json", "folder", "", ".",
    "..", "x" * 300 + ".json", "\udcff.json", "é.csv", "out.png", "out.svg", "out.pdf",
    "sub/out.svg", "out.tex", "victim.tex", "victim.svg", "passwd.svg", "ghost.pdf", "fifo.json.png", "out.PNG",
]
# fmt: on


def _npy(header: str, data: bytes = b"") -> bytes:
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    size = (len(text) + pad + 1).to_bytes(2, "little")
    return b"\x93NUMPY\x01\x00" + size + text + b" " * pad + b"\n" + data


def _write_files(scratch: Path, long: bool) -> None:
    def put(name: str, data: str | bytes) -> None:
        path = scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)

    rng = random.Random(1)
    counts = [[rng.randrange(0, 20) for _ in range(8)] for _ in range(8)]
    put("counts.json", json.dumps({"expert_counts": counts}))
    put("counts_layers.json", json.dumps({"layers": [{"expert_counts": counts}, counts]}))
    put("counts_flat.json", json.dumps({"expert_counts": counts[0]}))
    put(
        "counts.csv", "e0,e1,e2,e3,e4,e5,e6,e7\n" + "\n".join(",".join(map(str, r)) for r in counts)
    )
    ids = [[rng.sample(range(8), 2) for _ in range(4)] for _ in range(8)]
    ids[0][0][1] = -1
    put("topk.json", json.dumps({"topk_ids": ids}))
    try:
        import numpy as np

        buf = __import__("io").BytesIO()
        np.save(buf, np.array(ids, dtype=np.int64))
        put("topk.npy", buf.getvalue())
    except ImportError:
        put("topk.npy", b"")
    put("placement.json", json.dumps({"placement": [0, 1, [2, 3], 3, 4, 5, [6, 7, 0], 7]}))
    put("model.toml", repo_text("presets/models/mixtral-8x7b.toml"))
    put("hardware.toml", repo_text("presets/hardware/h800.toml"))
    gather = repo_text("tests/data/nccl_tests/all_gather_perf.g8.synthetic.txt")
    put("all_gather_perf.txt", gather)
    put(
        "all_reduce_perf.txt",
        repo_text("tests/data/nccl_tests/all_reduce_perf.mpi16.synthetic.txt"),
    )
    put("all_gather_cut.txt", "\n".join(gather.splitlines()[:25]))  # truncated
    put("all_gather_twice.txt", gather + gather)  # two runs in one file
    rows = [{"bytes": 2**k, "median_s": 1e-5 * k, "batched_avg_s": 9e-6 * k} for k in range(20, 31)]
    bench = {
        "schema": "moecomm-bench/1",
        "metadata": {"world_size": 2, "gpu_names": ["NVIDIA H100 80GB HBM3"]},
    }
    put("bench.json", json.dumps(bench | {"collectives": {"all_reduce": {"rows": rows}}}))
    put(
        "bench_bad.json",
        json.dumps(bench | {"collectives": {"all_reduce": {"rows": [{"bytes": -1}]}}}),
    )
    put("deployment.toml", repo_text("presets/deployments/deepseek-v3-decode.toml"))
    config = repo_text("tests/data/hf_configs/deepseek-v3.json")
    put("cfg/config.json", config)
    put("mixtral.json", repo_text("tests/data/hf_configs/mixtral-8x7b.json"))

    (scratch / "folder").mkdir()
    os.mkfifo(scratch / "fifo")
    put("latin1.json", b'{"expert_counts": [[1, 2]], "note": "caf\xe9"}')
    put("latin1.toml", b'name = "caf\xe9"\n')
    put("deep.json", "[" * 50_000 + "]" * 50_000)
    put("deep.toml", "a = " + "[" * 5000 + "]" * 5000)
    put("dots.toml", "a" + ".a" * 5000 + " = 1\n")
    big = "9" * 5000
    put("bigint.json", f'{{"expert_counts": [[{big}]], "topk_ids": [[[{big}]]]}}')
    put("bigint.toml", f'name = "x"\nsource = "x"\n[model]\nhidden_size = {big}\n')
    put(
        "nan.json",
        '{"expert_counts": [[NaN, Infinity, -Infinity, 1e999, -1e999, 0.5, 1, 2]],'
        ' "topk_ids": [[[NaN, 1]]], "placement": [NaN, Infinity, 1e999, -1, 0, 0, 0, 0],'
        ' "hidden_size": NaN, "num_experts": Infinity}',
    )
    put(
        "types.json",
        '{"expert_counts": "x", "topk_ids": {"a": 1}, "placement": [[]], "layers": 5}',
    )
    put(
        "strings.json",
        '{"expert_counts": [["1", "2"]], "topk_ids": [[["0", "1"]]], "placement": ["0"]}',
    )
    put("empty.json", "")
    put("blank.json", " \n\t ")
    put("null.json", "null")
    put("bom.json", "\ufeff" + json.dumps({"expert_counts": counts}))
    n = 2_000_000 if long else 200_000
    put("huge.json", '{"expert_counts": [' + "1," * (n - 1) + '1], "topk_ids": [[[0]]]}')
    put("wide.json", json.dumps({"expert_counts": [[1] * 100_000], "placement": [0] * 100_000}))
    put("ranks.json", json.dumps({"expert_counts": [[1] * 8] * 5000, "topk_ids": [[[0]]] * 5000}))
    put("negative.json", json.dumps({"expert_counts": [[-1] * 8] * 8, "topk_ids": [[[-2, 9]]]}))
    put("bad.csv", "a,b\n1,²\n")
    put("wide.csv", '1,"' + "x" * 200_000 + '"\n')
    put("bad.npy", b"\x93NUMPY\x01\x00junk")
    put("header.npy", _npy("{'descr': '<i8', 'fortran_order': False, 'shape': (8, 10**9, 8), }"))
    put(
        "floats.npy",
        _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }", b"\0" * 8),
    )
    put("bad.toml", "name = [\n")
    put("types.toml", 'name = 1\nsource = []\n[model]\nhidden_size = "x"\ntop_k = 1.5\n')
    put(
        "model_huge.toml",
        'name = "h"\nsource = "x"\n[model]\nhidden_size = 9223372036854775807\n'
        "num_experts = 9223372036854775807\ntop_k = 9223372036854775807\n"
        "num_layers = 9223372036854775807\n",
    )
    put("model_zero.toml", 'name = "z"\nsource = "x"\n[model]\nhidden_size = 0\nnum_experts = 0\n')
    hw = repo_text("presets/hardware/h800.toml")
    put(
        "hardware_nan.toml",
        hw.replace("scale_up_bytes_per_second = ", "scale_up_bytes_per_second = nan #"),
    )
    dep = repo_text("presets/deployments/deepseek-v3-decode.toml")
    put("deployment_bad.toml", dep.replace('model = "deepseek-v3"', 'model = "../../etc/passwd"'))
    data = json.loads(config)
    put("config_types.json", json.dumps({**data, "hidden_size": "x", "num_experts_per_tok": [8]}))
    put(
        "config_huge.json",
        json.dumps({**data, "hidden_size": 10**4000, "n_routed_experts": 10**30}),
    )
    put("config_nan.json", json.dumps(data).replace('"hidden_size": 7168', '"hidden_size": NaN'))
    put("config_deep.json", '{"text_config": ' * 60 + "{}" + "}" * 60)
    os.symlink("counts.json", scratch / "link.json")
    os.symlink("nowhere.json", scratch / "dangling.json")
    os.symlink("loop.json", scratch / "loop.json")
    os.symlink("../outside/passwd", scratch / "outlink.toml")
    put("\udcff.json", json.dumps({"expert_counts": counts}))
    if long:
        put("rows.json", '{"topk_ids": [[' + "[0]," * (10**7 - 1) + "[0]]]}")
    _reset_outputs(scratch)


def _reset_outputs(scratch: Path) -> None:
    """Put the outputs a case may replace back as they were."""
    wanted: dict[str, Callable[[Path], object]] = {
        "victim.json": lambda p: p.write_text("victim\n"),
        "victim.toml": lambda p: p.write_text("victim\n"),
        "victim.svg": lambda p: p.write_text("victim\n"),
        "victim.tex": lambda p: p.write_text("victim\n"),
        "passwd.svg": lambda p: os.symlink("../outside/passwd", p),
        "ghost.pdf": lambda p: os.symlink("../outside/ghost.pdf", p),
        "passwd.json": lambda p: os.symlink("../outside/passwd", p),
        "passwd.toml": lambda p: os.symlink("../outside/passwd", p),
        "ghost.json": lambda p: os.symlink("../outside/ghost.json", p),
        "fifo.json": lambda p: os.mkfifo(p),
    }
    for name, make in wanted.items():
        path = scratch / name
        if _state(path) != _EXPECTED[name]:
            if os.path.lexists(path):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            make(path)


_EXPECTED = {
    "victim.json": "file:victim\n",
    "victim.toml": "file:victim\n",
    "victim.svg": "file:victim\n",
    "victim.tex": "file:victim\n",
    "passwd.svg": "link:../outside/passwd",
    "ghost.pdf": "link:../outside/ghost.pdf",
    "passwd.json": "link:../outside/passwd",
    "passwd.toml": "link:../outside/passwd",
    "ghost.json": "link:../outside/ghost.json",
    "fifo.json": "fifo",
}


def _state(path: Path) -> str:
    if path.is_symlink():
        return f"link:{os.readlink(path)}"
    if path.is_fifo():
        return "fifo"
    if path.is_file():
        return "file:" + path.read_text(errors="replace")
    return "other" if os.path.lexists(path) else "missing"


@dataclass
class Scratch:
    """root/scratch (the working directory, every file of the cases) beside root/outside."""

    root: Path
    long: bool = False
    scratch: Path = field(init=False)
    outside: Path = field(init=False)
    listing: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.scratch = self.root / "scratch"
        self.outside = self.root / "outside"
        self.scratch.mkdir()
        self.outside.mkdir()
        (self.outside / "passwd").write_text(CANARY)
        _write_files(self.scratch, self.long)
        self.listing = set(os.listdir(self.scratch))

    def stray_writes(self) -> list[str]:
        """Files written outside the scratch folder (into root or root/outside)."""
        out = [f"{self.root}/{n}" for n in os.listdir(self.root) if n not in ("scratch", "outside")]
        out += [f"{self.outside}/{n}" for n in os.listdir(self.outside) if n != "passwd"]
        canary = self.outside / "passwd"
        if canary.is_symlink() or not canary.is_file() or canary.read_text() != CANARY:
            out.append(f"{canary} (changed)")
        return out

    def restore(self) -> None:
        """Remove what the case wrote into the scratch folder; put replaced outputs back."""
        for name in set(os.listdir(self.scratch)) - self.listing:
            path = self.scratch / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        for name in ("folder", "cfg"):
            for entry in os.listdir(self.scratch / name):
                if name == "folder" or entry != "config.json":
                    target = self.scratch / name / entry
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
        _reset_outputs(self.scratch)
