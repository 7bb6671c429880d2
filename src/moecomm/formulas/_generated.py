"""Exact evaluators printed from the formula expressions. Generated: do not edit.

Regenerate with ``python -m moecomm.formulas.codegen``; tests fail if this file drifts.
"""

import math  # noqa: F401
from fractions import Fraction


def _whole(x: Fraction | int) -> int:
    """An integral Fraction as an int; others are outside the domain."""
    if Fraction(x).denominator != 1:
        raise ValueError(f"expected an integer; got {x}")
    return int(x)


def _binomial(n: Fraction, r: Fraction) -> Fraction:
    """C(n, r) for integers, 0 outside 0 <= r <= n (as sympy.binomial for n >= 0)."""
    nn, rr = _whole(n), _whole(r)
    return Fraction(math.comb(nn, rr)) if 0 <= rr <= nn else Fraction(0)


def ep_leave_fraction(*, ep: Fraction) -> Fraction:
    """Share of a rank's routed copies that go to another rank under balanced routing."""
    return (ep - 1)/ep


def ep_tokens_sent(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Token copies each EP rank sends in dispatch (and receives back in combine)."""
    return b*k*s*(ep - 1)/ep


def ep_dispatch_bytes(*, b: Fraction, beta_d: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in the dispatch all-to-all."""
    return b*beta_d*h*k*s*(ep - 1)/ep


def ep_combine_bytes(*, b: Fraction, beta_c: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in the combine all-to-all (the same rows, back)."""
    return b*beta_c*h*k*s*(ep - 1)/ep


def ep_total_bytes(*, b: Fraction, beta_c: Fraction, beta_d: Fraction, ep: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Bytes each EP rank sends in one MoE layer's dispatch plus combine."""
    return b*beta_c*h*k*s*(ep - 1)/ep + b*beta_d*h*k*s*(ep - 1)/ep


def ep_total_bytes_approx(*, b: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Half-precision approximation 4·b·s·k·h of dispatch plus combine, ignoring (ep−1)/ep."""
    return 4*b*h*k*s


def ep_phase_bytes(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, w: Fraction) -> Fraction:
    """Bytes each EP rank sends in one phase (dispatch or combine) when a token copy is w bytes."""
    return b*k*s*w*(ep - 1)/ep


def tp_allreduce_bytes(*, b: Fraction, beta: Fraction, h: Fraction, s: Fraction, tp: Fraction) -> Fraction:
    """Bytes each rank sends in a ring all-reduce of the [b·s, h] layer output."""
    return 2*b*beta*h*s*(tp - 1)/tp


def tp_allreduce_bytes_bound(*, b: Fraction, beta: Fraction, h: Fraction, s: Fraction) -> Fraction:
    """A bound 2·b·s·h·β on all-reduce bytes per rank, which does not shrink as tp grows."""
    return 2*b*beta*h*s


def scaling_ep_bytes(*, D: Fraction, K: Fraction, M: Fraction, S: Fraction, beta: Fraction) -> Fraction:
    """Bytes per GPU for EP dispatch plus combine when each of M GPUs holds S/M tokens."""
    return 2*D*K*S*beta*(M - 1)/M**2


def scaling_tp_bytes(*, D: Fraction, M: Fraction, S: Fraction, beta: Fraction) -> Fraction:
    """Bytes per GPU for the TP all-reduce when all M GPUs hold all S tokens."""
    return 2*D*S*beta*(M - 1)/M


def scaling_ratio(*, K: Fraction, M: Fraction) -> Fraction:
    """EP bytes over TP bytes per GPU for M ≥ 2: K/M, so EP moves less once M > K."""
    return K/M


def scaling_crossover_size(*, K: Fraction) -> Fraction:
    """Smallest integer M at which EP moves fewer bytes per GPU than TP."""
    return K + 1


def allreduce_wire_bytes(*, X: Fraction, n: Fraction) -> Fraction:
    """Bytes each rank sends in a ring all-reduce of an X-byte buffer."""
    return 2*X*(n - 1)/n


def allgather_wire_bytes(*, X: Fraction, n: Fraction) -> Fraction:
    """Bytes each rank sends in a ring all-gather whose total output is X bytes."""
    return X*(n - 1)/n


def reducescatter_wire_bytes(*, X: Fraction, n: Fraction) -> Fraction:
    """Bytes each rank sends in a ring reduce-scatter whose total input is X bytes."""
    return X*(n - 1)/n


def alltoall_wire_bytes(*, X: Fraction, n: Fraction) -> Fraction:
    """Bytes each rank sends to other ranks in an all-to-all of an X-byte send buffer."""
    return X*(n - 1)/n


def broadcast_wire_bytes(*, X: Fraction) -> Fraction:
    """Bytes each rank receives (and forwards) in a pipelined ring broadcast of X bytes."""
    return X


def busbw_factor_allreduce(*, n: Fraction) -> Fraction:
    """Bus-bandwidth factor of all-reduce: busbw = algbw · 2(n−1)/n."""
    return 2*(n - 1)/n


def busbw_factor_allgather(*, n: Fraction) -> Fraction:
    """Bus-bandwidth factor of all-gather and reduce-scatter: (n−1)/n."""
    return (n - 1)/n


def busbw_factor_alltoall(*, n: Fraction) -> Fraction:
    """Bus-bandwidth factor of all-to-all: (n−1)/n."""
    return (n - 1)/n


def busbw_factor_broadcast() -> Fraction:
    """Bus-bandwidth factor of broadcast: 1."""
    return Fraction(1)


def ring_inter_bytes(*, N: Fraction, X: Fraction, g: Fraction) -> Fraction:
    """Bytes of a ring collective that cross one rank's NIC, given W = its wire bytes (as X)."""
    return X*min(Fraction(1), Fraction(N - 1))/g


def ring_intra_bytes(*, N: Fraction, X: Fraction, g: Fraction) -> Fraction:
    """Bytes of a ring collective over one rank's scale-up link, given W = its wire bytes (as X)."""
    return X - X*min(Fraction(1), Fraction(N - 1))/g


def alltoall_intra_bytes(*, X: Fraction, g: Fraction, n: Fraction) -> Fraction:
    """Bytes of a balanced all-to-all that one rank sends to the g−1 other ranks on its node."""
    return X*(g - 1)/n


def alltoall_inter_bytes(*, X: Fraction, g: Fraction, n: Fraction) -> Fraction:
    """Bytes of a balanced all-to-all that one rank sends to the n−g ranks on other nodes."""
    return X*(-g + n)/n


def alltoall_2dh_intra_bytes(*, X: Fraction, g: Fraction) -> Fraction:
    """Bytes one rank sends over the scale-up link in the intra-node phase of a 2D all-to-all."""
    return X*(g - 1)/g


def alltoall_2dh_inter_bytes(*, N: Fraction, X: Fraction) -> Fraction:
    """Bytes one rank sends over its NIC in the inter-node phase of a 2D all-to-all."""
    return X*(N - 1)/N


def ep_phase_intra_bytes(*, b: Fraction, ep: Fraction, g: Fraction, k: Fraction, s: Fraction, w: Fraction) -> Fraction:
    """EP bytes one rank sends to the other EP ranks on its node in one phase, w bytes a copy."""
    return b*k*s*w*(g - 1)/ep


def ep_phase_inter_bytes(*, b: Fraction, ep: Fraction, g: Fraction, k: Fraction, s: Fraction, w: Fraction) -> Fraction:
    """EP bytes one rank sends to EP ranks on other nodes in one phase, w bytes a copy."""
    return b*k*s*w*(ep - g)/ep


def ep_intra_bytes(*, b: Fraction, beta: Fraction, ep: Fraction, g: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """EP bytes one rank sends to the other EP ranks on its node (dispatch, or combine, at β)."""
    return b*beta*h*k*s*(g - 1)/ep


def ep_inter_bytes(*, b: Fraction, beta: Fraction, ep: Fraction, g: Fraction, h: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """EP bytes one rank sends to EP ranks on other nodes (dispatch, or combine, at β)."""
    return b*beta*h*k*s*(ep - g)/ep


def expert_flops(*, T: Fraction, d_ff: Fraction, d_s: Fraction, etp: Fraction, h: Fraction, k: Fraction, n_s: Fraction) -> Fraction:
    """Expert GEMM FLOPs of one rank in one MoE layer's forward pass."""
    return (6*T*d_ff*h*k + 6*T*d_s*h*n_s)/etp


def compute_seconds(*, F: Fraction, P: Fraction, eta_c: Fraction) -> Fraction:
    """Time of F FLOPs at the peak rate times an efficiency."""
    return F/(P*eta_c)


def overlap_exposed_seconds(*, t: Fraction, t_comm: Fraction) -> Fraction:
    """Communication left exposed when it overlaps the other micro-batch's computation."""
    return max(Fraction(0), Fraction(-t + t_comm))


def ep_decode_layer_seconds_estimate(*, B: Fraction, T: Fraction, beta_c: Fraction, beta_d: Fraction, h: Fraction, k: Fraction) -> Fraction:
    """DeepSeek's estimate of one decode layer's EP dispatch plus combine over the NIC."""
    return T*h*k*(beta_c + beta_d)/B


def ep_decode_token_seconds_estimate(*, B: Fraction, L: Fraction, T: Fraction, beta_c: Fraction, beta_d: Fraction, h: Fraction, k: Fraction, mu: Fraction) -> Fraction:
    """DeepSeek's time per output token: the layer estimate over L layers and μ micro-batches."""
    return L*T*h*k*mu*(beta_c + beta_d)/B


def attention_flops(*, P_attn: Fraction, T: Fraction, d_qk: Fraction, d_v: Fraction, n_att: Fraction, n_h: Fraction) -> Fraction:
    """Attention FLOPs of one rank in one layer's forward pass."""
    return 2*P_attn*T + 2*T*n_att*n_h*(d_qk + d_v)


def attention_score_flops(*, T: Fraction, d_qk: Fraction, d_v: Fraction, n_att: Fraction, n_h: Fraction) -> Fraction:
    """The scores and weighted sum of attention_flops: 2·n_h·(d_qk + d_v) per query and key."""
    return 2*T*n_att*n_h*(d_qk + d_v)


def attention_seconds(*, P: Fraction, P_attn: Fraction, P_s: Fraction, T: Fraction, d_qk: Fraction, d_v: Fraction, eta_c: Fraction, n_att: Fraction, n_h: Fraction) -> Fraction:
    """Attention compute: the projections at the GEMM rate P, the scores at the bf16 rate P_s."""
    return 2*T*n_att*n_h*(d_qk + d_v)/(P_s*eta_c) + 2*P_attn*T/(P*eta_c)


def dense_mlp_flops(*, T: Fraction, d_i: Fraction, h: Fraction) -> Fraction:
    """FLOPs of one rank in a dense (gated) MLP layer's forward pass: 2·3·h·d_i per token."""
    return 6*T*d_i*h


def hbm_seconds(*, B_hbm: Fraction, x_hbm: Fraction) -> Fraction:
    """Time to read x_hbm bytes from device memory: the memory-bound side of the roofline."""
    return x_hbm/B_hbm


def dense_params(*, L: Fraction, L_moe: Fraction, V: Fraction, d_h: Fraction, d_i: Fraction, d_s: Fraction, h: Fraction, n_h: Fraction, n_kv: Fraction, n_s: Fraction) -> Fraction:
    """Parameters outside the routed experts: attention, dense MLPs, shared experts, embeddings."""
    return L*d_h*h*(2*n_h + 2*n_kv) + 3*L_moe*d_s*h*n_s + 2*V*h + d_i*h*(3*L - 3*L_moe)


def expert_params_per_gpu(*, E: Fraction, L_moe: Fraction, R: Fraction, d_ff: Fraction, ep: Fraction, etp: Fraction, h: Fraction, pp: Fraction) -> Fraction:
    """Routed-expert parameters on one GPU, redundant replicas included."""
    return 3*L_moe*d_ff*h*(E + R)/(ep*etp*pp)


def dense_params_per_gpu(*, W_dense: Fraction, pp: Fraction, tp: Fraction) -> Fraction:
    """Dense parameters on one GPU: sharded by TP and by the pipeline, replicated over DP."""
    return W_dense/(pp*tp)


def weight_element_bytes(*, N_blk: Fraction, beta: Fraction, beta_s: Fraction) -> Fraction:
    """Bytes per weight of a block-scaled format: the element plus its share of one scale."""
    return beta + beta_s/N_blk


def gqa_attention_params(*, d_h: Fraction, h: Fraction, n_h: Fraction, n_kv: Fraction) -> Fraction:
    """Attention parameters of one layer with grouped KV heads (MHA when n_kv = n_h, MQA at 1)."""
    return d_h*h*(2*n_h + 2*n_kv)


def mla_attention_params(*, d_n: Fraction, d_r: Fraction, d_v: Fraction, h: Fraction, n_h: Fraction, r_kv: Fraction, r_q: Fraction) -> Fraction:
    """Attention parameters of one MLA layer (DeepSeek-V2/V3) with a low-rank query (r_q > 0)."""
    return d_v*h*n_h + h*r_q + h*(d_r + r_kv) + n_h*r_kv*(d_n + d_v) + n_h*r_q*(d_n + d_r)


def mla_direct_q_attention_params(*, d_n: Fraction, d_r: Fraction, d_v: Fraction, h: Fraction, n_h: Fraction, r_kv: Fraction) -> Fraction:
    """Attention parameters of one MLA layer whose query is a full projection (q_lora_rank null)."""
    return d_v*h*n_h + h*n_h*(d_n + d_r) + h*(d_r + r_kv) + n_h*r_kv*(d_n + d_v)


def stage_expert_params(*, E: Fraction, L_sm: Fraction, R: Fraction, d_ff: Fraction, ep: Fraction, etp: Fraction, h: Fraction) -> Fraction:
    """Routed-expert parameters on one GPU of the largest stage."""
    return 3*L_sm*d_ff*h*(E + R)/(ep*etp)


def stage_dense_params(*, E: Fraction, L_s: Fraction, L_sm: Fraction, P_attn: Fraction, d_i: Fraction, d_s: Fraction, h: Fraction, n_s: Fraction, tp: Fraction) -> Fraction:
    """Non-expert, non-vocabulary parameters on one GPU of the largest stage, split over tp."""
    return E*L_sm*h + (L_s*P_attn + 3*L_sm*d_s*h*n_s + d_i*h*(3*L_s - 3*L_sm))/tp


def stage_vocab_params(*, V: Fraction, h: Fraction, n_emb: Fraction, tp: Fraction) -> Fraction:
    """Input embedding and output layer parameters on one GPU, vocabulary-parallel over tp."""
    return V*h*n_emb/tp


def weight_bytes(*, W_d: Fraction, W_e: Fraction, W_x: Fraction, beta_e: Fraction, beta_w: Fraction, beta_x: Fraction, c_w: Fraction) -> Fraction:
    """Weights of one GPU at their dtypes: experts at β_e, other linear layers at β_w, the"""
    return c_w*(W_d*beta_w + W_e*beta_e + W_x*beta_x)


def gradient_bytes(*, W_d: Fraction, W_e: Fraction, W_x: Fraction, c_w: Fraction) -> Fraction:
    """fp32 main gradients of every parameter on the GPU."""
    return 4*c_w*(W_d + W_e + W_x)


def optimizer_bytes(*, W_d: Fraction, W_e: Fraction, W_x: Fraction, dp: Fraction, edp: Fraction) -> Fraction:
    """Adam state with fp32 master weights, sharded over the data-parallel ranks."""
    return 12*W_e/edp + (12*W_d + 12*W_x)/dp


def dense_layer_activation_bytes(*, T: Fraction, c_sc: Fraction, d_i: Fraction, h: Fraction, n_h: Fraction, s: Fraction) -> Fraction:
    """Activations a dense layer stores for its backward pass, with sequence parallelism."""
    return 5*T*c_sc*n_h*s + T*(6*d_i + 18*h)


def moe_layer_activation_bytes(*, E: Fraction, T: Fraction, c_sc: Fraction, d_ff: Fraction, d_s: Fraction, etp: Fraction, h: Fraction, k: Fraction, n_h: Fraction, n_s: Fraction, s: Fraction) -> Fraction:
    """Activations an MoE layer stores: the dense layer's terms, with the MLP per routed copy."""
    return T*(4*E + 5*c_sc*n_h*s + 6*d_s*n_s + 18*h + k*(6*d_ff + 2*etp*h))


def full_recompute_layer_bytes(*, T: Fraction, h: Fraction) -> Fraction:
    """The one tensor a fully recomputed layer keeps: its input."""
    return 2*T*h


def activation_bytes(*, E: Fraction, L_s: Fraction, L_sm: Fraction, T: Fraction, c_sc: Fraction, d_ff: Fraction, d_i: Fraction, d_s: Fraction, etp: Fraction, h: Fraction, k: Fraction, n_h: Fraction, n_mb: Fraction, n_s: Fraction, s: Fraction) -> Fraction:
    """Activations in flight on the first pipeline stage: n_mb micro-batches of L_s layers."""
    return n_mb*(L_sm*T*(4*E + 5*c_sc*n_h*s + 6*d_s*n_s + 18*h + k*(6*d_ff + 2*etp*h)) + (L_s - L_sm)*(5*T*c_sc*n_h*s + T*(6*d_i + 18*h)))


def interleaved_in_flight(*, pp: Fraction, v_pp: Fraction) -> Fraction:
    """Micro-batches of activations the first stage holds under the interleaved schedule."""
    return pp*(1 + (pp - 1)/(pp*v_pp))


def dualpipe_in_flight(*, pp: Fraction) -> Fraction:
    """Micro-batches of activations a stage holds under DualPipe."""
    return pp + 1


def full_recompute_activation_bytes(*, L_s: Fraction, T: Fraction, h: Fraction, n_mb: Fraction) -> Fraction:
    """Activations in flight under full recomputation: each layer's input only."""
    return 2*L_s*T*h*n_mb


def mla_kv_cache_bytes(*, L_s: Fraction, N_ctx: Fraction, beta_kv: Fraction, d_r: Fraction, r_kv: Fraction) -> Fraction:
    """KV cache of an MLA model: the compressed latent and the decoupled rope key per token."""
    return L_s*N_ctx*beta_kv*(d_r + r_kv)


def gqa_kv_cache_bytes(*, L_s: Fraction, N_ctx: Fraction, beta_kv: Fraction, d_h: Fraction, n_kvr: Fraction) -> Fraction:
    """KV cache of grouped-query attention: a key and a value of d_h per kv head on the rank."""
    return 2*L_s*N_ctx*beta_kv*d_h*n_kvr


def usable_memory_bytes(*, M_gpu: Fraction, f_h: Fraction) -> Fraction:
    """Device memory left for the items once the headroom is kept free."""
    return M_gpu*(1 - f_h)


def bandwidth_ramp(*, nu: Fraction, x: Fraction) -> Fraction:
    """Share of the peak bandwidth a transfer of x bytes reaches: from 1/2 at small x to 1."""
    return max(Fraction(1), Fraction(nu + x))/max(Fraction(1), Fraction(2*nu + x))


def link_seconds(*, B: Fraction, alpha: Fraction, eta: Fraction, m: Fraction, nu: Fraction, x: Fraction) -> Fraction:
    """Time to push x bytes in m sequential messages over one link."""
    return alpha*m + x*max(Fraction(1), Fraction(2*nu + x))/(B*eta*max(Fraction(1), Fraction(nu + x)))


def collective_seconds(*, B_out: Fraction, B_up: Fraction, alpha_0: Fraction, alpha_out: Fraction, alpha_up: Fraction, eta: Fraction, m_out: Fraction, m_up: Fraction, nu_out: Fraction, nu_up: Fraction, x_out: Fraction, x_up: Fraction) -> Fraction:
    """Time of one collective: a fixed latency plus the slower of the scale-up and scale-out links."""
    return alpha_0 + max(Fraction(alpha_out*m_out + x_out*max(Fraction(1), Fraction(2*nu_out + x_out))/(B_out*eta*max(Fraction(1), Fraction(nu_out + x_out)))), Fraction(alpha_up*m_up + x_up*max(Fraction(1), Fraction(2*nu_up + x_up))/(B_up*eta*max(Fraction(1), Fraction(nu_up + x_up)))))


def per_op_seconds(*, t_comm: Fraction, tau_op: Fraction) -> Fraction:
    """Time of one operation in place (per-op), from its back-to-back time t_comm."""
    return t_comm + tau_op


def alltoall_2dh_seconds(*, B_out: Fraction, B_up: Fraction, N: Fraction, X: Fraction, alpha_0: Fraction, alpha_out: Fraction, alpha_up: Fraction, eta: Fraction, g: Fraction, nu_out: Fraction, nu_up: Fraction) -> Fraction:
    """Time of a hierarchical 2D all-to-all: an intra-node phase, then an inter-node phase."""
    return 2*alpha_0 + alpha_out*(N - 1) + alpha_up*(g - 1) + X*(g - 1)*max(Fraction(1), Fraction(X*(g - 1)/g + 2*nu_up))/(B_up*eta*g*max(Fraction(1), Fraction(X*(g - 1)/g + nu_up))) + X*(N - 1)*max(Fraction(1), Fraction(2*nu_out + X*(N - 1)/N))/(B_out*N*eta*max(Fraction(1), Fraction(nu_out + X*(N - 1)/N)))


def algbw(*, X: Fraction, t: Fraction) -> Fraction:
    """Algorithm bandwidth: the nccl-tests buffer size over the time."""
    return X/t


def token_bytes(*, beta: Fraction, h: Fraction) -> Fraction:
    """Bytes of one token copy of h elements of β bytes each."""
    return beta*h


def fp8_token_bytes(*, N_sb: Fraction, h: Fraction) -> Fraction:
    """Bytes of one FP8 token copy with one fp32 scale per N_sb channels: h + 4·h/N_sb."""
    return h + 4*h/N_sb


def message_bytes(*, hdr: Fraction, w: Fraction) -> Fraction:
    """Bytes of one dispatched message: the token copy's w bytes plus a header."""
    return hdr + w


def lowlatency_dispatch_message_bytes(*, N_sb: Fraction, h: Fraction, hdr: Fraction) -> Fraction:
    """Bytes of one DeepEP low-latency FP8 dispatch message (7408 B for h 7168, N_sb 128, 16 B header)."""
    return h + hdr + 4*h/N_sb


def unit_hit_probability(*, E: Fraction, U: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Probability that a token reaches a given unit (rank or node) under group-limited routing."""
    return k_g*(1 - _binomial(E*k_g/n_g - E/U, k)/_binomial(E*k_g/n_g, k))/n_g


def unit_hit_probability_multigroup(*, E: Fraction, U: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Probability that a token reaches a given unit holding n_g/U whole groups (group-limited)."""
    return 1 - sum((_binomial(n_g/U, j)*_binomial(n_g - n_g/U, -j + k_g)*_binomial(-E*j/n_g + E*k_g/n_g, k)/(_binomial(n_g, k_g)*_binomial(E*k_g/n_g, k)) for j in map(Fraction, range(_whole(0), _whole(n_g/U) + 1))), Fraction(0))


def expected_distinct_units(*, E: Fraction, U: Fraction, k: Fraction) -> Fraction:
    """Expected distinct units (ranks or nodes) one token reaches: U·(1 − C(E − E/U, k)/C(E, k))."""
    return U*(1 - _binomial(E - E/U, k)/_binomial(E, k))


def expected_distinct_other_units(*, E: Fraction, U: Fraction, k: Fraction) -> Fraction:
    """Expected distinct units one token reaches other than its own: (U−1)·(1 − C(E−E/U,k)/C(E,k))."""
    return (1 - _binomial(E - E/U, k)/_binomial(E, k))*(U - 1)


def expected_distinct_units_grouped(*, E: Fraction, U: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Expected distinct units one token reaches under group-limited routing: U·p."""
    return U*k_g*(1 - _binomial(E*k_g/n_g - E/U, k)/_binomial(E*k_g/n_g, k))/n_g


def expected_distinct_units_multigroup(*, E: Fraction, U: Fraction, k: Fraction, k_g: Fraction, n_g: Fraction) -> Fraction:
    """Expected distinct units one token reaches when each unit holds n_g/U whole groups: U·p."""
    return U*(1 - sum((_binomial(n_g/U, j)*_binomial(n_g - n_g/U, -j + k_g)*_binomial(-E*j/n_g + E*k_g/n_g, k)/(_binomial(n_g, k_g)*_binomial(E*k_g/n_g, k)) for j in map(Fraction, range(_whole(0), _whole(n_g/U) + 1))), Fraction(0)))


def pair_copies(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Token copies one rank sends to one given rank, one per (token, expert), balanced routing."""
    return b*k*s/ep


def copies_sent(*, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends per phase, one per (token, chosen expert): b·s·k·(ep − 1 + λ)/ep."""
    return b*k*s*(ep + lam - 1)/ep


def copies_sent_intra_node(*, G: Fraction, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to ranks of its own node, one per (token, expert): (G − 1 + λ)·b·s·k/ep."""
    return b*k*s*(G + lam - 1)/ep


def copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to other nodes, one per (token, expert): (ep − G)·b·s·k/ep."""
    return b*k*s*(-G + ep)/ep


def rank_dedup_pair_copies(*, b: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends to one given rank, one per (token, destination rank): b·s·p."""
    return b*p*s


def rank_dedup_copies_sent(*, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends per phase, one per (token, destination rank): (ep − 1 + λ)·b·s·p."""
    return b*p*s*(ep + lam - 1)


def rank_dedup_copies_sent_intra_node(*, G: Fraction, b: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies per (token, destination rank) one rank sends inside its node: (G − 1 + λ)·b·s·p."""
    return b*p*s*(G + lam - 1)


def rank_dedup_copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies per (token, destination rank) one rank sends to other nodes: (ep − G)·b·s·p."""
    return b*p*s*(-G + ep)


def node_dedup_pair_copies(*, b: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Copies one rank sends over the network to one given node: b·s·p with U = ep/G nodes."""
    return b*p*s


def node_dedup_copies_sent_inter_node(*, G: Fraction, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """Network copies one rank sends, one per (token, destination node): (ep/G − 1 + λ)·b·s·p."""
    return b*p*s*(lam - 1 + ep/G)


def node_dedup_forward_pair_copies(*, G: Fraction, b: Fraction, ep: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """NVLink copies a forwarding rank sends to one other rank of its node: (ep/G)·b·s·p (p per rank)."""
    return b*ep*p*s/G


def node_dedup_copies_sent_intra_node(*, G: Fraction, b: Fraction, ep: Fraction, lam: Fraction, p: Fraction, s: Fraction) -> Fraction:
    """NVLink copies one rank forwards per phase: (G − 1 + λ)·(ep/G)·b·s·p (p per rank)."""
    return b*ep*p*s*(G + lam - 1)/G


def expert_capacity_exact(*, E: Fraction, b: Fraction, f_cap: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Expert capacity per source rank before rounding: b·s·k·f_cap/E copies, a rational."""
    return b*f_cap*k*s/E


def expert_capacity(*, E: Fraction, b: Fraction, f_cap: Fraction, k: Fraction, s: Fraction) -> Fraction:
    """Expert capacity per source rank rounded up in exact arithmetic: ceil(b·s·k·f_cap/E)."""
    return Fraction(math.ceil(b*f_cap*k*s/E))


def padded_pair_copies(*, C: Fraction, E: Fraction, ep: Fraction) -> Fraction:
    """Copies one rank sends to one given rank when every expert slot is padded full: C·E/ep."""
    return C*E/ep


def padded_copies_sent(*, C: Fraction, E: Fraction, ep: Fraction, lam: Fraction) -> Fraction:
    """Rows one rank sends per phase with padding: C·(E − E/ep) on the wire (+ C·E/ep if λ = 1)."""
    return C*E*(ep + lam - 1)/ep


def loaded_pair_copies(*, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank sends to one rank whose experts carry u times the mean load: u·b·s·k/ep."""
    return b*k*s*u/ep


def capped_pair_copies(*, C: Fraction, E: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank sends to one rank whose experts carry u times the mean load, capped at C."""
    return E*min(Fraction(C), Fraction(b*k*s*u/E))/ep


def dropped_pair_copies(*, C: Fraction, E: Fraction, b: Fraction, ep: Fraction, k: Fraction, s: Fraction, u: Fraction) -> Fraction:
    """Copies one rank drops at one rank whose experts carry u times the mean load: beyond C."""
    return E*max(Fraction(0), Fraction(-C + b*k*s*u/E))/ep


def imbalance_other_load(*, X_imb: Fraction, ep: Fraction) -> Fraction:
    """Load of each non-busiest rank relative to the mean when the busiest carries X_imb times it."""
    return (-X_imb + ep)/(ep - 1)


def imbalance_busiest_recv_copies(*, X_imb: Fraction, b: Fraction, ep: Fraction, k: Fraction, lam: Fraction, s: Fraction) -> Fraction:
    """Copies the busiest rank receives per phase: X_imb times the mean (ep − 1 + λ)·b·s·k/ep."""
    return X_imb*b*k*s*(ep + lam - 1)/ep


def compute_passes(*, tau: Fraction) -> Fraction:
    """Forward-pass GEMM equivalents in one step: 1 in inference, 3 in training."""
    return 2*tau + 1


def comm_passes(*, tau: Fraction) -> Fraction:
    """Times each forward collective runs in one step: 1 in inference, 2 in training."""
    return tau + 1


def ep_step_seconds(*, L_moe: Fraction, pp: Fraction, t_c: Fraction, t_d: Fraction, tau: Fraction) -> Fraction:
    """EP dispatch and combine of one step, over the MoE layers of one pipeline stage."""
    return L_moe*(t_c + t_d)*(tau + 1)/pp


def tp_step_seconds(*, L: Fraction, L_moe: Fraction, pp: Fraction, t_attn: Fraction, t_mlp: Fraction, t_moe: Fraction, tau: Fraction) -> Fraction:
    """TP collectives of one step: attention in every layer, dense MLPs, expert-TP in MoE layers."""
    return (tau + 1)*(L*t_attn + L_moe*t_moe + t_mlp*(L - L_moe))/pp


def expert_compute_step_seconds(*, L_moe: Fraction, pp: Fraction, t: Fraction, tau: Fraction) -> Fraction:
    """Expert GEMMs of one step: compute_passes × t per MoE layer × L_moe / pp."""
    return L_moe*t*(2*tau + 1)/pp


def pp_step_seconds(*, t_pp: Fraction, tau: Fraction) -> Fraction:
    """Pipeline hand-offs of one step: the activations forward (and their gradients back)."""
    return t_pp*(tau + 1)


def ring_messages_out(*, N: Fraction, r_p: Fraction) -> Fraction:
    """Ring steps that cross a node boundary: r_p passes of N − 1 boundaries each."""
    return r_p*(N - 1)


def ring_messages_up(*, N: Fraction, n: Fraction, r_p: Fraction) -> Fraction:
    """Ring steps over the scale-up link: r_p·(n − 1) steps in all, less those across nodes."""
    return -r_p*(N - 1) + r_p*(n - 1)


def ep_tp_time_ratio(*, t_a2a: Fraction, t_ar: Fraction) -> Fraction:
    """EP's dispatch plus combine over TP's all-reduce: EP is faster when this is below 1."""
    return 2*t_a2a/t_ar


def stage_compute_seconds(*, L: Fraction, L_moe: Fraction, pp: Fraction, r_f: Fraction, t: Fraction, t_ac: Fraction, t_dc: Fraction, tau: Fraction) -> Fraction:
    """Compute of one micro-batch on one stage: attention in every layer, dense MLPs, experts."""
    return (L*t_ac + L_moe*t + t_dc*(L - L_moe))*(r_f*tau + 2*tau + 1)/pp


def exposed_ep_step_seconds(*, L_moe: Fraction, o_v: Fraction, pp: Fraction, t: Fraction, t_ac: Fraction, t_c: Fraction, t_d: Fraction, tau: Fraction) -> Fraction:
    """EP all-to-all left exposed over the stage's MoE layers."""
    return L_moe*max(Fraction(0), Fraction(-o_v*(t + t_ac)*(2*tau + 1) + (t_c + t_d)*(tau + 1)))/pp


def exposed_tp_step_seconds(*, L: Fraction, L_moe: Fraction, o_t: Fraction, pp: Fraction, t: Fraction, t_ac: Fraction, t_attn: Fraction, t_c: Fraction, t_d: Fraction, t_dc: Fraction, t_mlp: Fraction, t_moe: Fraction, tau: Fraction) -> Fraction:
    """TP collectives left exposed over the stage's layers: all of them (o_t = 0), or what they"""
    return o_t*(L_moe*(-max(Fraction(0), Fraction(-(t + t_ac)*(2*tau + 1) + (t_c + t_d)*(tau + 1))) + max(Fraction(0), Fraction(-(t + t_ac)*(2*tau + 1) + (t_attn + t_moe)*(tau + 1) + (t_c + t_d)*(tau + 1)))) + (L - L_moe)*max(Fraction(0), Fraction(-(t_ac + t_dc)*(2*tau + 1) + (t_attn + t_mlp)*(tau + 1))))/pp + (1 - o_t)*(tau + 1)*(L*t_attn + L_moe*t_moe + t_mlp*(L - L_moe))/pp


def cp_kv_chunk_bytes(*, T: Fraction, beta: Fraction, d_h: Fraction, n_kv: Fraction, tp: Fraction) -> Fraction:
    """Keys and values one context-parallel rank holds for its chunk of the sequence and sends"""
    return 2*T*beta*d_h*n_kv*tp


def cp_step_seconds(*, L: Fraction, pp: Fraction, t_ac: Fraction, t_cp: Fraction, tau: Fraction) -> Fraction:
    """Context-parallel KV exchange left exposed over the stage's layers."""
    return L*(2*tau + 1)*max(Fraction(0), Fraction(-t_ac + t_cp))/pp


def pipeline_step_seconds(*, n_b: Fraction, n_m: Fraction, t_mb: Fraction) -> Fraction:
    """A step of n_m micro-batches of t_mb each through the pipeline, with its bubble."""
    return t_mb*(n_b + n_m)


def train_step_seconds(*, n_b: Fraction, n_m: Fraction, t_ex: Fraction, t_g: Fraction, t_mb: Fraction) -> Fraction:
    """Training step: the pipelined micro-batches plus the gradient reduction left exposed."""
    return t_mb*(n_b + n_m) + max(Fraction(0), Fraction(-Fraction(2, 3)*t_ex + t_g))


def tokens_per_second_per_gpu(*, T: Fraction, n_m: Fraction, pp: Fraction, t: Fraction) -> Fraction:
    """Throughput per GPU: n_m micro-batches of T tokens per rank, each crossing pp stages."""
    return T*n_m/(pp*t)
