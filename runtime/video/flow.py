"""Training-free temporal consistency: optical flow on the input frames, warp, blend.

Feed-forward style nets stylize each frame on its own, so small changes between frames
(noise, sub-pixel motion, compression) become flicker. With the backward flow of the
*input* frames (OpenCV's DIS, Kroeger et al. 2016) the previous stylized frame is warped
onto the current one and blended where the flow is trustworthy::

    O_t = M * (alpha * W(O_{t-1}) + (1 - alpha) * S_t) + (1 - M) * S_t

``S_t`` is the net's output, ``W`` the warp, ``M`` the non-occlusion mask of Ruder et al.
2016 (eqs. 4-5): a pixel is kept if following the backward flow and then the forward flow
comes back to it, and it is not on a motion boundary. :func:`temporal_error` is the flicker
metric of the benchmarks: mean |O_t - W(O_{t-1})| over non-occluded pixels, with the flow
of the input frames.

OpenCV (``opencv-python-headless``, in ``nst[video]``) is imported only here, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nst.errors import require

#: DIS presets, fastest first.
FLOW_PRESETS = ("ultrafast", "fast", "medium")


def cv2_module() -> Any:
    """OpenCV, or a one-line MissingDependencyError naming ``nst[video]``."""
    return require("cv2", "video")


@dataclass(frozen=True, eq=False)
class Motion:
    """How frame t relates to frame t-1, on the (possibly reduced) flow grid.

    Attributes:
        flow: (h, w, 2) float32 backward flow: pixel (x, y) of frame t was at
            (x + flow[y, x, 0], y + flow[y, x, 1]) in frame t-1, in flow-grid pixels.
        mask: (h, w) float32, 1 where the flow passed the consistency check, else 0.
    """

    flow: np.ndarray
    mask: np.ndarray


class FlowEstimator:
    """DIS optical flow between consecutive frames, optionally at reduced resolution.

    Args:
        scale: Flow resolution relative to the frames (0.5: half; about 4x faster).
        preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
    """

    def __init__(self, scale: float = 0.5, preset: str = "medium") -> None:
        self.cv2 = cv2_module()
        presets = {
            "ultrafast": self.cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": self.cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": self.cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        self.dis = self.cv2.DISOpticalFlow_create(presets[preset])
        self.scale = scale
        self._prev: np.ndarray | None = None

    def push(self, rgb: np.ndarray) -> Motion | None:
        """The motion from the previously pushed frame to ``rgb`` (None for the first frame)."""
        gray = self.gray(rgb)
        prev, self._prev = self._prev, gray
        return None if prev is None else self.motion(prev, gray)

    def motion(self, prev: np.ndarray, cur: np.ndarray) -> Motion:
        """Backward flow and consistency mask between two grayscale uint8 frames."""
        forward = self.dis.calc(prev, cur, None)  # (h, w, 2): prev -> cur, on prev's grid
        backward = self.dis.calc(cur, prev, None)  # (h, w, 2): cur -> prev, on cur's grid
        return Motion(backward, consistency_mask(forward, backward))

    def gray(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (h, w) uint8 luma on the flow grid."""
        gray = self.cv2.cvtColor(rgb, self.cv2.COLOR_RGB2GRAY)
        if self.scale == 1:
            return gray
        h, w = gray.shape
        size = (max(8, round(w * self.scale)), max(8, round(h * self.scale)))
        return self.cv2.resize(gray, size, interpolation=self.cv2.INTER_AREA)


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al. 2016's non-occlusion mask on frame t's grid, from both flows.

    (h, w, 2) forward (t-1 -> t) and backward (t -> t-1) -> (h, w) float32 in {0, 1}: 0
    where the round trip does not come back (occluded), on motion boundaries, and where the
    backward flow leaves the frame (new content).
    """
    cv2 = cv2_module()
    map_x, map_y = _sample_maps(backward, *backward.shape[:2])
    forward_at = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    back2 = np.square(backward).sum(axis=2)  # (h, w) |b|^2
    round_trip = np.square(backward + forward_at).sum(axis=2)
    keep = round_trip <= 0.01 * (back2 + np.square(forward_at).sum(axis=2)) + 0.5
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    keep &= du_x**2 + du_y**2 + dv_x**2 + dv_y**2 <= 0.01 * back2 + 0.002
    h, w = back2.shape
    keep &= (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return keep.astype(np.float32)


def warp(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame t-1's ``image`` (H, W, C) resampled onto frame t's grid (same shape).

    Bicubic: bilinear resampling at sub-pixel shifts blurs, and the blur compounds frame
    after frame in the recurrence.
    """
    cv2 = cv2_module()
    map_x, map_y = _sample_maps(motion.flow, *image.shape[:2])
    return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def full_mask(motion: Motion, height: int, width: int) -> np.ndarray:
    """The mask at frame size (bilinear, so it is soft along its edges), (H, W) float32."""
    if motion.mask.shape == (height, width):
        return motion.mask
    cv2 = cv2_module()
    return cv2.resize(motion.mask, (width, height), interpolation=cv2.INTER_LINEAR)


class TemporalBlend:
    """The recurrence O_t = S_t + alpha * M * (W(O_{t-1}) - S_t), one frame at a time.

    Blending two textures that do not line up averages their strokes away: with plain
    blending the high-frequency energy settles at about (1 - alpha) / (1 + alpha) of the
    net's (a third at alpha = 0.5). With ``keep_detail`` each blended frame gets its local
    detail energy back from ``S_t`` (:func:`match_detail`), so strokes stay as crisp as the
    net makes them while their positions follow the flow.

    Args:
        alpha: Weight of the warped previous output where the flow holds, in [0, 1).
        keep_detail: Restore the net's local contrast after blending.
    """

    def __init__(self, alpha: float, *, keep_detail: bool = True) -> None:
        self.alpha = np.float32(alpha)
        self.keep_detail = keep_detail
        self._prev: np.ndarray | None = None

    def __call__(self, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
        """(H, W, 3) float32 stylized frame in [0, 1] and its motion -> the blended frame."""
        out = stylized
        if self._prev is not None and motion is not None:
            h, w = stylized.shape[:2]
            weight = (self.alpha * full_mask(motion, h, w))[..., None]
            out = stylized + weight * (warp(self._prev, motion) - stylized)
            out = np.clip(match_detail(out, stylized) if self.keep_detail else out, 0.0, 1.0)
        self._prev = out
        return out


def match_detail(blended: np.ndarray, reference: np.ndarray, *, sigma: float = 1.0, window: float = 4.0,
                 max_gain: float = 3.0) -> np.ndarray:  # fmt: skip
    """Give ``blended`` the local high-frequency energy of ``reference`` (both (H, W, 3) float32).

    Detail is what a Gaussian blur of ``sigma`` px removes; its energy is averaged over a
    Gaussian ``window``. The detail of ``blended`` is scaled by sqrt(E_reference / E_blended),
    clipped to [1, ``max_gain``]: detail is never reduced, flat areas are not amplified.
    """
    cv2 = cv2_module()
    low = cv2.GaussianBlur(blended, (0, 0), sigma)
    detail = blended - low  # (H, W, 3)
    ref_detail = reference - cv2.GaussianBlur(reference, (0, 0), sigma)
    energy = cv2.GaussianBlur(np.einsum("hwc,hwc->hw", detail, detail), (0, 0), window)  # (H, W)
    ref_energy = cv2.GaussianBlur(np.einsum("hwc,hwc->hw", ref_detail, ref_detail), (0, 0), window)
    gain = np.clip(np.sqrt((ref_energy + 3e-6) / (energy + 3e-6)), 1.0, max_gain)
    detail *= gain[..., None]
    detail += low
    return detail


def temporal_error(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], *, scale: float = 1.0,
                   preset: str = "medium") -> float:  # fmt: skip
    """Flicker: mean over t of mean |O_t - W(O_{t-1})| over non-occluded pixels.

    The flow and mask come from the *input* frames (full resolution by default), so the
    metric does not trust the outputs' own motion.

    Args:
        inputs: (H, W, 3) uint8 input frames, in order.
        outputs: The matching output frames, float in [0, 1] or uint8.
        scale, preset: Flow resolution and DIS preset.

    Returns:
        The error in 8-bit levels (0-255).
    """
    estimator = FlowEstimator(scale=scale, preset=preset)
    errors, prev_out = [], None
    for frame, out in zip(inputs, outputs, strict=True):
        current = out.astype(np.float32) / 255 if out.dtype == np.uint8 else out.astype(np.float32)
        motion = estimator.push(frame)
        if motion is not None and prev_out is not None:
            mask = full_mask(motion, *frame.shape[:2]) > 0.5
            if mask.any():
                diff = np.abs(current - warp(prev_out, motion)).mean(axis=2)
                errors.append(float(diff[mask].mean()))
        prev_out = current
    return 255 * float(np.mean(errors)) if errors else 0.0


def _sample_maps(flow: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps (x + sx * flow_x, y + sy * flow_y) at H x W from a flow on any grid.

    The flow is resized bilinearly and its vectors scaled with the grid (sx = W / w).
    """
    cv2 = cv2_module()
    h, w = flow.shape[:2]
    flow_x, flow_y = cv2.split(flow)
    if (h, w) != (height, width):
        flow_x = cv2.resize(flow_x, (width, height), interpolation=cv2.INTER_LINEAR)
        flow_y = cv2.resize(flow_y, (width, height), interpolation=cv2.INTER_LINEAR)
    grid_x, grid_y = _grid(height, width)
    return cv2.scaleAdd(flow_x, width / w, grid_x), cv2.scaleAdd(flow_y, height / h, grid_y)


@functools.lru_cache(maxsize=4)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an H x W grid, float32, read-only (cached: made once per size)."""
    grid_y, grid_x = np.indices((height, width), dtype=np.float32)
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y
