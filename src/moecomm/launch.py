"""Launch flags of a layout for the frameworks that would run it: Megatron-LM, SGLang, vLLM.

Each function returns the flags as one command-line fragment, or a sentence starting "n/a:"
that says why the framework cannot express the layout. Flag names follow each framework's own
argument parser: Megatron-LM megatron/training/arguments.py; SGLang
python/sglang/srt/server_args.py; vLLM vllm/engine/arg_utils.py.
"""

from __future__ import annotations

from moecomm.config import Phase, stage_layers

FRAMEWORKS = ("megatron", "sglang", "vllm")


def megatron(
    layers: int,
    tp: int,
    ep: int,
    etp: int,
    pp: int,
    *,
    phase: Phase,
    recompute: str | None = None,
    cp: int = 1,
    vpp: int = 1,
) -> str:
    """Megatron-LM: TP, PP, EP and expert TP; data parallel is what the world leaves.

    Sequence parallelism is on with TP (Megatron-Core requires it for MoE with TP); an uneven
    pipeline split names its first and last stages; training adds the distributed optimizer
    and the recompute choice.
    """
    flags = [
        f"--tensor-model-parallel-size {tp}",
        f"--pipeline-model-parallel-size {pp}",
        f"--expert-model-parallel-size {ep}",
        f"--expert-tensor-parallel-size {etp}",
    ]
    if cp > 1:
        flags.append(f"--context-parallel-size {cp}")
    if tp > 1:
        flags.append("--sequence-parallel")
    first, _, last = stage_layers(layers, pp)
    if layers % pp:
        flags.append(f"--decoder-first-pipeline-num-layers {first}")
        flags.append(f"--decoder-last-pipeline-num-layers {last}")
    if vpp > 1:
        if layers % (pp * vpp) == 0:
            flags.append(f"--num-layers-per-virtual-pipeline-stage {layers // (pp * vpp)}")
        else:
            flags.append(f"--num-virtual-stages-per-pipeline-rank {vpp}")
    if phase == "train":
        flags.append("--use-distributed-optimizer")
        if recompute == "selective":
            flags.append("--recompute-granularity selective")
        elif recompute == "full":
            flags.append(
                "--recompute-granularity full --recompute-method uniform --recompute-num-layers 1"
            )
    return " ".join(flags)


def sglang(
    tp: int,
    dp: int,
    ep: int,
    edp: int,
    pp: int,
    *,
    phase: Phase,
    gpus_per_node: int,
    redundant: int = 0,
) -> str:
    """SGLang: --tp-size is the ranks of one pipeline stage; DP attention splits it into dp
    attention groups; --ep-size shards the experts (the rest of --tp-size is expert TP)."""
    if phase == "train":
        return "n/a: SGLang serves models; it does not train"
    if edp > 1:
        return f"n/a: SGLang has no expert data parallelism (edp = {edp})"
    size = tp * dp
    flags = [f"--tp-size {size}"]
    if dp > 1:
        flags += [f"--dp-size {dp}", "--enable-dp-attention"]
    if ep > 1:
        flags += [f"--ep-size {ep}", "--moe-a2a-backend deepep"]
    if redundant:
        flags.append(f"--ep-num-redundant-experts {redundant}")
    if pp > 1:
        flags.append(f"--pp-size {pp}")
    nodes = -(-size * pp // gpus_per_node)
    if nodes > 1:
        flags.append(f"--nnodes {nodes}")
    return " ".join(flags)


def vllm(tp: int, dp: int, ep: int, etp: int, pp: int, *, phase: Phase) -> str:
    """vLLM: experts either sharded over every rank of a stage (--enable-expert-parallel,
    EP = tp·dp) or split by TP and replicated over DP (EP = 1, expert TP = tp)."""
    if phase == "train":
        return "n/a: vLLM serves models; it does not train"
    flags = [f"--tensor-parallel-size {tp}"]
    if dp > 1:
        flags.append(f"--data-parallel-size {dp}")
    if ep == tp * dp and etp == 1 and ep > 1:
        flags.append("--enable-expert-parallel")
    elif not (ep == 1 and etp == tp):
        return (
            f"n/a: vLLM shards experts over all tp·dp = {tp * dp} ranks or over tp alone; "
            f"got ep {ep}, etp {etp}"
        )
    if pp > 1:
        flags.append(f"--pipeline-parallel-size {pp}")
    return " ".join(flags)


def flags(
    layers: int,
    sizes: tuple[int, int, int, int, int, int],
    *,
    phase: Phase,
    gpus_per_node: int,
    redundant: int = 0,
    recompute: str | None = None,
    cp: int = 1,
    vpp: int = 1,
) -> dict[str, str]:
    """The launch flags of one layout (tp, dp, ep, edp, etp, pp) for every framework."""
    tp, dp, ep, edp, etp, pp = sizes
    if cp > 1:
        why = f"n/a: context parallel {cp} is a training layout here"
        return {
            "megatron": megatron(
                layers, tp, ep, etp, pp, phase=phase, recompute=recompute, cp=cp, vpp=vpp
            ),
            "sglang": why,
            "vllm": why,
        }
    return {
        "megatron": megatron(
            layers, tp, ep, etp, pp, phase=phase, recompute=recompute, cp=cp, vpp=vpp
        ),
        "sglang": sglang(
            tp, dp, ep, edp, pp, phase=phase, gpus_per_node=gpus_per_node, redundant=redundant
        ),
        "vllm": vllm(tp, dp, ep, etp, pp, phase=phase),
    }
