"""Routing formulas: exact values, generated evaluators, and Monte Carlo checks of expectations."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy as sp

from moecomm import formulas as F
from moecomm.formulas import codegen
from moecomm.formulas.symbols import BY_NAME

ROUTING = [n for n in F.names() if F.get(n).build.__module__ == "moecomm.formulas.routing"]


def test_generated_file_is_current() -> None:
    assert codegen.TARGET.read_text(encoding="utf-8") == codegen.generate()


def test_expected_distinct_ranks_brief_value() -> None:
    v = F.value("expected_distinct_units", {"E": 256, "k": 8, "U": 8})
    assert v == Fraction(362471040053, 68459842125)
    assert round(float(v), 3) == 5.295
    other = F.value("expected_distinct_other_units", {"E": 256, "k": 8, "U": 8})
    assert other == v * Fraction(7, 8)


def test_wire_bytes_deepep() -> None:
    assert F.value("fp8_token_bytes", {"h": 7168, "N_sb": 128}) == 7392
    assert F.value("lowlatency_dispatch_message_bytes", {"h": 7168, "N_sb": 128, "hdr": 16}) == 7408
    assert F.value("token_bytes", {"h": 7168, "beta": 2}) == 14336


def test_copies_sent_is_seed_formula_when_wire() -> None:
    v = {"b": 3, "s": 5, "k": 8, "ep": 12, "h": 1, "beta_d": 1}
    assert F.value("copies_sent", {**v, "lam": 0}) == F.value("ep_tokens_sent", v)
    assert F.value("copies_sent", {**v, "lam": 1}) == 3 * 5 * 8


def test_capacity_megatron() -> None:
    # ceil(4096·8·1.25/256) = 160; padded rows to other ranks C·(E − E/ep).
    cap = F.value("expert_capacity", {"b": 4096, "s": 1, "k": 8, "f_cap": Fraction(5, 4), "E": 256})
    assert cap == 160
    rows = F.value("padded_copies_sent", {"C": 160, "E": 256, "ep": 64, "lam": 0})
    assert rows == 160 * (256 - 4)
    assert F.value("expert_capacity", {"b": 3, "s": 1, "k": 1, "f_cap": 1, "E": 2}) == 2


@pytest.mark.parametrize("name", ROUTING)
def test_generated_evaluator_matches_sympy(name: str) -> None:
    f = F.get(name)
    rng = random.Random(name)
    # A consistent point: E = 64 experts, ep 8 on 2 nodes of 4, 8 groups (4 reachable).
    point: dict[str, Fraction] = {
        "E": Fraction(64),
        "k": Fraction(6),
        "U": Fraction(8),
        "n_g": Fraction(8),
        "k_g": Fraction(4),
        "b": Fraction(rng.randint(1, 9)),
        "s": Fraction(rng.randint(1, 9)),
        "ep": Fraction(8),
        "G": Fraction(4),
        "lam": Fraction(rng.randint(0, 1)),
        "h": Fraction(7168),
        "beta": Fraction(2),
        "N_sb": Fraction(128),
        "w": Fraction(7392),
        "hdr": Fraction(16),
        "f_cap": Fraction(5, 4),
        "u": Fraction(3, 2),
        "X_imb": Fraction(3),
        "C": Fraction(7),
        "p": Fraction(1, 3),
    }
    if name == "unit_hit_probability_multigroup" or name == "expected_distinct_units_multigroup":
        point["U"] = Fraction(2)
    exact = F.evaluate(f.expr, {BY_NAME[str(s)]: point[str(s)] for s in f.symbols})
    assert F.value(name, point) == exact


def _choose(rng: random.Random, pool: list[int], k: int) -> list[int]:
    return rng.sample(pool, k)


def _grouped_token(rng: random.Random, e: int, k: int, ng: int, kg: int) -> list[int]:
    size = e // ng
    chosen = rng.sample(range(ng), kg)
    pool = [g * size + i for g in chosen for i in range(size)]
    return rng.sample(pool, k)


def _mc_distinct(tokens: list[list[int]], per_unit: int) -> float:
    return sum(len({x // per_unit for x in t}) for t in tokens) / len(tokens)


TRIALS = 20000


def _close(sample: float, exact: Fraction, spread: float) -> None:
    # Distinct counts lie in [0, R]: 4 standard errors with the worst-case spread.
    assert abs(sample - float(exact)) < 4 * spread / TRIALS**0.5


def test_monte_carlo_uniform_distinct() -> None:
    rng = random.Random(1)
    e, k, r = 32, 4, 8
    tokens = [_choose(rng, list(range(e)), k) for _ in range(TRIALS)]
    _close(
        _mc_distinct(tokens, e // r),
        F.value("expected_distinct_units", {"E": e, "k": k, "U": r}),
        r,
    )


def test_monte_carlo_grouped_nested() -> None:
    rng = random.Random(2)
    e, k, ng, kg, r = 32, 4, 4, 2, 8
    tokens = [_grouped_token(rng, e, k, ng, kg) for _ in range(TRIALS)]
    v = {"E": e, "k": k, "U": r, "n_g": ng, "k_g": kg}
    _close(_mc_distinct(tokens, e // r), F.value("expected_distinct_units_grouped", v), r)


def test_monte_carlo_grouped_multigroup() -> None:
    rng = random.Random(3)
    e, k, ng, kg, r = 32, 3, 8, 3, 2
    tokens = [_grouped_token(rng, e, k, ng, kg) for _ in range(TRIALS)]
    v = {"E": e, "k": k, "U": r, "n_g": ng, "k_g": kg}
    _close(_mc_distinct(tokens, e // r), F.value("expected_distinct_units_multigroup", v), r)


def test_grouped_reduces_to_uniform() -> None:
    for e, k, r in ((256, 8, 8), (64, 6, 16), (8, 2, 4)):
        v = {"E": e, "k": k, "U": r, "n_g": 1, "k_g": 1}
        assert F.value("expected_distinct_units_grouped", v) == F.value(
            "expected_distinct_units", v
        )


def test_node_limit_caps_nodes() -> None:
    # DeepSeek-V3: 8 groups, 4 per token, one group per node on 8 nodes: at most 4 nodes.
    v = {"E": 256, "k": 8, "U": 8, "n_g": 8, "k_g": 4}
    grouped = F.value("expected_distinct_units_grouped", v)
    assert grouped < 4 < F.value("expected_distinct_units", v)
    assert sp.Rational(grouped.numerator, grouped.denominator) == 4 * (
        1 - sp.binomial(128 - 32, 8) / sp.binomial(128, 8)
    )
