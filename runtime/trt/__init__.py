"""The TensorRT backend: build (``build.py``), sidecar, runner, CUDA memory, logger.

Nothing here imports ``tensorrt``, ``tensorrt_rtx`` or a CUDA binding at module import;
each function imports the library it needs.
"""
