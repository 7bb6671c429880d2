"""Exact numbers and their display: decimal GB (1e9) and binary GiB (2^30), never mixed."""

from __future__ import annotations

import math
import re
import sys
from fractions import Fraction

from moecomm.errors import MoecommError, field

Exact = int | Fraction
"""An exact byte or token count: an int when integral, else a Fraction (an expectation)."""

GB = 10**9
GIB = 2**30

LONG = 10**30
"""Numbers this large (or fractions with a numerator or denominator this large) are shown in
scientific notation in tables; JSON keeps them exact up to Python's int→str digit limit."""

_SAFE_DIGITS = 10**300
"""Below this, str() of an int never meets the int→str digit limit (at least 640 digits)."""


_NUMBER = re.compile(r"([0-9]+)(?:/([0-9]+)|\.([0-9]+))?")
MAX_NUMBER_CHARS = 100
"""Longest number text ``parse_exact`` reads (Python refuses ints of over 4300 digits anyway)."""


def parse_exact(text: str) -> Fraction:
    """A positive number typed by a user: an integer, a fraction p/q or a decimal, read exactly.

    Parsed here with a regular expression and integer arithmetic, so user text never reaches
    ``eval`` or sympy, and ``0.1`` is exactly 1/10. Raises ``ValueError`` with a message that
    starts with "must" (the caller prefixes the option or field name).
    """
    stripped = text.strip()
    if len(stripped) > MAX_NUMBER_CHARS:
        raise ValueError(f"must have at most {MAX_NUMBER_CHARS} characters; got {len(stripped)}")
    m = _NUMBER.fullmatch(stripped)
    if not m:
        raise ValueError(f"must be a positive integer, fraction p/q or decimal; got {text!r}")
    whole, den, dec = m.groups()
    if den is not None:
        if int(den) == 0:
            raise ValueError(f"must not divide by zero; got {text!r}")
        value = Fraction(int(whole), int(den))
    elif dec is not None:
        value = Fraction(int(whole + dec), 10 ** len(dec))
    else:
        value = Fraction(int(whole))
    if value <= 0:
        raise ValueError(f"must be positive; got {text!r}")
    return value


def normalize(value: Exact) -> Exact:
    """Return an int when the value is integral, else the Fraction."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def is_integral(value: Exact) -> bool:
    return isinstance(normalize(value), int)


def _int_text(n: int) -> str:
    try:
        return str(n)
    except ValueError:  # past sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise MoecommError(
            f"a result has more than {limit} digits, too many to write as exact decimal text "
            "(Python's int→str limit); tables show it in scientific notation"
        ) from None


def exact_text(value: Exact) -> str:
    """Exact value as text: ``123`` or ``1792/3``; a MoecommError past the int→str digit limit."""
    value = normalize(value)
    if isinstance(value, int):
        return _int_text(value)
    return f"{_int_text(value.numerator)}/{_int_text(value.denominator)}"


def json_value(value: Exact) -> int | str:
    """JSON form: an integer, or the exact fraction as a string ``"p/q"``.

    A MoecommError past the int→str digit limit, which json.dumps would meet too.
    """
    value = normalize(value)
    if isinstance(value, int):
        if not -_SAFE_DIGITS < value < _SAFE_DIGITS:
            _int_text(value)
        return value
    return exact_text(value)


def is_long(value: Exact) -> bool:
    """Whether tables show the value in scientific notation rather than exact text."""
    value = normalize(value)
    if isinstance(value, int):
        return not -LONG < value < LONG
    return not (-LONG < value.numerator < LONG and value.denominator < LONG)


def sci_text(value: Exact, digits: int = 4) -> str:
    """``value`` rounded to ``digits`` significant digits in scientific notation: ``1.235e+5000``.

    Exact integer arithmetic, so it works beyond float range and beyond the int→str digit limit.
    """
    f = Fraction(value)
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    p, q = abs(f.numerator), f.denominator
    # Within one of the true decimal exponent; the loops below settle it.
    exp = math.floor((p.bit_length() - q.bit_length()) * math.log10(2))

    def mantissa(e: int) -> int:
        shift = digits - 1 - e
        n, d = (p * 10**shift, q) if shift >= 0 else (p, q * 10**-shift)
        return (2 * n + d) // (2 * d)  # rounded half up

    m = mantissa(exp)
    while m >= 10**digits:
        exp += 1
        m = mantissa(exp)
    while m < 10 ** (digits - 1):
        exp -= 1
        m = mantissa(exp)
    text = str(m)
    return f"{sign}{text[0]}{'.' + text[1:] if digits > 1 else ''}e{exp:+03d}"


def decimal_text(value: Exact, digits: int = 3) -> str:
    """A rounded decimal view of an exact value, for display beside the exact one."""
    value = normalize(value)
    if not -LONG < value < LONG:
        return sci_text(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def gb_text(value: Exact, digits: int = 3) -> str:
    """Bytes in decimal gigabytes (1 GB = 1e9 B)."""
    gb = Fraction(value) / GB
    return f"{float(gb):,.{digits}f}" if -LONG < value < LONG else sci_text(gb)


SCALES = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))
"""Decimal byte scales of the scaled table column (1 kB = 1e3 B, never 1024)."""


def scaled_bytes_text(value: Exact, digits: int = 3) -> str:
    """Bytes in the largest decimal unit (kB/MB/GB/TB = 1e3/1e6/1e9/1e12 B) that keeps the
    value at least 1: ``924.844 MB``; below 1 kB in bytes. Labelled, so never mistaken for GiB."""
    value = normalize(value)
    if not -LONG < value < LONG:
        return f"{sci_text(Fraction(value) / 10**12)} TB"
    for scale, name in SCALES:
        if abs(Fraction(value)) >= scale:
            return f"{float(Fraction(value) / scale):,.{digits}f} {name}"
    if isinstance(value, int):
        return f"{value} B"
    return f"≈ {float(value):,.{digits}f} B"


def gib_text(value: Exact, digits: int = 3) -> str:
    """Bytes in binary gibibytes (1 GiB = 2^30 B)."""
    gib = Fraction(value) / GIB
    return f"{float(gib):,.{digits}f}" if -LONG < value < LONG else sci_text(gib)


def seconds_text(value: float) -> str:
    """A duration in µs below 1 ms, in ms below 1 s, else in s."""
    if value < 1e-3:
        return f"{value * 1e6:,.2f} µs"
    if value < 1:
        return f"{value * 1e3:,.3f} ms"
    return f"{value:,.3f} s"


def rate_text(value: float) -> str:
    """Bytes per second in decimal GB/s (1 GB = 1e9 B)."""
    return f"{value / GB:,.1f} GB/s"


# ---- numbers and sizes typed by users: parsed here, never evaluated ----------------------------

_SIZE = re.compile(r"^(\d{1,20})\s*(|K|M|G|T|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$")
_BINARY = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
MAX_TEXT = 64
"""Longest number text read; anything longer is refused before parsing."""


def parse_bytes(text: str, name: str = "bytes") -> int:
    """A byte count, optionally with a suffix: KiB/MiB/GiB/TiB (2^10…) or KB/MB/GB/TB (1e3…).

    A bare K, M, G or T is binary, as nccl-tests' -b/-e flags read it.
    """
    m = _SIZE.match(text.strip().upper()) if len(text) <= MAX_TEXT else None
    if not m:
        raise MoecommError(
            f"{field(name)} must be a positive integer, optionally with KiB/MiB/GiB or "
            f"KB/MB/GB; got {text[:MAX_TEXT]!r}"
        )
    digits, unit = m.groups()
    if unit.endswith("IB") or len(unit) == 1:
        value = int(digits) * _BINARY[unit[:1]]
    elif unit:
        value = int(digits) * 1000 ** ("KMGT".index(unit[0]) + 1)
    else:
        value = int(digits)
    if not 1 <= value <= MAX_BYTES:
        raise MoecommError(f"{field(name)} must lie in 1..2^60 bytes; got {text!r}")
    return value


def parse_sizes(text: str, name: str = "sizes") -> tuple[int, ...]:
    """A comma-separated list of positive integers."""
    parts = [p.strip() for p in text.split(",")] if len(text) <= 4 * MAX_TEXT * 16 else []
    if not parts or not all(p.isdigit() and len(p) <= 20 for p in parts):
        raise MoecommError(
            f"{field(name)} must be a comma-separated list of positive integers; "
            f"got {text[:MAX_TEXT]!r}"
        )
    return tuple(int(p) for p in parts)


MAX_BYTES = 2**60
