"""Complete calibration feeds for every family: the inputs beside the image.

A :class:`~nst.calibration.source.CalibrationSource` such as ``ImageFolderSource`` yields
``{"image": (1, 3, H, W)}``. Multi-input models need more, and calibration must see values
like those of real use, so :class:`ModelFeeds` adds, from the model's ``ExportSpec``:

* ``style_weights`` [S]: one style per image, cycling (image *i* is style *i* mod S), so
  every style's path is calibrated;
* ``style_masks`` [N, S, 16, 16]: the same style everywhere (region fusion mixes them);
* ``noise_k``: seeded uniform noise for an H x W output (seed = image index, the runtime's
  :func:`~nst.contract.noise.seeded_noise`);
* ``style`` (style-swap): the calibration image rotated by 180 degrees, i.e. another
  photo-like image the swap has to match.

Inputs a feed already has are kept; ``image`` is dropped for models without one (texture
nets, which take only noise of the image's size).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nst.calibration.source import CalibrationSource, Feed
from nst.contract.noise import NOISE_PREFIX, seeded_noise
from nst.contract.spec import ExportSpec
from nst.errors import CalibrationError
from nst.runtime.style_inputs import STRENGTH

IMAGE = "image"
MASK_SIZE = 16


class ModelFeeds:
    """``source``'s feeds completed for a model with ``spec`` (a CalibrationSource itself).

    Args:
        source: Feeds with at least ``image`` (1, 3, H, W) float32, or complete feeds.
        spec: The model's I/O contract (from its ``nst.io`` metadata).

    Raises:
        CalibrationError: (when iterated) an input none of the rules above can make.
    """

    def __init__(self, source: CalibrationSource, spec: ExportSpec) -> None:
        self.source, self.spec = source, spec

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self) -> Iterator[Feed]:
        for index, feed in enumerate(self.source):
            yield self.complete(feed, index)

    def complete(self, feed: Feed, index: int) -> Feed:
        """The model's feed for the ``index``-th source feed."""
        noise = [t.name for t in self.spec.inputs if t.name.startswith(NOISE_PREFIX)]
        made: dict[str, np.ndarray] = {}
        out: Feed = {}
        for tensor in self.spec.inputs:
            name = tensor.name
            if name in feed:
                out[name] = feed[name]
                continue
            image = _image(feed, name)
            if name in noise:
                h, w = image.shape[2:]
                made = made or seeded_noise(len(noise), len(image), h, w, index)
                out[name] = made[name]
            elif name == "style_weights":
                out[name] = _one_hot(int(tensor.shape[0]), index)
            elif name == "style_masks":
                s = int(tensor.shape[1])
                mask = _one_hot(s, index)[None, :, None, None]  # (1, S, 1, 1)
                out[name] = np.ascontiguousarray(np.broadcast_to(mask, (len(image), s, MASK_SIZE, MASK_SIZE)))
            elif name == "style":
                out[name] = np.ascontiguousarray(image[:1, :, ::-1, ::-1])
            elif name == STRENGTH:  # style-swap: the full swap, the runtime's default
                out[name] = np.ones(1, np.float32)
            else:
                raise CalibrationError(
                    f"cannot make calibration values for input {name!r} of a {self.spec.family} model; "
                    "give a CalibrationSource whose feeds include it"
                )
        return out


def _image(feed: Feed, wanted: str) -> np.ndarray:
    if IMAGE not in feed:
        raise CalibrationError(f"a calibration feed has neither {wanted!r} nor {IMAGE!r} to derive it from")
    return feed[IMAGE]


def _one_hot(count: int, index: int) -> np.ndarray:
    return np.eye(count, dtype=np.float32)[index % count]


def model_feeds(source: CalibrationSource, proto: Any) -> CalibrationSource:
    """``source`` completed for ``proto`` (an ``onnx.ModelProto``); unchanged for models
    without nst metadata, whose feeds must then be complete already."""
    from nst.contract.metadata import ModelMetadata

    props = {p.key: p.value for p in proto.metadata_props}
    if "nst.io" not in props:
        return source
    return ModelFeeds(source, ModelMetadata.from_props(props).spec)
