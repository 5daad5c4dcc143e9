"""The ``nst`` command-line interface."""
