#!/usr/bin/env bash
# One device call: 4-GPU then 2-GPU NCCL sweeps + MoE dispatch/combine with `moecomm measure`,
# JSON files (schema moecomm-bench/1, docs/measure.md) and logs into $OUT.
# Usage (on the GPU host, repository root, torch installed: pip install ".[measure]"):
#   OUT=/some/dir PREFIX=h100 bash benchmarks/run_device.sh
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PREFIX=${PREFIX:-h100}
ITERS=${ITERS:-40}; WARMUP=${WARMUP:-10}
# The MoE shapes of DeepSeek-V3 (h 7168, 256 experts, top-8), uniform routing, seed 0.
MOE=(--preset deepseek-v3 --tokens 128,512,4096,16384 --routing uniform --seed 0)
SWEEP=(--backend nccl --min-bytes 8KiB --max-bytes 1GiB)
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1; nvidia-smi topo -m >> "$OUT/nvidia-smi.txt" 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "gpus", torch.cuda.device_count(), "nccl", torch.cuda.nccl.version(), torch.cuda.get_device_name(0))'
NGPU=$(python3 -c 'import torch; print(torch.cuda.device_count())')
for N in 4 2; do
  [ "$NGPU" -ge "$N" ] || { echo "skip N=$N (only $NGPU GPUs)"; continue; }
  VIS=$(seq -s, 0 $((N-1)))
  echo "=== N=$N CUDA_VISIBLE_DEVICES=$VIS ==="
  CUDA_VISIBLE_DEVICES=$VIS timeout 240 torchrun --standalone --nproc-per-node "$N" -m moecomm measure \
    "${SWEEP[@]}" --iters "$ITERS" --warmup "$WARMUP" --moe-iters "$ITERS" "${MOE[@]}" \
    -o "$OUT/${PREFIX}x${N}_nccl.json" > "$OUT/${PREFIX}x${N}.log" 2>&1
  echo "rc=$?"; grep -E " (1048576|16777216|268435456|1073741824) B|moe|Measured|Error|error" "$OUT/${PREFIX}x${N}.log" | grep -v Warning | tail -40
  echo "=== N=$N CUDA graph mode ==="
  CUDA_VISIBLE_DEVICES=$VIS timeout 180 torchrun --standalone --nproc-per-node "$N" -m moecomm measure \
    "${SWEEP[@]}" --iters 20 --warmup 5 --moe-iters 20 --cuda-graph 10 "${MOE[@]}" \
    -o "$OUT/${PREFIX}x${N}_nccl_graph.json" > "$OUT/${PREFIX}x${N}_graph.log" 2>&1
  echo "rc=$?"; grep -E " (8192|1048576|16777216|1073741824) B|moe|Measured|Error|error" "$OUT/${PREFIX}x${N}_graph.log" | grep -v Warning | tail -30
done
