"""Tests for nst.io: every fixture is built here, nothing is downloaded."""

from __future__ import annotations

import os
import re
import stat
import struct
import zlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from nst.errors import InputError, InputImageError, OutputError, OutputExistsError
from nst.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    LoadedImage,
    check_writable,
    image_from_array,
    list_images,
    read_image,
    write_image,
)

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- fixtures


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _raw_png(array: np.ndarray, color_type: int, *, width: int = 0, height: int = 0) -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB), rows cycling all filters."""
    h, w = array.shape[:2]
    rows = array.reshape(h, w, -1).astype(">u2").view(np.uint8).reshape(h, -1).astype(np.int64)
    bpp = rows.shape[1] // w
    out, prior = [], np.zeros_like(rows[0])
    for y, row in enumerate(rows):
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prior[:-bpp]])
        predictor = [0, left, prior, (left + prior) // 2, _paeth(left, prior, upleft)][y % 5]
        out.append(bytes([y % 5]) + ((row - predictor) % 256).astype(np.uint8).tobytes())
        prior = row
    header = struct.pack(">IIBBBBB", width or w, height or h, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(out)))
        + _chunk(b"IEND", b"")
    )


def _noise(h: int = 32, w: int = 48, c: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, c), dtype=np.uint8)


def _save(path: Path, image: Image.Image, **params: Any) -> Path:
    image.save(path, **params)
    return path


def _valid_jpeg(tmp_path: Path) -> bytes:
    path = _save(tmp_path / "valid.jpg", Image.fromarray(_noise(64, 64)), quality=90)
    return path.read_bytes()


def _raises_naming(path: Path) -> AbstractContextManager[pytest.ExceptionInfo[InputImageError]]:
    return pytest.raises(InputImageError, match=re.escape(path.name))


# --------------------------------------------------------------------------- bad input files


def test_corrupt_bytes_with_jpg_suffix(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    with _raises_naming(path):
        read_image(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = _valid_jpeg(tmp_path)
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    with _raises_naming(path) as info:
        read_image(path)
    assert "truncated" in str(info.value)


def test_truncated_jpeg_rejected_even_if_pil_global_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _valid_jpeg(tmp_path)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with _raises_naming(path):
        read_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for other code


def test_truncated_png(tmp_path: Path) -> None:
    full = _save(tmp_path / "full.png", Image.fromarray(_noise(64, 64))).read_bytes()
    path = tmp_path / "half.png"
    path.write_bytes(full[: len(full) // 2])
    with _raises_naming(path):
        read_image(path)


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with _raises_naming(path) as info:
        read_image(path)
    assert "not an image" in str(info.value)


def test_eps_is_not_handed_to_ghostscript(tmp_path: Path) -> None:
    path = tmp_path / "script.jpg"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with _raises_naming(path) as info:
        read_image(path)
    assert "not an image" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    with _raises_naming(path):
        read_image(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with _raises_naming(path):
        read_image(path)


def test_directory_given_as_file(tmp_path: Path) -> None:
    path = tmp_path / "folder.png"
    path.mkdir()
    with _raises_naming(path):
        read_image(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _save(tmp_path / "locked.png", Image.fromarray(_noise()))
    path.chmod(0)
    with _raises_naming(path):
        read_image(path)


def test_permission_error_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "denied.png", Image.fromarray(_noise()))

    def denied(fp: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(fp))

    monkeypatch.setattr(Image, "open", denied)
    with _raises_naming(path) as info:
        read_image(path)
    assert "Permission denied" in str(info.value)


def test_max_pixels_limit(tmp_path: Path) -> None:
    path = _save(tmp_path / "small.png", Image.fromarray(_noise(20, 20)))
    with _raises_naming(path) as info:
        read_image(path, max_pixels=100)
    assert "--max-pixels" in str(info.value)
    assert read_image(path, max_pixels=400).size == (20, 20)


def test_decompression_bomb_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_raw_png(np.zeros((1, 1, 3), np.uint16), 2, width=20_000, height=20_000))
    with _raises_naming(path) as info:
        read_image(path)
    assert "--max-pixels" in str(info.value)


def test_our_limit_governs_not_pils(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "ok.png", Image.fromarray(_noise(20, 20)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    assert read_image(path).size == (20, 20)
    assert Image.MAX_IMAGE_PIXELS == 10
    assert DEFAULT_MAX_PIXELS == 178_956_970


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_pixels": 0},
        {"max_pixels": 1.5},
        {"max_pixels": True},
        {"background": (2.0, 0, 0)},
        {"background": (1, 1)},
        {"background": ("a", "b", "c")},
    ],
)
def test_bad_read_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    path = _save(tmp_path / "a.png", Image.fromarray(_noise()))
    with pytest.raises(InputError):
        read_image(path, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- modes


def test_rgb_png_exact(tmp_path: Path) -> None:
    pixels = _noise(5, 7)
    image = read_image(_save(tmp_path / "rgb.png", Image.fromarray(pixels)))
    assert isinstance(image, LoadedImage)
    assert image.rgb.dtype == np.float32 and image.rgb.flags.c_contiguous
    assert image.size == (7, 5) and image.bit_depth == 8 and image.alpha is None
    np.testing.assert_array_equal(np.rint(image.rgb * 255).astype(np.uint8), pixels)


def test_grayscale_l(tmp_path: Path) -> None:
    pixels = _noise(6, 4, 1)[:, :, 0]
    image = read_image(_save(tmp_path / "gray.png", Image.fromarray(pixels, "L")))
    assert image.rgb.shape == (6, 4, 3) and image.bit_depth == 8
    for channel in range(3):
        np.testing.assert_allclose(image.rgb[:, :, channel], pixels / 255, atol=1e-7)


def test_bilevel_1(tmp_path: Path) -> None:
    image = read_image(_save(tmp_path / "bw.png", Image.new("1", (3, 2), 1)))
    np.testing.assert_array_equal(image.rgb, np.ones((2, 3, 3), np.float32))


def test_gray16_png_keeps_precision(tmp_path: Path) -> None:
    pixels = np.array([[1000, 1001, 65535], [0, 257, 30000]], dtype=np.uint16)
    path = _save(tmp_path / "gray16.png", Image.fromarray(pixels))
    image = read_image(path)
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.rgb[:, :, 1], pixels / 65535, atol=1e-7)
    assert image.rgb[0, 1, 0] > image.rgb[0, 0, 0]  # 1000 vs 1001: lost at 8 bits


def test_rgb16_png_keeps_precision(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, size=(7, 9, 3), dtype=np.uint16)
    pixels[0, 0] = (1000, 1001, 65535)
    path = tmp_path / "rgb16.png"
    path.write_bytes(_raw_png(pixels, 2))
    image = read_image(path)
    assert image.bit_depth == 16 and image.alpha is None and image.size == (9, 7)
    np.testing.assert_allclose(image.rgb, pixels / 65535, atol=1e-7)


def test_rgb16_png_with_transparent_colour(tmp_path: Path) -> None:
    pixels = np.array([[[1000, 2000, 3000], [1000, 2000, 3001]]], np.uint16)
    data = _raw_png(pixels, 2)
    trns = _chunk(b"tRNS", struct.pack(">HHH", 1000, 2000, 3000))
    path = tmp_path / "trns16.png"
    path.write_bytes(data[:-12] + trns + data[-12:])  # before IEND
    image = read_image(path)
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha, [[0, 1]])
    np.testing.assert_allclose(image.rgb[0, 0], [1, 1, 1])
    np.testing.assert_allclose(image.rgb[0, 1], pixels[0, 1] / 65535, atol=1e-7)


def test_rgba16_png(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, size=(5, 6, 4), dtype=np.uint16)
    path = tmp_path / "rgba16.png"
    path.write_bytes(_raw_png(pixels, 6))
    image = read_image(path, background=(0.0, 0.0, 0.0))
    alpha = pixels[:, :, 3] / 65535
    assert image.alpha is not None and image.bit_depth == 16
    np.testing.assert_allclose(image.alpha, alpha, atol=1e-7)
    np.testing.assert_allclose(image.rgb, pixels[:, :, :3] / 65535 * alpha[:, :, None], atol=1e-6)


def test_la16_png(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, size=(4, 5, 2), dtype=np.uint16)
    pixels[:, :, 1] = 65535
    path = tmp_path / "la16.png"
    path.write_bytes(_raw_png(pixels, 4))
    image = read_image(path)
    assert image.alpha is not None and image.bit_depth == 16
    np.testing.assert_array_equal(image.alpha, np.ones((4, 5), np.float32))
    np.testing.assert_allclose(image.rgb[:, :, 2], pixels[:, :, 0] / 65535, atol=1e-7)


def test_rgba_composited_over_background(tmp_path: Path) -> None:
    pixels = np.array([[[255, 0, 0, 0], [10, 20, 30, 255], [0, 0, 255, 128]]], np.uint8)
    path = _save(tmp_path / "rgba.png", Image.fromarray(pixels, "RGBA"))
    image = read_image(path)
    assert image.alpha is not None
    np.testing.assert_allclose(image.alpha, [[0, 1, 128 / 255]], atol=1e-7)
    np.testing.assert_allclose(image.rgb[0, 0], [1, 1, 1])  # transparent red -> white
    np.testing.assert_allclose(image.rgb[0, 1], [10 / 255, 20 / 255, 30 / 255], atol=1e-7)
    half = 128 / 255
    np.testing.assert_allclose(image.rgb[0, 2], [1 - half, 1 - half, 1], atol=1e-6)
    black = read_image(path, background=(0.0, 0.0, 0.0))
    np.testing.assert_allclose(black.rgb[0, 0], [0, 0, 0])


def test_la(tmp_path: Path) -> None:
    pixels = np.array([[[0, 0], [200, 255]]], np.uint8)
    image = read_image(_save(tmp_path / "la.png", Image.fromarray(pixels, "LA")))
    assert image.alpha is not None
    np.testing.assert_allclose(image.alpha, [[0, 1]])
    np.testing.assert_allclose(image.rgb[0], np.array([[1, 1, 1], [200 / 255] * 3]), atol=1e-7)


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 255, 0])
    im.putpixel((0, 0), 0)
    im.putpixel((1, 0), 1)
    path = _save(tmp_path / "pal.png", im, transparency=0)
    image = read_image(path)
    assert image.alpha is not None
    np.testing.assert_allclose(image.alpha, [[0, 1]])
    np.testing.assert_allclose(image.rgb[0], [[1, 1, 1], [0, 1, 0]])


def test_palette_without_transparency(tmp_path: Path) -> None:
    im = Image.fromarray(_noise()).convert("P")
    image = read_image(_save(tmp_path / "pal.png", im))
    assert image.alpha is None
    np.testing.assert_allclose(image.rgb, np.asarray(im.convert("RGB")) / 255, atol=1e-7)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = _save(tmp_path / "cmyk.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0)), quality=95)
    assert Image.open(path).mode == "CMYK"
    image = read_image(path)
    np.testing.assert_allclose(image.rgb[8, 8], [1, 0, 0], atol=8 / 255)


def test_float_tiff_clipped(tmp_path: Path) -> None:
    values = np.array([[-0.5, 0.25, 2.0]], np.float32)
    image = read_image(_save(tmp_path / "f.tif", Image.fromarray(values, "F")))
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.rgb[0, :, 0], [0, 0.25, 1])


def test_lab_tiff(tmp_path: Path) -> None:
    src = Image.new("RGB", (8, 8), (200, 30, 40))
    path = _save(tmp_path / "lab.tif", src.convert("LAB"))
    assert Image.open(path).mode == "LAB"
    image = read_image(path)
    np.testing.assert_allclose(image.rgb[0, 0], np.array([200, 30, 40]) / 255, atol=4 / 255)


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image = read_image(path)
    np.testing.assert_allclose(image.rgb[0, 0], [1, 0, 0])


def test_srgb_icc_profile_leaves_values(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = _noise(4, 4)
    path = _save(tmp_path / "srgb.png", Image.fromarray(pixels), icc_profile=icc)
    np.testing.assert_array_equal(np.rint(read_image(path).rgb * 255), pixels)


def _swapped_profile() -> bytes:
    """An RGB profile whose red and blue primaries are swapped (and not called sRGB)."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = bytearray(icc.replace("sRGB".encode("utf-16-be"), "BGRs".encode("utf-16-be")))
    count = struct.unpack(">I", data[128:132])[0]
    entry = {bytes(data[132 + 12 * i : 136 + 12 * i]): 136 + 12 * i for i in range(count)}
    red, blue = entry[b"rXYZ"], entry[b"bXYZ"]
    data[red : red + 8], data[blue : blue + 8] = data[blue : blue + 8], data[red : red + 8]
    return bytes(data)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_non_srgb_icc_profile_converted(tmp_path: Path, mode: str) -> None:
    im = Image.new(mode, (4, 4), (255, 0, 0, 102)[: len(mode)])
    path = _save(tmp_path / "swapped.png", im, icc_profile=_swapped_profile())
    image = read_image(path, background=(0.0, 0.0, 0.0))
    opacity = 1.0 if mode == "RGB" else 0.4
    np.testing.assert_allclose(image.rgb[0, 0], [0, 0, opacity], atol=0.02)


def test_unusable_icc_profile_falls_back(tmp_path: Path) -> None:
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # an RGB profile on CMYK data
    path = _save(tmp_path / "cmyk_icc.jpg", im, icc_profile=_swapped_profile(), quality=95)
    np.testing.assert_allclose(read_image(path).rgb[8, 8], [1, 0, 0], atol=8 / 255)


def test_bogus_icc_profile_is_ignored(tmp_path: Path) -> None:
    pixels = _noise(4, 4)
    path = _save(tmp_path / "bogus.png", Image.fromarray(pixels), icc_profile=b"not a profile")
    np.testing.assert_array_equal(np.rint(read_image(path).rgb * 255), pixels)


# --------------------------------------------------------------------------- EXIF orientation


def test_exif_rotated_jpeg(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high as stored
    stored[:8, :8] = (255, 0, 0)  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = _save(tmp_path / "portrait.jpg", Image.fromarray(stored), exif=exif, quality=95)
    image = read_image(path)
    assert image.rgb.shape == (40, 20, 3) and image.size == (20, 40)
    np.testing.assert_allclose(image.rgb[3, 16], [1, 0, 0], atol=0.1)  # now top-right
    np.testing.assert_allclose(image.rgb[3, 3], [0, 0, 0], atol=0.1)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    pixels = _noise(3, 5, 4)
    exif = Image.Exif()
    exif[0x0112] = orientation
    im = Image.fromarray(pixels, "RGBA")
    path = _save(tmp_path / "o.png", im, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    image = read_image(path, background=(0.0, 0.0, 0.0))
    assert image.alpha is not None and image.rgb.flags.c_contiguous
    alpha = expected[:, :, 3] / 255
    np.testing.assert_allclose(image.alpha, alpha, atol=1e-7)
    np.testing.assert_allclose(image.rgb, expected[:, :, :3] / 255 * alpha[:, :, None], atol=1e-6)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("suffix", "atol"), [(".png", 0), (".tif", 0), (".bmp", 0), (".jpg", 0.1)])
def test_write_read_round_trip(tmp_path: Path, suffix: str, atol: float) -> None:
    rgb = np.tile(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None], (8, 1, 3))
    path = write_image(tmp_path / f"out{suffix}", rgb)
    back = read_image(path)
    assert back.alpha is None and back.size == (16, 8)
    np.testing.assert_allclose(back.rgb, np.rint(rgb * 255) / 255, atol=atol + 1e-7)


def test_webp_round_trip_with_alpha(tmp_path: Path) -> None:
    rgb = np.full((8, 8, 3), 0.5, np.float32)
    alpha = np.ones((8, 8), np.float32)
    alpha[:4] = 0.0
    back = read_image(write_image(tmp_path / "out.webp", rgb, alpha=alpha, quality=90))
    assert back.alpha is not None
    np.testing.assert_allclose(back.alpha, alpha, atol=0.05)
    np.testing.assert_allclose(back.rgb[6, 6], [0.5, 0.5, 0.5], atol=0.05)


def test_alpha_reattached_in_png(tmp_path: Path) -> None:
    rgb = RNG.random((6, 5, 3), dtype=np.float32)
    alpha = np.linspace(0, 1, 30, dtype=np.float32).reshape(6, 5)
    path = write_image(tmp_path / "a.png", rgb, alpha=alpha)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[:, :, 3], np.rint(alpha * 255))
        np.testing.assert_array_equal(np.asarray(im)[:, :, :3], np.rint(rgb * 255))


def test_alpha_dropped_for_jpeg(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.jpg", np.zeros((4, 4, 3)), alpha=np.zeros((4, 4)))
    assert Image.open(path).mode == "RGB"


def test_write_clips_and_rounds(tmp_path: Path) -> None:
    rgb = np.array([[[-1.0, 0.5, 7.0]]])
    path = write_image(tmp_path / "c.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(path))[0, 0], [0, 128, 255])


def test_write_creates_parents_with_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_image(tmp_path / "a" / "b" / "c.png", np.zeros((2, 2, 3)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.png"]


# --------------------------------------------------------------------------- image_from_array


@pytest.mark.parametrize(
    ("array", "depth", "has_alpha"),
    [
        (np.full((2, 3), 255, np.uint8), 8, False),
        (np.full((2, 3, 1), 65535, np.uint16), 16, False),
        (np.ones((2, 3, 3), np.float64), 16, False),
        (np.ones((2, 3, 4), np.float32), 16, True),
    ],
)
def test_image_from_array_forms(array: np.ndarray, depth: int, has_alpha: bool) -> None:
    image = image_from_array(array)
    assert image.rgb.shape == (2, 3, 3) and image.rgb.dtype == np.float32
    assert image.rgb.flags.c_contiguous and image.path is None
    assert image.bit_depth == depth and (image.alpha is not None) == has_alpha
    np.testing.assert_array_equal(image.rgb, np.ones((2, 3, 3), np.float32))


def test_image_from_array_composites() -> None:
    array = np.zeros((1, 2, 4), np.uint8)
    array[0, 0] = (255, 0, 0, 0)
    array[0, 1] = (255, 0, 0, 255)
    image = image_from_array(array)
    np.testing.assert_array_equal(image.rgb[0], [[1, 1, 1], [1, 0, 0]])


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((2, 3, 2), np.uint8),
        np.zeros((2, 3, 3, 1), np.uint8),
        np.zeros((0, 3, 3), np.uint8),
        np.zeros(5, np.uint8),
        np.zeros((2, 3, 3), np.int32),
        np.zeros((2, 3, 3), bool),
        np.full((2, 3, 3), np.nan, np.float32),
        np.full((2, 3, 3), 1.5, np.float32),
        np.full((2, 3, 3), -0.1, np.float64),
        [[0, 0, 0]],
    ],
)
def test_image_from_array_rejects(array: np.ndarray) -> None:
    with pytest.raises(InputError):
        image_from_array(array)


# --------------------------------------------------------------------------- list_images


def test_list_images_folder_and_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.jpg", "a.PNG", "c.tiff", "notes.txt", ".hidden.jpg"):
        (folder / name).touch()
    (folder / "sub.png").mkdir()
    extra = tmp_path / "extra.dat"
    extra.touch()
    found = list_images([extra, folder])
    assert found == [extra, folder / "a.PNG", folder / "b.jpg", folder / "c.tiff"]
    assert {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"} == IMAGE_SUFFIXES


def test_list_images_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nothing_here"
    folder.mkdir()
    (folder / "readme.txt").touch()
    with pytest.raises(InputImageError, match="nothing_here"):
        list_images([folder])


def test_list_images_missing(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match=re.escape("ghost.png")):
        list_images([tmp_path / "ghost.png"])


# --------------------------------------------------------------------------- writing safely


def test_check_writable(tmp_path: Path) -> None:
    assert check_writable(str(tmp_path / "new.png")) == tmp_path / "new.png"
    existing = tmp_path / "old.png"
    existing.touch()
    with pytest.raises(OutputExistsError, match="use --force to overwrite"):
        check_writable(existing)
    assert check_writable(existing, force=True) == existing
    with pytest.raises(InputError, match="unknown image suffix"):
        check_writable(tmp_path / "out.gif")
    folder = tmp_path / "dir.png"
    folder.mkdir()
    with pytest.raises(InputError, match="folder"):
        check_writable(folder, force=True)


def test_existing_file_kept_without_force(tmp_path: Path) -> None:
    path = tmp_path / "keep.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="use --force to overwrite"):
        write_image(path, np.zeros((2, 2, 3)))
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    write_image(path, np.zeros((2, 2, 3)), force=True)
    assert read_image(path).size == (2, 2)


def test_bad_suffix_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown image suffix"):
        write_image(tmp_path / "out.xyz", np.zeros((2, 2, 3)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("rgb", "kwargs"),
    [
        (np.zeros((2, 2, 3), np.uint8), {}),
        (np.zeros((2, 2)), {}),
        (np.zeros((2, 2, 4)), {}),
        (np.full((2, 2, 3), np.nan), {}),
        (np.zeros((2, 2, 3)), {"alpha": np.zeros((3, 3))}),
        (np.zeros((2, 2, 3)), {"alpha": np.full((2, 2), np.inf)}),
        (np.zeros((2, 2, 3)), {"quality": 0}),
    ],
)
def test_bad_write_arguments_write_nothing(
    tmp_path: Path, rgb: np.ndarray, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InputError):
        write_image(tmp_path / "out.png", rgb, **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


SAVE_FAILURES = [(OSError, OutputError), (RuntimeError, RuntimeError)]


@pytest.mark.parametrize(("error", "expected"), SAVE_FAILURES)
def test_failed_save_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[Exception], expected: type
) -> None:
    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        if hasattr(fp, "write"):
            fp.write(b"partial")
        raise error("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(expected, match="disk full"):
        write_image(tmp_path / "out.png", np.zeros((2, 2, 3)))
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.png"
    path.write_bytes(b"old")

    def broken_save(self: Image.Image, *args: object, **kwargs: object) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError, match=re.escape("old.png")):
        write_image(path, np.zeros((2, 2, 3)), force=True)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]


def test_read_image_accepts_str(tmp_path: Path) -> None:
    path = _save(tmp_path / "s.png", Image.fromarray(_noise(2, 2)))
    assert read_image(str(path)).path == path
