"""Tiny ONNX models for the serve tests: a single-style, a multi-style and a style-swap net.

Each is a real ONNX graph with nst metadata (run by ONNX Runtime through ``open_runner``),
small enough to build and run in milliseconds. The johnson one is the runtime tests' own.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.runtime.base import Feed, Runner
from tests.runtime.onnx_models import tiny_model

IMAGE = image_tensor("image", "content image, RGB in [0, 1]")
STYLE_COLOURS = np.array([[2.0, -2.0, -2.0], [-2.0, -2.0, 2.0]], np.float32)  # red, blue


def johnson_model(path: Path) -> Path:
    """``image`` -> InstanceNorm -> Sigmoid -> ``stylized`` (tests/runtime's tiny model)."""
    return tiny_model(path)


def served_models(folder: Path) -> dict[str, Path]:
    """The three models by serving name: ``tiny`` (johnson), ``mix`` (multi-style), ``swap``."""
    return {
        "tiny": johnson_model(folder / "tiny.onnx"),
        "mix": multistyle_model(folder / "mix.onnx"),
        "swap": styleswap_model(folder / "swap.onnx"),
    }


def _save(graph: object, meta: ModelMetadata, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])  # type: ignore[arg-type]
    model.ir_version = 9
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def multistyle_model(path: Path) -> Path:
    """A cin-like net: ``sigmoid(image + weights @ colours)``, styles ``red`` and ``blue``."""
    from onnx import TensorProto, helper, numpy_helper

    shape = ["batch", 3, "height", "width"]
    inits = [numpy_helper.from_array(STYLE_COLOURS, "colours"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "row"),
             numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "nchw")]  # fmt: skip
    nodes = [helper.make_node("Reshape", ["style_weights", "row"], ["w2"]),
             helper.make_node("MatMul", ["w2", "colours"], ["shift"]),  # (1, 2) @ (2, 3)
             helper.make_node("Reshape", ["shift", "nchw"], ["shift4"]),
             helper.make_node("Add", ["image", "shift4"], ["pre"]),
             helper.make_node("Sigmoid", ["pre"], ["stylized"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, "multistyle",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("style_weights", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)], initializer=inits,
    )  # fmt: skip
    weights = TensorSpec("style_weights", (2,), doc="convex mix of the styles (>= 0, sum 1)")
    spec = ExportSpec(family="cin", inputs=(IMAGE, weights))
    return _save(graph, ModelMetadata("cin", ("red", "blue"), spec, "0.1.0", {}), path)


def styleswap_model(path: Path) -> Path:
    """A style-swap-like net: ``sigmoid(image + strength * mean colour of the style image)``.

    Like real style-swap exports it takes ``strength`` [1] in the graph (0: ``sigmoid(image)``).
    """
    from onnx import TensorProto, helper, numpy_helper

    shape = ["batch", 3, "height", "width"]
    inits = [numpy_helper.from_array(np.array([2, 3], np.int64), "hw")]
    nodes = [helper.make_node("ReduceMean", ["style", "hw"], ["mean"], keepdims=1),
             helper.make_node("Mul", ["mean", "strength"], ["shift"]),
             helper.make_node("Add", ["image", "shift"], ["pre"]),
             helper.make_node("Sigmoid", ["pre"], ["stylized"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, "styleswap",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 3, "style_height", "style_width"]),
         helper.make_tensor_value_info("strength", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)], initializer=inits,
    )  # fmt: skip
    style = TensorSpec("style", (1, 3, "style_height", "style_width"), doc="style image, RGB in [0, 1]")
    strength = TensorSpec("strength", (1,), doc="swapped features' share in [0, 1] (1: full swap)")
    spec = ExportSpec(family="styleswap", inputs=(IMAGE, style, strength))
    return _save(graph, ModelMetadata("styleswap", (), spec, "0.1.0", {}), path)


class RecordingRunner(Runner):
    """A real runner, plus a record of each batch size and an optional delay or failure.

    Not a fake: every call goes to the wrapped runner (its input checks included).
    """

    def __init__(self, inner: Runner, *, delay: float = 0.0, fail: Exception | None = None) -> None:
        super().__init__(inner.metadata)
        self.inner, self.delay, self.fail = inner, delay, fail
        self.path = inner.path
        self.batches: list[int] = []
        self.closed = False
        self._lock = threading.Lock()

    def _infer(self, feed: Feed) -> Feed:
        with self._lock:
            self.batches.append(int(feed["image"].shape[0]))
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return self.inner.infer(feed)

    def close(self) -> None:
        self.closed = True
        self.inner.close()
