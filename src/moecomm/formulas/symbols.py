"""The sympy symbols of every formula, named as the papers name them, with their LaTeX forms."""

from __future__ import annotations

import sympy as sp

_pos = {"positive": True, "integer": True}

# Per-rank analysis (llm_note §4): input [b, s, h] on one rank, top-k routing over ep ranks.
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
N_sb = sp.Symbol("N_sb", **_pos)
w = sp.Symbol("w", **_pos)
hdr = sp.Symbol("hdr", **_nonneg)
U = sp.Symbol("U", **_pos)
G = sp.Symbol("G", **_pos)
n_g = sp.Symbol("n_g", **_pos)
k_g = sp.Symbol("k_g", **_pos)
lam = sp.Symbol("lam", **_nonneg)
f_cap = sp.Symbol("f_cap", positive=True, rational=True)
u = sp.Symbol("u", nonnegative=True, rational=True)
X_imb = sp.Symbol("X_imb", positive=True, rational=True)
C = sp.Symbol("C", **_nonneg)
j = sp.Symbol("j", **_nonneg)
p = sp.Symbol("p", nonnegative=True, rational=True)

# Global-batch analysis (llm_note §4): S tokens per batch, hidden D, top-K, M GPUs.
S = sp.Symbol("S", **_pos)
D = sp.Symbol("D", **_pos)
K = sp.Symbol("K", **_pos)
M = sp.Symbol("M", **_pos)

# Collectives and links (nccl-tests conventions): n ranks, g of them per node, N nodes.
n = sp.Symbol("n", **_pos)
g = sp.Symbol("g", **_pos)
N = sp.Symbol("N", **_pos)
X = sp.Symbol("X", **_pos)
x = sp.Symbol("x", nonnegative=True)
m = sp.Symbol("m", nonnegative=True)
alpha = sp.Symbol("alpha", nonnegative=True)
alpha_0 = sp.Symbol("alpha_0", nonnegative=True)
alpha_up = sp.Symbol("alpha_up", nonnegative=True)
alpha_out = sp.Symbol("alpha_out", nonnegative=True)
B = sp.Symbol("B", positive=True)
B_up = sp.Symbol("B_up", positive=True)
B_out = sp.Symbol("B_out", positive=True)
eta = sp.Symbol("eta", positive=True)
x_up = sp.Symbol("x_up", nonnegative=True)
x_out = sp.Symbol("x_out", nonnegative=True)
m_up = sp.Symbol("m_up", nonnegative=True)
m_out = sp.Symbol("m_out", nonnegative=True)
t = sp.Symbol("t", positive=True)
t_comm = sp.Symbol("t_comm", nonnegative=True)
nu = sp.Symbol("nu", nonnegative=True)
nu_up = sp.Symbol("nu_up", nonnegative=True)
nu_out = sp.Symbol("nu_out", nonnegative=True)
tau_op = sp.Symbol("tau_op", nonnegative=True)

# Compute and the whole step.
T = sp.Symbol("T", positive=True)
d_ff = sp.Symbol("d_ff", **_pos)
d_s = sp.Symbol("d_s", nonnegative=True, integer=True)
n_s = sp.Symbol("n_s", nonnegative=True, integer=True)
F_ops = sp.Symbol("F", nonnegative=True)
P_peak = sp.Symbol("P", positive=True)
P_s = sp.Symbol("P_s", positive=True)
eta_c = sp.Symbol("eta_c", positive=True)
L = sp.Symbol("L", **_pos)
mu = sp.Symbol("mu", **_pos)

# Memory per GPU (capacity planning).
R = sp.Symbol("R", nonnegative=True, integer=True)
L_moe = sp.Symbol("L_moe", nonnegative=True, integer=True)
W_dense = sp.Symbol("W_dense", nonnegative=True, integer=True)
etp = sp.Symbol("etp", **_pos)
pp = sp.Symbol("pp", **_pos)
dp = sp.Symbol("dp", **_pos)
edp = sp.Symbol("edp", **_pos)
n_h = sp.Symbol("n_h", **_pos)
n_kv = sp.Symbol("n_kv", **_pos)
d_h = sp.Symbol("d_h", **_pos)
d_i = sp.Symbol("d_i", nonnegative=True, integer=True)
V = sp.Symbol("V", nonnegative=True, integer=True)
beta_w = sp.Symbol("beta_w", positive=True)
beta_o = sp.Symbol("beta_o", nonnegative=True)

# Memory per GPU (capacity planning): weights at their dtype, optimizer, activations, KV cache.
L_s = sp.Symbol("L_s", **_pos)
L_sm = sp.Symbol("L_sm", nonnegative=True, integer=True)
n_emb = sp.Symbol("n_emb", nonnegative=True, integer=True)
beta_e = sp.Symbol("beta_e", positive=True)
beta_x = sp.Symbol("beta_x", positive=True)
beta_kv = sp.Symbol("beta_kv", positive=True)
N_blk = sp.Symbol("N_blk", **_pos)
W_e = sp.Symbol("W_e", nonnegative=True)
W_d = sp.Symbol("W_d", nonnegative=True)
r_q = sp.Symbol("r_q", nonnegative=True, integer=True)
r_kv = sp.Symbol("r_kv", **_pos)
d_r = sp.Symbol("d_r", **_pos)
d_n = sp.Symbol("d_n", **_pos)
d_v = sp.Symbol("d_v", **_pos)
n_kvr = sp.Symbol("n_kvr", **_pos)
N_ctx = sp.Symbol("N_ctx", nonnegative=True)
n_mb = sp.Symbol("n_mb", **_pos)
c_w = sp.Symbol("c_w", **_pos)
v_pp = sp.Symbol("v_pp", **_pos)
W_x = sp.Symbol("W_x", nonnegative=True)
P_attn = sp.Symbol("P_attn", nonnegative=True, integer=True)
beta_s = sp.Symbol("beta_s", nonnegative=True)
c_sc = sp.Symbol("c_sc", **_nonneg)
M_gpu = sp.Symbol("M_gpu", positive=True)
f_h = sp.Symbol("f_h", nonnegative=True, rational=True)

# End-to-end step time: attention and dense compute, memory-bound decode, pipeline schedule.
d_qk = sp.Symbol("d_qk", **_pos)
n_att = sp.Symbol("n_att", nonnegative=True)
x_hbm = sp.Symbol("x_hbm", nonnegative=True)
B_hbm = sp.Symbol("B_hbm", positive=True)
t_ac = sp.Symbol("t_ac", nonnegative=True)
t_dc = sp.Symbol("t_dc", nonnegative=True)
t_ex = sp.Symbol("t_ex", nonnegative=True)
t_mb = sp.Symbol("t_mb", nonnegative=True)
t_g = sp.Symbol("t_g", nonnegative=True)
o_v = sp.Symbol("o_v", **_nonneg)
o_t = sp.Symbol("o_t", **_nonneg)
t_cp = sp.Symbol("t_cp", **_nonneg)
n_m = sp.Symbol("n_m", **_pos)
n_b = sp.Symbol("n_b", nonnegative=True)

# The step model (formulas/step.py): passes of a step, per-layer times, ring steps.
tau = sp.Symbol("tau", **_nonneg)
r_f = sp.Symbol("r_f", **_nonneg)
r_p = sp.Symbol("r_p", **_pos)
t_d = sp.Symbol("t_d", nonnegative=True)
t_c = sp.Symbol("t_c", nonnegative=True)
t_attn = sp.Symbol("t_attn", nonnegative=True)
t_mlp = sp.Symbol("t_mlp", nonnegative=True)
t_moe = sp.Symbol("t_moe", nonnegative=True)
t_pp = sp.Symbol("t_pp", nonnegative=True)
t_a2a = sp.Symbol("t_a2a", nonnegative=True)
t_ar = sp.Symbol("t_ar", positive=True)

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
    N_sb: "channels per fp32 scale (fp8 scale block)",
    w: "bytes of one token copy on the wire",
    hdr: "header bytes per dispatched message",
    U: "destination units (ranks or nodes), experts spread evenly over them",
    G: "GPUs per node",
    n_g: "expert groups (n_group)",
    k_g: "groups a token may reach (topk_group)",
    lam: "1 to count traffic to the rank itself (logical), 0 for wire",
    f_cap: "capacity factor",
    u: "load on a destination rank's experts relative to the mean",
    X_imb: "imbalance: busiest rank's received copies over the mean",
    p: "probability that a token reaches a given rank or node",
    C: "expert capacity (copies per expert per source rank)",
    S: "tokens in the global batch",
    D: "hidden size",
    K: "experts per token (top-K)",
    M: "GPUs (EP or TP size)",
    n: "ranks in the collective",
    g: "ranks of the group on one node (scale-up domain)",
    N: "nodes the group spans",
    X: "buffer bytes as nccl-tests counts them",
    x: "bytes over one link",
    m: "sequential messages (steps) over one link",
    alpha: "latency per message, seconds",
    alpha_0: "fixed latency per collective, seconds",
    alpha_up: "scale-up latency per message, seconds",
    alpha_out: "scale-out latency per message, seconds",
    B: "link bandwidth, bytes/s per direction",
    B_up: "scale-up bandwidth per GPU, bytes/s per direction",
    B_out: "scale-out bandwidth per GPU, bytes/s per direction",
    eta: "link efficiency (achieved / used bandwidth)",
    x_up: "bytes over the scale-up link",
    x_out: "bytes over the scale-out link",
    m_up: "messages over the scale-up link",
    m_out: "messages over the scale-out link",
    t: "time, seconds",
    t_comm: "communication time, seconds",
    nu: "bandwidth ramp length of one link, bytes (0: no ramp)",
    nu_up: "bandwidth ramp length of the scale-up link, bytes",
    nu_out: "bandwidth ramp length of the scale-out link, bytes",
    tau_op: "launch and synchronisation cost of one operation in place, seconds",
    T: "tokens per rank",
    d_ff: "intermediate size of one routed expert",
    d_s: "intermediate size of one shared expert",
    n_s: "shared experts",
    F_ops: "floating-point operations",
    P_peak: "peak FLOP/s",
    P_s: "peak FLOP/s of the attention scores (bf16)",
    eta_c: "compute efficiency (achieved / peak)",
    L: "layers",
    mu: "micro-batches overlapped",
    R: "redundant expert replicas",
    L_moe: "MoE layers",
    W_dense: "dense (non-expert) parameters",
    etp: "expert tensor-parallel size",
    pp: "pipeline-parallel size",
    dp: "attention data-parallel size",
    edp: "expert data-parallel size",
    n_h: "attention heads",
    n_kv: "key-value heads",
    d_h: "head dimension",
    d_i: "intermediate size of the dense MLP",
    V: "vocabulary size",
    beta_w: "bytes per weight",
    beta_o: "bytes of optimizer state and gradients per parameter",
    L_s: "layers on the largest pipeline stage",
    L_sm: "MoE layers on that stage",
    n_emb: "vocabulary matrices on that stage (input embedding, output layer)",
    beta_e: "bytes per routed-expert weight, block scales included",
    beta_x: "bytes per embedding weight",
    beta_kv: "bytes per KV-cache element",
    N_blk: "weights per quantisation scale",
    W_e: "routed-expert parameters on one GPU",
    W_d: "non-expert parameters on one GPU",
    r_q: "query low-rank dimension (MLA q_lora_rank; 0 = none)",
    r_kv: "key-value latent dimension (MLA kv_lora_rank)",
    d_r: "decoupled rope dimension per head (MLA qk_rope_head_dim)",
    d_n: "non-rope query/key dimension per head (MLA qk_nope_head_dim)",
    d_v: "value dimension per head (MLA v_head_dim)",
    n_kvr: "kv heads held by one rank: n_kv/tp, or 1 replicated when tp > n_kv",
    N_ctx: "tokens held in the KV cache of one attention group (requests × context)",
    n_mb: "micro-batches whose activations are in flight on the first stage",
    c_w: "copies of the parameters a GPU holds (2 under DualPipe, else 1)",
    v_pp: "virtual pipeline stages per rank (interleaved schedule)",
    W_x: "vocabulary (embedding and output layer) parameters on one GPU",
    P_attn: "attention parameters of one layer",
    beta_s: "bytes of one quantisation scale",
    c_sc: "1 to store the attention scores (no recompute), 0 to recompute them",
    M_gpu: "device memory per GPU, bytes",
    f_h: "headroom: share of device memory kept free",
    d_qk: "query/key dimension per head (d_h; MLA d_n + d_r)",
    n_att: "keys each query attends to (s/2 causal, the context in decode)",
    x_hbm: "bytes read from device memory",
    B_hbm: "device memory bandwidth, bytes/s",
    t_ac: "attention compute of one layer, seconds",
    t_dc: "dense MLP compute of one layer, seconds",
    t_ex: "compute of one step on a stage (roofline), seconds",
    t_mb: "time of one micro-batch on one stage, seconds",
    t_g: "gradient reduction of one step, seconds",
    o_v: "1 when communication overlaps computation (two micro-batches, DualPipe), else 0",
    o_t: "1 when TP collectives overlap computation too (two micro-batches in prefill), else 0",
    t_cp: "context-parallel exchange of keys and values per layer (forward), seconds",
    n_m: "micro-batches per step",
    n_b: "pipeline bubble in micro-batch times",
    tau: "1 for a training step (with a backward pass), 0 for inference",
    r_f: "1 under full activation recomputation (one more forward pass in training), else 0",
    r_p: "passes of a ring around the group (2 for all-reduce, 1 otherwise)",
    t_d: "EP dispatch time per MoE layer, seconds",
    t_c: "EP combine time per MoE layer, seconds",
    t_attn: "TP collectives of one attention block, seconds",
    t_mlp: "TP collectives of one dense MLP, seconds",
    t_moe: "expert-TP collectives of one MoE layer, seconds",
    t_pp: "one pipeline hand-off of activations, seconds",
    t_a2a: "one EP all-to-all, seconds",
    t_ar: "one TP all-reduce, seconds",
}

LATEX_NAMES: dict[sp.Symbol, str] = {
    ep: r"\mathit{ep}",
    tp: r"\mathit{tp}",
    beta: r"\beta",
    beta_d: r"\beta_{\mathrm{d}}",
    beta_c: r"\beta_{\mathrm{c}}",
    hdr: r"H_{\mathrm{hdr}}",
    N_sb: r"N_{\mathrm{sb}}",
    f_cap: r"f_{\mathrm{cap}}",
    X_imb: r"X_{\mathrm{imb}}",
    n_g: r"n_{\mathrm{g}}",
    k_g: r"k_{\mathrm{g}}",
    lam: r"\lambda",
    alpha_0: r"\alpha_{0}",
    alpha_up: r"\alpha_{\mathrm{up}}",
    alpha_out: r"\alpha_{\mathrm{out}}",
    B_up: r"B_{\mathrm{up}}",
    B_out: r"B_{\mathrm{out}}",
    x_up: r"x_{\mathrm{up}}",
    x_out: r"x_{\mathrm{out}}",
    m_up: r"m_{\mathrm{up}}",
    m_out: r"m_{\mathrm{out}}",
    eta_c: r"\eta_{\mathrm{c}}",
    P_s: r"P_{\mathrm{s}}",
    t_comm: r"t_{\mathrm{comm}}",
    nu: r"\nu",
    nu_up: r"\nu_{\mathrm{up}}",
    nu_out: r"\nu_{\mathrm{out}}",
    tau_op: r"\tau_{\mathrm{op}}",
    d_ff: r"d_{\mathrm{ff}}",
    d_s: r"d_{\mathrm{s}}",
    n_s: r"n_{\mathrm{s}}",
    L_moe: r"L_{\mathrm{moe}}",
    W_dense: r"W_{\mathrm{dense}}",
    etp: r"\mathit{etp}",
    pp: r"\mathit{pp}",
    dp: r"\mathit{dp}",
    edp: r"\mathit{edp}",
    n_h: r"n_{\mathrm{h}}",
    n_kv: r"n_{\mathrm{kv}}",
    d_h: r"d_{\mathrm{h}}",
    d_i: r"d_{\mathrm{i}}",
    beta_w: r"\beta_{\mathrm{w}}",
    beta_o: r"\beta_{\mathrm{o}}",
    L_s: r"L_{\mathrm{s}}",
    L_sm: r"L_{\mathrm{sm}}",
    n_emb: r"n_{\mathrm{emb}}",
    beta_e: r"\beta_{\mathrm{e}}",
    beta_x: r"\beta_{\mathrm{x}}",
    beta_kv: r"\beta_{\mathrm{kv}}",
    N_blk: r"N_{\mathrm{blk}}",
    W_e: r"W_{\mathrm{e}}",
    W_d: r"W_{\mathrm{d}}",
    r_q: r"r_{\mathrm{q}}",
    r_kv: r"r_{\mathrm{kv}}",
    d_r: r"d_{\mathrm{r}}",
    d_n: r"d_{\mathrm{n}}",
    d_v: r"d_{\mathrm{v}}",
    n_kvr: r"n_{\mathrm{kv,r}}",
    N_ctx: r"N_{\mathrm{ctx}}",
    n_mb: r"n_{\mathrm{mb}}",
    c_w: r"c_{w}",
    v_pp: r"v_{\mathrm{pp}}",
    W_x: r"W_{\mathrm{x}}",
    P_attn: r"P_{\mathrm{attn}}",
    beta_s: r"\beta_{\mathrm{s}}",
    c_sc: r"c_{\mathrm{sc}}",
    M_gpu: r"M_{\mathrm{gpu}}",
    f_h: r"f_{\mathrm{h}}",
    d_qk: r"d_{\mathrm{qk}}",
    n_att: r"n_{\mathrm{att}}",
    x_hbm: r"x_{\mathrm{hbm}}",
    B_hbm: r"B_{\mathrm{hbm}}",
    t_ac: r"t_{\mathrm{ac}}",
    t_dc: r"t_{\mathrm{dc}}",
    t_ex: r"t_{\mathrm{ex}}",
    t_mb: r"t_{\mathrm{mb}}",
    t_g: r"t_{\mathrm{g}}",
    o_v: r"o_{\mathrm{v}}",
    o_t: r"o_{\mathrm{t}}",
    t_cp: r"t_{\mathrm{cp}}",
    n_m: r"n_{\mathrm{m}}",
    n_b: r"n_{\mathrm{b}}",
    tau: r"\tau",
    r_f: r"r_{f}",
    r_p: r"r_{\mathrm{p}}",
    t_d: r"t_{\mathrm{d}}",
    t_c: r"t_{\mathrm{c}}",
    t_attn: r"t_{\mathrm{attn}}",
    t_mlp: r"t_{\mathrm{mlp}}",
    t_moe: r"t_{\mathrm{moe}}",
    t_pp: r"t_{\mathrm{pp}}",
    t_a2a: r"t_{\mathrm{a2a}}",
    t_ar: r"t_{\mathrm{ar}}",
}

BY_NAME: dict[str, sp.Symbol] = {str(sym): sym for sym in DESCRIPTIONS}
