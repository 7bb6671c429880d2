"""``moecomm calibrate`` and ``moecomm validate``: the time model fitted to, and checked against,
measured times.

``nccl_tests`` reads nccl-tests logs, ``samples`` reads them and moecomm-bench/1 files into
measured cases, ``fit`` fits the model's parameters (numpy, lazily) and ``run`` writes the
calibrated hardware preset; ``moecomm.validation`` checks a preset against measured cases.
"""
