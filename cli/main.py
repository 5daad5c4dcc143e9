"""Entry point of the ``nst`` console script: the app with every command registered."""

from nst.cli import (
    batch_cmd,
    bench_cmd,
    bench_train_cmd,
    build_engine_cmd,
    calibrate_cmd,
    eval_cmd,
    eval_video_cmd,
    export_cmd,
    export_triton_cmd,
    info_cmd,
    serve_cmd,
    sheet_cmd,
    stylize_cmd,
    synth_cmd,
    train_cmd,
    upscale_cmd,
)
from nst.cli.app import app

__all__ = [
    "app",
    "batch_cmd",
    "bench_cmd",
    "bench_train_cmd",
    "build_engine_cmd",
    "calibrate_cmd",
    "eval_cmd",
    "eval_video_cmd",
    "export_cmd",
    "export_triton_cmd",
    "info_cmd",
    "serve_cmd",
    "sheet_cmd",
    "stylize_cmd",
    "synth_cmd",
    "train_cmd",
    "upscale_cmd",
]

if __name__ == "__main__":
    app()
