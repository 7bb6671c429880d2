"""Every bad input: exit code 2, one line on stderr naming field, rule and value, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from moecomm.cli import cli

DS = ("--preset", "deepseek-v3")
MODELS = (
    "dbrx, deepseek-moe-16b, deepseek-r1, deepseek-v2, deepseek-v2-lite, deepseek-v3, glm-4.5, "
    "gpt-oss-120b, gpt-oss-20b, grok-1, jamba-v0.1, kimi-k2, llama-4-maverick, llama-4-scout, "
    "mixtral-8x22b, mixtral-8x7b, olmoe-1b-7b, phi-3.5-moe, qwen1.5-moe-a2.7b, qwen2-57b-a14b, "
    "qwen3-235b-a22b, qwen3-30b-a3b, switch-base-128"
)
ALL_PRESETS = ", ".join(
    [
        *MODELS.split(", "),
        *["a100-sxm", "b200", "gb200-nvl72", "h100-sxm", "h20", "h200", "h800", "mi300x"],
        "deepseek-v3-decode",
        "deepseek-v3-prefill",
        "deepseek-v3-train",
        "megatron-bridge-qwen3-235b-train",
        "nemo-mixtral-8x7b-train",
        "sglang-h100-decode",
        "sglang-h100-prefill",
    ]
)

CASES: list[tuple[tuple[str, ...], str]] = [
    (
        ("ep", "--deployment", "deepseek-v3", "--tokens", "8"),
        "deployment preset must be one of deepseek-v3-decode, deepseek-v3-prefill, "
        "deepseek-v3-train, megatron-bridge-qwen3-235b-train, nemo-mixtral-8x7b-train, "
        "sglang-h100-decode, sglang-h100-prefill; got 'deepseek-v3' (a model preset)",
    ),
    (
        ("ep", "--deployment", "presets/models/deepseek-v3.toml", "--tokens", "8"),
        "presets/models/deepseek-v3.toml: is a model preset (it has a [model] table), "
        "not a deployment preset",
    ),
    (
        (
            "ep",
            "--preset",
            "deepseek-v3",
            "--tokens",
            "8",
            "--ep",
            "8",
            "--hardware",
            "h800",
            "--latency-intra",
            "-3",
        ),
        "--latency-intra must be at least 0; got -3",
    ),
    (
        (
            "ep",
            "--preset",
            "deepseek-v3",
            "--tokens",
            "8",
            "--ep",
            "8",
            "--hardware",
            "h800",
            "--bw-inter",
            "-5",
        ),
        "--bw-inter must be at least 0.001; got -5",
    ),
    (
        ("ep", "--preset", "deepseek-v3", "--tokens", "8", "--ep", "8", "--imbalance", "1/2"),
        "--imbalance must be at least 1; got 1/2",
    ),
    (
        ("step", "--preset", "deepseek-v3", "--hardware", "h800", "--tokens", "0"),
        "--tokens must be at least 1; got 0",
    ),
    (
        ("step", "--preset", "deepseek-v3", "--hardware", "h800", "--dp", "-1"),
        "--dp must be at least 1; got -1",
    ),
    (
        ("step", "--preset", "deepseek-v3", "--hardware", "h800", "--layers", "1000000000"),
        "--layers must be at most 16384; got 1000000000",
    ),
    (
        (
            "plan",
            "--preset",
            "deepseek-v3",
            "--hardware",
            "h800",
            "--gpus",
            "8",
            "--compute-efficiency",
            "-1",
        ),
        "--compute-efficiency must be at least 0.001; got -1",
    ),
    (
        (
            "traffic",
            "--preset",
            "deepseek-v3",
            "--tokens",
            "8",
            "--ep",
            "8",
            "--routing",
            "zipf:inf",
        ),
        "--routing must be uniform or zipf:S with 0 < S ≤ 4; got 'zipf:inf'",
    ),
    (
        ("ep", *DS, "--tokens", "8", "--ep", "7"),
        "--ep must divide the number of routed experts (256); got 7",
    ),
    (("ep", *DS, "--tokens", "8", "--ep", "0"), "--ep must be at least 1; got 0"),
    (("ep", *DS, "--tokens", "8", "--ep", "-4"), "--ep must be at least 1; got -4"),
    (
        ("ep", "--hidden", "-1", "--topk", "2", "--experts", "8", "--tokens", "8", "--ep", "2"),
        "--hidden must be at least 1; got -1",
    ),
    (("ep", "--hidden", "1.5"), "Invalid value for '--hidden': '1.5' is not a valid integer."),
    (("ep", "--hidden", "abc"), "Invalid value for '--hidden': 'abc' is not a valid integer."),
    (
        ("ep", "--dtype", "fp7"),
        "Invalid value for '--dtype': 'fp7' is not one of 'fp32', 'bf16', 'fp16', 'fp8'.",
    ),
    (
        ("ep", "--dispatch-dtype", "int4"),
        "Invalid value for '--dispatch-dtype': 'int4' is not one of 'fp32', 'bf16', 'fp16', 'fp8'.",
    ),
    (("ep", *DS, "--ep", "8"), "--tokens is required, or both --batch and --seq"),
    (("ep", *DS, "--ep", "8", "--batch", "2"), "--tokens is required, or both --batch and --seq"),
    (
        ("ep", *DS, "--ep", "8", "--tokens", "4", "--batch", "2"),
        "give either --tokens, or --batch and --seq, not both",
    ),
    (("ep", *DS, "--ep", "8", "--tokens", "0"), "--tokens must be at least 1; got 0"),
    (
        ("ep", "--hidden", "8", "--ep", "2", "--tokens", "3"),
        "--experts is required; --topk is required",
    ),
    (
        ("ep", *DS, "--tokens", "4", "--ep", "8", "--topk", "300"),
        "--topk must be at most the number of routed experts (256); got 300",
    ),
    (
        ("ep", *DS, "--tokens", "4", "--ep", "8", "--topk", "200"),
        "--topk must be at most the experts in --topk-group groups (128); got 200",
    ),
    (
        ("ep", "--preset", "nope", "--tokens", "1", "--ep", "8"),
        f"model preset must be one of {MODELS}; got 'nope'",
    ),
    (
        ("ep", "--preset", "/no/such/file.toml", "--tokens", "1", "--ep", "8"),
        "/no/such/file.toml: cannot be read (No such file or directory)",
    ),
    (
        ("ep", *DS, "--tokens", "4", "--ep", "8", "--format", "xml"),
        "Invalid value for '--format': 'xml' is not one of 'table', 'json', 'csv', 'markdown'.",
    ),
    (
        ("ep", "--nope"),
        "No such option '--nope'. (Did you mean one of: '--force', '--n-group', '--topk'?)",
    ),
    (("tp", "--hidden", "8", "--tokens", "4"), "--tp is required"),
    (("tp", "--hidden", "8", "--tokens", "4", "--tp", "0"), "--tp must be at least 1; got 0"),
    (("tp", "--tokens", "4", "--tp", "2"), "--hidden is required"),
    (("compare", "--hidden", "8"), "--topk is required"),
    (
        ("compare", "--hidden", "8", "--topk", "2", "--sizes", "1,x"),
        "--sizes must be a comma-separated list of positive integers; got '1,x'",
    ),
    (
        ("compare", "--hidden", "8", "--topk", "2", "--sizes", "0"),
        "--sizes must lie in 1..1048576; got 0",
    ),
    (
        ("compare", "--hidden", "8", "--topk", "2", "--sizes", "-2"),
        "--sizes must be a comma-separated list of positive integers; got '-2'",
    ),
    (
        ("compare", "--hidden", "8", "--topk", "2", "--tokens", "0"),
        "--tokens must be at least 1; got 0",
    ),
    (("groups", "--world", "8", "--tp", "3"), "tp·cp·pp must divide world (8); got 3·1·1 = 3"),
    (("groups", "--world", "8", "--ep", "3"), "etp·ep·pp must divide world (8); got 1·3·1 = 3"),
    (("groups", "--world", "8", "--dp", "3"), "tp·cp·dp·pp must equal world (8); got 1·1·3·1 = 3"),
    (
        ("groups", "--world", "8", "--ep", "2", "--edp", "2"),
        "etp·ep·edp·pp must equal world (8); got 1·2·2·1 = 4",
    ),
    (("groups", "--world", "0"), "--world must be at least 1; got 0"),
    (("groups",), "--world is required without --deployment"),
    (
        ("presets", "show", "no-such-model"),
        f"preset must be one of {ALL_PRESETS}; got 'no-such-model'",
    ),
    (
        ("formula", "no-such-formula"),
        "formula must be one of ep_leave_fraction, ep_tokens_sent, ep_dispatch_bytes, "
        "ep_combine_bytes, ep_total_bytes, ep_total_bytes_approx, ep_phase_bytes, tp_allreduce_bytes, "
        "tp_allreduce_bytes_bound, scaling_ep_bytes, scaling_tp_bytes, scaling_ratio, "
        "scaling_crossover_size, allreduce_wire_bytes, allgather_wire_bytes, "
        "reducescatter_wire_bytes, alltoall_wire_bytes, broadcast_wire_bytes, "
        "busbw_factor_allreduce, busbw_factor_allgather, busbw_factor_alltoall, "
        "busbw_factor_broadcast, ring_inter_bytes, ring_intra_bytes, alltoall_intra_bytes, "
        "alltoall_inter_bytes, alltoall_2dh_intra_bytes, alltoall_2dh_inter_bytes, "
        "ep_phase_intra_bytes, ep_phase_inter_bytes, "
        "ep_intra_bytes, ep_inter_bytes, expert_flops, compute_seconds, overlap_exposed_seconds, "
        "ep_decode_layer_seconds_estimate, ep_decode_token_seconds_estimate, attention_flops, "
        "attention_score_flops, attention_seconds, dense_mlp_flops, hbm_seconds, dense_params, "
        "expert_params_per_gpu, dense_params_per_gpu, weight_element_bytes, "
        "gqa_attention_params, mla_attention_params, mla_direct_q_attention_params, "
        "stage_expert_params, stage_dense_params, stage_vocab_params, weight_bytes, "
        "gradient_bytes, optimizer_bytes, dense_layer_activation_bytes, "
        "moe_layer_activation_bytes, full_recompute_layer_bytes, activation_bytes, "
        "interleaved_in_flight, dualpipe_in_flight, "
        "full_recompute_activation_bytes, mla_kv_cache_bytes, gqa_kv_cache_bytes, "
        "usable_memory_bytes, bandwidth_ramp, link_seconds, collective_seconds, per_op_seconds, "
        "alltoall_2dh_seconds, algbw, "
        "token_bytes, fp8_token_bytes, message_bytes, lowlatency_dispatch_message_bytes, "
        "unit_hit_probability, unit_hit_probability_multigroup, expected_distinct_units, "
        "expected_distinct_other_units, expected_distinct_units_grouped, "
        "expected_distinct_units_multigroup, pair_copies, copies_sent, copies_sent_intra_node, "
        "copies_sent_inter_node, rank_dedup_pair_copies, rank_dedup_copies_sent, "
        "rank_dedup_copies_sent_intra_node, rank_dedup_copies_sent_inter_node, "
        "node_dedup_pair_copies, node_dedup_copies_sent_inter_node, "
        "node_dedup_forward_pair_copies, node_dedup_copies_sent_intra_node, "
        "expert_capacity_exact, expert_capacity, "
        "padded_pair_copies, padded_copies_sent, loaded_pair_copies, capped_pair_copies, "
        "dropped_pair_copies, imbalance_other_load, imbalance_busiest_recv_copies, "
        "compute_passes, comm_passes, ep_step_seconds, tp_step_seconds, "
        "expert_compute_step_seconds, pp_step_seconds, ring_messages_out, ring_messages_up, "
        "ep_tp_time_ratio, stage_compute_seconds, exposed_ep_step_seconds, exposed_tp_step_seconds, "
        "cp_kv_chunk_bytes, cp_step_seconds, "
        "pipeline_step_seconds, train_step_seconds, tokens_per_second_per_gpu; "
        "got 'no-such-formula'",
    ),
    (
        ("formula", "ep_dispatch_bytes", "--subs", "h=__import__('os')"),
        "--subs h must be a positive integer, fraction p/q or decimal; got \"__import__('os')\"",
    ),
    (
        ("formula", "ep_dispatch_bytes", "--subs", "h=1e3"),
        "--subs h must be a positive integer, fraction p/q or decimal; got '1e3'",
    ),
    (
        ("formula", "ep_dispatch_bytes", "--subs", "q=1"),
        "--subs name must be a symbol of ep_dispatch_bytes (b, beta_d, ep, h, k, s); got 'q'",
    ),
    (("formula", "ep_dispatch_bytes", "--subs", "h"), "--subs must look like NAME=VALUE; got 'h'"),
    (("formula", "ep_dispatch_bytes", "--subs", "h=0"), "--subs h must be positive; got '0'"),
    (
        ("formula", "ep_dispatch_bytes", "--subs", "h=1/0"),
        "--subs h must not divide by zero; got '1/0'",
    ),
    (("formula", "--subs", "h=1"), "--subs needs a formula NAME"),
    (("formula", "ep_dispatch_bytes", "--all"), "give a formula NAME or --all, not both"),
    (("nosuchcmd",), "No such command 'nosuchcmd'."),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input(args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, list(args), prog_name="moecomm")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"
    assert "Traceback" not in result.output


def test_bad_preset_file_names_file_and_field(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.toml"
    path.write_text(
        'name = "bad"\nsource = "x"\n[model]\nhidden_size = 0\nnum_experts = 4\ntop_k = 2\n'
    )
    result = CliRunner().invoke(cli, ["ep", "--preset", str(path), "--tokens", "1", "--ep", "2"])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}: model.hidden_size must be at least 1; got 0\n"
    path.write_text("name = [")
    result = CliRunner().invoke(cli, ["ep", "--preset", str(path), "--tokens", "1", "--ep", "2"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: not valid TOML: ")
    path.write_text(
        'name = "x"\nsource = "x"\ncolour = 1\n[model]\nhidden_size = 1\nnum_experts = 4\ntop_k = 2\n'
    )
    result = CliRunner().invoke(cli, ["ep", "--preset", str(path), "--tokens", "1", "--ep", "2"])
    assert result.stderr == f"Error: {path}: colour is not a known field; got 1\n"
