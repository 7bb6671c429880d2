"""nccl-tests output, read exactly as its *_perf binaries print it (NVIDIA/nccl-tests src/util.cu).

A log is the stdout of one run of all_reduce_perf, all_gather_perf, reduce_scatter_perf,
alltoall_perf, sendrecv_perf or broadcast_perf, single-process (``-g N``) or MPI across nodes:

- header lines start with ``#``: ``# nccl-tests version V nccl-headers=H nccl-library=L`` and
  ``# Collective test starting: NAME`` (2.14 and later), ``# nThread T nGpus G minBytes …``,
  ``# Using devices``, one ``#  Rank r Group g Pid p on HOST device d [bus] GPU NAME`` per rank,
  the column header, and the footer (``# Out of bounds values``, ``# Avg bus bandwidth``);
- one data row per size: ``size count type redop root``, then out-of-place ``time algbw busbw
  #wrong`` and in-place ``time algbw busbw #wrong`` (time in µs, bandwidths in GB/s), with four
  more columns per half under per-iteration timing (``-I 1``: i_min i_max i_p99 i_cv%) and a
  timestamp under ``-T``; the column header says which (before 2.10 there was no redop or root);
- NCCL's own lines (``NCCL version …``, ``host:pid:tid [d] NCCL INFO …``) may be interleaved.

Anything else, a second run in the same file, a row that disagrees with itself (algbw ≠
size / time) or a log that stops before its footer is refused with the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from moecomm.errors import MoecommError

TESTS = {
    "all_reduce_perf": "all-reduce",
    "all_gather_perf": "all-gather",
    "reduce_scatter_perf": "reduce-scatter",
    "alltoall_perf": "all-to-all",
    "sendrecv_perf": "send-recv",
    "broadcast_perf": "broadcast",
}
"""The nccl-tests binaries read, and the collective each times."""

MAX_ROWS = 4096
"""Data rows of one log; sizes of one collective, and MoE runs, of one moecomm-bench/1 file
(nccl-tests' default sweep, 8 B to 128 MiB by factors of 2, has 25)."""

PER_RANK_COUNT = ("all-gather", "reduce-scatter", "all-to-all")
"""Collectives whose count column is per rank: size = count × type size × ranks (src/*.cu)."""

_TYPE_BYTES = {
    "int8": 1,
    "uint8": 1,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "half": 2,
    "float": 4,
    "double": 8,
    "bfloat16": 2,
    "f8e4m3": 1,
    "f8e5m2": 1,
}
"""Element sizes of nccl-tests' type names (src/common.cu test_typenames)."""

_VERSION = re.compile(
    r"# nccl-tests version (\S+)(?: \([^)]*\))? nccl-headers=(\d+) nccl-library=(\d+)\s*$"
)
_COLUMNS = re.compile(r"#\s+size\s+count\s+type\b")
"""The column header: its names before ``time`` are the row's preamble (5 since nccl-tests
2.10: size count type redop root; fewer before), and ``i_min`` marks per-iteration columns."""
_STARTING = re.compile(r"# Collective test starting: (\S+)\s*$")
_CONCLUDED = re.compile(r"# Collective test concluded: (\S+)\s*$")
_PARAMS = re.compile(
    r"# nThread (\d+) nGpus (\d+) minBytes (\d+) maxBytes (\d+) .*warmup iters: \d+ iters: (\d+)"
)
_RANK = re.compile(
    r"#\s+Rank\s+(\d+)\s+(?:Group\s+(\d+)\s+)?Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+"
    r"\[[^\]]*\]\s+(.+?)\s*$"
)
"""One device: ``Group`` since nccl-tests 2.13 (``#   Rank  0 Pid …`` before)."""
_AVG = re.compile(r"# Avg bus bandwidth\s*: (\S+)")
_NCCL_LINE = re.compile(r"^(NCCL version \S+|\S+:\d+:\d+ \[\d+\] NCCL (INFO|WARN|TRACE) )")
Fail = Callable[[int, str], MoecommError]
"""Builds the one-line error for a line of the file."""

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?$")


@dataclass(frozen=True)
class Row:
    """One data row: the size and both halves' time (µs) of an nccl-tests run."""

    line: int
    bytes: int
    count: int
    type: str
    out_of_place_us: float
    in_place_us: float


@dataclass(frozen=True)
class Log:
    """One nccl-tests run: what it timed, where, and its rows."""

    name: str
    kind: str
    test: str
    version: str | None
    nccl_library: str | None
    ranks: int
    hosts: tuple[str, ...]
    gpus: tuple[str, ...]
    iters: int
    rows: tuple[Row, ...]

    @property
    def nodes(self) -> int:
        return len(self.hosts)

    @property
    def gpus_per_node(self) -> int:
        return self.ranks // self.nodes


def _nccl_version(code: str) -> str:
    """NCCL's version code as a.b.c: 22807 → 2.28.7 (NCCL_VERSION(X,Y,Z) = X·10000 + Y·100 + Z)."""
    n = int(code)
    if n >= 10000:
        return f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    return f"{n // 1000}.{n // 100 % 10}.{n % 100}"


def looks_like(text: str) -> bool:
    """Whether a text file is nccl-tests output at all (its parameter line is there)."""
    return any(_PARAMS.match(line) for line in text.splitlines()[:200])


def parse(text: str, where: str) -> Log:
    """Read one nccl-tests log; ``where`` names the file in errors."""
    name = PurePath(where).name

    def fail(line: int, rule: str) -> MoecommError:
        return MoecommError(f"{where}: line {line}: {rule}")

    version = library = test = None
    params: tuple[int, int, int] | None = None
    ranks: dict[int, tuple[str, str]] = {}
    rows: list[Row] = []
    avg_seen = concluded = False
    layout: tuple[int, int, int] | None = None  # (preamble, columns per half, trailing)
    lines = text.splitlines()
    for i, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip() or _NCCL_LINE.match(line.strip()):
            continue
        if avg_seen and (concluded or not line.startswith("#")):
            raise fail(i, "text after the end of the run (two runs in one file?)")
        if m := _VERSION.match(line):
            if version is not None or params is not None:
                raise fail(i, "a second nccl-tests header (two runs in one file?)")
            version, library = m.group(1), _nccl_version(m.group(3))
        elif m := _STARTING.match(line):
            if test is not None:
                raise fail(i, "a second 'Collective test starting' line (two runs in one file?)")
            test = m.group(1)
        elif m := _PARAMS.match(line):
            if params is not None:
                raise fail(
                    i, "a second nThread line (two runs in one file, or MPI=0 under mpirun?)"
                )
            params = (int(m.group(1)), int(m.group(2)), int(m.group(5)))
        elif m := _RANK.match(line):
            rank = int(m.group(1))
            if rank in ranks:
                raise fail(i, f"rank {rank} listed twice")
            ranks[rank] = (m.group(4), m.group(6))
        elif m := _AVG.match(line):
            avg_seen = True
        elif m := _CONCLUDED.match(line):
            concluded = True
        elif _COLUMNS.match(line):
            names = line.lstrip("#").split()
            first = next((k for k, n in enumerate(names) if n in ("time", "cputime")), None)
            if first is None:
                raise fail(i, "a column header without a time column")
            # -T adds a timestamp (%Y-%m-%d %H:%M:%S: two columns) after the in-place half.
            layout = (first, 8 if "i_min" in names else 4, 2 if "timestamp" in names else 0)
        elif line.startswith("#"):
            continue  # column headers, 'Using devices', 'Out of bounds values', options
        else:
            if params is None:
                raise fail(i, "not nccl-tests output: a line before its '# nThread' header")
            if len(rows) == MAX_ROWS:
                raise fail(i, f"more than {MAX_ROWS} data rows")
            rows.append(_row(line, i, fail, layout))
    end = len(lines)
    if params is None:
        raise fail(1, "not nccl-tests output: no '# nThread … nGpus …' header line")
    if not ranks:
        raise fail(end, "no 'Rank … on HOST device …' lines: the devices are unknown")
    if sorted(ranks) != list(range(len(ranks))):
        raise fail(end, f"ranks listed are not 0…{len(ranks) - 1}: {sorted(ranks)[:8]}")
    if not rows:
        raise fail(end, "no data rows")
    if not avg_seen:
        raise fail(end, "truncated: the run ends before its '# Avg bus bandwidth' line")
    kind = _kind(test, name, end, fail)
    hosts = tuple(dict.fromkeys(host for host, _ in (ranks[r] for r in sorted(ranks))))
    n = len(ranks)
    if n % len(hosts):
        raise fail(end, f"{n} ranks do not fill {len(hosts)} hosts evenly")
    if n < 2:
        raise fail(end, f"{n} rank: a collective needs at least 2 ranks to move bytes")
    per_rank = kind in PER_RANK_COUNT
    for row in rows:
        whole = row.count * _TYPE_BYTES[row.type] * (n if per_rank else 1)
        if row.bytes != whole:
            times = f" × {n} ranks" if per_rank else ""
            raise fail(
                row.line,
                f"size {row.bytes} is not count {row.count} × {_TYPE_BYTES[row.type]} B{times} "
                f"= {whole} (a log of another run or tool?)",
            )
    return Log(
        name=name,
        kind=kind,
        test=test or next(t for t, k in TESTS.items() if k == kind),
        version=version,
        nccl_library=library,
        ranks=n,
        hosts=hosts,
        gpus=tuple(dict.fromkeys(gpu for _, gpu in ranks.values())),
        iters=params[2],
        rows=tuple(rows),
    )


def _kind(test: str | None, name: str, line: int, fail: Fail) -> str:
    if test is not None:
        if test not in TESTS:
            raise fail(line, f"{test} is not one of {', '.join(TESTS)}")
        return TESTS[test]
    # Before 2.14 the log does not say which binary ran: the file name must.
    found = {k for t, k in TESTS.items() if t.removesuffix("_perf") in name}
    if len(found) != 1:
        raise fail(
            line,
            "no '# Collective test starting' line (nccl-tests before 2.14): name the file after "
            "its binary, e.g. all_gather_perf.log",
        )
    return found.pop()


def _row(line: str, i: int, fail: Fail, layout: tuple[int, int, int] | None) -> Row:
    """One data row; ``layout`` is (preamble, columns per half, trailing) from the header."""
    cols = line.split()
    if layout is None:  # no column header: the 2.10+ layout, with or without -I 1
        layout = (5, 8 if len(cols) == 21 else 4, 0)
    pre, per_half, trailing = layout
    if len(cols) != pre + 2 * per_half + trailing:
        raise fail(
            i,
            f"a data row has {pre + 2 * per_half + trailing} columns, as its header says; "
            f"got {len(cols)}",
        )
    size, count, dtype = cols[0], cols[1], cols[2]
    if not (size.isdigit() and count.isdigit()):
        raise fail(i, "a data row starts with size and count in whole numbers")
    if dtype not in _TYPE_BYTES:
        raise fail(i, f"unknown data type {dtype[:20]!r}")
    out, inp = cols[pre : pre + per_half], cols[pre + per_half : pre + 2 * per_half]
    times: list[float] = []
    for part in (out, inp):
        time, algbw = part[0], part[1]
        if not (_NUMBER.match(time) and _NUMBER.match(algbw) and _NUMBER.match(part[2])):
            raise fail(i, "time, algbw and busbw must be numbers")
        t, a = float(time), float(algbw)
        if t <= 0:
            raise fail(i, f"time must be positive; got {time}")
        # algbw = size / time (GB/s with µs), printed to 2 decimals or fewer: a row that
        # disagrees with itself is corrupt, or another tool's.
        if abs(a - int(size) / (t * 1e3)) > 0.02 * a + 0.02 + int(size) / (t * 1e3) * 0.02:
            raise fail(i, f"algbw {algbw} is not size / time ({size} B / {time} µs)")
        times.append(t)
    return Row(i, int(size), int(count), dtype, times[0], times[1])
