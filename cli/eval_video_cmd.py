"""``nst eval-video``: the warping error (E_warp, Lai et al. 2018) of a stylized video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command("eval-video")
@handle_errors
def eval_video(
    source: Annotated[Path, typer.Argument(help="The input video (flow and occlusion masks come from it).")],
    stylized: Annotated[Path, typer.Argument(help="Its stylized version (same frame count and size).")],
    flow_scale: Annotated[
        float, typer.Option(help="Optical-flow resolution relative to the frames, (0, 1].")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Print E_warp of STYLIZED (pixels in [0, 1]) and of SOURCE itself, the floor (docs/VIDEO.md)."""
    from nst.errors import InputError, require

    require("av", "video")
    require("cv2", "video")
    from nst.runtime.video.metrics import video_warping_error

    if not 0 < flow_scale <= 1:
        raise InputError(f"--flow-scale must be in (0, 1], got {flow_scale}")
    result = video_warping_error(source, stylized, scale=flow_scale)
    if as_json:
        typer.echo(json.dumps({"source": str(source), "stylized": str(stylized), "e_warp": result.e_warp,
                               "floor": result.floor, "pairs": result.pairs}))  # fmt: skip
        return
    typer.echo(f"{stylized}: {result.summary()}")
