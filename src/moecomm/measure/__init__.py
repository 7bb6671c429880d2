"""``moecomm measure``: real collectives and MoE dispatch/combine, timed under torchrun.

``spec`` (options, sizes), ``plan`` (routing and exact bytes, as ``moecomm traffic``) and
``launch`` (torchrun's environment) are pure Python; ``device``, ``sweep``, ``moe`` and ``run``
import torch only inside the functions that run on a rank; ``job`` ties them together and
writes the file (schema ``moecomm-bench/1``, docs/measure.md).
"""
