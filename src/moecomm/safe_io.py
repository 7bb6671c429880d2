"""User files read safely (regular files, a size cap, UTF-8, bounded nesting) and written atomically.

Every problem is a :class:`MoecommError` of one line that names the file. Reading never blocks
on a FIFO and never allocates more than the size cap; parsing never recurses past the depth
limit; writing goes to a temporary file in the target folder that is renamed into place, so an
error leaves nothing half-written, and a symbolic link is never written through.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
import tomllib
from typing import Any

from moecomm.errors import MoecommError, field

MAX_BYTES = 256 * 2**20
"""Largest file read (256 MiB): routing data."""

MAX_CONFIG_BYTES = 4 * 2**20
"""Largest preset TOML or config.json read (4 MiB, hundreds of times a real one): tomllib is
pure Python, and parses an adversarial file at about 2.5 MB/s."""

MAX_CONFIG_VALUES = 2**20
"""Most values (numbers, strings, lists, tables) in a preset TOML or config.json."""

MAX_DEPTH = 64
"""Deepest nesting of lists and tables read from JSON or TOML."""

_CHUNK = 16 * 2**20
_SHOWN_PATH = 200

StrPath = str | os.PathLike[str]


def shown_path(path: StrPath) -> str:
    """A path as an error names it: control characters escaped, at most 200 characters."""
    text = os.fspath(path)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > _SHOWN_PATH:
        half = _SHOWN_PATH // 2
        text = f"{text[:half]}…{text[-half:]}"
    return text


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n} bytes"


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(where: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    detail = kind if kind == "not a regular file" else f"{kind}, not a regular file"
    raise MoecommError(f"{where}: cannot be read ({detail})")


def _check_name(path: StrPath, what: str) -> str:
    try:
        raw = os.fspath(path)
    except TypeError:
        raw = ""
    if raw == "":
        raise MoecommError(f"{what} must name a file; got ''")
    return raw


def read_bytes(path: StrPath, *, what: str = "the path", max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; FIFOs and devices are refused.

    The file is checked with ``os.stat`` before it is opened, and again (``fstat``) on the open
    descriptor, opened with ``O_NONBLOCK`` so that a FIFO swapped in meanwhile cannot block.
    """
    raw = _check_name(path, what)
    where = shown_path(raw)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        mode = os.stat(raw).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the name
        raise MoecommError(f"{where}: cannot be read ({_reason(exc)})") from None
    _check_regular(where, mode)
    try:
        fd = os.open(raw, flags | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise MoecommError(f"{where}: cannot be read ({_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        _check_regular(where, info.st_mode)
        _check_size(where, info.st_size, max_bytes)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(_CHUNK, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            _check_size(where, total, max_bytes)  # the file grew while it was read
    except OSError as exc:
        raise MoecommError(f"{where}: cannot be read ({_reason(exc)})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _check_size(where: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise MoecommError(f"{where}: must be at most {_size(max_bytes)}; got {size} bytes")


def read_text(path: StrPath, *, what: str = "the path", max_bytes: int = MAX_BYTES) -> str:
    """A regular file's UTF-8 text (a leading byte-order mark is dropped); see :func:`read_bytes`."""
    data = read_bytes(path, what=what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise MoecommError(f"{shown_path(path)}: not UTF-8 text (line {line})") from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_TOML_SKIPPED = re.compile(
    r'"""[\s\S]*?"""'  # multi-line basic string
    r"|'''[\s\S]*?'''"  # multi-line literal string
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*",  # comment
)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _depth_bound(structure: str, limit: int) -> int:
    """Nesting depth of the brackets in ``structure`` (strings removed), exact up to ``limit + 1``.

    Each pass deletes the innermost bracket pairs, so a balanced text of depth d is empty after
    d passes. Unmatched brackets left over count as one level each, so a broken file may be
    called too deep rather than malformed, but no text deeper than ``limit`` passes.
    """
    # UTF-8 never uses ASCII bytes inside a multi-byte character, and bytes.translate is fast.
    brackets = structure.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    brackets = brackets.replace(b"{", b"[").replace(b"}", b"]")
    passes = 0
    while brackets and passes <= limit:
        shorter = brackets.replace(b"[]", b"")
        if shorter == brackets:
            break
        brackets = shorter
        passes += 1
    return passes + brackets.count(b"[")


def _check_depth(where: str, depth: int, limit: int) -> None:
    if depth > limit:
        raise MoecommError(f"{where}: nested more than {limit} levels deep")


def _check_values(where: str, structure: str, marks: tuple[str, ...], limit: int) -> None:
    """About as many values as parsing would allocate, counted outside strings."""
    values = sum(structure.count(m) for m in marks) + 1
    if values > limit:
        raise MoecommError(f"{where}: must hold at most {limit} values; got about {values}")


def _digits_error(where: str, kind: str) -> MoecommError:
    limit = sys.get_int_max_str_digits()
    return MoecommError(f"{where}: not valid {kind}: a number has more than {limit} digits")


def read_json(
    path: StrPath,
    *,
    what: str = "the path",
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_values: int | None = None,
) -> Any:
    """Parse a JSON file, its depth (and, with ``max_values``, its size) checked before parsing.

    ``max_values`` bounds the numbers, strings and containers that parsing would allocate,
    counted from the commas and brackets outside strings.
    """
    text = read_text(path, what=what, max_bytes=max_bytes)
    where = shown_path(path)
    structure = _JSON_STRING.sub('""', text) if '"' in text else text
    _check_depth(where, _depth_bound(structure, max_depth), max_depth)
    if max_values is not None:
        _check_values(where, structure, (",", "[", "{"), max_values)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MoecommError(
            f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # an integer beyond int→str's digit limit
        raise _digits_error(where, "JSON") from None
    except RecursionError:  # not reached past the depth check; kept as a last guard
        raise MoecommError(f"{where}: nested more than {max_depth} levels deep") from None


_KEY_DOT = "(?:[^.=\\n]*\\.)"
"""One dot of a dotted key: the part of a line before its first ``=`` (strings removed)."""


def read_toml(
    path: StrPath,
    *,
    what: str = "the path",
    max_bytes: int = MAX_CONFIG_BYTES,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_CONFIG_VALUES,
) -> dict[str, Any]:
    """Parse a TOML file, its depth (brackets, braces and dotted keys) and its number of values
    checked before parsing."""
    text = read_text(path, what=what, max_bytes=max_bytes)
    where = shown_path(path)
    structure = _TOML_SKIPPED.sub('""', text)
    _check_depth(where, _depth_bound(structure, max_depth), max_depth)
    _check_values(where, structure, (",", "[", "{", "="), max_values)
    # Dotted keys (a.b.c = 1, [a.b.c]) nest tables too.
    if re.search(f"^{_KEY_DOT}{{{max_depth}}}", structure, re.M):
        raise MoecommError(f"{where}: nested more than {max_depth} levels deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MoecommError(f"{where}: not valid TOML: {exc}") from None
    except ValueError:  # an integer beyond int→str's digit limit
        raise _digits_error(where, "TOML") from None
    except RecursionError:  # not reached past the depth check; kept as a last guard
        raise MoecommError(f"{where}: nested more than {max_depth} levels deep") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(
    path: StrPath, *, force: bool = False, what: str = "the output path"
) -> tuple[str, str, str]:
    """The checks :func:`write_text_atomic` makes before it writes, for a caller that must
    refuse a path before long work: (path, its folder, its name) when it may be written."""
    raw = _check_name(path, what)
    where = shown_path(raw)
    folder, name = os.path.split(raw)
    folder = folder or "."
    if name in ("", ".", ".."):
        raise MoecommError(f"{where}: names a folder, not a file")
    try:
        folder_mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise MoecommError(f"{shown_path(folder)}: no such folder") from None
    except (OSError, ValueError) as exc:
        raise MoecommError(f"{where}: cannot be written ({_reason(exc)})") from None
    if not stat.S_ISDIR(folder_mode):
        raise MoecommError(f"{shown_path(folder)}: not a folder")
    _check_target(raw, where, force)
    return raw, folder, name


def write_text_atomic(
    path: StrPath, text: str, *, force: bool = False, what: str = "the output path"
) -> None:
    """Write UTF-8 text through a temporary file in the target folder, renamed into place.

    An existing file, or a symbolic link (dangling or not), is replaced only with ``force``,
    and then the link itself is replaced: its target is never written. Without ``force`` the
    new file is linked into place, which fails if the name appeared meanwhile.
    """
    write_bytes_atomic(path, text.encode("utf-8"), force=force, what=what)


def write_bytes_atomic(
    path: StrPath, data: bytes, *, force: bool = False, what: str = "the output path"
) -> None:
    """Write bytes (an image, a PDF) by the rules of :func:`write_text_atomic`."""
    raw, folder, name = check_writable(path, force=force, what=what)
    where = shown_path(raw)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:40]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise MoecommError(f"{where}: cannot be written ({_reason(exc)})") from None
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o666 & ~_umask())  # as an ordinary new file, not 0600
            out.write(data)
        _place(tmp, raw, where, force)
    except OSError as exc:
        raise MoecommError(f"{where}: cannot be written ({_reason(exc)})") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _check_target(raw: str, where: str, force: bool) -> None:
    """Refuse a folder always; a file or a symbolic link unless ``force`` (never followed)."""
    try:
        mode = os.lstat(raw).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise MoecommError(f"{where}: cannot be written ({_reason(exc)})") from None
    if stat.S_ISDIR(mode):
        raise MoecommError(f"{where}: is a folder")
    if force:
        return
    if stat.S_ISLNK(mode):
        raise MoecommError(
            f"{where}: is a symbolic link; pass {field('force')} to replace the link (never its target)"
        )
    raise MoecommError(f"{where}: exists; pass {field('force')} to replace it")


def _place(tmp: str, raw: str, where: str, force: bool) -> None:
    if force:
        os.replace(tmp, raw)  # renames over a link itself, never through it
        return
    try:
        os.link(tmp, raw)  # fails if the name appeared since it was checked
    except FileExistsError:
        raise MoecommError(f"{where}: exists; pass {field('force')} to replace it") from None
    except OSError:
        # A file system without hard links: check again, then rename.
        _check_target(raw, where, force)
        os.replace(tmp, raw)
