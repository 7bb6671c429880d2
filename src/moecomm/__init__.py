"""moecomm: exact, symbolic communication volumes for Mixture-of-Experts parallelism."""

__version__ = "0.1.0"
