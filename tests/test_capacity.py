"""Expert capacity as Megatron-Core computes it (IEEE doubles) and applies it (only when C ≤ T).

Megatron-Core, megatron/core/transformer/moe/moe_utils.py:
- get_capacity: ``math.ceil((num_tokens / num_experts) * capacity_factor)``, called with
  num_tokens = tokens · topk;
- apply_router_token_dropping: ``if expert_capacity > num_tokens:`` the capacity mask is all ones
  (nothing dropped; with padding, every token is kept for every expert).
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from moecomm import formulas as F
from moecomm.cli import cli
from moecomm.config import RoutingConfig
from moecomm.dtypes import DType
from moecomm.errors import MoecommError
from moecomm.traffic.expected import Capacity, capacity
from moecomm.traffic.from_data import Data, data_traffic
from moecomm.wire import make_wire

WIRE = make_wire(8, DType.BF16, DType.BF16, None, 0)  # 16 B a copy


def ok_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_megatron_rounds_in_doubles() -> None:
    """3200·8/256 = 100 and 100·1.1 = 110.00000000000001 in doubles: Megatron gets 111 slots."""
    assert (3200 * 8 / 256) * 1.1 == 110.00000000000001
    v = {"b": 3200, "s": 1, "k": 8, "f_cap": Fraction(11, 10), "E": 256}
    assert F.value("expert_capacity_exact", v) == 110
    assert F.value("expert_capacity", v) == 110  # the exact ceiling, kept as the rational rule
    assert capacity(3200, 8, 256, Fraction(11, 10)) == Capacity(slots=111, exact=110, tokens=3200)


def test_megatron_rounding_can_also_land_below_the_exact_ceiling() -> None:
    """Megatron reads the factor as a double: 3.0000000000000001 is 3.0, so ceil((1/3)·3) = 1."""
    factor = Fraction("3.0000000000000001")
    cap = capacity(1, 1, 3, factor)
    assert cap == Capacity(slots=1, exact=factor / 3, tokens=1)
    assert F.value("expert_capacity", {"b": 1, "s": 1, "k": 1, "f_cap": factor, "E": 3}) == 2


def test_closed_form_capacity_matches_megatron_to_the_slot() -> None:
    out = ok_json(
        "ep", "--preset", "deepseek-v3", "--tokens", "3200", "--ep", "64",
        "--capacity-factor", "1.1", "--pad",
    )  # fmt: skip
    assert out["expert_capacity"] == 111
    assert out["dispatch_copies_per_rank"] == 111 * (256 - 4) == 27972
    assert out["dispatch_bytes_per_rank"] == 27972 * 14336 == 401006592
    assert out["dropped_copies_per_rank"] == 0
    assert out["scenario"] == (
        "balanced routing (exact expectation); capacity C = 111 per expert and source rank, as"
        " Megatron-Core rounds it: ceil((T·k/E)·F) in doubles (T·k·F/E = 110 exactly)"
    )


def _alternating(tokens: int, ranks: int) -> list[list[list[int]]]:
    """16 experts on 2 ranks: even tokens pick experts 0-7, odd ones 8-15 (100 copies each)."""
    return [[list(range(8 * (t % 2), 8 * (t % 2) + 8)) for t in range(tokens)]] * ranks


def test_data_capacity_matches_megatron_to_the_slot() -> None:
    ids = _alternating(200, 2)
    rc = RoutingConfig(capacity_factor=Fraction(11, 10), pad=True)
    r = data_traffic(
        Data(topk_ids=ids), ep=2, num_experts=16, wire=WIRE, rc=rc, scenario="ids", top_k=8
    )
    assert r.expert_capacity == 111
    assert r.matrix_bytes == [[0, 8 * 111 * 16], [8 * 111 * 16, 0]]
    assert r.dropped_copies_per_rank == 0
    assert r.scenario == (
        "ids; capacity C = 111 per expert and source rank, as Megatron-Core rounds it:"
        " ceil((T·k/E)·F) in doubles (T·k·F/E = 110 exactly)"
    )


@pytest.mark.parametrize(("pad", "copies"), [(True, 1024 * 7), (False, 1024 * 2 * 7 // 8)])
def test_capacity_above_the_tokens_drops_nothing(pad: bool, copies: int) -> None:
    """Mixtral, 1024 tokens, factor 5: C = 1280 > T = 1024, so Megatron-Core drops nothing.

    Padded, each expert gets all 1024 tokens of each source rank (7 other ranks, one expert
    each): 7168 copies, not 1280·7 = 8960. Unpadded, the dropless 1024·2·7/8 = 1792.
    """
    args = ["ep", "--preset", "mixtral-8x7b", "--tokens", "1024", "--ep", "8"]
    out = ok_json(*args, "--capacity-factor", "5", *(["--pad"] if pad else []))
    assert out["expert_capacity"] == 1280
    assert out["dispatch_copies_per_rank"] == copies
    assert out["dropped_copies_per_rank"] == 0
    tail = "; padding fills each expert with all T tokens" if pad else ""
    assert out["scenario"] == (
        "balanced routing (exact expectation); capacity C = 1280 per expert and source rank, as"
        " Megatron-Core rounds it: ceil((T·k/E)·F) in doubles (T·k·F/E = 1280 exactly);"
        " C > T = 1024 tokens on the rank, so nothing is dropped (Megatron-Core drops only when"
        f" C ≤ T){tail}"
    )


@pytest.mark.parametrize(("pad", "sent"), [(True, 2 * 4), (False, 0)])
def test_data_capacity_above_the_tokens_drops_nothing(pad: bool, sent: int) -> None:
    """4 tokens per rank all pick experts 0 and 1 of 4: C = ceil((8/4)·5) = 10 > T = 4.

    Padded, experts 2 and 3 (on rank 1) get the 4 tokens of rank 0 each, 8 rows, not 20.
    """
    ids = [[[0, 1]] * 4] * 2
    rc = RoutingConfig(capacity_factor=Fraction(5), pad=pad)
    r = data_traffic(
        Data(topk_ids=ids), ep=2, num_experts=4, wire=WIRE, rc=rc, scenario="ids", top_k=2
    )
    assert r.expert_capacity == 10
    assert r.matrix_bytes[0][1] == sent * 16
    assert r.dropped_copies_per_rank == 0
    assert "C > T = 4 tokens on the rank, so nothing is dropped" in r.scenario


def test_padding_above_the_tokens_needs_whole_tokens() -> None:
    counts = [[3, 0, 0, 0], [2, 2, 0, 0]]  # rank 0: 3 selections of top-2 is 3/2 tokens
    rc = RoutingConfig(capacity_factor=Fraction(5), pad=True)
    with pytest.raises(MoecommError) as info:
        data_traffic(
            Data(counts=counts), ep=2, num_experts=4, wire=WIRE, rc=rc, scenario="c", top_k=2
        )
    assert str(info.value) == (
        "--pad with a capacity above the tokens pads each expert to the rank's tokens, which must"
        " be whole: rank 0's expert counts sum to 3, not a multiple of the top-k (2)"
    )
