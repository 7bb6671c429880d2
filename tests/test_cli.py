"""The commands through CliRunner: every JSON key, and rendered tables compared whole."""

from __future__ import annotations

import csv
import io

from conftest import ok, ok_json, run, stripped


def test_ep_json_deepseek_v3() -> None:
    # Seed §4 first analysis: 4096 tokens, top-8, h 7168, EP64, bf16.
    assert ok_json(
        "ep", "--preset", "deepseek-v3", "--batch", "1", "--seq", "4096", "--ep", "64"
    ) == {
        "convention": "per rank, per MoE layer; tokens b·s on this rank; balanced routing; "
        "bytes that leave the rank",
        "input_tokens_per_rank": 4096,
        "ep": 64,
        "dispatch_dtype": "bf16",
        "combine_dtype": "bf16",
        "scale_block": None,
        "header_bytes": 0,
        "dispatch_copy_bytes": 14336,
        "combine_copy_bytes": 14336,
        "tokens_per_rank": 32256,
        "dispatch_bytes_per_rank": 462_422_016,
        "combine_bytes_per_rank": 462_422_016,
        "ep_bytes_per_rank": 924_844_032,
        "ep_bytes_per_rank_approx": 939_524_096,
        "expectation": False,
    }


def test_ep_fp8_dispatch_bf16_combine_and_flags_override_preset() -> None:
    out = ok_json(
        "ep",
        "--preset",
        "deepseek-v3",
        "--topk",
        "4",
        "--tokens",
        "128",
        "--ep",
        "8",
        "--dispatch-dtype",
        "fp8",
        "--combine-dtype",
        "bf16",
    )
    copies = 128 * 4 * 7 // 8  # 448
    assert out["tokens_per_rank"] == copies
    assert out["dispatch_bytes_per_rank"] == copies * 7168 * 1
    assert out["combine_bytes_per_rank"] == copies * 7168 * 2
    assert out["ep_bytes_per_rank"] == copies * 7168 * 3


def test_ep_dtype_sets_both_phases() -> None:
    out = ok_json(
        "ep",
        "--hidden",
        "10",
        "--topk",
        "2",
        "--experts",
        "4",
        "--tokens",
        "4",
        "--ep",
        "2",
        "--dtype",
        "fp32",
    )
    assert out["dispatch_bytes_per_rank"] == out["combine_bytes_per_rank"] == 4 * 2 * 10 * 4 // 2


def test_ep_expectation_is_exact_fraction() -> None:
    out = ok_json(
        "ep", "--hidden", "1", "--topk", "1", "--experts", "3", "--tokens", "1", "--ep", "3"
    )
    assert out["tokens_per_rank"] == "2/3"
    assert out["dispatch_bytes_per_rank"] == "4/3"
    assert out["ep_bytes_per_rank"] == "8/3"
    assert out["ep_bytes_per_rank_approx"] == 4
    assert out["expectation"] is True


EP_TABLE = """\
                  EP all-to-all per rank, one MoE layer
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ quantity                            ┃   value ┃ decimal (1 kB = 1e3 B) ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━┩
│ tokens on this rank (b·s)           │       1 │                        │
│ EP size                             │       3 │                        │
│ dispatch dtype                      │    bf16 │                        │
│ combine dtype                       │    bf16 │                        │
│ bytes per dispatched copy           │       2 │                    2 B │
│ bytes per combined copy             │       2 │                    2 B │
│ token copies sent (b·s·k·(ep−1)/ep) │ ≈ 0.667 │                        │
│ dispatch bytes                      │ ≈ 1.333 │              ≈ 1.333 B │
│ combine bytes                       │ ≈ 1.333 │              ≈ 1.333 B │
│ dispatch + combine bytes            │ ≈ 2.667 │              ≈ 2.667 B │
│ approximation 4·b·s·k·h             │       4 │                    4 B │
└─────────────────────────────────────┴─────────┴────────────────────────┘
  Convention: per rank, per MoE layer; tokens b·s on this rank; balanced
 routing; bytes that leave the rank. GB = 1e9 B. ≈: an exact expectation
       under balanced routing, rounded (exact p/q in JSON and CSV).
"""


def test_ep_table_whole() -> None:
    args = ("ep", "--hidden", "1", "--topk", "1", "--experts", "3", "--tokens", "1", "--ep", "3")
    assert stripped(ok(*args)) == EP_TABLE


def test_ep_csv_and_markdown() -> None:
    args = ("ep", "--hidden", "1", "--topk", "1", "--experts", "3", "--tokens", "1", "--ep", "3")
    rows = list(csv.DictReader(io.StringIO(ok(*args, "--format", "csv"))))
    assert len(rows) == 1
    assert rows[0]["tokens_per_rank"] == "2/3"
    assert rows[0]["ep_bytes_per_rank_approx"] == "4"
    assert rows[0]["expectation"] == "true"
    md = ok(*args, "--format", "markdown")
    assert "| quantity | value | decimal (1 kB = 1e3 B) |" in md
    assert "| dispatch + combine bytes | ≈ 2.667 | ≈ 2.667 B |" in md
    assert md.rstrip().endswith(
        "≈: an exact expectation under balanced routing, rounded (exact p/q in JSON and CSV)."
    )


TP_TABLE = """\
                 TP all-reduce per rank, one layer
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ quantity                  ┃       value ┃ decimal (1 kB = 1e3 B) ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━┩
│ tokens on this rank (b·s) │       4,096 │                        │
│ TP size                   │           8 │                        │
│ dtype                     │        bf16 │                        │
│ ring all-reduce bytes     │ 102,760,448 │             102.760 MB │
│ bound 2·b·s·h·β           │ 117,440,512 │             117.441 MB │
└───────────────────────────┴─────────────┴────────────────────────┘
Convention: per rank, per all-reduce of one layer output; tokens b·s
                     on this rank. GB = 1e9 B.
"""


def test_tp_table_and_json() -> None:
    args = ("tp", "--hidden", "7168", "--batch", "1", "--seq", "4096", "--tp", "8")
    assert stripped(ok(*args)) == TP_TABLE
    out = ok_json(*args)
    assert out["allreduce_bytes_per_rank"] == 2 * 7 * 4096 * 7168 * 2 // 8
    assert out["allreduce_bytes_per_rank_bound"] == 2 * 4096 * 7168 * 2
    assert out["convention"].startswith("per rank, per all-reduce")


def test_tp_takes_hidden_from_preset() -> None:
    out = ok_json("tp", "--preset", "deepseek-v3", "--tokens", "1", "--tp", "2")
    assert out["allreduce_bytes_per_rank"] == 7168 * 2


def test_compare_json_rows() -> None:
    rows = ok_json("compare", "--preset", "deepseek-v3", "--tokens", "4096", "--sizes", "1,8,16")
    assert rows == [
        {
            "size": 1,
            "tokens_per_gpu": 4096,
            "ep_bytes_per_rank": 0,
            "tp_bytes_per_rank": 0,
            "ratio": None,  # 0 bytes against 0 bytes: no ratio (it used to print K/M = 8)
            "ratio_exact": None,
            "ep_moves_less": False,
        },
        {
            "size": 8,
            "tokens_per_gpu": 512,
            "ep_bytes_per_rank": 102_760_448,
            "tp_bytes_per_rank": 102_760_448,
            "ratio": 1.0,
            "ratio_exact": "1",
            "ep_moves_less": False,
        },
        {
            "size": 16,
            "tokens_per_gpu": 256,
            "ep_bytes_per_rank": 55_050_240,
            "tp_bytes_per_rank": 110_100_480,
            "ratio": 0.5,
            "ratio_exact": "1/2",
            "ep_moves_less": True,
        },
    ]


COMPARE_TABLE = """\
                             EP vs TP per GPU, one MoE layer
┏━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃    M ┃ EP tokens/GPU (S/M) ┃ EP bytes/GPU ┃ TP bytes/GPU ┃ EP/TP (K/M) ┃ EP moves less ┃
┡━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│    2 │                  50 │          400 │          200 │           2 │            no │
│ ▶ 16 │             ≈ 6.250 │     ≈ 93.750 │          375 │        0.25 │           yes │
└──────┴─────────────────────┴──────────────┴──────────────┴─────────────┴───────────────┘
  Convention: per GPU, per MoE layer; global batch S spread over M GPUs; S = 100, bf16.
 Bytes exact; GB = 1e9 B. EP moves less once M > K = 4: from M = 5 (highlighted: M = 16).
"""


def test_compare_table_highlights_crossover() -> None:
    # M=2: EP 2·4·50·2·(1/2) = 400, TP 2·(1/2)·100·2 = 200; M=16: EP 375/4, TP 375.
    args = ("compare", "--hidden", "1", "--topk", "4", "--tokens", "100", "--sizes", "2,16")
    assert stripped(ok(*args)) == COMPARE_TABLE


COMPARE_ONE_GPU = """\
                             EP vs TP per GPU, one MoE layer
┏━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃    M ┃ EP tokens/GPU (S/M) ┃ EP bytes/GPU ┃ TP bytes/GPU ┃ EP/TP (K/M) ┃ EP moves less ┃
┡━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│    1 │                 100 │            0 │            0 │             │            no │
│ ▶ 16 │             ≈ 6.250 │     ≈ 93.750 │          375 │        0.25 │           yes │
└──────┴─────────────────────┴──────────────┴──────────────┴─────────────┴───────────────┘
Convention: per GPU, per MoE layer; global batch S spread over M GPUs; S = 100, bf16; M =
1 moves no bytes, so it has no EP/TP ratio. Bytes exact; GB = 1e9 B. EP moves less once M
                        > K = 4: from M = 5 (highlighted: M = 16).
"""


def test_compare_at_one_gpu_has_no_ratio() -> None:
    """One GPU neither sends nor receives: no EP/TP ratio, and EP does not "move less"."""
    args = ("compare", "--hidden", "1", "--topk", "4", "--tokens", "100", "--sizes", "1,16")
    assert stripped(ok(*args)) == COMPARE_ONE_GPU
    row = ok_json(*args)[0]
    assert (row["ratio"], row["ratio_exact"], row["ep_moves_less"]) == (None, None, False)


def test_groups_seed_example() -> None:
    out = ok_json("groups", "--world", "8", "--ep", "4")
    assert out["ep_groups"] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert out["edp_groups"] == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert out["tp_groups"] == [[i] for i in range(8)]
    assert out["dp_groups"] == [list(range(8))]
    assert (out["etp"], out["edp"], out["dp"]) == (1, 2, 8)


def test_groups_tp_divides_dp() -> None:
    out = ok_json("groups", "--world", "8", "--tp", "2", "--ep", "4")
    assert out["dp"] == 4  # 8 / tp
    assert out["tp_groups"] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert out["dp_groups"] == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert out["etp"] == 2 and out["edp"] == 1  # etp defaults to tp (Megatron-Core)
    assert "etp defaults to tp" in out["convention"]


def test_presets_list_and_show() -> None:
    rows = ok_json("presets", "list")["models"]  # one list per kind: models, hardware, deployments
    assert any(r["name"] == "deepseek-v3" for r in rows)
    show = ok_json("presets", "show", "deepseek-v3")
    expected = {
        "hidden_size": 7168,
        "num_layers": 61,
        "num_moe_layers": 58,
        "num_experts": 256,
        "num_shared_experts": 1,
        "top_k": 8,
        "moe_intermediate_size": 2048,
    }
    assert {k: show[k] for k in expected} == expected
    assert "config.json" in show["source"]
    assert show["moe_layers"] == list(range(3, 61))


def test_user_preset_file_by_path(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "mine.toml"
    path.write_text(
        'name = "mine"\nsource = "hand-written"\n[model]\nhidden_size = 16\nnum_experts = 4\ntop_k = 2\n'
    )
    out = ok_json("ep", "--preset", str(path), "--tokens", "4", "--ep", "2")
    assert out["dispatch_bytes_per_rank"] == 4 * 2 * 16 * 2 // 2


def test_formula_show_subs_and_latex() -> None:
    out = ok_json(
        "formula",
        "ep_total_bytes",
        "--subs",
        "b=1",
        "--subs",
        "s=4096",
        "--subs",
        "h=7168",
        "--subs",
        "k=8",
        "--subs",
        "ep=64",
        "--subs",
        "beta_d=2",
        "--subs",
        "beta_c=2",
    )
    assert out["value"] == 924_844_032
    assert out["symbols"] == []
    assert out["unit"] == "bytes"
    partial = ok_json("formula", "ep_tokens_sent", "--subs", "k=8", "--subs", "ep=3/2")
    assert partial["value"] is None
    assert partial["expression"] == "8*b*s/3"
    assert ok("formula", "ep_dispatch_bytes", "--latex") == (
        r"\mathrm{ep\_dispatch\_bytes} = \frac{b \beta_{\mathrm{d}} h k s "
        r"\left(\mathit{ep} - 1\right)}{\mathit{ep}}" + "\n"
    )
    assert (
        ok("formula", "scaling_ratio", "--latex") == r"\mathrm{scaling\_ratio} = \frac{K}{M}" + "\n"
    )


def test_formula_decimal_subs_is_exact() -> None:
    out = ok_json("formula", "ep_leave_fraction", "--subs", "ep=2.5")
    assert out["value"] == "3/5"


def test_formula_list() -> None:
    names = [r["name"] for r in ok_json("formula")]
    assert names[:3] == ["ep_leave_fraction", "ep_tokens_sent", "ep_dispatch_bytes"]
    assert "scaling_crossover_size" in names


def test_python_m_moecomm() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "moecomm",
            "ep",
            "--hidden",
            "8",
            "--topk",
            "1",
            "--experts",
            "2",
            "--tokens",
            "2",
            "--ep",
            "2",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"dispatch_bytes_per_rank": 16' in proc.stdout


def test_version() -> None:
    assert run("--version").output.startswith("moecomm, version ")


def test_numeric_commands_do_not_import_sympy() -> None:
    """Commands evaluate the generated evaluators; sympy is loaded only for formula work."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from moecomm.cli import cli\n"
        "for args in (['ep', '--preset', 'deepseek-v3', '--tokens', '8', '--ep', '8'],\n"
        "             ['tp', '--hidden', '8', '--tokens', '8', '--tp', '2'],\n"
        "             ['compare', '--preset', 'deepseek-v3'], ['groups', '--world', '8']):\n"
        "    cli.main(args, standalone_mode=False)\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_rows_tables_show_bytes_in_decimal_units_too() -> None:
    """Below each byte count of 1 kB and more in a table, beside it in Markdown; JSON exact."""
    args = ("compare", "--preset", "deepseek-v3", "--sizes", "1,2,16")
    md = ok(*args, "--format", "markdown")
    assert "| 1 | 4,096 | 0 | 0 |  | no |" in md
    assert "| 2 | 2,048 | 234,881,024 (234.881 MB) | 58,720,256 (58.720 MB) | 4 | no |" in md
    assert "Bytes of 1 kB and more also in decimal units (1 kB = 1e3 B, 1 MB = 1e6 B" in md
    table = ok(*args).splitlines()
    at = next(i for i, line in enumerate(table) if "234,881,024" in line)
    assert "234.881 MB" in table[at + 1] and "58.720 MB" in table[at + 1]
    rows = ok_json(*args)
    assert (rows[1]["ep_bytes_per_rank"], rows[1]["tp_bytes_per_rank"]) == (234881024, 58720256)


def test_memory_in_gb_prints_to_the_megabyte_in_every_row() -> None:
    """GB columns to three decimals (59.853, 0.288); JSON keeps the exact bytes."""
    args = ("plan", "--preset", "deepseek-v3", "--gpus", "64", "--hardware", "h800", "--top", "1")
    md = ok(*args, "--format", "markdown")
    assert "| **59.853** | **1.455** | **0.288** | **61.596** |" in md
    first = ok_json(*args)["candidates"][0]
    assert isinstance(first["memory_bytes_per_gpu"], int)
    assert round(first["memory_bytes_per_gpu"] / 1e9, 3) == 61.596
