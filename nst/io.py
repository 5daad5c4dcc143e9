"""Image I/O for the core: read common images as float32 RGB, write results atomically.

numpy and Pillow only (no torch). Every problem a user can cause raises an ``NstError``.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from nst.artifacts import check_targets, staged
from nst.decode import PIL_ERRORS, orientation, pixels, tile_rawmode
from nst.errors import InputError, InputImageError, OutputExistsError

#: Largest image (width * height) read by default: twice Pillow's own warning limit, i.e. the
#: size at which Pillow itself refuses to open a file (about a 13,377 x 13,377 image, ~2 GB
#: as float32 RGB). Raise it per call with ``max_pixels`` (``--max-pixels`` on the CLI).
DEFAULT_MAX_PIXELS: int = 178_956_970

_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}
_FORMATS |= {".tif": "TIFF", ".tiff": "TIFF"}  # suffix -> Pillow format name
#: Suffixes (lower case) recognised as images when expanding folders and when writing.
IMAGE_SUFFIXES: frozenset[str] = frozenset(_FORMATS)
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})

_UNSAFE_FORMATS = frozenset({"EPS"})  # Pillow decodes EPS by running Ghostscript on the file
# EXIF orientation -> the numpy view that makes the image upright (as ImageOps.exif_transpose).
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}
_PIL_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image, ready for a model.

    Attributes:
        rgb: float32 (H, W, 3) RGB in [0, 1], C-contiguous. Always composited over the
            background where the source is transparent, so models never see undefined colour.
        alpha: float32 (H, W) in [0, 1] if the source had an alpha channel or a transparent
            colour, else None; writers can re-attach it.
        path: The file it came from, or None for arrays.
        bit_depth: Source bits per channel: 8, or 16 for 16-bit and float sources.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path | None
    bit_depth: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def read_image(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> LoadedImage:
    """Read an image file as float32 RGB in [0, 1].

    EXIF orientation is applied; an embedded non-sRGB ICC profile is converted to sRGB when
    Pillow has LittleCMS (best effort); multi-frame files (GIF, TIFF) give their first frame.
    16-bit PNGs keep full precision; other 16-bit RGB files (TIFF) come at Pillow's 8 bits.

    Args:
        path: The image file.
        max_pixels: Refuse images with more than this many pixels (decompression bombs);
            the size is checked from the header before any pixel is decoded.
        background: RGB in [0, 1] that transparent pixels are composited over.

    Returns:
        The decoded image.

    Raises:
        InputImageError: If the file is missing, not a file, unreadable, not an image,
            corrupt, truncated or larger than ``max_pixels``.
        InputError: If ``max_pixels`` or ``background`` is invalid.
    """
    file = _existing_file(Path(path))
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise InputError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    bg = _check_background(background)
    try:
        with _pil_guard(max_pixels), Image.open(file, formats=_read_formats()) as im:
            width, height = im.size  # from the header: nothing is decoded yet
            if width * height > max_pixels:
                raise _too_large(file, f"{width}x{height} = {width * height:,} pixels", max_pixels)
            rawmode = tile_rawmode(im)
            im.load()
            rgb, alpha, depth = pixels(im, file, rawmode)
            orient = _ORIENT.get(orientation(im))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(file, str(exc), max_pixels) from exc
    except PIL_ERRORS as exc:
        raise InputImageError(f"cannot read image {file}: {_reason(exc)}") from exc
    if orient is not None:
        rgb = np.ascontiguousarray(orient(rgb))
        alpha = None if alpha is None else np.ascontiguousarray(orient(alpha))
    return LoadedImage(_composite(rgb, alpha, bg), alpha, file, depth)


def image_size(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an image file as :func:`read_image` returns it, from its header only.

    EXIF orientations that rotate by 90 degrees swap the two. Lets a caller plan memory
    before any pixel is decoded.

    Raises:
        InputImageError: As :func:`read_image` (missing, not an image, over ``max_pixels``).
    """
    file = _existing_file(Path(path))
    try:
        with _pil_guard(max_pixels), Image.open(file, formats=_read_formats()) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise _too_large(file, f"{width}x{height} = {width * height:,} pixels", max_pixels)
            turned = orientation(im) in (5, 6, 7, 8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(file, str(exc), max_pixels) from exc
    except PIL_ERRORS as exc:
        raise InputImageError(f"cannot read image {file}: {_reason(exc)}") from exc
    return (height, width) if turned else (width, height)


def image_from_array(
    array: np.ndarray, *, background: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> LoadedImage:
    """Wrap an in-memory array as a :class:`LoadedImage`.

    Args:
        array: uint8, uint16 or float (in [0, 1]) array of shape (H, W), (H, W, 1),
            (H, W, 3) or (H, W, 4); a fourth channel is alpha.
        background: RGB in [0, 1] that transparent pixels are composited over.

    Returns:
        The image; ``bit_depth`` is 8 for uint8 and 16 for uint16 and float input.

    Raises:
        InputError: On a wrong type, shape or dtype, or float values that are not finite
            or outside [0, 1].
    """
    if not isinstance(array, np.ndarray):
        raise InputError(f"expected a numpy array, got {type(array).__name__}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise InputError(f"expected an (H, W), (H, W, 1|3|4) array, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise InputError("float image values must be finite and within [0, 1]")
    elif array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"unsupported image dtype {array.dtype}; use uint8, uint16 or float")
    bg = _check_background(background)
    scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(array.dtype, 1)
    values, depth = array.astype(np.float32) / np.float32(scale), 8 if scale == 255 else 16
    alpha = np.ascontiguousarray(values[:, :, 3]) if values.shape[2] == 4 else None
    rgb = np.repeat(values, 3, axis=2) if values.shape[2] == 1 else values[:, :, :3]
    return LoadedImage(_composite(np.ascontiguousarray(rgb), alpha, bg), alpha, None, depth)


def list_images(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders into a list of image files.

    Files are kept as given; folders give their images (by suffix, case-insensitive, hidden
    files skipped), sorted by name, not recursing into sub-folders.

    Args:
        paths: Files and/or folders.

    Returns:
        The image files, in the order given.

    Raises:
        InputImageError: If a path does not exist or a folder has no images.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
            )
            if not found:
                wanted = " ".join(sorted(IMAGE_SUFFIXES))
                raise InputImageError(f"folder {path} has no images (looked for {wanted})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputImageError(f"no such file or folder: {path}")
    return files


def check_writable(path: str | Path, *, force: bool = False) -> Path:
    """Check, before any work, that an image may be written to ``path`` (nothing is created).

    Args:
        path: The output file; its suffix picks the format.
        force: Allow replacing an existing file.

    Returns:
        ``path`` as a Path.

    Raises:
        InputError: If the suffix is not a writable image format or ``path`` is a folder.
        OutputExistsError: If the file exists and ``force`` is False.
    """
    target = Path(path)
    if target.suffix.lower() not in _FORMATS:
        wanted = ", ".join(sorted(_FORMATS))
        raise InputError(f"cannot write {target}: unknown image suffix (use one of {wanted})")
    return check_targets([target], force=force)[0]


def write_image(
    path: str | Path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    force: bool = False,
    quality: int = 95,
) -> Path:
    """Write float RGB in [0, 1] as an 8-bit image, atomically, creating parent folders.

    A hidden temporary file beside the target is renamed over it only when complete, so no
    partial file is ever left. ``alpha`` is attached for PNG, WebP and TIFF and left out for
    JPEG and BMP, which have no alpha (``rgb`` is already composited).

    Args:
        path: The output file; its suffix picks the format.
        rgb: float (H, W, 3) array; values are clipped to [0, 1] and rounded.
        alpha: Optional float (H, W) array in [0, 1].
        force: Replace an existing file.
        quality: JPEG/WebP quality, 1-100.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: On a bad suffix, array, or quality, or if the file cannot be written.
        OutputExistsError: If the file exists and ``force`` is False.
    """
    target = check_writable(path, force=force)
    fmt = _FORMATS[target.suffix.lower()]
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise InputError(f"quality must be an integer in 1..100, got {quality!r}")
    image = Image.fromarray(_to_uint8(rgb, "rgb", 3))
    if alpha is not None:
        alpha8 = _to_uint8(alpha, "alpha", 2)
        if alpha8.shape != image.size[::-1]:
            raise InputError(f"alpha shape {alpha8.shape} does not match rgb {image.size[::-1]}")
        if fmt in _ALPHA_FORMATS:
            image.putalpha(Image.fromarray(alpha8))
    options: dict[str, object] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "TIFF":
        options["compression"] = "tiff_lzw"
    _atomic_save(image, target, force, **options)
    return target


def _existing_file(path: Path) -> Path:
    if not path.exists():
        raise InputImageError(f"cannot read image {path}: no such file")
    if not path.is_file():
        raise InputImageError(f"cannot read image {path}: not a file")
    return path


def _check_background(background: Sequence[float]) -> np.ndarray:
    try:
        bg = np.asarray(background, dtype=np.float64)
    except (TypeError, ValueError):
        bg = np.full(1, np.nan)
    if bg.shape != (3,) or not np.isfinite(bg).all() or bg.min() < 0 or bg.max() > 1:
        raise InputError(f"background must be three values in [0, 1], got {background!r}")
    return bg.astype(np.float32)


@contextlib.contextmanager
def _pil_guard(max_pixels: int) -> Iterator[None]:
    """Make ``max_pixels`` Pillow's bomb limit and refuse truncated files, then restore."""
    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _read_formats() -> list[str]:
    """Every format Pillow (and any registered plugin) can open, except unsafe ones."""
    Image.init()
    return [name for name in Image.ID if name not in _UNSAFE_FORMATS]


def _reason(exc: Exception) -> str:
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image or an unsupported format"
    if isinstance(exc, OSError) and exc.errno is not None:  # the file system, not the data
        return exc.strerror or str(exc)
    return f"corrupt or truncated image ({exc})"


def _too_large(file: Path, detail: str, max_pixels: int) -> InputImageError:
    return InputImageError(
        f"image {file} is too large to read safely: {detail} (limit {max_pixels:,} pixels); "
        "if you trust it, raise the limit with --max-pixels"
    )


def _composite(rgb: np.ndarray, alpha: np.ndarray | None, bg: np.ndarray) -> np.ndarray:
    if alpha is None:
        return np.ascontiguousarray(rgb, dtype=np.float32)
    weight = alpha[:, :, None]
    return np.ascontiguousarray(rgb * weight + bg * (np.float32(1) - weight))


def _to_uint8(array: np.ndarray, name: str, ndim: int) -> np.ndarray:
    shape = "(H, W, 3)" if ndim == 3 else "(H, W)"
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{name} must be a float numpy array in [0, 1]")
    if array.ndim != ndim or (ndim == 3 and array.shape[2] != 3) or 0 in array.shape:
        raise InputError(f"{name} must have shape {shape}, got {array.shape}")
    out = np.empty(array.shape, np.uint8)
    for start in range(0, array.shape[0], 512):  # row bands: no full-size float temporaries
        band = array[start : start + 512]
        if not np.isfinite(band).all():
            raise InputError(f"{name} contains NaN or infinite values")
        out[start : start + 512] = np.rint(np.clip(band, 0, 1) * 255)
    return out


def _atomic_save(image: Image.Image, target: Path, force: bool, **params: object) -> None:
    """Save through :func:`nst.artifacts.staged` (temp file beside ``target``, fsync, rename)."""
    with staged(target) as tmp:
        with open(tmp, "wb") as fh:
            image.save(fh, format=_FORMATS[target.suffix.lower()], **params)
        if not force and target.exists():  # appeared while we were writing
            raise OutputExistsError(f"{target} already exists; use --force to overwrite")
