"""The Python API: each job returns the Report the CLI renders, to the byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import moecomm
from moecomm.cli import cli
from moecomm.cli.flags import FLAGS
from moecomm.errors import MoecommError


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], prog_name="moecomm")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flags(kwargs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in kwargs.items():
        if value is None:
            continue
        flag = FLAGS[key]
        out += [flag] if value is True else [flag, str(value)]
    return out


EP_DIVISORS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.integers(1, 10**6),
    ep=st.sampled_from(EP_DIVISORS),
    dispatch=st.sampled_from(["bf16", "fp8", "fp16"]),
    block=st.sampled_from([None, 128, 64]),
    header=st.sampled_from([None, 0, 16]),
    hardware=st.sampled_from([None, "h800", "h100-sxm"]),
    routed=st.sampled_from([None, "rank", "copies"]),
)
def test_ep_api_reproduces_the_cli_json(
    tokens: int,
    ep: int,
    dispatch: str,
    block: int | None,
    header: int | None,
    hardware: str | None,
    routed: str | None,
) -> None:
    if block is not None and dispatch != "fp8":
        block = None
    if routed is not None and ep > 64:
        ep = 64
    kw: dict[str, Any] = {
        "preset": "deepseek-v3",
        "tokens": tokens,
        "ep": ep,
        "dispatch_dtype": dispatch,
        "scale_block": block,
        "header_bytes": header,
        "hardware": hardware,
        "dedup": routed,
    }
    report = moecomm.ep(**{k: v for k, v in kw.items() if v is not None})
    assert json.loads(report.to_json()) == cli_json("ep", *flags(kw))


@settings(max_examples=25, deadline=None)
@given(
    tokens=st.integers(1, 10**5),
    tp=st.sampled_from([1, 2, 4, 8, 16]),
    hardware=st.sampled_from([None, "h800"]),
    sizes=st.lists(st.sampled_from([1, 2, 3, 4, 8, 16, 24, 64, 512]), min_size=1, max_size=6),
)
def test_tp_and_compare_api_reproduce_the_cli_json(
    tokens: int, tp: int, hardware: str | None, sizes: list[int]
) -> None:
    kw: dict[str, Any] = {"hidden_size": 7168, "tokens": tokens, "tp": tp, "hardware": hardware}
    report = moecomm.tp(**{k: v for k, v in kw.items() if v is not None})
    assert json.loads(report.to_json()) == cli_json("tp", *flags(kw))
    if hardware is not None:  # groups fill whole nodes of 8 GPUs
        sizes = [m for m in sizes if m <= 8 or m % 8 == 0] or [8]
    text = ",".join(map(str, sizes))
    kw = {"preset": "deepseek-v3", "tokens": tokens, "sizes": text, "hardware": hardware}
    report = moecomm.compare(**{k: v for k, v in kw.items() if v is not None})
    assert json.loads(report.to_json()) == cli_json("compare", *flags(kw))


@settings(max_examples=20, deadline=None)
@given(
    phase=st.sampled_from(["train", "prefill", "decode"]),
    tokens=st.integers(1, 8192),
    ep=st.sampled_from([1, 8, 16, 32, 64]),
    tp=st.sampled_from([1, 2, 4]),
    dispatch=st.sampled_from(["bf16", "fp8"]),
)
def test_step_api_reproduces_the_cli_json(
    phase: str, tokens: int, ep: int, tp: int, dispatch: str
) -> None:
    kw: dict[str, Any] = {
        "preset": "deepseek-v3",
        "hardware": "h800",
        "phase": phase,
        "tokens": tokens,
        "ep": ep,
        "tp": tp,
        "dispatch_dtype": dispatch,
    }
    assert json.loads(moecomm.step(**kw).to_json()) == cli_json("step", *flags(kw))


def test_groups_collective_traffic_and_plan_reproduce_the_cli_json() -> None:
    kw: dict[str, Any] = {"world": 16, "tp": 2, "ep": 4, "pp": 2}
    assert json.loads(moecomm.groups(**kw).to_json()) == cli_json("groups", *flags(kw))
    report = moecomm.collective("all-gather", nbytes="64MiB", ranks=16, hardware="h100-sxm")
    assert json.loads(report.to_json()) == cli_json(
        "collective", "all-gather", "--bytes", "64MiB", "--ranks", "16", "--hardware", "h100-sxm"
    )
    kw = {"preset": "deepseek-v3", "tokens": 64, "ep": 16, "routing": "zipf:1.2", "seed": 3}
    assert json.loads(moecomm.traffic(**kw).to_json()) == cli_json("traffic", *flags(kw))
    kw = {"preset": "mixtral-8x7b", "gpus": 16, "hardware": "h100-sxm", "phase": "decode"}
    assert json.loads(moecomm.plan(**kw).to_json()) == cli_json("plan", *flags(kw))


def test_reports_show_in_jupyter_as_markdown_and_formulas_as_latex() -> None:
    report = moecomm.ep(preset="deepseek-v3", tokens=4096, ep=64)
    assert report.result.ep_bytes_per_rank == 924844032
    assert report._repr_markdown_().startswith("**EP all-to-all per rank, one MoE layer**")
    latex = moecomm.formula("ep_dispatch_bytes")._repr_latex_()
    assert latex.startswith("$") and "ep" in latex


def test_library_errors_name_fields_and_the_cli_spells_flags() -> None:
    try:
        moecomm.ep(preset="deepseek-v3", tokens=8, ep=7)
    except MoecommError as exc:
        assert str(exc) == "ep must divide the number of routed experts (256); got 7"
        assert exc.text(FLAGS) == "--ep must divide the number of routed experts (256); got 7"
    else:  # pragma: no cover
        raise AssertionError("ep = 7 was accepted")
    try:
        moecomm.ep(hidden_size=0, top_k=2, num_experts=8, tokens=4, ep=2)
    except MoecommError as exc:
        assert str(exc) == "hidden_size must be at least 1; got 0"
    else:  # pragma: no cover
        raise AssertionError("hidden_size = 0 was accepted")


def test_ep_traffic_step_and_plan_agree_on_bytes_per_copy() -> None:
    """One resolver for the wire format: the same deployment gives the same copy everywhere."""
    ep = moecomm.ep(deployment="deepseek-v3-decode", tokens=128).result
    assert (ep.dispatch_copy_bytes, ep.combine_copy_bytes) == (7408, 14336)
    ep = moecomm.ep(deployment="deepseek-v3-prefill", tokens=4096).result
    traffic = moecomm.traffic(deployment="deepseek-v3-prefill", tokens=4096).result
    assert (ep.dispatch_copy_bytes, ep.combine_copy_bytes) == (7392, 14336)
    assert (traffic.dispatch_copy_bytes, traffic.combine_copy_bytes) == (7392, 14336)
    step = moecomm.step(deployment="deepseek-v3-decode", tokens=128)
    assert "dispatch fp8 (463/448 B/element)" in step.caption
    plan = moecomm.plan(
        preset="deepseek-v3",
        gpus=8,
        hardware="h800",
        dispatch_dtype="fp8",
        scale_block=128,
        header_bytes=16,
        phase="decode",
    )
    one = plan.result[0]
    step = moecomm.step(
        preset="deepseek-v3",
        hardware="h800",
        phase="decode",
        tokens=128,
        tp=one.tp,
        dp=one.dp,
        ep=one.ep,
        edp=one.edp,
        etp=one.etp,
        pp=one.pp,
        dispatch_dtype="fp8",
        scale_block=128,
        header_bytes=16,
    ).result
    assert step.ep_seconds_per_step == pytest.approx(one.ep_seconds_per_step, rel=1e-12)
