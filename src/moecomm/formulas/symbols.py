"""The sympy symbols of every formula, named as the papers name them, with their LaTeX forms."""

from __future__ import annotations

import sympy as sp

_pos = {"positive": True, "integer": True}

# Seed, first analysis: per-rank input [b, s, h], top-k routing over an EP group of size ep.
b = sp.Symbol("b", **_pos)
s = sp.Symbol("s", **_pos)
h = sp.Symbol("h", **_pos)
k = sp.Symbol("k", **_pos)
E = sp.Symbol("E", **_pos)
ep = sp.Symbol("ep", **_pos)
tp = sp.Symbol("tp", **_pos)
beta = sp.Symbol("beta", **_pos)
beta_d = sp.Symbol("beta_d", **_pos)
beta_c = sp.Symbol("beta_c", **_pos)

# Seed, second analysis: S tokens per batch, hidden D, top-K, M GPUs.
S = sp.Symbol("S", **_pos)
D = sp.Symbol("D", **_pos)
K = sp.Symbol("K", **_pos)
M = sp.Symbol("M", **_pos)

DESCRIPTIONS: dict[sp.Symbol, str] = {
    b: "micro-batch per rank",
    s: "sequence length",
    h: "hidden size",
    k: "routed experts per token (top-k)",
    E: "routed experts",
    ep: "expert-parallel group size",
    tp: "tensor-parallel group size",
    beta: "bytes per element",
    beta_d: "bytes per element, dispatch",
    beta_c: "bytes per element, combine",
    S: "tokens in the global batch",
    D: "hidden size",
    K: "experts per token (top-K)",
    M: "GPUs (EP or TP size)",
}

LATEX_NAMES: dict[sp.Symbol, str] = {
    ep: r"\mathit{ep}",
    tp: r"\mathit{tp}",
    beta: r"\beta",
    beta_d: r"\beta_{\mathrm{d}}",
    beta_c: r"\beta_{\mathrm{c}}",
}

BY_NAME: dict[str, sp.Symbol] = {str(sym): sym for sym in DESCRIPTIONS}
