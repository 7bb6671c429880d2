"""The vectorised plan: numpy arrays against exact evaluation, and against the scalar loop."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import sympy as sp
from conftest import ok
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import formulas as F
from moecomm import presets as P
from moecomm import resolve, vector
from moecomm.config import MemoryOptions, MoEModel, Phase
from moecomm.elementwise import SCALAR
from moecomm.errors import MoecommError
from moecomm.memory import ITEMS, memory
from moecomm.plan import layouts, plan
from moecomm.step import StepLayout, exact, step_times

plan_module = sys.modules["moecomm.plan"]

V3 = P.load(P.MODELS, "deepseek-v3").model
H800 = resolve.hardware("h800")
PHASES: tuple[Phase, ...] = ("train", "prefill", "decode")
FP8_DISPATCH = StepLayout(dispatch_bytes_per_element=Fraction(33, 32))  # 1 B + 4 B per 128


def _memory(
    model: MoEModel,
    phase: Phase,
    tokens: Any,
    sizes: Any,
    redundant: int,
    opts: MemoryOptions,
    device_bytes: int = H800.memory_bytes,
) -> Any:
    """Every memory item, exact: over arrays when ``sizes`` are arrays, else for one layout."""
    arrays = not isinstance(sizes[0], int)
    return memory(
        model,
        phase,
        tokens,
        sizes,
        opts,
        redundant=redundant,
        device_bytes=device_bytes,
        ev=vector.evaluate_exact if arrays else exact,
        ops=vector.NUMPY if arrays else SCALAR,
    )


def _within(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * abs(b)


def _check_against_exact(
    model: MoEModel,
    gpus: int,
    phase: Phase,
    base: StepLayout,
    tokens: int,
    found: list[tuple[int, int, int, int, int, int, int]],
) -> None:
    """Every layout's vectorised parts within 1e-9 of step_times (exact); memory equal exactly."""
    kw: dict[str, Any] = {"compute_efficiency": 0.5, "peak_flops": H800.bf16_flops}
    c = vector.step_components(model, phase, tokens, vector.sizes(found), base, H800, **kw)
    n = len(found)
    cols = {
        name: vector.column(getattr(c, name), n)
        for name in ("dispatch", "combine", "tp_attn", "ep_step", "tp_step", "grad")
    } | {"pp_step": vector.column(c.pp_step, n), "comm": vector.column(c.comm_step, n)}
    opts = MemoryOptions()
    mem = _memory(model, phase, tokens, tuple(vector.sizes(found)), base.redundant_experts, opts)
    for i, (tp, dp, ep, edp, etp, pp, _) in enumerate(found):
        lay = StepLayout(
            tp=tp,
            dp=dp,
            ep=ep,
            edp=edp,
            etp=etp,
            pp=pp,
            sequence_parallel=base.sequence_parallel,
            dispatch_bytes_per_element=base.dispatch_bytes_per_element,
            redundant_experts=base.redundant_experts,
            shared_as_routed=base.shared_as_routed,
        )
        e = step_times(model, phase, tokens, lay, H800, ev=exact, **kw)
        expected = {
            "dispatch": e.dispatch_seconds_per_layer,
            "combine": e.combine_seconds_per_layer,
            "tp_attn": e.tp_attention_seconds_per_layer,
            "ep_step": e.ep_seconds_per_step,
            "tp_step": e.tp_seconds_per_step,
            "grad": e.grad_seconds_per_step,
            "pp_step": e.pp_seconds_per_step,
            "comm": e.comm_seconds_per_step,
        }
        for name, want in expected.items():
            assert _within(cols[name][i], want), (name, found[i], cols[name][i], want)
        one = _memory(model, phase, tokens, found[i], base.redundant_experts, opts)
        for item in ITEMS:
            got, want = (
                np.broadcast_to(np.asarray(mem.items[item], dtype=object), (n,))[i],
                one.items[item],
            )
            assert got == want and type(got) is type(want), (item, found[i])
        assert np.asarray(mem.total, dtype=object)[i] == one.total
        assert int(np.broadcast_to(np.asarray(mem.recompute), (n,))[i]) == one.recompute


@pytest.mark.parametrize("phase", PHASES)
def test_deepseek_64_gpus_every_layout_equals_exact(phase: Phase) -> None:
    found = list(layouts(64, V3, 8, allow_tp_across_nodes=True))
    assert len(found) > 300
    _check_against_exact(V3, 64, phase, FP8_DISPATCH, 4096, found)


@pytest.mark.parametrize("phase", PHASES)
def test_deepseek_1024_gpus_equals_exact(phase: Phase) -> None:
    found = list(layouts(1024, V3, 8, redundant=32))[::4]
    assert len(found) > 100
    base = StepLayout(
        dispatch_bytes_per_element=Fraction(33, 32), redundant_experts=32, sequence_parallel=True
    )
    _check_against_exact(V3, 1024, phase, base, 128 if phase == "decode" else 4096, found)


def test_decode_shared_as_routed_equals_exact() -> None:
    found = list(layouts(64, V3, 8, max_pp=1))
    base = StepLayout(dispatch_bytes_per_element=Fraction(33, 32), shared_as_routed=True)
    _check_against_exact(V3, 64, "decode", base, 32, found)


def test_memory_is_exact_ints_or_fractions() -> None:
    """Dense weights over tp = 7, 11 or 13 need not be integral; the arrays keep Fractions."""
    found = [(7, 1, 1, 7, 1, 1), (11, 1, 1, 11, 1, 1), (13, 1, 1, 13, 1, 1), (1, 1, 1, 1, 1, 1)]
    opts = MemoryOptions()
    got = list(_memory(V3, "prefill", 4096, tuple(vector.sizes(found)), 0, opts).total)
    want = [_memory(V3, "prefill", 4096, lay, 0, opts).total for lay in found]
    assert got == want
    assert isinstance(got[3], int) and any(isinstance(m, Fraction) for m in got[:3])


_CASES: list[tuple[int, Phase, dict[str, Any]]] = [
    (64, "prefill", {"tokens_per_gpu": 4096}),
    (64, "train", {"tokens_per_gpu": 4096}),
    (1024, "train", {"tokens_per_gpu": 4096}),
    (1024, "decode", {"tokens_per_gpu": 128, "max_pp": 1}),
    (64, "decode", {"tokens_per_gpu": 32, "allow_tp_across_nodes": True}),
    (256, "train", {"global_batch": 3000, "rank_by": "step"}),
]


@pytest.mark.parametrize(("gpus", "phase", "kw"), _CASES)
def test_vectorised_plan_equals_the_scalar_loop(
    gpus: int, phase: Phase, kw: dict[str, Any]
) -> None:
    """Same floats, same exact memory, same order, same reasons (Candidate equality)."""
    common: dict[str, Any] = {
        "base": FP8_DISPATCH,
        "compute_efficiency": 0.5,
        "peak_flops": H800.bf16_flops,
        "memory_inputs": MemoryOptions(),
    }
    scalar = plan(V3, gpus, H800, phase, vectorised=False, **common, **kw)
    vectorised = plan(V3, gpus, H800, phase, vectorised=True, **common, **kw)
    assert len(scalar) > 10
    assert vectorised == scalar
    reasons = {c.reason.split(" (")[0] for c in scalar}
    assert ("best" in reasons) is scalar[0].fits and len(reasons) > 2


def _refuse(*_: Any, **__: Any) -> Any:
    raise AssertionError("the wrong evaluation path was taken")


def test_without_numpy_plan_falls_back_to_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same JSON from the vectorised path (numpy installed) and the loop (numpy missing)."""
    args = ("plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--phase")
    assert plan_module.numpy_available()
    with monkeypatch.context() as m:
        m.setattr(plan_module, "evaluate_scalar", _refuse)
        with_numpy = {p: json.loads(ok(*args, p, "--format", "json")) for p in PHASES}
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    monkeypatch.setattr(plan_module, "evaluate_vector", _refuse)
    assert not plan_module.numpy_available()
    for p in PHASES:
        assert json.loads(ok(*args, p, "--format", "json")) == with_numpy[p]


def test_ordinary_commands_do_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from moecomm.cli import cli\n"
        "for args in (['ep', '--preset', 'deepseek-v3', '--tokens', '8', '--ep', '8'],\n"
        "             ['ep', '--preset', 'deepseek-v3', '--tokens', '8', '--ep', '8',\n"
        "              '--hardware', 'h800'],\n"
        "             ['tp', '--hidden', '8', '--tokens', '8', '--tp', '2'],\n"
        "             ['compare', '--preset', 'deepseek-v3'], ['groups', '--world', '8'],\n"
        "             ['step', '--deployment', 'deepseek-v3-decode', '--tokens', '32']):\n"
        "    cli.main(args, standalone_mode=False)\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def _arrays_ok(name: str) -> bool:
    return not F.get(name).expr.has(sp.Sum, sp.binomial)


def test_no_array_evaluator_for_sums_and_binomials() -> None:
    with pytest.raises(MoecommError) as err:
        F.vector("expected_distinct_units")
    assert str(err.value) == (
        "formula 'expected_distinct_units' has a sum or a binomial: no array evaluator"
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([n for n in F.names() if _arrays_ok(n)]), st.data())
def test_vector_evaluator_equals_exact_elementwise(name: str, data: st.DataObject) -> None:
    """formulas.vector over arrays: each element within 1e-9 of the exact value.

    Every formula but those with a sum or a binomial (routing), so all that plan uses.
    """
    symbols = [str(s) for s in F.get(name).symbols]
    columns = {
        s: data.draw(st.lists(st.integers(2, 10**6), min_size=4, max_size=4), label=s)
        for s in symbols
    }
    got = F.vector(name)(**{s: np.array(v) for s, v in columns.items()})
    for i in range(4):
        want = float(F.value(name, {s: v[i] for s, v in columns.items()}))
        assert float(np.broadcast_to(got, (4,))[i]) == pytest.approx(want, rel=1e-9, abs=1e-300)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(
        [
            "weight_bytes",
            "optimizer_bytes",
            "activation_bytes",
            "mla_kv_cache_bytes",
            "stage_dense_params",
            "usable_memory_bytes",
        ]
    ),
    st.data(),
)
def test_rational_vector_equals_exact(name: str, data: st.DataObject) -> None:
    symbols = [str(s) for s in F.get(name).symbols]
    columns = {
        s: data.draw(st.lists(st.integers(1, 10**7), min_size=3, max_size=3), label=s)
        for s in symbols
    }
    got = F.rational_vector(name, {s: np.array(v) for s, v in columns.items()})
    want = [F.value(name, {s: v[i] for s, v in columns.items()}) for i in range(3)]
    assert list(got) == want


@st.composite
def models(draw: st.DrawFn) -> MoEModel:
    experts = draw(st.sampled_from([8, 16, 60, 64, 128, 160, 256]))
    heads = draw(st.sampled_from([8, 16, 32, 64]))
    layers = draw(st.integers(2, 64))
    return MoEModel(
        hidden_size=heads * draw(st.sampled_from([64, 128])),
        num_experts=experts,
        top_k=draw(st.integers(1, min(8, experts))),
        num_layers=layers,
        first_moe_layer=draw(st.integers(0, min(3, layers - 1))),
        num_shared_experts=draw(st.integers(0, 2)),
        moe_intermediate_size=draw(st.sampled_from([512, 1408, 2048])),
        intermediate_size=draw(st.sampled_from([4096, 11008, 18432])),
        vocab_size=draw(st.sampled_from([32000, 129280, 151936])),
        num_attention_heads=heads,
        num_key_value_heads=draw(st.sampled_from([heads, 8])),
    )


def test_context_parallel_layouts_vectorised_equal_scalar() -> None:
    """cp > 1 with a micro-batch: b·seq/(tp·cp) tokens per GPU, the same rows either way, and
    memory as one layout's exact memory at those tokens."""
    from moecomm.plan import MicroBatch

    hw = resolve.hardware("h100-sxm")
    model = P.load(P.MODELS, "qwen3-30b-a3b").model
    kw: dict[str, Any] = {
        "base": StepLayout(sequence_parallel=True),
        "compute_efficiency": 0.6,
        "peak_flops": hw.bf16_flops,
        "memory_inputs": MemoryOptions(seq=8192),
        "micro_batch": MicroBatch(1, 8192, 1 << 20),
    }
    scalar = plan(model, 32, hw, "train", vectorised=False, **kw)
    vectorised = plan(model, 32, hw, "train", vectorised=True, **kw)
    assert vectorised == scalar
    assert {c.cp for c in scalar} == {1, 2, 4, 8, 16, 32}
    for c in scalar:
        assert c.tp * c.cp * c.dp * c.pp == 32 == c.ep * c.etp * c.edp * c.pp
        lay = (c.tp, c.dp, c.ep, c.edp, c.etp, c.pp, c.cp)
        tokens = Fraction(8192, c.tp * c.cp)
        one = _memory(model, "train", tokens, lay, 0, kw["memory_inputs"], hw.memory_bytes)
        assert c.memory_bytes_per_gpu == one.total


def test_step_parts_add_up_with_context_parallel() -> None:
    """Seconds per token of each part of the step, the CP exchange among them, add up to
    1/(tokens/s) for every layout; some layouts here leave part of the exchange exposed."""
    from moecomm.config import ScheduleOptions
    from moecomm.plan import MicroBatch, evaluate_vector

    hw = resolve.hardware("h100-sxm")
    model = P.load(P.MODELS, "qwen3-30b-a3b").model
    mb = MicroBatch(1, 32768, None)
    found = layouts(64, model, 8, allow_tp_across_nodes=True, cps=mb.context_parallel("train"))
    ev = evaluate_vector(
        model, 64, hw, "train", found, None, None, StepLayout(sequence_parallel=True),
        compute_efficiency=0.6, peak_flops=hw.bf16_flops,
        memory_inputs=MemoryOptions(seq=32768), schedule=ScheduleOptions(), micro_batch=mb,
    )  # fmt: skip
    costs = plan_module.COSTS
    for i, rate in enumerate(ev.tokens_per_second):
        assert sum(ev.costs[name][i] for name in costs) == pytest.approx(1 / rate, rel=1e-9)
    assert max(ev.costs["cp"]) > 0 and min(ev.costs["cp"]) == 0


def test_optimizer_state_shards_over_dp_and_cp() -> None:
    """Megatron-Core's distributed optimizer shards the dense state over the data-parallel group
    with context parallelism: tp 4, cp 2, dp 1 holds what tp 4, dp 2 holds; the experts' state
    stays over edp, and the weights do not change."""
    model = P.load(P.MODELS, "qwen3-235b-a22b").model
    opts = MemoryOptions()
    with_cp = _memory(model, "train", 512, (4, 1, 8, 2, 1, 16, 2), 0, opts)
    with_dp = _memory(model, "train", 512, (4, 2, 8, 2, 1, 16), 0, opts)
    without = _memory(model, "train", 512, (4, 1, 8, 2, 1, 16), 0, opts)
    assert with_cp.items["optimizer"] == with_dp.items["optimizer"]
    assert with_cp.items["weights"] == without.items["weights"]
    dense = without.items["optimizer"] - with_cp.items["optimizer"]  # 12·W/1 − 12·W/2
    assert dense > 0 and without.items["optimizer"] - 2 * dense > 0  # the experts' part remains


@settings(max_examples=25, deadline=None)
@given(
    models(),
    st.sampled_from([1, 2, 6, 8, 12, 16, 24, 32, 48, 64]),
    st.sampled_from(PHASES),
    st.sampled_from(["h800", "h100-sxm", "gb200-nvl72"]),
    st.integers(1, 8192),
    st.booleans(),
    st.sampled_from([0, 2, 4]),
)
def test_random_models_vectorised_equals_scalar(
    model: MoEModel,
    gpus: int,
    phase: Phase,
    hardware: str,
    tokens: int,
    sp: bool,
    redundant: int,
) -> None:
    hw = resolve.hardware(hardware)
    kw: dict[str, Any] = {
        "tokens_per_gpu": tokens,
        "base": StepLayout(sequence_parallel=sp, redundant_experts=redundant),
        "compute_efficiency": 0.6,
        "peak_flops": hw.bf16_flops,
        "memory_inputs": MemoryOptions(),
        "max_pp": None if phase == "train" else 2,
    }
    scalar = plan(model, gpus, hw, phase, vectorised=False, **kw)
    vectorised = plan(model, gpus, hw, phase, vectorised=True, **kw)
    assert vectorised == scalar
    for c in vectorised:
        lay = (c.tp, c.dp, c.ep, c.edp, c.etp, c.pp)
        one = _memory(model, phase, tokens, lay, redundant, MemoryOptions(), hw.memory_bytes)
        assert c.memory_bytes_per_gpu == one.total
