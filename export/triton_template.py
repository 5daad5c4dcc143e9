"""The ``model.py`` of a python-backend model in a Triton repository written by ``nst export-triton``.

A data file, kept as a string so that nst.export never imports what it runs: the generated
module imports ``nst.runtime`` inside Triton's python backend (a process with its own
environment), opens the model file copied beside it with nst's own ``open_runner`` and answers
requests with ``Runner.infer``, so every input check of the Runner applies, and a bad request
gets an error response while the model stays loaded.

Parameters it reads from ``config.pbtxt``: ``nst_model`` (the file in the version folder),
``nst_providers`` (ONNX Runtime providers: ``cpu``, ``cuda``, ``tensorrt``, ``auto``) and
``nst_threads`` (ONNX Runtime intra-op threads, 0 = its default).
"""

from __future__ import annotations

MODEL_PY = '''\
"""Triton python-backend model written by `nst export-triton`: nst's Runner on the model beside it.

The python backend's environment needs nst (`pip install nst`, or an nst tree on PYTHONPATH)
with numpy < 2 and onnxruntime (`onnxruntime-gpu` for GPU instances; `tensorrt` for a .plan).
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


def _error(exc):
    """A TritonError for ``exc``: invalid argument for nst's input errors, internal otherwise."""
    message = str(exc) if type(exc).__module__.startswith("nst") else f"{type(exc).__name__}: {exc}"
    kind = "INVALID_ARG" if type(exc).__name__.startswith("Input") else "INTERNAL"
    code = getattr(pb_utils.TritonError, kind, None)
    return pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)


class TritonPythonModel:
    """One model instance: a Runner, opened once, run on every batch of requests."""

    def initialize(self, args):
        try:
            from nst.errors import InputError
            from nst.runtime.registry import open_runner
            from nst.runtime.style_inputs import materialise
        except ImportError as exc:
            raise RuntimeError(
                f"nst is not importable in this python backend environment ({exc}); "
                "install nst there or put it on PYTHONPATH"
            ) from exc
        self.input_error = InputError
        self.defaults = materialise  # the runtime's values for inputs a request may omit
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        path = Path(args["model_repository"]) / args["model_version"] / params["nst_model"]
        providers = params.get("nst_providers", "auto")
        device = int(args.get("model_instance_device_id") or 0)
        options = {}
        if path.suffix.lower() in (".plan", ".engine"):
            options["device"] = device
        else:
            if int(params.get("nst_threads") or 0):
                options["threads"] = int(params["nst_threads"])
            if providers in ("cuda", "tensorrt"):
                from nst.runtime.onnxrt.gpu import OrtGpuOptions

                options["gpu"] = OrtGpuOptions(device_id=device)
        self.runner = open_runner(path, providers=providers, **options)
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.inputs = [t.name for t in self.runner.spec.inputs]
        self.optional = {t["name"] for t in config.get("input", []) if t.get("optional")}
        self.outputs = {}  # output name -> numpy dtype of the config's data_type
        for t in self.runner.spec.outputs:
            data_type = pb_utils.get_output_config_by_name(config, t.name)["data_type"]
            self.outputs[t.name] = pb_utils.triton_string_to_numpy(data_type)

    def execute(self, requests):
        """Answer every request: same-shape requests of a batched model share one inference."""
        responses = [None] * len(requests)
        groups = {}
        for index, request in enumerate(requests):
            feed = {}
            for name in self.inputs:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is None and name in self.optional:  # given its default below
                    continue
                if tensor is None:
                    responses[index] = self._failure(self.input_error(f"missing model input {name!r}"))
                    break
                feed[name] = np.ascontiguousarray(tensor.as_numpy())
            else:
                omitted = [t for t in self.runner.spec.inputs[1:] if t.name not in feed]  # optional ones
                if omitted:
                    count, _, height, width = feed[self.inputs[0]].shape
                    feed.update(self.defaults(omitted, {}, count, height, width))
                key = tuple((n, a.shape[1:] if self.batched else a.shape) for n, a in feed.items())
                groups.setdefault(key if self.batched else index, []).append((index, feed))
        for group in groups.values():
            self._run(group, responses)
        return responses

    def _run(self, group, responses):
        feeds = [feed for _, feed in group]
        try:
            if len(feeds) == 1:
                outputs = [self.runner.infer(feeds[0])]
            else:
                joined = {n: np.concatenate([f[n] for f in feeds]) for n in self.inputs}
                result = self.runner.infer(joined)
                cuts = np.cumsum([len(f[self.inputs[0]]) for f in feeds])[:-1]
                split = {n: np.split(result[n], cuts) for n in self.outputs}
                outputs = [{n: split[n][i] for n in self.outputs} for i in range(len(feeds))]
        except Exception as exc:
            if len(group) > 1:  # one bad request must not fail the others: run each alone
                for one in group:
                    self._run([one], responses)
                return
            responses[group[0][0]] = self._failure(exc)
            return
        for (index, _), out in zip(group, outputs):
            tensors = [pb_utils.Tensor(n, np.ascontiguousarray(out[n], dtype=d))
                       for n, d in self.outputs.items()]
            responses[index] = pb_utils.InferenceResponse(output_tensors=tensors)

    def _failure(self, exc):
        return pb_utils.InferenceResponse(output_tensors=[], error=_error(exc))

    def finalize(self):
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()
'''
