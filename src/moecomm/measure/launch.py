"""Where this process runs: torchrun's environment and whether torch is installed. No torch import.

torchrun (torch.distributed.run) starts one process per rank and gives each RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT. Without them there is no process
group to join, so the command stops at once instead of waiting for a rendezvous.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass

from moecomm.errors import MoecommError
from moecomm.traffic.matrices import MAX_MATRIX_RANKS

EXTRA = 'pip install "moecomm[measure]"'
"""How to install the optional extra that brings torch."""

REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""The variables torchrun sets and ``init_process_group("env://")`` reads."""

MAX_WORLD = MAX_MATRIX_RANKS
"""Largest world: the EP group is the world, and its ranks × ranks traffic matrix is built."""

USAGE = "torchrun --nproc_per_node=N -m moecomm measure ..."


@dataclass(frozen=True)
class Launch:
    """This process's place in the torchrun world."""

    rank: int
    world: int
    local_rank: int
    local_world: int


def require_torch() -> None:
    """torch is installed (found, not imported: importing it takes a second or more)."""
    if importlib.util.find_spec("torch") is None:
        raise MoecommError(f"moecomm measure needs torch, the optional extra 'measure': {EXTRA}")


def _int(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    text = env.get(name, "")
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else -1
    if not low <= value <= high:
        raise MoecommError(
            f"torchrun's {name} must be an integer in {low}..{high}; got {text[:40]!r}"
        )
    return value


def launch(env: Mapping[str, str] | None = None) -> Launch:
    """This process's rank and world from torchrun's variables, checked before any rendezvous."""
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise MoecommError(
            f"moecomm measure must run under torchrun, one process per rank ({USAGE}); "
            f"{', '.join(missing)} not set"
        )
    world = _int(env, "WORLD_SIZE", 1, 2**20)
    if not 2 <= world <= MAX_WORLD:
        raise MoecommError(
            f"moecomm measure needs 2..{MAX_WORLD} ranks (torchrun --nproc_per_node, --nnodes); "
            f"got WORLD_SIZE {world}"
        )
    rank = _int(env, "RANK", 0, world - 1)
    local_world = _int(env, "LOCAL_WORLD_SIZE", 1, world) if "LOCAL_WORLD_SIZE" in env else world
    local_rank = _int(env, "LOCAL_RANK", 0, local_world - 1) if "LOCAL_RANK" in env else 0
    return Launch(rank, world, local_rank, local_world)
