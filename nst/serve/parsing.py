"""An HTTP request to ``POST /v1/stylize`` -> a :class:`StylizeRequest` (bytes and option strings).

The image comes as multipart field ``image`` or as a raw ``image/*`` body; options come as
query parameters or form fields (``model``, ``style``, ``style_weights``, ``seed``), a style
image only as multipart file ``style_image``. Unknown options are errors, with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request

from nst.errors import InputError, did_you_mean
from nst.serve.errors import UnsupportedMediaError

OPTION_NAMES = ("model", "style", "style_weights", "seed", "strength", "preserve_color")
FILE_NAMES = ("image", "style_image")


@dataclass(frozen=True)
class StylizeRequest:
    """One stylize request as received.

    Attributes:
        image: The encoded image.
        options: Option name -> value as sent (see :data:`OPTION_NAMES`).
        style_image: The encoded style image, if sent.
        accept: The ``Accept`` header.
    """

    image: bytes
    options: dict[str, str]
    style_image: bytes | None = None
    accept: str | None = None

    @property
    def model(self) -> str | None:
        return self.options.get("model")


def _check_names(names: list[str], allowed: tuple[str, ...], where: str) -> None:
    for name in names:
        if name not in allowed:
            hint = did_you_mean(name, allowed)
            raise InputError(f"unknown {where} {name!r} (accepted: {', '.join(allowed)}){hint}")


async def read_stylize_request(request: Request) -> StylizeRequest:
    """Parse the request (its body is read here, within the app's body limit).

    Raises:
        UnsupportedMediaError: Neither multipart nor ``image/*``.
        InputError: Unknown or repeated options, no ``image`` field.
    """
    query = list(request.query_params.multi_items())
    _check_names([k for k, _ in query], OPTION_NAMES, "option")
    options = dict(query)
    if len(options) != len(query):
        raise InputError("give each option once")
    accept = request.headers.get("accept")
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("image/"):
        return StylizeRequest(await request.body(), options, None, accept)
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaError(
            f"send the image as multipart field 'image' or as a raw body with Content-Type image/*, "
            f"not {content_type or 'no Content-Type'!r}"
        )
    async with request.form(max_files=len(FILE_NAMES), max_fields=len(OPTION_NAMES)) as form:
        files: dict[str, bytes] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                _check_names([name], FILE_NAMES, "file field")
                files[name] = await value.read()
            elif name in FILE_NAMES:
                raise InputError(f"form field {name!r} must be a file upload, not text")
            else:
                _check_names([name], OPTION_NAMES, "form field")
                if name in options:
                    raise InputError(f"option {name!r} is given twice (query and form); give it once")
                options[name] = value
    if "image" not in files:
        raise InputError("multipart request without file field 'image' (the photo to stylize)")
    return StylizeRequest(files["image"], options, files.get("style_image"), accept)
