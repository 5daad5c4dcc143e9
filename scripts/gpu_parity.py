"""GPU parity check: a TensorRT engine or an ORT CUDA run vs ONNX Runtime CPU FP32 (PSNR).

    python scripts/gpu_parity.py MODEL.onnx --engine MODEL.plan [--cuda-graph]
    python scripts/gpu_parity.py MODEL.onnx --ort-cuda [--gpu-model MODEL.fp16.onnx] [--cuda-graph]

Runs three times (plain, capture, replay when graphs are on), prints one line per size and exits
1 when any PSNR is below ``--min-psnr`` (40 dB by default, the issue's bar). Needs a GPU; see
docs/GPU_TODO.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from nst.calibration.metrics import psnr
from nst.runtime.base import Runner


def gpu_runner(args: argparse.Namespace) -> Runner:
    if args.engine is not None:
        from nst.runtime.trt.runner import TrtRunner

        return TrtRunner(args.engine, cuda_binding=args.cuda_binding, cuda_graph=args.cuda_graph)
    from nst.runtime.onnxrt.gpu import OrtGpuOptions
    from nst.runtime.onnxrt.runner import OrtRunner

    options = OrtGpuOptions(io_binding=True, cuda_graph=args.cuda_graph)
    return OrtRunner(args.gpu_model or args.model, providers="cuda", gpu=options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="FP32 ONNX model (the CPU reference)")
    parser.add_argument("--engine", type=Path, help="TensorRT engine built from it")
    parser.add_argument("--ort-cuda", action="store_true", help="check ORT's CUDA EP instead")
    parser.add_argument("--gpu-model", type=Path, help="model for the GPU run (e.g. FP16); default: model")
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--cuda-binding", default="cuda-python", help="cuda-python or pycuda")
    parser.add_argument(
        "--size", action="append", default=[], help="HxW (repeat); default 256x256, 1080x1920"
    )
    parser.add_argument("--min-psnr", type=float, default=40.0)
    args = parser.parse_args()
    if (args.engine is None) == (not args.ort_cuda):
        parser.error("give exactly one of --engine or --ort-cuda")
    from nst.runtime.onnxrt.runner import OrtRunner

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.size or ["256x256", "1080x1920"]]
    if args.cuda_graph and len(sizes) > 1 and args.ort_cuda:
        parser.error("ORT CUDA graphs need one fixed shape: give one --size")
    ok = True
    with OrtRunner(args.model, providers="cpu") as cpu, gpu_runner(args) as gpu:
        for h, w in sizes:
            x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
            reference = cpu.infer({"image": x})["stylized"]
            for _ in range(3):
                out = gpu.infer({"image": x})["stylized"]
            value = psnr(out, reference)
            ok &= value >= args.min_psnr
            print(
                f"{h}x{w}: PSNR {value:.1f} dB vs ORT CPU FP32 ({'ok' if value >= args.min_psnr else 'FAIL'})"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
