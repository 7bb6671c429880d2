"""The counting conventions that every formula and every output states."""

EP_PER_RANK = (
    "per rank, per MoE layer; tokens b·s on this rank; balanced routing; bytes that leave the rank"
)
TP_PER_RANK = "per rank, per all-reduce of one layer output; tokens b·s on this rank"
SCALING_PER_GPU = "per GPU, per MoE layer; global batch S spread over M GPUs"
