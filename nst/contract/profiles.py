"""Optimisation profiles: min/opt/max NCHW shapes of a model's image input, and of every input.

TensorRT needs them to build an engine; the runtime uses them to refuse shapes an engine
cannot take. Everything here is derived from the model's :class:`ExportSpec` (or given by
the user as ``--min/--opt/--max``), so it needs neither TensorRT nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nst.contract.spec import ExportSpec, TensorSpec
from nst.errors import InputError, ModelError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    """One optimisation profile of the image input: min/opt/max NCHW shapes."""

    min: Shape
    opt: Shape
    max: Shape

    def contains(self, shape: Shape) -> bool:
        """Whether ``shape`` lies inside [min, max] in every dimension."""
        return len(shape) == len(self.min) and all(
            lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max, strict=True)
        )

    def describe(self) -> str:
        """``min 1x3x16x16, opt 1x3x720x1280, max 4x3x2160x3840``."""
        return ", ".join(f"{k} {format_shape(getattr(self, k))}" for k in ("min", "opt", "max"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        try:
            return cls(*(tuple(int(v) for v in data[k]) for k in ("min", "opt", "max")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed profile {data!r}: {exc}") from exc


def format_shape(shape: Shape) -> str:
    """``(1, 3, 64, 64)`` -> ``1x3x64x64``."""
    return "x".join(str(s) for s in shape)


def parse_shape(text: str) -> Shape:
    """``"1x3x64x64"`` -> ``(1, 3, 64, 64)``.

    Raises:
        InputError: Not four positive integers joined by ``x``.
    """
    parts = text.lower().replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 4 or any(s < 1 for s in shape):
        raise InputError(f"shape {text!r} must be NxCxHxW with positive integers, e.g. 1x3x720x1280")
    return shape


def parse_profiles(mins: list[str], opts: list[str], maxs: list[str]) -> tuple[Profile, ...]:
    """Pair the i-th ``--min``, ``--opt`` and ``--max`` into profiles (none given: empty).

    Raises:
        InputError: Counts differ, or a shape is malformed or not min <= opt <= max.
    """
    if not (len(mins) == len(opts) == len(maxs)):
        raise InputError(
            f"give --min, --opt and --max the same number of times (got {len(mins)}, {len(opts)}, "
            f"{len(maxs)})"
        )
    profiles = tuple(
        Profile(parse_shape(lo), parse_shape(op), parse_shape(hi))
        for lo, op, hi in zip(mins, opts, maxs, strict=True)
    )
    for p in profiles:
        check_ordered(p)
    return profiles


def check_ordered(profile: Profile) -> None:
    """Raise :class:`InputError` unless min <= opt <= max in every dimension."""
    for axis, lo, op, hi in zip("NCHW", profile.min, profile.opt, profile.max, strict=True):
        if not lo <= op <= hi:
            raise InputError(f"profile {profile.describe()}: {axis} must satisfy min <= opt <= max")


def image_input(spec: ExportSpec) -> TensorSpec:
    """The rank-4 ``[N, C, height, width]`` tensor whose (N, H, W) a profile gives.

    The image input; for nets without one (texture synthesis: noise in, texture out) the
    output image, whose size the noise inputs follow through ``spec.axis_scales``.

    Raises:
        ModelError: No input or output has ``height`` and ``width`` axes.
    """
    for t in (*spec.inputs, *spec.outputs):
        if len(t.shape) == 4 and "height" in t.shape and "width" in t.shape:
            return t
    raise ModelError(f"{spec.family} model has no [N, C, height, width] image input or output to profile")


def profiled_input(spec: ExportSpec) -> TensorSpec:
    """The graph input whose min/opt/max shapes equal the profile's: the image input, or for
    nets without one the input that follows the output 1:1 (texture synthesis: ``noise_0``).

    Raises:
        ModelError: No input has the profile's shape.
    """
    anchor = image_input(spec)
    if anchor in spec.inputs:
        return anchor
    for t in spec.inputs:
        if len(t.shape) != len(anchor.shape):
            continue
        pairs = zip(t.shape, anchor.shape, strict=True)
        if all(d == a or spec.axis_scales.get(str(d)) == (a, 1) for d, a in pairs):
            return t
    raise ModelError(f"{spec.family} model has no input shaped like its profile {list(anchor.shape)}")


def profiles_from_spec(spec: ExportSpec) -> tuple[Profile, ...]:
    """The ExportSpec's min/opt/max (N, H, W) as one NCHW profile of the image input."""
    channels = image_input(spec).shape[1]
    if not isinstance(channels, int):
        raise ModelError(f"{spec.family} image input has a dynamic channel axis; give --min/--opt/--max")
    try:
        shapes = [spec.profile[k] for k in ("min", "opt", "max")]
    except KeyError as exc:
        raise ModelError(f"{spec.family} spec profile lacks {exc}; give --min/--opt/--max") from exc
    return (Profile(*((n, channels, h, w) for n, h, w in shapes)),)


def check_profiles(profiles: tuple[Profile, ...], spec: ExportSpec) -> None:
    """Check profiles against the model: fixed dims match, H and W >= the spec's min_size.

    Raises:
        InputError: Naming the profile and what is wrong.
    """
    image = image_input(spec)
    for p in profiles:
        check_ordered(p)
        for dim, lo, hi in zip(image.shape, p.min, p.max, strict=True):
            if isinstance(dim, int) and not lo == hi == dim:
                raise InputError(f"profile {p.describe()}: {image.name} has a fixed axis of size {dim}")
        if min(p.min[2], p.min[3]) < spec.min_size:
            raise InputError(
                f"profile {p.describe()}: H and W must be >= {spec.min_size} for a {spec.family} model"
            )


def input_shapes(spec: ExportSpec, profile: Profile) -> dict[str, tuple[Shape, Shape, Shape]]:
    """Min/opt/max of every graph input.

    A named axis takes the image profile's size when the image has it, ceil(size / divisor)
    of an image axis when ``spec.axis_scales`` derives it (texture nets' noise), or its own
    ``spec.axis_profiles`` min/opt/max (style-swap's style image).

    Raises:
        InputError: An axis none of these covers.
    """
    axes = dict(zip(image_input(spec).shape, range(4), strict=True))
    out: dict[str, tuple[Shape, Shape, Shape]] = {}
    for t in spec.inputs:
        shapes = []
        for level, s in enumerate((profile.min, profile.opt, profile.max)):
            dims = []
            for d in t.shape:
                if isinstance(d, int):
                    dims.append(d)
                elif d in axes:
                    dims.append(s[axes[d]])
                elif d in spec.axis_scales and spec.axis_scales[d][0] in axes:
                    base, divisor = spec.axis_scales[d]
                    dims.append(-(-s[axes[base]] // divisor))
                elif d in spec.axis_profiles:
                    dims.append(spec.axis_profiles[d][level])
                else:
                    raise InputError(f"cannot derive a profile for input {t.name!r} axis {d!r}")
            shapes.append(tuple(dims))
        out[t.name] = (shapes[0], shapes[1], shapes[2])
    return out
