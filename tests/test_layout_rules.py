"""Only valid layouts: every rule of config.layout_rules, checked here by hand, never broken."""

from __future__ import annotations

import pytest
from conftest import ok_json, run
from hypothesis import given, settings
from hypothesis import strategies as st

from moecomm import presets as P
from moecomm.config import derive_data_parallel, stage_layers
from moecomm.errors import MoecommError

MODELS = [n for n in P.names(P.MODELS) if P.load(P.MODELS, n).model.num_layers is not None]
PER_NODE = {"h800": 8, "h100-sxm": 8, "gb200-nvl72": 72, "mi300x": 8}


def _by_hand(model_name: str, row: dict[str, int], per_node: int, redundant: int) -> None:
    """The rules, restated independently of the library: a listed layout breaks none."""
    m = P.load(P.MODELS, model_name).model
    tp, dp, ep, edp, etp, pp = (row[k] for k in ("tp", "dp", "ep", "edp", "etp", "pp"))
    assert ep * etp * edp == tp * dp
    assert (m.num_experts + redundant) % ep == 0
    if m.num_attention_heads:
        assert m.num_attention_heads % tp == 0
        kv = m.num_key_value_heads or m.num_attention_heads
        assert kv % tp == 0 or tp % kv == 0
    assert m.moe_intermediate_size is not None and m.moe_intermediate_size % etp == 0
    layers, moe = m.num_layers, m.num_moe_layers
    assert layers is not None and moe is not None
    if m.intermediate_size and layers > moe:
        assert m.intermediate_size % tp == 0
    if m.num_shared_experts:
        assert (m.shared_expert_intermediate_size or m.moe_intermediate_size) % tp == 0
    # Megatron: an even split, or first/last stages smaller than the ⌈L/pp⌉ of the middle ones.
    most = -(-layers // pp)
    assert layers % pp == 0 or 2 <= layers - (pp - 2) * most <= 2 * most
    for size in (tp, etp):
        assert size <= per_node and per_node % size == 0
    g = max(1, min(ep, per_node // etp))
    assert ep <= g or ep % g == 0


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(MODELS),
    st.sampled_from([1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]),
    st.sampled_from(["train", "prefill", "decode"]),
    st.sampled_from(sorted(PER_NODE)),
)
def test_every_listed_layout_satisfies_every_rule(
    model: str, gpus: int, phase: str, hardware: str
) -> None:
    result = run(
        "plan", "--preset", model, "--gpus", str(gpus), "--phase", phase,
        "--hardware", hardware, "--format", "json",
    )  # fmt: skip
    if result.exit_code != 0:
        assert result.output.startswith("Error: no valid layout of ")
        return
    import json

    for row in json.loads(result.output)["candidates"]:
        _by_hand(model, row, PER_NODE[hardware], 0)


def test_twelve_gpus_never_split_by_three() -> None:
    """The issue's case: etp 3 would cut 2048 unevenly, tp 3 or 6 would cut 128 heads."""
    rows = ok_json("plan", "--preset", "deepseek-v3", "--gpus", "12", "--hardware", "h800")
    assert rows["candidates"]
    assert {r["tp"] for r in rows["candidates"]} <= {1, 2, 4}
    assert {r["etp"] for r in rows["candidates"]} <= {1, 2, 4}


def test_qwen3_pipeline_stages_split_94_layers() -> None:
    """pp 64 leaves stages empty; pp 32 splits 2 + 30·3 + 2 (Megatron's first/last-stage flags)."""
    rows = ok_json(
        "plan", "--preset", "qwen3-235b-a22b", "--gpus", "64", "--hardware", "h100-sxm",
        "--phase", "train",
    )["candidates"]  # fmt: skip
    assert 64 not in {r["pp"] for r in rows}
    assert stage_layers(94, 32) == (2, 3, 2)
    assert stage_layers(94, 2) == (47, 47, 47)
    assert stage_layers(61, 16) == (2, 4, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--tp", "2", "--dp", "4", "--ep", "64", "--edp", "1"],
            "Error: --ep·--etp·--edp must equal --tp·--dp (the same ranks); "
            "got 64·1·1 = 64 against 2·4 = 8\n",
        ),
        (["--tp", "3"], "Error: --tp must divide the attention heads (128); got 3\n"),
        (
            ["--etp", "3", "--ep", "8"],
            "Error: --etp must divide the expert FFN width (2048); got 3\n",
        ),
        (
            ["--pp", "32"],
            "Error: --pp must split the 61 layers evenly, or over smaller first and last "
            "stages; got 32\n",
        ),
        (
            ["--tp", "1", "--ep", "3"],
            "Error: --ep must divide the number of routed experts (256); got 3\n",
        ),
        (
            ["--tp", "4", "--ep", "6"],
            "Error: --dp and --edp cannot be derived: tp·cp = 4 and ep·etp = 6 do not divide "
            "one another; give --dp or --edp\n",
        ),
    ],
)
def test_step_refuses_an_inconsistent_layout(args: list[str], message: str) -> None:
    result = run("step", "--preset", "deepseek-v3", "--hardware", "h800", *args)
    assert result.exit_code == 2
    assert result.output == message


def test_step_states_derived_sizes_and_never_changes_given_ones() -> None:
    """--ep 8 alone: dp = 8 and edp = 1 are derived and said so; the gradients reduce over dp 8."""
    out = ok_json(
        "step", "--preset", "deepseek-v3", "--hardware", "h800", "--phase", "train", "--ep", "8"
    )
    assert out["layout"] == {
        "tp": 1, "cp": 1, "pp": 1, "ep": 8, "etp": 1, "dp": 8, "edp": 1,
        "derived": ["dp", "edp"], "sequence_parallel": False,
    }  # fmt: skip
    assert out["grad_seconds_per_step"] > 0


def test_derive_data_parallel() -> None:
    assert derive_data_parallel(4, 32, 1, None, None) == (8, 1, ("dp", "edp"))
    assert derive_data_parallel(1, 64, 1, 128, None) == (128, 2, ("edp",))
    assert derive_data_parallel(2, 8, 1, None, 4) == (16, 4, ("dp",))
    with pytest.raises(MoecommError, match="edp cannot be derived"):
        derive_data_parallel(1, 64, 1, 8, None)
