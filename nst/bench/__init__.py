"""Measurement jobs: speed (``nst bench``: targets, timing, results) and quality (``nst eval``).

The only package that imports both the runtime and the training code: its torch targets
and the Gatys reference need torch, its runtime targets go through ``open_runner``.
"""
