"""The counting conventions that every formula and every output states."""

EP_PER_RANK = (
    "per rank, per MoE layer; tokens b·s on this rank; balanced routing; bytes that leave the rank"
)
TP_PER_RANK = "per rank, per all-reduce of one layer output; tokens b·s on this rank"
SCALING_PER_GPU = "per GPU, per MoE layer; global batch S spread over M GPUs"
ROUTED_PER_RANK = (
    "per rank, per MoE layer, per phase; tokens b·s on this rank; token copies that leave the rank"
    " (λ = 1 adds those to the rank itself)"
)
WIRE_PER_COPY = "per token copy (one row on the wire)"
COLLECTIVE_PER_RANK = (
    "per rank, one collective; X = the buffer nccl-tests counts (all-reduce, broadcast: the buffer; "
    "all-gather: the total output; reduce-scatter: the total input; all-to-all: the send buffer)"
)
LINK_TIME = "seconds; latency per message plus bytes over bandwidth·efficiency; GB/s = 1e9 B/s"
COMPUTE_PER_RANK = "per rank, per MoE layer, forward pass; balanced routing"
MEMORY_PER_GPU = "per GPU; weights of its pipeline stage (average over stages); bytes"
