"""Files read safely and written atomically: every refusal is one line naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run
from pydantic import BaseModel, ConfigDict, ValidationError

from moecomm import safe_io
from moecomm.errors import MoecommError, validation_lines
from moecomm.safe_io import read_json, read_text, read_toml, write_text_atomic
from moecomm.traffic import files

DATA = Path(__file__).parent / "data" / "hf_configs"


def refusal(fn: object, *args: object, **kwargs: object) -> str:
    assert callable(fn)
    with pytest.raises(MoecommError) as err:
        fn(*args, **kwargs)
    return str(err.value)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.json"
    os.mkfifo(path)
    return path


# Reading


def test_reads_utf8_text_and_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": "\xc3\xa9"}')
    assert read_json(path) == {"a": "é"}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "a folder, not a regular file"),
        (fifo, "a FIFO, not a regular file"),
        (lambda p: Path("/dev/zero"), "a device, not a regular file"),
        (lambda p: p / "nope.json", "No such file or directory"),
    ],
)
def test_only_regular_files_are_read(tmp_path: Path, make: object, reason: str) -> None:
    assert callable(make)
    path = make(tmp_path)
    assert refusal(read_text, path) == f"{path}: cannot be read ({reason})"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text("a = 1")
    path.chmod(0)
    assert refusal(read_toml, path) == f"{path}: cannot be read (Permission denied)"


def test_names_that_are_no_file() -> None:
    assert refusal(read_text, "") == "the path must name a file; got ''"
    assert refusal(read_text, "", what="--preset") == "--preset must name a file; got ''"
    assert refusal(read_text, "a\0b") == "a\\x00b: cannot be read (embedded null byte)"
    long = "y" * 5000
    assert (
        refusal(read_text, long) == f"{'y' * 100}…{'y' * 100}: cannot be read (File name too long)"
    )


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 10 + "0]")
    assert (
        refusal(read_text, path, max_bytes=10) == f"{path}: must be at most 10 bytes; got 23 bytes"
    )
    assert safe_io.MAX_BYTES == 256 * 2**20


def test_presets_and_configs_are_capped_lower(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * (4 * 2**20))
    assert refusal(read_toml, path) == f"{path}: must be at most 4 MiB; got 4194306 bytes"
    path.write_text("a = [" + "1," * 2**20 + "]")
    assert refusal(read_toml, path) == (
        f"{path}: must hold at most 1048576 values; got about 1048579"
    )
    config = tmp_path / "config.json"
    config.write_text("[" + "1," * 2**20 + "1]")
    result = run("presets", "show", "--hf-config", str(config))
    assert result.stderr == (
        f"Error: {config}: must hold at most 1048576 values; got about 1048578\n"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "ok"\nsource = "caf\xe9"\n')
    assert refusal(read_toml, path) == f"{path}: not UTF-8 text (line 2)"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * 100_000,
        '{"a":' * 65 + "1" + "}" * 65,
    ],
)
def test_json_nesting_is_limited_before_parsing(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert refusal(read_json, path) == f"{path}: nested more than 64 levels deep"


def test_json_depth_ignores_brackets_in_strings(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text('{"a": "' + "[" * 100 + '", "b": [[1]]}')
    assert read_json(path) == {"a": "[" * 100, "b": [[1]]}
    path.write_text("[" * 64 + "]" * 64)
    assert read_json(path) is not None


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 1000 + "]" * 1000,
        "a = " + "{b = " * 100 + "1" + "}" * 100,
        "a" + ".a" * 100 + " = 1",
        "[" + ".".join("t" * 100) + "]",
    ],
)
def test_toml_nesting_is_limited_before_parsing(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text)
    assert refusal(read_toml, path) == f"{path}: nested more than 64 levels deep"


def test_toml_depth_ignores_floats_strings_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    dots = ", ".join(["1.5"] * 100)
    path.write_text(f'a = [{dots}]\nb = "{"[" * 100}"\n# {"[" * 100}\n[x.y]\nz = 1\n')
    assert read_toml(path)["x"] == {"y": {"z": 1}}


@pytest.mark.parametrize(("suffix", "kind"), [(".json", "JSON"), (".toml", "TOML")])
def test_integers_past_the_digit_limit(tmp_path: Path, suffix: str, kind: str) -> None:
    path = tmp_path / f"n{suffix}"
    path.write_text(("a = " if kind == "TOML" else "") + "9" * 5000)
    read = read_json if kind == "JSON" else read_toml
    assert refusal(read, path) == f"{path}: not valid {kind}: a number has more than 4300 digits"


def test_invalid_json_and_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": 1,\n "b": }')
    assert refusal(read_json, path) == f"{path}: not valid JSON: Expecting value at line 2 column 7"
    path = tmp_path / "bad.toml"
    path.write_text("a = [")
    assert refusal(read_toml, path).startswith(f"{path}: not valid TOML: ")


def test_json_value_count_is_limited_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text('{"topk_ids": [[[0, 1], [2, 3]]], "note": "a, b, c"}')
    assert (
        refusal(read_json, path, max_values=9)
        == f"{path}: must hold at most 9 values; got about 10"
    )
    assert read_json(path, max_values=10)["topk_ids"] == [[[0, 1], [2, 3]]]


# Writing


def test_write_creates_a_file_with_ordinary_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_text_atomic(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["m.json"]


def test_write_replaces_a_file_only_with_force(tmp_path: Path) -> None:
    path = tmp_path / "victim.json"
    path.write_text("keep me")
    assert refusal(write_text_atomic, path, "new") == f"{path}: exists; pass force to replace it"
    assert path.read_text() == "keep me"
    write_text_atomic(path, "new", force=True)
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["victim.json"]


@pytest.mark.parametrize("dangling", [False, True])
def test_write_never_goes_through_a_symlink(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "passwd"
    if not dangling:
        target.write_text("root:x:0:0")
    link = tmp_path / "passwd.json"
    link.symlink_to(target)
    assert refusal(write_text_atomic, link, "x") == (
        f"{link}: is a symbolic link; pass force to replace the link (never its target)"
    )
    write_text_atomic(link, "x", force=True)
    assert not link.is_symlink() and link.read_text() == "x"
    assert target.read_text() == "root:x:0:0" if not dangling else not target.exists()


def test_write_refusals(tmp_path: Path) -> None:
    assert refusal(write_text_atomic, tmp_path / "no" / "m.json", "x") == (
        f"{tmp_path / 'no'}: no such folder"
    )
    (tmp_path / "f").write_text("")
    assert refusal(write_text_atomic, tmp_path / "f" / "m.json", "x") == (
        f"{tmp_path / 'f'}: not a folder"
    )
    assert refusal(write_text_atomic, "", "x") == "the output path must name a file; got ''"
    assert (
        refusal(write_text_atomic, "", "x", what="--output") == "--output must name a file; got ''"
    )
    assert refusal(write_text_atomic, ".", "x") == ".: names a folder, not a file"
    (tmp_path / "d").mkdir()
    assert (
        refusal(write_text_atomic, tmp_path / "d", "x", force=True)
        == f"{tmp_path / 'd'}: is a folder"
    )
    long = tmp_path / ("z" * 300)
    assert refusal(write_text_atomic, long, "x").endswith(
        ": cannot be written (File name too long)"
    )
    assert sorted(os.listdir(tmp_path)) == ["d", "f"]  # no temporary file left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_write_into_a_folder_without_permission(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    path = folder / "m.json"
    assert refusal(write_text_atomic, path, "x") == f"{path}: cannot be written (Permission denied)"


# Users of the readers and writers


def test_validation_lines_bound_huge_and_deep_values() -> None:
    class M(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int

    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValidationError) as err:
        M.model_validate({"n": deep, "x": "y" * 1000})
    lines = validation_lines(err.value)
    assert lines == [
        "n must be an integer; got [[[[[...]]]]]",
        "x is not a known field; got '" + "y" * 37 + "..." + "y" * 38 + "'",
    ]
    with pytest.raises(ValidationError) as err:
        M.model_validate({"n": 1, **{f"k{i}": i for i in range(30)}})
    lines = validation_lines(err.value)
    assert len(lines) == 21 and lines[-1] == "and 10 more problems"


def test_preset_files_are_read_safely(tmp_path: Path) -> None:
    path = fifo(tmp_path)
    result = run("ep", "--preset", str(path), "--tokens", "1", "--ep", "2")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}: cannot be read (a FIFO, not a regular file)\n"
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"name = '\xff'\n")
    result = run("presets", "show", str(bad))
    assert result.stderr == f"Error: {bad}: not UTF-8 text (line 1)\n"
    result = run("ep", "--hardware", str(tmp_path), "--preset", "deepseek-v3", "--tokens", "1")
    assert result.stderr == f"Error: {tmp_path}: cannot be read (a folder, not a regular file)\n"


def test_hf_config_is_read_safely(tmp_path: Path) -> None:
    result = run("presets", "import", "", "--name", "x")
    assert result.stderr == (
        "Error: the config path must name a config.json or its folder; got ''\n"
    )
    path = tmp_path / "config.json"
    path.write_text("[" * 10_000)
    result = run("presets", "show", "--hf-config", str(tmp_path))
    assert result.stderr == f"Error: {path}: nested more than 64 levels deep\n"


def test_import_writes_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = str(DATA / "mixtral-8x7b.json")
    result = run("presets", "import", src, "--name", "m", "-o", "no/m.toml")
    assert result.stderr == "Error: no: no such folder\n"
    Path("m.toml").symlink_to(tmp_path / "elsewhere.toml")
    result = run("presets", "import", src, "--name", "m")
    assert result.stderr == "Error: --output m.toml exists; pass --force to overwrite it\n"
    result = run("presets", "import", src, "--name", "m", "--force")
    assert result.exit_code == 0, result.output
    assert not Path("m.toml").is_symlink() and not (tmp_path / "elsewhere.toml").exists()
    loop = Path("loop.toml")
    loop.symlink_to("loop.toml")
    result = run("presets", "import", src, "--name", "m", "-o", "loop.toml")
    assert result.stderr == "Error: --output loop.toml exists; pass --force to overwrite it\n"
    result = run("presets", "import", src, "--name", "m", "-o", "\udcff.toml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Wrote \\udcff.toml: m (h 4096")
    result = run("presets", "import", src, "--name", "m\n")
    assert result.stderr == (
        "Error: --name must be lower-case letters, digits, '.', '_' or '-'; got 'm\\n'\n"
    )


# Routing files: shapes and sizes checked before anything large is built

TRAFFIC = ("traffic", "--hidden", "8", "--experts", "8", "--topk", "2")


def refused(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result.stderr


def test_a_topk_file_of_ten_million_rows_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text('{"topk_ids": [[' + "[0]," * (10**7 - 1) + "[0]]]}")
    assert refused(*TRAFFIC, "--topk-ids", str(path)) == (
        f"Error: {path}: must hold at most 16777216 values; got about 20000003\n"
    )


def test_topk_token_and_rank_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_TOKENS", 3)
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"topk_ids": [[[0], [1]], [[2], [3]]]}))
    assert refused(*TRAFFIC, "--topk-ids", str(path)) == (
        f"Error: {path}: topk_ids must hold at most 3 tokens over all ranks; got 4\n"
    )
    path.write_text(json.dumps({"topk_ids": [[[0]]] * 4097}))
    assert refused(*TRAFFIC, "--topk-ids", str(path)) == (
        f"Error: {path}: topk_ids must have at most 512 source ranks; got 4097\n"
    )
    path.write_text("")
    assert refused(*TRAFFIC, "--topk-ids", str(path)) == (
        f"Error: {path}: not valid JSON: Expecting value at line 1 column 1\n"
    )
    path.write_text('{"topk_ids": {}}')
    assert refused(*TRAFFIC, "--topk-ids", str(path)) == (
        f"Error: {path}: topk_ids must be a non-empty list of per-rank token lists; got {{}}\n"
    )


def _npy(path: Path, header: str, data: bytes = b"") -> Path:
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    path.write_bytes(
        b"\x93NUMPY\x01\x00"
        + (len(text) + pad + 1).to_bytes(2, "little")
        + text
        + b" " * pad
        + b"\n"
        + data
    )
    return path


def test_npy_shape_is_checked_from_the_header(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    huge = _npy(
        tmp_path / "huge.npy",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (8, 1000000000, 8), }",
    )
    assert refused(*TRAFFIC, "--topk-ids", str(huge)) == (
        f"Error: {huge}: topk_ids must hold at most 4000000 tokens over all ranks; got 8000000000\n"
    )
    floats = _npy(
        tmp_path / "f.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }"
    )
    assert refused(*TRAFFIC, "--topk-ids", str(floats)) == (
        f"Error: {floats}: topk_ids must be an integer array [ranks, tokens, k]; "
        "got shape (1, 1, 1) of float64\n"
    )
    short = _npy(
        tmp_path / "s.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2, 2), }"
    )
    assert refused(*TRAFFIC, "--topk-ids", str(short)).startswith(
        f"Error: {short}: not a readable .npy array ("
    )
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"\x80\x04junk")
    assert refused(*TRAFFIC, "--topk-ids", str(junk)).startswith(
        f"Error: {junk}: not a readable .npy array ("
    )


def test_flat_counts_split_is_checked_before_it_is_built(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"expert_counts": [4] * 8}))
    assert refused(*TRAFFIC, "--expert-counts", str(path), "--ep", "0") == (
        "Error: --ep must be at least 1; got 0\n"
    )
    assert refused(*TRAFFIC, "--expert-counts", str(path), "--ep", "1000000000") == (
        "Error: --ep must be at most 1048576; got 1000000000\n"
    )
    path.write_text(json.dumps({"expert_counts": [4] * 65536}))
    assert refused("traffic", "--hidden", "8", "--expert-counts", str(path), "--ep", "512") == (
        f"Error: {path}: expert_counts split over --ep 512 sources must hold at most "
        "16777216 counts; got 33554432\n"
    )


def test_count_range_and_csv_cells(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"expert_counts": [[2**63] * 8]}))
    assert refused(*TRAFFIC, "--expert-counts", str(path)) == (
        f"Error: {path}: expert_counts[0][0] must be at most 9223372036854775807; "
        "got 9223372036854775808\n"
    )
    csv = tmp_path / "c.csv"
    csv.write_text("a,b,c,d,e,f,g,h\n")
    assert refused(*TRAFFIC, "--expert-counts", str(csv), "--ep", "1") == (
        f"Error: {csv}: holds no row of counts\n"
    )
    csv.write_text("1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,²\n")
    assert refused(*TRAFFIC, "--expert-counts", str(csv), "--ep", "1") == (
        f"Error: {csv}: row 1 column 7 must be an integer; got '²'\n"
    )
    csv.write_text("1,2,3,4,5,6,7," + "9" * 5000 + "\n")
    assert refused(*TRAFFIC, "--expert-counts", str(csv), "--ep", "1") == (
        f"Error: {csv}: row 0 column 7 must be at most 9223372036854775807; "
        f"got '{'9' * 37}...{'9' * 38}'\n"
    )
    csv.write_text('1,"' + "x" * 200_000 + '"\n')
    assert refused(*TRAFFIC, "--expert-counts", str(csv), "--ep", "1") == (
        f"Error: {csv}: not valid CSV at line 1: field larger than field limit (131072)\n"
    )


def test_export_matrix_is_written_safely(tmp_path: Path) -> None:
    args = (*TRAFFIC, "--tokens", "4", "--ep", "2", "--export-matrix")
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    assert refused(*args, str(victim)) == f"Error: {victim}: exists; pass --force to replace it\n"
    assert victim.read_text() == "keep me"
    link = tmp_path / "passwd.json"
    link.symlink_to(victim)
    assert refused(*args, str(link)) == (
        f"Error: {link}: is a symbolic link; pass --force to replace the link (never its target)\n"
    )
    assert victim.read_text() == "keep me"
    missing = tmp_path / "no" / "m.csv"
    assert refused(*args, str(missing)) == f"Error: {tmp_path / 'no'}: no such folder\n"
    assert sorted(os.listdir(tmp_path)) == ["passwd.json", "victim.json"]
    fresh = tmp_path / "m.json"
    assert run(*args, str(fresh)).exit_code == 0
    assert json.loads(fresh.read_text())["layers"][0]["dispatch_matrix_bytes"][0][0] == 0


def test_write_matrices_force_replaces_a_link_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    link = tmp_path / "m.json"
    link.symlink_to(victim)
    assert refusal(files.write_matrices, "", [([[0]], [[0]])], "c") == (
        "export_matrix must name a .json or .csv file; got ''"
    )
    files.write_matrices(link, [([[0, 1], [2, 0]], [[0, 2], [1, 0]])], "c", force=True)
    assert victim.read_text() == "keep me"
    assert json.loads(link.read_text())["layers"][0]["combine_matrix_bytes"] == [[0, 2], [1, 0]]
