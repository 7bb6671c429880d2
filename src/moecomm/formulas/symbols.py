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

# Routing-aware traffic (docs/traffic.md): wire formats, destinations, capacity, imbalance.
_nonneg = {"nonnegative": True, "integer": True}
N = sp.Symbol("N", **_pos)
w = sp.Symbol("w", **_pos)
hdr = sp.Symbol("hdr", **_nonneg)
R = sp.Symbol("R", **_pos)
G = sp.Symbol("G", **_pos)
n_g = sp.Symbol("n_g", **_pos)
k_g = sp.Symbol("k_g", **_pos)
lam = sp.Symbol("lam", **_nonneg)
F = sp.Symbol("F", positive=True, rational=True)
u = sp.Symbol("u", nonnegative=True, rational=True)
X = sp.Symbol("X", positive=True, rational=True)
C = sp.Symbol("C", **_nonneg)
j = sp.Symbol("j", **_nonneg)
p = sp.Symbol("p", nonnegative=True, rational=True)

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
    N: "channels per fp32 scale (fp8 scale block)",
    w: "bytes of one token copy on the wire",
    hdr: "header bytes per dispatched message",
    R: "destination units (ranks or nodes), experts spread evenly over them",
    G: "GPUs per node",
    n_g: "expert groups (n_group)",
    k_g: "groups a token may reach (topk_group)",
    lam: "1 to count traffic to the rank itself (logical), 0 for wire",
    F: "capacity factor",
    u: "load on a destination rank's experts relative to the mean",
    X: "imbalance: busiest rank's received copies over the mean",
    p: "probability that a token reaches a given rank or node",
    C: "expert capacity (copies per expert per source rank)",
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
    hdr: r"H_{\mathrm{hdr}}",
    n_g: r"n_{\mathrm{g}}",
    k_g: r"k_{\mathrm{g}}",
    lam: r"\lambda",
}

BY_NAME: dict[str, sp.Symbol] = {str(sym): sym for sym in DESCRIPTIONS}
