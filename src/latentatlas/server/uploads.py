"""What the server accepts as a request body: at most ``--max-upload`` bytes, holding one image or one array file.

The size is checked by :class:`BodyLimit` before the endpoint runs: from
``Content-Length`` before a byte of the body is read, and by counting while
a chunked body streams in. The content, never the name the client gives,
says what an upload is (:func:`upload_suffix`): an image Pillow recognises
(PNG, JPEG, TIFF, BMP, WebP), a ``.npy`` array or a ``.npz`` archive whose
arrays, as their headers declare them, fit in the same limit. The name is
only a label for the answer.
"""

from __future__ import annotations

import io
from typing import Any, Awaitable, Callable

from ..errors import BadInputError, UsageError
from ..sources.arrays import npz_members
from .queries import RequestRefused

__all__ = ["BodyLimit", "UploadTooLarge", "check_upload_name", "upload_suffix"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Pillow's format name -> the suffix the image reader knows it by
_IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp", "WEBP": ".webp"}
_KINDS = "an image (PNG, JPEG, TIFF, BMP, WebP) or an array file (.npy, .npz)"


class UploadTooLarge(RequestRefused):
    """A request body over the server's limit."""

    status = 413


def too_large(size: str, limit: int) -> UploadTooLarge:
    """The error for a body or archive of ``size`` over ``limit`` bytes."""
    return UploadTooLarge(f"{size} is more than the server's limit of {limit:,} bytes (--max-upload)")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413 and one line of JSON.

    A declared ``Content-Length`` over the limit is answered before the body
    is read; a body without one raises :class:`UploadTooLarge` from the
    app's ``receive`` once the count passes the limit (the app answers 413).
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and int(declared) > self.limit:
            from starlette.responses import JSONResponse

            error = too_large(f"the request body of {int(declared):,} bytes", self.limit)
            await JSONResponse({"error": str(error)}, status_code=error.status)(scope, receive, send)
            return
        received = 0

        async def counted() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(f"the request body (over {self.limit:,} bytes so far)", self.limit)
            return message

        await self.app(scope, counted, send)


def check_upload_name(name: str) -> str:
    """``name`` if it is a plain file name (a label for the answer, never a path).

    Raises
    ------
    UsageError
        ``"filename must be a plain file name, got '..'"`` for an empty name,
        ``.``, ``..``, or one with a folder separator or a NUL.
    """
    if name in ("", ".", "..") or any(c in name for c in "/\\\0") or len(name) > 255:
        raise UsageError(f"filename must be a plain file name, got {name!r}")
    return name


def upload_suffix(body: bytes, name: str, limit: int) -> str:
    """The suffix the upload is read by (``.png``, ``.jpg``, ..., ``.npy``, ``.npz``), from its content.

    Raises
    ------
    BadInputError
        ``"<name>: not an image ... or an array file ..."`` for anything else
        (a manifest, text, an archive of other files), or an unreadable ``.npz``.
    UploadTooLarge
        For an ``.npz`` whose arrays would take more than ``limit`` bytes.
    """
    if body.startswith(b"\x93NUMPY"):
        return ".npy"  # read memory-mapped: it cannot take more memory than its size
    if body.startswith(b"PK\x03\x04"):
        _check_npz(body, name, limit)
        return ".npz"
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():  # the reader checks the pixel limit (--max-pixels)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(body)) as image:
                kind = image.format
    except Exception:  # Pillow raises many types for bytes that are no image; all mean the same here
        kind = None
    if kind not in _IMAGE_FORMATS:
        raise BadInputError(f"{name}: not {_KINDS}")
    return _IMAGE_FORMATS[kind]


def _check_npz(body: bytes, name: str, limit: int) -> None:
    """Refuse an archive of anything but ``.npy`` members, or whose members unpack past ``limit`` bytes.

    What the archive says of each member and what each member's ``.npy``
    header declares both count; only the headers are decompressed.
    """
    unpacked = sum(member.unpacked for member in npz_members(io.BytesIO(body), name).values())
    if unpacked > limit:
        raise too_large(f"{name}: the arrays of this .npz ({unpacked:,} bytes unpacked)", limit)
