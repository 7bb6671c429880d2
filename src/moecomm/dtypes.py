"""Element types on the wire and their sizes in bytes."""

from __future__ import annotations

from enum import StrEnum


class DType(StrEnum):
    """A tensor element type, named as users write it."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"

    @property
    def bytes(self) -> int:
        """Bytes per element."""
        return _BYTES[self]


_BYTES = {DType.FP32: 4, DType.BF16: 2, DType.FP16: 2, DType.FP8: 1}

DTYPE_NAMES = tuple(d.value for d in DType)
