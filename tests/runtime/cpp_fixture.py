"""Fixtures and the parity check for the C++ runtime's ctest suite (runtime/cpp/CMakeLists.txt).

Not a pytest module: ctest runs it as a script with the project's Python.

    python tests/runtime/cpp_fixture.py make DIR       # tiny.onnx, input.png, reference.png, ...
    python tests/runtime/cpp_fixture.py compare A.png B.png --tol 1

``make`` builds a tiny Johnson net (``JohnsonConfig(4, 1)``, seeded random init: no VGG and no
training needed), saves it as an nst checkpoint, exports it with the normal exporter and
writes the Python ONNX Runtime result of :class:`~nst.runtime.stylizer.Stylizer` on an odd-sized
image, which the C++ host's output must match.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

#: Odd height and width on purpose: the graph pads to its stride multiple and crops back.
HEIGHT, WIDTH = 97, 131


def sample_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour field with blocks and a little noise: (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack([np.sin(xx / 9.0), np.cos(yy / 7.0), np.sin((xx + yy) / 13.0)], axis=2) * 0.4 + 0.5
    image[height // 4 : height // 2, width // 3 : width // 2] = (0.9, 0.2, 0.1)
    image += rng.normal(0.0, 0.03, image.shape)
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def export_tiny_model(out: Path) -> Path:
    """Export a seeded random ``JohnsonNet(JohnsonConfig(4, 1))`` through an nst checkpoint."""
    import torch

    from nst.config import config_to_dict
    from nst.export.onnx_export import export_checkpoint
    from nst.train.checkpoint import save_checkpoint
    from nst.train.models.johnson import JohnsonConfig, JohnsonNet

    torch.manual_seed(0)
    config = JohnsonConfig(base_channels=4, num_residual=1)
    model = JohnsonNet(config)
    checkpoint = out / "tiny.pt"
    save_checkpoint(checkpoint, {
        "family": "johnson", "model_config": config_to_dict(config), "train_config": {},
        "styles": ["random"], "state_dict": model.state_dict(), "step": 0,
    })  # fmt: skip
    return export_checkpoint(checkpoint, out / "tiny.onnx", validate=False, force=True).path


def broken_models(model: Path, out: Path) -> None:
    """Models the C API must refuse, each for one reason.

    ``corrupt.onnx`` truncated bytes; ``nometa.onnx`` nst metadata removed; ``badio.onnx``
    ``nst.io`` not JSON; ``renamed.onnx`` metadata names an input the graph lacks;
    ``multi_input.onnx`` metadata declares a second input (like CIN's ``style_weights``);
    ``fake.plan`` not an engine, routed to the TensorRT backend by its suffix.
    """
    import onnx

    data = model.read_bytes()
    (out / "corrupt.onnx").write_bytes(data[: len(data) // 2])
    (out / "fake.plan").write_bytes(b"not a TensorRT engine")
    proto = onnx.load(str(model))
    io = json.loads(next(p.value for p in proto.metadata_props if p.key == "nst.io"))
    renamed = {**io, "inputs": [{**io["inputs"][0], "name": "content"}]}
    extra = {"name": "style_weights", "shape": ["styles"], "dtype": "float32", "range": [0.0, 1.0]}
    multi = {**io, "inputs": [*io["inputs"], extra]}
    for name, value in (("badio", "{not json"), ("renamed", json.dumps(renamed)),
                        ("multi_input", json.dumps(multi))):  # fmt: skip
        onnx.save(_with_io(proto, value), str(out / f"{name}.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(out / "nometa.onnx"))


def _with_io(proto: onnx.ModelProto, io: str) -> onnx.ModelProto:  # type: ignore[name-defined] # noqa: F821
    """A copy of ``proto`` whose ``nst.io`` metadata is ``io``."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for prop in copy.metadata_props:
        if prop.key == "nst.io":
            prop.value = io
    return copy


def make(out: Path) -> None:
    """Write every file the ctest suite reads into ``out``."""
    from nst.runtime.stylizer import Stylizer

    out.mkdir(parents=True, exist_ok=True)
    model = export_tiny_model(out)
    broken_models(model, out)
    Image.fromarray(sample_image(HEIGHT, WIDTH)).save(out / "input.png")
    Image.fromarray(sample_image(8, 12)).save(out / "small.png")  # below the model's min_size
    with Stylizer(model, providers="cpu") as stylizer:
        stylizer.stylize_file(out / "input.png", out / "reference.png", force=True)
    reference = np.asarray(Image.open(out / "reference.png"))
    print(f"fixtures in {out}: reference {reference.shape}, std {reference.std():.1f}")


def compare(actual: Path, expected: Path, tol: int) -> int:
    """Print the max abs difference of two 8-bit RGB images; 0 if within ``tol`` levels, else 1."""
    a = np.asarray(Image.open(actual).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(expected).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        print(f"shape mismatch: {actual} {a.shape} vs {expected} {b.shape}")
        return 1
    diff = np.abs(a - b)
    print(
        f"max abs diff {int(diff.max())}/255, mean {diff.mean():.4f}/255, "
        f"{int((diff > 0).sum())} of {diff.size} values differ ({a.shape[1]}x{a.shape[0]})"
    )
    return 0 if int(diff.max()) <= tol else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    make_cmd = sub.add_parser("make")
    make_cmd.add_argument("out", type=Path)
    cmp_cmd = sub.add_parser("compare")
    cmp_cmd.add_argument("actual", type=Path)
    cmp_cmd.add_argument("expected", type=Path)
    cmp_cmd.add_argument("--tol", type=int, default=1, help="max abs difference in 8-bit levels")
    args = parser.parse_args(argv)
    if args.command == "make":
        make(args.out)
        return 0
    return compare(args.actual, args.expected, args.tol)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
