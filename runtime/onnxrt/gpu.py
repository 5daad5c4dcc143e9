"""GPU options of :class:`~nst.runtime.onnxrt.OrtRunner`: CUDA / TensorRT EP provider options,
IO binding on device buffers, CUDA graphs for fixed shapes.

Everything is validated up front (unknown provider-option keys get a "did you mean", options for
an EP that is not in use are errors, not ignored). Provider lists are built as ONNX Runtime's
``providers=[(name, {key: str})]``. The IO-binding path keeps one set of OrtValues per shape,
updated in place, which is what ``enable_cuda_graph`` requires (fixed device addresses) and
also runs on CPU, where it is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst.errors import InputError, ModelError, did_you_mean

CUDA_EP, TRT_EP, CPU_EP = "CUDAExecutionProvider", "TensorrtExecutionProvider", "CPUExecutionProvider"
# Documented CUDA EP options (onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html).
CUDA_KEYS = frozenset({
    "gpu_mem_limit", "arena_extend_strategy", "cudnn_conv_algo_search", "do_copy_in_default_stream",
    "cudnn_conv_use_max_workspace", "cudnn_conv1d_pad_to_nc1d", "enable_skip_layer_norm_strict_mode",
    "prefer_nhwc", "use_tf32", "tunable_op_enable", "tunable_op_tuning_enable", "use_ep_level_unified_stream",
})  # fmt: skip
# Documented TensorRT EP options (…/TensorRT-ExecutionProvider.html), less those typed below.
TRT_KEYS = frozenset({
    "trt_max_workspace_size", "trt_int8_enable", "trt_int8_calibration_table_name", "trt_timing_cache_enable",
    "trt_timing_cache_path", "trt_builder_optimization_level", "trt_profile_min_shapes",
    "trt_profile_opt_shapes", "trt_profile_max_shapes", "trt_layer_norm_fp32_fallback",
    "trt_detailed_build_log", "trt_force_sequential_engine_build", "trt_context_memory_sharing_enable",
    "trt_max_partition_iterations", "trt_min_subgraph_size", "trt_dla_enable", "trt_dla_core",
    "trt_sparsity_enable", "trt_auxiliary_streams", "trt_tactic_sources", "trt_engine_hw_compatible",
    "trt_dump_subgraphs", "trt_build_heuristics_enable",
})  # fmt: skip
TYPED = {"device_id": "device_id", "enable_cuda_graph": "cuda_graph", "trt_cuda_graph_enable": "cuda_graph",
         "trt_fp16_enable": "trt_fp16", "trt_engine_cache_enable": "trt_cache_dir",
         "trt_engine_cache_path": "trt_cache_dir"}  # fmt: skip
ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
              "tensor(bool)": np.bool_}  # fmt: skip


@dataclass(frozen=True)
class OrtGpuOptions:
    """GPU options of OrtRunner; the defaults change nothing on CPU.

    Attributes:
        device_id: CUDA device for the CUDA / TensorRT EPs.
        io_binding: Run through IO binding with inputs/outputs on the EP's device.
        cuda_graph: Capture a CUDA graph on the first run and replay it (fixed shapes; needs
            ``io_binding`` and a CUDA or TensorRT EP).
        trt_fp16: TensorRT EP builds FP16 engines.
        trt_cache_dir: TensorRT EP engine + timing cache folder (engines survive restarts).
        cuda_options: Further CUDA EP options, e.g. ``{"cudnn_conv_algo_search": "EXHAUSTIVE"}``.
        trt_options: Further TensorRT EP options, e.g. ``{"trt_max_workspace_size": 2**31}``.
    """

    device_id: int = 0
    io_binding: bool = False
    cuda_graph: bool = False
    trt_fp16: bool = False
    trt_cache_dir: Path | None = None
    cuda_options: dict[str, Any] = field(default_factory=dict)
    trt_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.device_id, bool) or not isinstance(self.device_id, int) or self.device_id < 0:
            raise InputError(f"device_id must be an integer >= 0, got {self.device_id!r}")
        if self.cuda_graph and not self.io_binding:
            raise InputError("cuda_graph needs io_binding (graphs replay on fixed device buffers)")
        if self.trt_cache_dir is not None and Path(self.trt_cache_dir).is_file():
            raise InputError(f"TensorRT EP cache dir {self.trt_cache_dir} is a file; give a folder")
        _check_keys(self.cuda_options, CUDA_KEYS, "CUDA EP")
        _check_keys(self.trt_options, TRT_KEYS, "TensorRT EP")

    def check_providers(self, providers: Sequence[str]) -> None:
        """Raise :class:`InputError` for options whose EP is not among ``providers``."""
        gpu = [p for p in providers if p in (CUDA_EP, TRT_EP)]
        if self.cuda_graph and not gpu:
            raise InputError(f"cuda_graph needs the CUDA or TensorRT provider (providers: {list(providers)})")
        if self.cuda_options and CUDA_EP not in providers:
            raise InputError(f"CUDA EP options given but {CUDA_EP} is not in use ({list(providers)})")
        trt_set = self.trt_fp16 or self.trt_cache_dir is not None or self.trt_options
        if trt_set and TRT_EP not in providers:
            raise InputError(f"TensorRT EP options given but {TRT_EP} is not in use ({list(providers)})")


def _check_keys(options: dict[str, Any], known: frozenset[str], what: str) -> None:
    for key in options:
        if key in TYPED:
            raise InputError(f"set {what} option {key!r} through OrtGpuOptions.{TYPED[key]}")
        if key not in known:
            extra = did_you_mean(key, sorted(known))
            raise InputError(f"unknown {what} option {key!r}{extra}")


def provider_list(providers: Sequence[str], options: OrtGpuOptions) -> list[str | tuple[str, dict[str, str]]]:
    """ONNX Runtime's ``providers=`` argument: GPU EPs get their options as strings."""
    out: list[str | tuple[str, dict[str, str]]] = []
    for name in providers:
        if name == CUDA_EP:
            opts: dict[str, Any] = {"device_id": options.device_id, **options.cuda_options}
            if options.cuda_graph:
                opts["enable_cuda_graph"] = "1"
            out.append((name, {k: str(v) for k, v in opts.items()}))
        elif name == TRT_EP:
            opts = {"device_id": options.device_id, **options.trt_options}
            if options.trt_fp16:
                opts["trt_fp16_enable"] = "True"
            if options.trt_cache_dir is not None:
                opts.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(options.trt_cache_dir))
                opts.setdefault("trt_timing_cache_enable", "True")
                opts.setdefault("trt_timing_cache_path", str(options.trt_cache_dir))
            if options.cuda_graph:
                opts["trt_cuda_graph_enable"] = "True"
            out.append((name, {k: str(v) for k, v in opts.items()}))
        else:
            out.append(name)
    return out


def session_dtypes(args: Sequence[Any]) -> dict[str, np.dtype]:
    """Name -> numpy dtype of session inputs or outputs (``tensor(float16)`` -> float16)."""
    out = {}
    for a in args:
        if a.type not in ORT_DTYPES:
            raise ModelError(f"model tensor {a.name!r} has unsupported type {a.type}")
        out[a.name] = np.dtype(ORT_DTYPES[a.type])
    return out


class IoBinder:
    """Runs a session through IO binding on persistent OrtValues (per input shapes).

    The same device buffers are reused while shapes repeat, so a CUDA graph captured on the
    first run stays valid; with ``cuda_graph`` a new shape is an error rather than a recapture.
    """

    def __init__(self, session: Any, options: OrtGpuOptions, output_shapes: Any) -> None:
        self.session, self.options, self.output_shapes = session, options, output_shapes
        gpu = session.get_providers()[0] in (CUDA_EP, TRT_EP)
        self.device = "cuda" if gpu else "cpu"
        self.out_dtypes = session_dtypes(session.get_outputs())
        self.key: tuple[Any, ...] | None = None
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.binding: Any = None

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import onnxruntime as ort

        key = tuple((n, a.shape) for n, a in sorted(feed.items()))
        if key != self.key:
            if self.key is not None and self.options.cuda_graph:
                raise InputError(
                    f"this runner captured a CUDA graph for {dict(self.key)}; got {dict(key)} "
                    "(cuda_graph needs fixed shapes: make one runner per shape)"
                )
            self._bind(ort, feed)
            self.key = key
        else:
            for name, array in feed.items():
                self.inputs[name].update_inplace(array)
        self.session.run_with_iobinding(self.binding)
        # CUDA outputs come back as fresh host copies; CPU ones would alias the reused buffer.
        return {n: v.numpy().copy() if self.device == "cpu" else v.numpy() for n, v in self.outputs.items()}

    def _bind(self, ort: Any, feed: dict[str, np.ndarray]) -> None:
        dev, idx = self.device, self.options.device_id
        self.binding = self.session.io_binding()
        # On CPU an OrtValue may wrap the numpy memory itself: own a copy, never the caller's array.
        self.inputs = {n: ort.OrtValue.ortvalue_from_numpy(a.copy(), dev, idx) for n, a in feed.items()}
        shapes = self.output_shapes(feed)
        new = ort.OrtValue.ortvalue_from_shape_and_type
        self.outputs = {n: new(shapes[n], self.out_dtypes[n], dev, idx) for n in shapes}
        for name, value in self.inputs.items():
            self.binding.bind_ortvalue_input(name, value)
        for name, value in self.outputs.items():
            self.binding.bind_ortvalue_output(name, value)


def output_shapes(spec: Any, feed: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Output shapes of an nst model for ``feed``: named axes take the inputs' sizes."""
    axes: dict[str, int] = {}
    for t in spec.inputs:
        axes.update({d: s for d, s in zip(t.shape, feed[t.name].shape, strict=True) if isinstance(d, str)})
    shapes = {}
    for t in spec.outputs:
        missing = [d for d in t.shape if isinstance(d, str) and d not in axes]
        if missing:
            raise InputError(f"io_binding needs output {t.name!r} axes {missing} to follow an input's")
        shapes[t.name] = tuple(d if isinstance(d, int) else axes[d] for d in t.shape)
    return shapes
