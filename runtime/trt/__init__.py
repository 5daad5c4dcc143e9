"""The TensorRT backend: one builder over TensorRT 10.x, 11.x and TensorRT-RTX, sidecar, runner.

Modules: ``libs`` (which library, version, capabilities), ``config`` (EngineConfig,
SourceModel, precision and profile checks), ``targets`` (compute capabilities), ``build``
(``engine_from_onnx``, ``build_engine``), ``builder_config`` (the builder-config calls),
``logger``, ``sidecar`` (``model.plan.json``, ``check_compat``, ``describe_engine``),
``runner`` (``TrtRunner``), ``cuda`` (CUDA bindings). Nothing here imports ``tensorrt``,
``tensorrt_rtx`` or a CUDA binding at module import; each function imports what it needs.
"""
