"""GPU parity check: a TensorRT engine or an ORT CUDA run vs ONNX Runtime CPU FP32 (PSNR).

    python scripts/gpu_parity.py MODEL.onnx --engine MODEL.plan [--cuda-graph]
    python scripts/gpu_parity.py MODEL.onnx --ort-cuda [--gpu-model MODEL.fp16.onnx] [--cuda-graph]
    python scripts/gpu_parity.py MODEL.onnx --checkpoint CKPT.pt --torch cuda [--fp16]

``--torch`` runs the checkpoint MODEL was exported from in PyTorch on that device (the GPU path
of training and of the torch bench targets), ``--fp16`` in half precision.

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


class TorchRunner:
    """The checkpoint's net in PyTorch on a device; ``infer`` like a Runner's (image -> stylized)."""

    def __init__(self, checkpoint: Path, device: str, fp16: bool) -> None:
        import torch

        from nst.train.checkpoint import load_checkpoint, model_from_checkpoint

        self.torch, self.device = torch, torch.device(device)
        self.dtype = torch.float16 if fp16 else torch.float32
        self.net = model_from_checkpoint(load_checkpoint(checkpoint)).to(self.device, self.dtype)

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self.torch.inference_mode():
            out = self.net(self.torch.from_numpy(feed["image"]).to(self.device, self.dtype))
        return {"stylized": out.float().cpu().numpy()}

    def __enter__(self) -> TorchRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        del self.net


def gpu_runner(args: argparse.Namespace) -> Runner | TorchRunner:
    if args.torch is not None:
        return TorchRunner(args.checkpoint, args.torch, args.fp16)
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
    parser.add_argument("--checkpoint", type=Path, help="with --torch: the checkpoint MODEL came from")
    parser.add_argument("--torch", help="check PyTorch on this device (cuda, cuda:N; cpu for a dry run)")
    parser.add_argument("--fp16", action="store_true", help="with --torch: half precision")
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--cuda-binding", default="cuda-python", help="cuda-python or pycuda")
    parser.add_argument(
        "--size", action="append", default=[], help="HxW (repeat); default 256x256, 1080x1920"
    )
    parser.add_argument("--min-psnr", type=float, default=40.0)
    args = parser.parse_args()
    if sum((args.engine is not None, args.ort_cuda, args.torch is not None)) != 1:
        parser.error("give exactly one of --engine, --ort-cuda or --torch")
    if (args.torch is None) != (args.checkpoint is None) or (args.fp16 and args.torch is None):
        parser.error("--torch needs --checkpoint (and --checkpoint, --fp16 need --torch)")
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
            verdict = "ok" if value >= args.min_psnr else "FAIL"
            print(f"{h}x{w}: PSNR {value:.1f} dB vs ORT CPU FP32 ({verdict})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
