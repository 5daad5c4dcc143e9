"""Prepare the content-image folders for training and evaluation.

The images come only from photographs that ship inside the installed
scikit-image and scikit-learn wheels, so this works offline. Files are read
straight from the packages' data folders; scikit-image's ``pooch`` download
machinery is never called, and a missing file is an error, not a download.

Sources (licences as the packages state them are listed in ``docs/DATA.md``):

* colour photos from ``skimage.data``: astronaut, coffee, rocket,
  hubble_deep_field, immunohistochemistry (``ihc.png``), retina,
  motorcycle_left, chelsea, motorcycle_right;
* colour photos from ``sklearn.datasets.load_sample_images``: china, flower;
* grayscale photos from ``skimage.data``, converted to RGB: camera, moon,
  coins, brick, grass, gravel.

The held-out images **chelsea**, **flower** and **motorcycle_right** are never
written to the training folder. They go to the held-out folder for evaluation
and demos. That leaves 14 training sources.

Every image is resized with Lanczos so that its short side is ``--size``
pixels, keeping its aspect ratio, and saved as ``<name>.png``.

Augmentation: ``--crops K`` also writes K random square crops per training
image (``<name>_crop<k>.png``, each ``size`` x ``size``). A crop covers 50-85 %
of the short side, sits at a random place and is flipped left-right half the
time. The crops are deterministic: they depend only on ``--seed``, the image
name and k. **Default ("auto")**: when there are fewer than 20 training sources,
just enough crops per image to reach at least 20 training images; otherwise 0.
With the 14 sources above that means 1 crop per image, so the default command
writes 28 training images. Pass ``--crops 0`` to turn augmentation off.

The script also writes the demo photo ``nst/assets/sample_chelsea.jpg``
(chelsea, 451x300, JPEG quality 90) unless ``--no-sample-asset`` is given.

Example:
    python scripts/prepare_data.py --out data/content            # -> data/heldout too
    python scripts/prepare_data.py --out data/content --size 256 --crops 0
"""

from __future__ import annotations

import argparse
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLE_ASSET = REPO_ROOT / "nst" / "assets" / "sample_chelsea.jpg"
SAMPLE_ASSET_SIZE = (451, 300)  # (width, height); the odd width is deliberate
MIN_TRAIN_IMAGES = 20


@dataclass(frozen=True)
class Source:
    """One source photograph.

    Attributes:
        name: Output file stem.
        package: ``"skimage"`` or ``"sklearn"``.
        filename: File name inside the package's data folder.
        licence: Licence / copyright status as stated by the package.
        heldout: True if the image is held out of training.
    """

    name: str
    package: str
    filename: str
    licence: str
    heldout: bool = False


SOURCES: tuple[Source, ...] = (
    Source("astronaut", "skimage", "astronaut.png", "Public domain (NASA)"),
    Source("coffee", "skimage", "coffee.png", "CC0 (Rachel Michetti)"),
    Source("rocket", "skimage", "rocket.jpg", "Public domain (SpaceX)"),
    Source("hubble_deep_field", "skimage", "hubble_deep_field.jpg", "Public domain (NASA)"),
    Source("immunohistochemistry", "skimage", "ihc.png", "No known copyright restrictions"),
    Source("retina", "skimage", "retina.jpg", "CC0 1.0 (Mikael Häggström)"),
    Source("motorcycle_left", "skimage", "motorcycle_left.png", "Not stated (Middlebury 2014)"),
    Source("china", "sklearn", "china.jpg", "CC BY 2.0 (danielbuechele, Flickr)"),
    Source("camera", "skimage", "camera.png", "CC0 (Lav Varshney)"),
    Source("moon", "skimage", "moon.png", "Not stated"),
    Source("coins", "skimage", "coins.png", "No known copyright restrictions (Brooklyn Museum)"),
    Source("brick", "skimage", "brick.png", "CC0 (CC0Textures)"),
    Source("grass", "skimage", "grass.png", "CC0 (linolafett, DeviantArt)"),
    Source("gravel", "skimage", "gravel.png", "CC0 (CC0Textures)"),
    Source("chelsea", "skimage", "chelsea.png", "CC0 (Stefan van der Walt)", heldout=True),
    Source("flower", "sklearn", "flower.jpg", "CC BY 2.0 (vultilion, Flickr)", heldout=True),
    Source(
        "motorcycle_right",
        "skimage",
        "motorcycle_right.png",
        "Not stated (Middlebury 2014)",
        heldout=True,
    ),
)


def package_data_dir(package: str) -> Path:
    """Locate the folder with the bundled images of a package, without downloading.

    Args:
        package: ``"skimage"`` or ``"sklearn"``.

    Returns:
        Path of the package's image folder.

    Raises:
        SystemExit: If the package is not installed.
        ValueError: If the package name is unknown.
    """
    try:
        if package == "skimage":
            import skimage

            return Path(skimage.__file__).parent / "data"
        if package == "sklearn":
            import sklearn

            return Path(sklearn.__file__).parent / "datasets" / "images"
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            f"{package} is not installed; install the data extra: pip install 'nst[data]'"
        ) from exc
    raise ValueError(f"unknown package {package!r}")


def load_source(source: Source) -> Image.Image:
    """Read a source photograph as an RGB image.

    Args:
        source: The source to read.

    Returns:
        The image in RGB mode (grayscale images have their channel replicated).

    Raises:
        FileNotFoundError: If the file is not present locally.
    """
    path = package_data_dir(source.package) / source.filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (no download is attempted)")
    with Image.open(path) as img:
        return img.convert("RGB")


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so that the short side is ``size`` pixels (Lanczos), keeping aspect ratio.

    Args:
        img: Input image.
        size: Target length of the short side.

    Returns:
        The resized image (the input itself if it already has that short side).
    """
    w, h = img.size
    if min(w, h) == size:
        return img
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return img.resize(new, Image.Resampling.LANCZOS)


def random_square_crop(img: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Take a random square crop (50-85 % of the short side), maybe flip, resize to ``size``.

    Args:
        img: Input image.
        size: Side of the output square.
        rng: Random generator.

    Returns:
        The ``size`` x ``size`` crop.
    """
    w, h = img.size
    side = round(min(w, h) * rng.uniform(0.50, 0.85))
    left = int(rng.integers(0, w - side + 1))
    top = int(rng.integers(0, h - side + 1))
    crop = img.crop((left, top, left + side, top + side))
    if rng.uniform() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop.resize((size, size), Image.Resampling.LANCZOS)


def auto_crops(n_sources: int, minimum: int = MIN_TRAIN_IMAGES) -> int:
    """Number of crops per image needed to reach ``minimum`` training images.

    Args:
        n_sources: Number of training source images.
        minimum: Required number of training images.

    Returns:
        0 if there are already enough sources, else ``ceil((minimum - n) / n)``.
    """
    if n_sources >= minimum or n_sources == 0:
        return 0
    return math.ceil((minimum - n_sources) / n_sources)


def crop_rng(seed: int, name: str, k: int) -> np.random.Generator:
    """Random generator for crop ``k`` of image ``name``, independent of processing order.

    Args:
        seed: Global seed.
        name: Image name.
        k: Crop index.

    Returns:
        A seeded generator.
    """
    return np.random.default_rng([seed, zlib.crc32(name.encode()), k])


def remove_stale(folder: Path, names: list[str]) -> None:
    """Delete files this script may have written earlier under ``folder``.

    Only ``<name>.png`` and ``<name>_crop*.png`` for the given names are touched,
    so other files in the folder are left alone.

    Args:
        folder: Output folder.
        names: Image names.
    """
    for name in names:
        for path in [folder / f"{name}.png", *folder.glob(f"{name}_crop*.png")]:
            if path.is_file():
                path.unlink()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv: Argument list (defaults to ``sys.argv[1:]``).

    Returns:
        Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description="Write training (and held-out) content images from bundled photos."
    )
    parser.add_argument("--out", type=Path, default=Path("data/content"), help="training folder")
    parser.add_argument(
        "--heldout",
        type=Path,
        default=None,
        help="held-out folder (default: 'heldout' next to --out)",
    )
    parser.add_argument("--size", type=int, default=512, help="short side in pixels")
    parser.add_argument(
        "--crops",
        type=int,
        default=None,
        help="random square crops per training image (default: auto, enough for >= 20 images)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the crops")
    parser.add_argument(
        "--no-sample-asset",
        action="store_true",
        help=f"do not write {DEFAULT_SAMPLE_ASSET.relative_to(REPO_ROOT)}",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point.

    Args:
        argv: Argument list (defaults to ``sys.argv[1:]``).
    """
    args = parse_args(argv)
    if args.size < 16:
        raise SystemExit("--size must be at least 16")
    if args.crops is not None and args.crops < 0:
        raise SystemExit("--crops must be >= 0")
    out: Path = args.out
    heldout_dir: Path = args.heldout if args.heldout is not None else out.parent / "heldout"
    if out.resolve() == heldout_dir.resolve():
        raise SystemExit("--out and --heldout must be different folders")

    train = [s for s in SOURCES if not s.heldout]
    held = [s for s in SOURCES if s.heldout]
    crops = auto_crops(len(train)) if args.crops is None else args.crops

    out.mkdir(parents=True, exist_ok=True)
    heldout_dir.mkdir(parents=True, exist_ok=True)
    # Held-out images must never be in the training folder, even from older runs.
    remove_stale(out, [s.name for s in SOURCES])
    remove_stale(heldout_dir, [s.name for s in held])

    n_train = 0
    for source in train:
        img = resize_short_side(load_source(source), args.size)
        img.save(out / f"{source.name}.png", optimize=True)
        n_train += 1
        for k in range(crops):
            crop = random_square_crop(img, args.size, crop_rng(args.seed, source.name, k))
            crop.save(out / f"{source.name}_crop{k}.png", optimize=True)
            n_train += 1

    for source in held:
        img = load_source(source)
        resize_short_side(img, args.size).save(heldout_dir / f"{source.name}.png", optimize=True)
        if source.name == "chelsea" and not args.no_sample_asset:
            sample = (
                img
                if img.size == SAMPLE_ASSET_SIZE
                else img.resize(SAMPLE_ASSET_SIZE, Image.Resampling.LANCZOS)
            )
            DEFAULT_SAMPLE_ASSET.parent.mkdir(parents=True, exist_ok=True)
            sample.save(DEFAULT_SAMPLE_ASSET, quality=90, optimize=True)

    leaked = {s.name for s in held} & {p.stem.split("_crop")[0] for p in out.glob("*.png")}
    if leaked:  # pragma: no cover - guarded by remove_stale above
        raise SystemExit(f"held-out images found in {out}: {sorted(leaked)}")

    print(
        f"{n_train} train images ({len(train)} sources + {n_train - len(train)} crops) "
        f"in {out}, {len(held)} held out in {heldout_dir}, short side {args.size}"
    )


if __name__ == "__main__":
    main()
