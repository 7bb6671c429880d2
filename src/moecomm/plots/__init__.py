"""Figures of reports (``--plot FILE``): PNG, SVG or PDF by the file's suffix.

matplotlib is an optional extra (``pip install "moecomm[plot]"``), imported only here and only
when a figure is drawn. The numbers come from the report's own result (``plots.spec``); the
drawing (``plots.draw``) is deterministic, so the same input gives the same SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moecomm import safe_io
from moecomm.errors import MoecommError, field
from moecomm.plots.spec import FigureSpec, spec
from moecomm.report import Report

SUFFIXES = (".png", ".svg", ".pdf")
EXTRA = 'pip install "moecomm[plot]"'


def check_path(path: str | Path, name: str = "plot") -> str:
    """The format named by a figure path's suffix (png, svg or pdf); anything else is refused,
    so that a mistyped path never overwrites an unrelated file."""
    suffix = Path(path).suffix.lower() if str(path) else ""
    if suffix not in SUFFIXES:
        raise MoecommError(
            f"{field(name)} must end in .png, .svg or .pdf; got {safe_io.shown_path(path)!r}"
        )
    return suffix[1:]


def available() -> bool:
    """Whether matplotlib (the plot extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require(name: str = "plot") -> None:
    """Refuse in one line, naming the extra, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MoecommError(f"{field(name)} needs matplotlib: {EXTRA}") from None


def render(report: Report, fmt: str, measured: Sequence[str] = ()) -> bytes:
    """The figure of a report as PNG, SVG or PDF bytes."""
    require()
    from moecomm.plots.draw import render as draw

    return draw(figure_spec(report, measured), fmt)


def figure_spec(report: Report, measured: Sequence[str] = ()) -> FigureSpec:
    """What the figure of a report shows: its numbers, labels and convention (no matplotlib).

    ``measured``: nccl-tests logs or moecomm-bench/1 files whose cases are drawn on a
    collective's figure (``plots.measured``)."""
    if report.figure == "sweep":
        from moecomm.plots.sweeps import figure

        drawn = figure(report)
    elif report.figure == "plan":
        from moecomm.plots.layouts import figure as layouts

        drawn = layouts(report)
    elif report.figure == "validate":
        from moecomm.plots.checks import figure as checks

        drawn = checks(report)
    else:
        drawn = spec(report)
    if measured:
        from moecomm.plots.measured import overlay

        drawn = overlay(drawn, report, measured)
    return drawn


def check(path: str | Path, *, force: bool = False, name: str = "plot") -> str:
    """Everything a figure needs before it is drawn: the suffix, a writable place (an existing
    file only with ``force``) and matplotlib. Returns the format; raises one line otherwise."""
    fmt = check_path(path, name)
    safe_io.check_writable(path, force=force, what=field(name))
    require(name)
    return fmt


def save(
    report: Report,
    path: str | Path,
    *,
    force: bool = False,
    name: str = "plot",
    measured: Sequence[str] = (),
) -> None:
    """Write the figure of a report to ``path`` (.png, .svg or .pdf) through safe_io: an
    existing file or symbolic link is replaced only with ``force``, never written through.
    ``measured``: files of measured cases to draw on a collective's figure."""
    fmt = check(path, force=force, name=name)
    data = render(report, fmt, measured)
    safe_io.write_bytes_atomic(path, data, force=force, what=field(name))
