"""Entry point for ``python -m moecomm``."""

from moecomm.cli import main

main(prog_name="moecomm")
