"""Bytes per token copy on the wire in each EP phase: dtype, fp8 scales and a message header."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from moecomm import formulas as F
from moecomm.config import WireFormat, build
from moecomm.dtypes import DType
from moecomm.units import Exact, normalize


@dataclass(frozen=True)
class Wire:
    """Bytes per token copy in each phase, and the sizes they come from."""

    hidden: int
    dispatch_dtype: DType
    combine_dtype: DType
    scale_block: int | None
    header_bytes: int

    @classmethod
    def of(cls, fmt: WireFormat) -> Wire:
        """The bytes of a validated wire format (``config.WireFormat`` holds its rules)."""
        return cls(
            fmt.hidden_size,
            fmt.dispatch_dtype,
            fmt.combine_dtype,
            fmt.scale_block,
            fmt.header_bytes,
        )

    def _token(self, dtype: DType) -> int:
        if self.scale_block is not None and dtype is DType.FP8:
            v = F.value("fp8_token_bytes", {"h": self.hidden, "N_sb": self.scale_block})
        else:
            v = F.value("token_bytes", {"h": self.hidden, "beta": dtype.bytes})
        assert isinstance(v, int)
        return v

    @property
    def dispatch_copy_bytes(self) -> int:
        v = F.value(
            "message_bytes", {"w": self._token(self.dispatch_dtype), "hdr": self.header_bytes}
        )
        assert isinstance(v, int)
        return v

    @property
    def combine_copy_bytes(self) -> int:
        return self._token(self.combine_dtype)

    @property
    def dispatch_bytes_per_element(self) -> Exact:
        """Dispatch copy bytes per hidden element, for the formulas written with h·β."""
        return normalize(Fraction(self.dispatch_copy_bytes, self.hidden))

    @property
    def combine_bytes_per_element(self) -> Exact:
        """Combine copy bytes per hidden element, for the formulas written with h·β."""
        return normalize(Fraction(self.combine_copy_bytes, self.hidden))


def make_wire(
    hidden: int, dispatch: DType, combine: DType, scale_block: int | None, header_bytes: int
) -> Wire:
    """The wire format, validated by ``config.WireFormat`` (a scale block needs fp8, divides h)."""
    fmt = build(
        WireFormat,
        {
            "hidden_size": hidden,
            "dispatch_dtype": dispatch,
            "combine_dtype": combine,
            "scale_block": scale_block,
            "header_bytes": header_bytes,
        },
    )
    return Wire.of(fmt)
