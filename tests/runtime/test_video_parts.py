"""The video pipeline's parts: DIS flow, the occlusion mask, warping, blending, the stages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from nst.runtime.video.threads import Consumer, Producer

cv2 = pytest.importorskip("cv2")

from nst.runtime.video.flow import (  # noqa: E402 (after the skip: these need OpenCV at call time)
    FlowEstimator,
    Motion,
    TemporalBlend,
    full_mask,
    match_detail,
    temporal_error,
    warp,
)


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (blurred noise): something optical flow can lock on to."""
    noise = np.random.default_rng(seed).uniform(0, 255, (height, width, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def _shifted(image: np.ndarray, dx: int) -> np.ndarray:
    """``image`` moved ``dx`` pixels right; the strip entering on the left is new content."""
    out = np.roll(image, dx, axis=1)
    out[:, :dx] = _texture(image.shape[0], dx, seed=9)
    return out


def test_flow_finds_a_translation_and_warp_undoes_it() -> None:
    prev = _texture(64, 96)
    cur = _shifted(prev, 3)
    motion = FlowEstimator(scale=1.0).motion(*(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (prev, cur)))
    inner = (slice(8, -8), slice(12, -8))
    flow = motion.flow[inner]
    assert np.allclose(flow[..., 0], -3, atol=0.3) and np.allclose(flow[..., 1], 0, atol=0.3)
    warped = warp(prev.astype(np.float32), motion)
    assert np.abs(warped[inner] - cur[inner].astype(np.float32)).mean() < 3
    assert motion.mask[:, :2].mean() < 0.5 < motion.mask[inner].mean()  # entering strip is not trusted


def test_half_resolution_flow_is_scaled_back() -> None:
    prev = _texture(64, 96)
    estimator = FlowEstimator(scale=0.5)
    assert estimator.push(prev) is None
    motion = estimator.push(_shifted(prev, 4))
    assert motion is not None and motion.flow.shape == (32, 48, 2)
    assert np.median(motion.flow[..., 0]) == pytest.approx(-2, abs=0.3)  # flow-grid pixels
    assert full_mask(motion, 64, 96).shape == (64, 96)
    assert np.abs(warp(prev.astype(np.float32), motion) - _shifted(prev, 4))[8:-8, 12:-8].mean() < 4


def test_blend_follows_the_formula() -> None:
    still = Motion(np.zeros((4, 6, 2), np.float32), np.ones((4, 6), np.float32))
    occluded = Motion(still.flow, np.zeros((4, 6), np.float32))
    blend = TemporalBlend(0.25, keep_detail=False)
    first, second = np.full((4, 6, 3), 0.8, np.float32), np.full((4, 6, 3), 0.4, np.float32)
    assert blend(first, None) is first
    assert np.allclose(blend(second, still), 0.25 * 0.8 + 0.75 * 0.4)  # M = 1: alpha W(O) + (1 - alpha) S
    assert np.allclose(blend(second, occluded), 0.4)  # M = 0: S
    assert np.allclose(TemporalBlend(0.0, keep_detail=False)(first, still), first)


def test_match_detail_restores_what_blending_averages_away() -> None:
    noise = np.random.default_rng(3).uniform(0, 1, (64, 80, 3)).astype(np.float32)
    strokes = 0.5 + 2 * (cv2.GaussianBlur(noise, (0, 0), 1.0) - 0.5)
    a, b = strokes[:, :64], strokes[:, 7:71]  # the same kind of strokes, not lined up

    def energy(x: np.ndarray) -> float:
        return float(np.square(x - cv2.GaussianBlur(x, (0, 0), 1.0)).mean())

    mixed = 0.5 * a + 0.5 * b
    assert energy(mixed) < 0.7 * energy(a)
    restored = match_detail(mixed, a)
    assert 0.75 * energy(a) < energy(restored) < 1.1 * energy(a)
    assert np.allclose(match_detail(a, a), a, atol=1e-4)  # nothing to restore: unchanged


def test_temporal_error_sees_flicker_but_not_motion() -> None:
    frames = [np.roll(_texture(48, 64), 2 * i, axis=1) for i in range(6)]
    rng = np.random.default_rng(1)
    flicker = [np.clip(f / 255 + rng.normal(0, 0.05, f.shape), 0, 1) for f in frames]
    steady = temporal_error(frames, frames)
    assert steady < 3 < temporal_error(frames, flicker)


def test_producer_hands_items_over_and_reraises() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("decoder broke")

    with Producer(items, maxsize=2, name="nst-video-test") as producer:
        got = []
        with pytest.raises(ValueError, match="decoder broke"):
            got.extend(producer)
    assert got == [0, 1, 2, 3, 4]


def test_producer_stops_a_long_source_and_closes_it() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    with Producer(endless, maxsize=3, name="nst-video-test") as producer:
        assert next(iter(producer)) == 0
    assert closed.wait(2) and not producer.thread.is_alive()  # type: ignore[union-attr]


def test_consumer_runs_in_order_and_reraises() -> None:
    seen: list[int] = []
    with Consumer(seen.append, maxsize=2, name="nst-video-test") as consumer:
        for i in range(10):
            consumer.put(i)
        consumer.finish()
    assert seen == list(range(10))

    def fail(item: int) -> None:
        raise OSError("disk full")

    with (
        Consumer(fail, maxsize=1, name="nst-video-test") as broken,
        pytest.raises(OSError, match="disk full"),
    ):
        for i in range(100):
            broken.put(i)
            time.sleep(0.001)
        broken.finish()
