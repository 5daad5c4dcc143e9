"""Generate a procedural, freely licensable "painterly" style image.

The bundled default style-transfer model needs a style image that we are free to
redistribute, so instead of a photograph of a painting this script *paints* one
from scratch, deterministically from a seed. The result is an expressionist
night scene (swirling sky, glowing stars and moon, rolling hills and a dark
flame-shaped tree) built from visible brush strokes.

Pipeline:

1. **Flow field.** A smooth 2-D vector field made of a gently waving base flow,
   a few large spiral vortices in the sky, tight circular vortices around every
   star and the moon, contour-following flow over the hills, upward flow in the
   tree, and the curl of smoothed noise for irregularity.
2. **Scene colour.** Low-frequency scalar "scene" fields are mapped through
   vivid palettes (navy, ultramarine, cobalt, cyan for the sky; yellow, orange
   and cream for the lights; dark teal / indigo for the land).
3. **Brush strokes.** Several layers of thick, curved strokes are traced along
   the flow field (vectorised over all strokes at once) and drawn with PIL at
   twice the output resolution, each stroke in the scene colour under its seed
   point with a random shade jitter. Coarse layers first, fine layers on top.
4. **Bristle texture.** Line integral convolution (LIC) of white noise along
   the same field yields elongated streaks that modulate the brightness of the
   strokes, imitating paint dragged by bristles.
5. **Outlines.** Dark strokes are laid along the hill ridges, the tree's
   silhouette and the rims of the star halos.

Everything uses numpy, scipy and PIL only and runs in a few seconds.

Example:
    python scripts/make_style_image.py -o nst/assets/style_swirl.png --size 512 --seed 0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

FloatArray = np.ndarray

# Palettes: lists of (position in [0, 1], RGB in 0..255).
SKY_PALETTE: list[tuple[float, tuple[int, int, int]]] = [
    (0.00, (8, 16, 58)),  # midnight navy
    (0.22, (18, 40, 120)),  # ultramarine
    (0.42, (32, 78, 170)),  # cobalt
    (0.58, (58, 124, 196)),  # cerulean
    (0.72, (96, 170, 208)),  # cyan-grey
    (0.84, (176, 204, 170)),  # pale green-cream
    (0.92, (236, 214, 96)),  # yellow
    (1.00, (252, 240, 170)),  # cream highlight
]
LIGHT_PALETTE: list[tuple[float, tuple[int, int, int]]] = [
    (0.00, (36, 70, 150)),
    (0.30, (120, 150, 150)),
    (0.50, (226, 176, 52)),  # orange-ochre
    (0.70, (246, 206, 60)),  # cadmium yellow
    (0.88, (252, 236, 140)),
    (1.00, (255, 252, 220)),
]
LAND_PALETTE: list[tuple[float, tuple[int, int, int]]] = [
    (0.00, (8, 14, 34)),
    (0.30, (16, 40, 70)),
    (0.55, (28, 70, 96)),  # dark teal
    (0.75, (52, 96, 120)),
    (0.90, (92, 120, 110)),
    (1.00, (150, 140, 80)),  # ochre glints
]
TREE_PALETTE: list[tuple[float, tuple[int, int, int]]] = [
    (0.00, (4, 8, 10)),
    (0.35, (14, 24, 22)),
    (0.60, (26, 46, 34)),
    (0.80, (52, 76, 44)),
    (0.92, (96, 78, 40)),
    (1.00, (140, 104, 48)),
]


@dataclass(frozen=True)
class Light:
    """A glowing light source (star or moon) in normalised coordinates.

    Attributes:
        y: Vertical centre in [0, 1] (0 = top).
        x: Horizontal centre in [0, 1] (0 = left).
        radius: Core radius as a fraction of the image size.
        halo: Halo radius as a fraction of the image size.
        spin: Direction of the circular strokes around it (+1 or -1).
    """

    y: float
    x: float
    radius: float
    halo: float
    spin: float


def apply_palette(values: FloatArray, palette: list[tuple[float, tuple[int, int, int]]]) -> FloatArray:
    """Map scalar values in [0, 1] to RGB through a piecewise-linear palette.

    Args:
        values: Array of any shape with values in [0, 1].
        palette: Sorted (position, RGB) stops.

    Returns:
        Float array of shape ``values.shape + (3,)`` with values in [0, 1].
    """
    pos = np.array([p for p, _ in palette])
    cols = np.array([c for _, c in palette], dtype=np.float64) / 255.0
    v = np.clip(values, 0.0, 1.0)
    return np.stack([np.interp(v, pos, cols[:, k]) for k in range(3)], axis=-1)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> FloatArray:
    """Gaussian-smoothed white noise, standardised to zero mean, unit std.

    Args:
        rng: Random generator.
        shape: Output shape (rows, cols).
        sigma: Gaussian smoothing in pixels.

    Returns:
        Smooth random field with mean 0 and standard deviation 1.
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def _normalise(vy: FloatArray, vx: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Scale a vector field to unit length everywhere (zero vectors stay tiny)."""
    mag = np.sqrt(vy**2 + vx**2) + 1e-9
    return vy / mag, vx / mag


def ridge_line(xn: FloatArray, phase: float, base: float, amp: float) -> FloatArray:
    """Height (normalised y) of a rolling hill ridge as a function of x.

    Args:
        xn: Normalised x coordinates in [0, 1].
        phase: Phase offset of the undulation.
        base: Mean height of the ridge.
        amp: Amplitude of the undulation.

    Returns:
        Normalised y of the ridge for each x.
    """
    return (
        base
        + amp * np.sin(2.0 * np.pi * (1.1 * xn + phase))
        + 0.4 * amp * np.sin(2.0 * np.pi * (2.7 * xn + 1.7 * phase))
    )


@dataclass
class Scene:
    """All per-pixel fields that describe the painting before stroke rendering.

    Attributes:
        vy: Unit flow field, y component.
        vx: Unit flow field, x component.
        colour: Scene colour (H, W, 3) in [0, 1].
        outline: Strength in [0, 1] of dark outline strokes at each pixel.
        lights: The stars and the moon.
    """

    vy: FloatArray
    vx: FloatArray
    colour: FloatArray
    outline: FloatArray
    lights: list[Light]


def build_scene(rng: np.random.Generator, size: int) -> Scene:
    """Compose the flow field, the colour field and the outline mask.

    Args:
        rng: Random generator (fully determines the composition).
        size: Side of the square image in pixels.

    Returns:
        The composed scene.
    """
    n = size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    yn, xn = yy / n, xx / n

    # --- Composition ------------------------------------------------------------
    # Tree: tall flame-shaped silhouette in the lower left.
    tree_x = rng.uniform(0.12, 0.18)
    tree_top = rng.uniform(0.14, 0.22)
    t = np.clip((yn - tree_top) / (1.0 - tree_top), 0.0, 1.0)  # 0 at tip, 1 at bottom
    wobble = 0.018 * np.sin(yn * 40.0 + 1.3) + 0.010 * np.sin(yn * 97.0)
    half_width = 0.085 * np.sqrt(t) * (0.75 + 0.25 * np.cos(t * 18.0))
    tree_dist = np.abs(xn - tree_x - wobble) - half_width
    tree = 1.0 / (1.0 + np.exp(tree_dist * n / 2.0)) * (yn > tree_top)

    # Lights: a moon top-right-ish, stars scattered over the upper sky.
    moon = Light(y=rng.uniform(0.11, 0.15), x=rng.uniform(0.80, 0.86), radius=0.06, halo=0.13, spin=1.0)
    lights = [moon]
    n_stars = 8
    attempts = 0
    while len(lights) < 1 + n_stars and attempts < 2000:
        attempts += 1
        cand = Light(
            y=rng.uniform(0.06, 0.50),
            x=rng.uniform(0.08, 0.92),
            radius=rng.uniform(0.014, 0.026),
            halo=rng.uniform(0.055, 0.085),
            spin=float(rng.choice([-1.0, 1.0])),
        )
        clear_of_tree = abs(cand.x - tree_x) > cand.halo + 0.09 or cand.y < tree_top - cand.halo
        spaced = all(np.hypot(cand.y - o.y, cand.x - o.x) > 1.1 * (cand.halo + o.halo) for o in lights)
        if clear_of_tree and spaced:
            lights.append(cand)

    # Hills: two ridges; land is everything below the front ridge.
    phase_back, phase_front = rng.uniform(0, 1, size=2)
    ridge_back = ridge_line(xn, phase_back, 0.66, 0.035)
    ridge_front = ridge_line(xn, phase_front, 0.78, 0.045)
    land = 1.0 / (1.0 + np.exp(-(yn - ridge_back) * n / 3.0))  # soft mask, 1 below ridge
    front = 1.0 / (1.0 + np.exp(-(yn - ridge_front) * n / 3.0))

    # --- Flow field -------------------------------------------------------------
    # Sky base flow: rolling horizontal waves.
    wave = np.sin(2.0 * np.pi * (1.6 * xn + 0.8 * yn)) + 0.6 * np.sin(2.0 * np.pi * 3.1 * xn)
    sky_vx = np.ones_like(xn)
    sky_vy = 0.45 * wave

    # Curl noise (divergence free) for irregular swirls.
    psi = smooth_noise(rng, (n, n), sigma=n / 14.0)
    dpsi_y, dpsi_x = np.gradient(psi)
    curl_scale = 1.0 / (np.sqrt(dpsi_x**2 + dpsi_y**2).mean() + 1e-12)
    sky_vy = sky_vy - 0.9 * dpsi_x * curl_scale
    sky_vx = sky_vx + 0.9 * dpsi_y * curl_scale

    # Large spiral vortices ("the big swirl") in the mid sky.
    big = [
        (rng.uniform(0.28, 0.36), rng.uniform(0.38, 0.50), 0.16, 1.0),
        (rng.uniform(0.22, 0.30), rng.uniform(0.62, 0.72), 0.11, -1.0),
        (rng.uniform(0.38, 0.46), rng.uniform(0.18, 0.30), 0.10, -1.0),
    ]
    weight_sum = np.ones_like(xn) * 0.35
    acc_vy = sky_vy * 0.35 / np.hypot(sky_vy, sky_vx).clip(1e-6)
    acc_vx = sky_vx * 0.35 / np.hypot(sky_vy, sky_vx).clip(1e-6)

    def add_vortex(cy: float, cx: float, r: float, spin: float, inward: float, gain: float) -> None:
        nonlocal acc_vy, acc_vx, weight_sum
        dy, dx = yn - cy, xn - cx
        d = np.sqrt(dy**2 + dx**2) + 1e-6
        w = gain * np.exp(-((d / r) ** 2))
        # Tangential (circular) component plus a small inward spiral component.
        ty, tx = spin * dx / d, -spin * dy / d
        ry, rx = -dy / d, -dx / d
        acc_vy = acc_vy + w * (ty + inward * ry)
        acc_vx = acc_vx + w * (tx + inward * rx)
        weight_sum = weight_sum + w

    for cy, cx, r, spin in big:
        add_vortex(cy, cx, r, spin, inward=0.25, gain=1.6)
    for light in lights:
        add_vortex(light.y, light.x, light.halo * 1.1, light.spin, inward=0.0, gain=3.0)
    sky_vy, sky_vx = _normalise(acc_vy / weight_sum, acc_vx / weight_sum)

    # Land: strokes follow the hill contours (tangent of the ridge lines).
    slope_back = np.gradient(ridge_back, axis=1) * n
    slope_front = np.gradient(ridge_front, axis=1) * n
    land_noise = smooth_noise(rng, (n, n), sigma=n / 24.0)
    slope = (1 - front) * slope_back + front * slope_front + 0.25 * land_noise
    land_vy, land_vx = _normalise(slope, np.ones_like(slope))

    # Tree: upward flame-like flow.
    tree_noise = smooth_noise(rng, (n, n), sigma=n / 40.0)
    tree_vy, tree_vx = _normalise(-np.ones_like(xn), 0.3 * tree_noise + 3.0 * wobble)

    vy = sky_vy * (1 - land) + land_vy * land
    vx = sky_vx * (1 - land) + land_vx * land
    vy = vy * (1 - tree) + tree_vy * tree
    vx = vx * (1 - tree) + tree_vx * tree
    vy, vx = _normalise(vy, vx)

    # --- Colour -----------------------------------------------------------------
    # Sky: smooth noise + brighter swirl band + glow around lights.
    sky_val = 0.40 + 0.10 * smooth_noise(rng, (n, n), sigma=n / 10.0)
    sky_val += 0.06 * smooth_noise(rng, (n, n), sigma=n / 40.0)
    sky_val += 0.12 * (0.5 + 0.5 * np.sin(2.0 * np.pi * (2.2 * xn + 3.0 * yn) + psi))
    band = np.exp(-(((yn - 0.30 - 0.06 * np.sin(2 * np.pi * 1.3 * xn + 0.5)) / 0.07) ** 2))
    sky_val += 0.22 * band
    sky_val -= 0.18 * np.clip(yn - 0.35, 0, None)  # slightly darker towards the hills
    sky_val -= 0.10 * np.clip(0.25 - yn, 0, None) / 0.25  # deeper navy at the very top
    glow = np.zeros_like(xn)
    core = np.zeros_like(xn)
    for light in lights:
        d = np.hypot(yn - light.y, xn - light.x)
        glow = np.maximum(glow, np.exp(-((d / light.halo) ** 2)))
        core = np.maximum(core, 1.0 / (1.0 + np.exp((d - light.radius) * n / 2.5)))
    sky_rgb = apply_palette(sky_val + 0.28 * glow, SKY_PALETTE)
    light_rgb = apply_palette(0.35 + 0.65 * core + 0.15 * glow, LIGHT_PALETTE)
    # The moon: a larger warm orange-yellow disc, brighter towards its centre.
    d_moon = np.hypot(yn - moon.y, xn - moon.x)
    moon_core = 1.0 / (1.0 + np.exp((d_moon - moon.radius) * n / 2.5))
    moon_rgb = apply_palette(0.52 + 0.30 * np.clip(1.0 - d_moon / moon.radius, 0, 1), LIGHT_PALETTE)
    light_rgb = light_rgb * (1 - moon_core[..., None]) + moon_rgb * moon_core[..., None]
    light_mix = core
    # Halo rings: concentric bright rings around the lights.
    ring = np.zeros_like(xn)
    for light in lights:
        d = np.hypot(yn - light.y, xn - light.x)
        rings = 0.5 + 0.5 * np.cos(2.0 * np.pi * d / (light.halo * 0.42))
        ring = np.maximum(ring, rings * np.exp(-((d / (light.halo * 1.2)) ** 2)) * (d > light.radius))
    sky_rgb = sky_rgb * (1 - 0.55 * ring[..., None]) + apply_palette(0.30 + 0.45 * ring, LIGHT_PALETTE) * (
        0.55 * ring[..., None]
    )
    sky_rgb = sky_rgb * (1 - light_mix[..., None]) + light_rgb * light_mix[..., None]

    land_val = 0.50 + 0.16 * smooth_noise(rng, (n, n), sigma=n / 16.0)
    land_val -= 0.18 * front  # front hill darker
    land_val += 0.18 * np.exp(-(((yn - ridge_back) / 0.03) ** 2))  # lit ridge
    # A few warm window lights in the village on the back hill.
    windows = np.zeros_like(xn)
    for _ in range(14):
        wx = rng.uniform(0.32, 0.96)
        wy = float(ridge_line(np.array(wx), phase_back, 0.66, 0.035)) + rng.uniform(0.02, 0.09)
        windows = np.maximum(windows, np.exp(-(((yn - wy) / 0.006) ** 2 + ((xn - wx) / 0.008) ** 2)))
    land_rgb = apply_palette(land_val, LAND_PALETTE)
    land_rgb = land_rgb * (1 - windows[..., None]) + np.array([0.98, 0.80, 0.25]) * windows[..., None]

    tree_val = 0.45 + 0.25 * smooth_noise(rng, (n, n), sigma=n / 60.0)
    tree_rgb = apply_palette(tree_val, TREE_PALETTE)

    colour = sky_rgb * (1 - land[..., None]) + land_rgb * land[..., None]
    colour = colour * (1 - tree[..., None]) + tree_rgb * tree[..., None]

    # --- Outlines -----------------------------------------------------------------
    edge_back = np.exp(-(((yn - ridge_back) * n / 2.0) ** 2))
    edge_front = np.exp(-(((yn - ridge_front) * n / 2.0) ** 2))
    edge_tree = np.exp(-((tree_dist * n / 2.0) ** 2)) * (yn > tree_top)
    outline = np.clip(np.maximum.reduce([edge_back, edge_front, edge_tree]), 0.0, 1.0)

    return Scene(vy=vy, vx=vx, colour=np.clip(colour, 0.0, 1.0), outline=outline, lights=lights)


def trace_streamlines(
    vy: FloatArray,
    vx: FloatArray,
    seeds_y: FloatArray,
    seeds_x: FloatArray,
    n_steps: int,
    step: float,
) -> tuple[FloatArray, FloatArray]:
    """Trace streamlines from many seeds at once, forwards and backwards.

    Args:
        vy: Unit flow field, y component (H, W).
        vx: Unit flow field, x component (H, W).
        seeds_y: Seed rows, shape (S,).
        seeds_x: Seed columns, shape (S,).
        n_steps: Steps in each direction.
        step: Step length in pixels.

    Returns:
        Arrays ``(ys, xs)`` of shape (S, 2 * n_steps + 1) ordered along each line.
    """
    shape = vy.shape
    fwd_y, fwd_x = [seeds_y], [seeds_x]
    bwd_y, bwd_x = [], []
    for direction, out_y, out_x in ((1.0, fwd_y, fwd_x), (-1.0, bwd_y, bwd_x)):
        py, px = seeds_y.copy(), seeds_x.copy()
        for _ in range(n_steps):
            # Midpoint (RK2) integration for smoother curves.
            cy = np.clip(py, 0, shape[0] - 1)
            cx = np.clip(px, 0, shape[1] - 1)
            coords = np.stack([cy, cx])
            ky = ndimage.map_coordinates(vy, coords, order=1, mode="nearest")
            kx = ndimage.map_coordinates(vx, coords, order=1, mode="nearest")
            my = np.clip(py + 0.5 * direction * step * ky, 0, shape[0] - 1)
            mx = np.clip(px + 0.5 * direction * step * kx, 0, shape[1] - 1)
            coords = np.stack([my, mx])
            ky = ndimage.map_coordinates(vy, coords, order=1, mode="nearest")
            kx = ndimage.map_coordinates(vx, coords, order=1, mode="nearest")
            py = py + direction * step * ky
            px = px + direction * step * kx
            out_y.append(py)
            out_x.append(px)
    ys = np.stack(bwd_y[::-1] + fwd_y, axis=1)
    xs = np.stack(bwd_x[::-1] + fwd_x, axis=1)
    return ys, xs


def line_integral_convolution(
    vy: FloatArray, vx: FloatArray, noise: FloatArray, length: int, step: float = 1.0
) -> FloatArray:
    """Line integral convolution of a texture along a flow field (vectorised).

    Every pixel averages ``noise`` along the streamline through it with a
    Hann-shaped kernel, which smears the noise into streaks that follow the flow.

    Args:
        vy: Unit flow field, y component (H, W).
        vx: Unit flow field, x component (H, W).
        noise: Texture to convolve (H, W).
        length: Number of steps in each direction.
        step: Step length in pixels.

    Returns:
        The convolved texture, standardised to zero mean and unit std.
    """
    h, w = noise.shape
    py0, px0 = np.mgrid[0:h, 0:w].astype(np.float64)
    acc = noise.copy()
    wsum = np.ones_like(noise)
    for direction in (1.0, -1.0):
        py, px = py0.copy(), px0.copy()
        for i in range(1, length + 1):
            coords = np.stack([py, px])
            ky = ndimage.map_coordinates(vy, coords, order=1, mode="nearest")
            kx = ndimage.map_coordinates(vx, coords, order=1, mode="nearest")
            py = np.clip(py + direction * step * ky, 0, h - 1)
            px = np.clip(px + direction * step * kx, 0, w - 1)
            weight = 0.5 + 0.5 * np.cos(np.pi * i / (length + 1))
            acc += weight * ndimage.map_coordinates(noise, np.stack([py, px]), order=1, mode="nearest")
            wsum += weight
    out = acc / wsum
    return (out - out.mean()) / (out.std() + 1e-12)


def sample_rgb(colour: FloatArray, ys: FloatArray, xs: FloatArray) -> FloatArray:
    """Bilinearly sample an RGB image at fractional positions.

    Args:
        colour: Image (H, W, 3).
        ys: Rows, shape (S,).
        xs: Columns, shape (S,).

    Returns:
        Colours, shape (S, 3).
    """
    coords = np.stack([ys, xs])
    return np.stack(
        [ndimage.map_coordinates(colour[..., k], coords, order=1, mode="nearest") for k in range(3)],
        axis=1,
    )


def paint_strokes(rng: np.random.Generator, scene: Scene, size: int, supersample: int = 2) -> FloatArray:
    """Render the scene as layers of brush strokes along the flow field.

    Args:
        rng: Random generator.
        scene: Composed scene fields.
        size: Output side in pixels.
        supersample: Rendering scale factor (downsampled at the end).

    Returns:
        Painted image (size, size, 3) in [0, 1].
    """
    big = size * supersample
    base = (np.clip(ndimage.gaussian_filter(scene.colour, (6, 6, 0)), 0, 1) * 255).astype(np.uint8)
    canvas = Image.fromarray(base).resize((big, big), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    scale = size / 512.0

    # (stroke spacing px, stroke width px, half-length steps, step px, shade jitter)
    layers = [
        (9.0, 11.0, 7, 2.4, 0.16),
        (6.5, 8.0, 6, 2.2, 0.20),
        (4.5, 5.5, 5, 2.0, 0.22),
        (3.4, 3.5, 4, 1.8, 0.25),
    ]
    for spacing, width, half_len, step, jitter in layers:
        spacing *= scale
        g = np.arange(spacing / 2, size, spacing)
        sy, sx = np.meshgrid(g, g, indexing="ij")
        sy = (sy + rng.uniform(-0.5, 0.5, sy.shape) * spacing).ravel()
        sx = (sx + rng.uniform(-0.5, 0.5, sx.shape) * spacing).ravel()
        sy, sx = np.clip(sy, 0, size - 1), np.clip(sx, 0, size - 1)
        lengths = rng.integers(max(2, half_len - 2), half_len + 3, size=sy.shape)
        ys, xs = trace_streamlines(scene.vy, scene.vx, sy, sx, half_len + 2, step * scale)
        cols = sample_rgb(scene.colour, sy, sx)
        # Shade jitter: mostly lightness, a little hue.
        shade = 1.0 + jitter * rng.standard_normal(len(sy))[:, None]
        hue = 1.0 + 0.06 * rng.standard_normal((len(sy), 3))
        cols = np.clip(cols * shade * hue, 0.0, 1.0)
        order = rng.permutation(len(sy))
        mid = half_len + 2
        w_px = max(1, round(width * scale * supersample))
        for i in order:
            k = lengths[i]
            pts = list(
                zip(
                    (xs[i, mid - k : mid + k + 1] * supersample).tolist(),
                    (ys[i, mid - k : mid + k + 1] * supersample).tolist(),
                    strict=True,
                )
            )
            fill = tuple(int(c * 255) for c in cols[i])
            draw.line(pts, fill=fill, width=w_px, joint="curve")

    # Dark outline strokes along ridges, the tree silhouette and halo rims.
    oy, ox = np.nonzero(scene.outline > 0.6)
    if len(oy):
        pick = rng.choice(len(oy), size=min(len(oy), int(900 * scale * scale)), replace=False)
        sy, sx = oy[pick].astype(np.float64), ox[pick].astype(np.float64)
        ys, xs = trace_streamlines(scene.vy, scene.vx, sy, sx, 5, 2.0 * scale)
        cols = sample_rgb(scene.colour, sy, sx) * 0.35
        w_px = max(1, round(3.0 * scale * supersample))
        for i in range(len(sy)):
            pts = list(zip((xs[i] * supersample).tolist(), (ys[i] * supersample).tolist(), strict=True))
            draw.line(pts, fill=tuple(int(c * 255) for c in cols[i]), width=w_px, joint="curve")

    # Halo rims: irregular arcs circling each light (dark outer rim, bright inner rings).
    for light in scene.lights:
        cy, cx = light.y * size, light.x * size
        for radius_frac, dark, keep in ((1.05, True, 0.45), (0.55, False, 0.8), (0.8, False, 0.7)):
            r = light.halo * size * radius_frac
            n_arcs = max(6, int(2 * np.pi * r / (12 * scale)))
            for j in range(n_arcs):
                if rng.uniform() > keep:
                    continue
                a0 = 2 * np.pi * j / n_arcs + rng.uniform(-0.3, 0.3)
                span = rng.uniform(0.8, 2.0) * 2 * np.pi / n_arcs
                a = np.linspace(a0, a0 + span, 8)
                rr = (
                    r
                    * (1.0 + 0.08 * rng.standard_normal())
                    * (1.0 + 0.05 * light.spin * np.linspace(-1, 1, 8))
                )
                pts = [
                    ((cx + q * np.cos(t)) * supersample, (cy + q * np.sin(t)) * supersample)
                    for q, t in zip(rr, a, strict=True)
                ]
                if dark:
                    v = rng.uniform(0.7, 1.2)
                    col = (int(18 * v), int(34 * v), int(96 * v))
                    wpx = round(rng.uniform(2.0, 3.5) * scale * supersample)
                else:
                    v = rng.uniform(0.8, 1.0)
                    col = (int(250 * v), int(232 * v), int(120 * v))
                    wpx = round(rng.uniform(2.5, 4.5) * scale * supersample)
                draw.line(pts, fill=col, width=max(1, wpx), joint="curve")

    out = canvas.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.float64) / 255.0


def make_style_image(size: int = 512, seed: int = 0) -> Image.Image:
    """Paint the full style image.

    Args:
        size: Side of the square output image in pixels.
        seed: Random seed; the same seed always gives the same image.

    Returns:
        The painted RGB image.
    """
    rng = np.random.default_rng(seed)
    scene = build_scene(rng, size)
    painted = paint_strokes(rng, scene, size)

    # Bristle texture: fine and medium LIC streaks along the flow field.
    fine = line_integral_convolution(
        scene.vy, scene.vx, rng.standard_normal((size, size)), length=max(4, size // 40)
    )
    coarse_noise = ndimage.zoom(rng.standard_normal((size // 3 + 1, size // 3 + 1)), 3, order=0)
    coarse = line_integral_convolution(
        scene.vy, scene.vx, coarse_noise[:size, :size], length=max(6, size // 28)
    )
    texture = 1.0 + 0.14 * np.tanh(fine) + 0.10 * np.tanh(coarse)
    img = np.clip(painted * texture[..., None], 0.0, 1.0)

    # Mild saturation boost for a bolder look.
    grey = img.mean(axis=2, keepdims=True)
    img = np.clip(grey + 1.25 * (img - grey), 0.0, 1.0)
    return Image.fromarray((img * 255 + 0.5).astype(np.uint8), mode="RGB")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv: Argument list (defaults to ``sys.argv[1:]``).

    Returns:
        Parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("nst/assets/style_swirl.png"))
    parser.add_argument("--size", type=int, default=512, help="side of the square image")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point.

    Args:
        argv: Argument list (defaults to ``sys.argv[1:]``).
    """
    args = parse_args(argv)
    if args.size < 64:
        raise SystemExit("--size must be at least 64")
    t0 = time.perf_counter()
    image = make_style_image(args.size, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.output, optimize=True)
    kib = args.output.stat().st_size / 1024
    print(
        f"wrote {args.output} ({args.size}x{args.size}, seed {args.seed}, {kib:.0f} KiB) "
        f"in {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
