"""What an uploaded file really is, and the bytes we keep of it.

The type comes from the content, never from the name or the client's Content-Type: Pillow opens
and verifies images and names their format; a PDF is recognised by its `%PDF-` header. Images are
re-encoded before they are stored, which drops EXIF (GPS position, camera serial), XMP and text
chunks, so a customer's location never persists; the EXIF orientation is applied first so the
picture still stands upright.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from supportbot.errors import CodedError

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
PDF_TYPE = "application/pdf"
ALL_TYPES = (*IMAGE_TYPES.values(), PDF_TYPE)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", PDF_TYPE: "pdf"}
# A small file can decode into a huge bitmap (a "decompression bomb"); refuse before decoding.
MAX_IMAGE_PIXELS = 40_000_000
THUMBNAIL_PX = 320
THUMBNAIL_TYPE = "image/webp"


class AttachmentRejected(CodedError):
    """An upload refused: unsupported or disguised type, too large, unreadable."""


# The HTTP status each refusal gets from the widget's upload endpoint and the inbox's.
REJECTED_STATUS = {"too_large": 413, "unsupported_type": 415, "bad_file": 422, "attachments_disabled": 403}


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    content_type: str
    thumbnail: bytes | None  # WebP, for images only


def file_inspect(*, stream: IO[bytes], allowed_types: list[str]) -> CleanFile:
    """The stored form of an upload, or AttachmentRejected (`unsupported_type`, `bad_file`)."""
    head = stream.read(5)
    stream.seek(0)
    if head == b"%PDF-":
        if PDF_TYPE not in allowed_types:
            raise AttachmentRejected("unsupported_type", "PDF files are not accepted here")
        # Stored byte for byte: served with Content-Disposition: attachment and nosniff, never inline.
        return CleanFile(content=stream.read(), content_type=PDF_TYPE, thumbnail=None)
    try:
        with Image.open(stream) as probe:
            image_format = probe.format or ""
            width, height = probe.size
            if image_format not in IMAGE_TYPES:
                raise AttachmentRejected(
                    "unsupported_type", "only PNG, JPEG, GIF and WebP images and PDFs are accepted"
                )
            if width * height > MAX_IMAGE_PIXELS:
                raise AttachmentRejected("bad_file", "the image has too many pixels")
            probe.verify()
    except AttachmentRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise AttachmentRejected(
            "unsupported_type", "only PNG, JPEG, GIF and WebP images and PDFs are accepted"
        ) from None
    content_type = IMAGE_TYPES[image_format]
    if content_type not in allowed_types:
        raise AttachmentRejected("unsupported_type", f"{image_format} images are not accepted here")
    stream.seek(0)
    try:
        with Image.open(stream) as image:
            image.load()
            return CleanFile(
                content=_reencoded(image, image_format), content_type=content_type, thumbnail=_thumbnail(image)
            )
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise AttachmentRejected("bad_file", "the image could not be read") from None


def _reencoded(image: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    animated = getattr(image, "is_animated", False)
    if animated:
        # Every frame kept; Pillow copies only the options passed here, and info (comments,
        # EXIF, XMP) is emptied so nothing rides along.
        image.info = {key: value for key, value in image.info.items() if key in ("duration", "loop", "transparency")}
        image.save(out, format=image_format, save_all=True)
        return out.getvalue()
    upright = ImageOps.exif_transpose(image)
    upright.info = {key: value for key, value in image.info.items() if key == "transparency"}
    options: dict = {}
    if image_format == "JPEG":
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
        options = {"quality": 90, "optimize": True}
    elif image_format == "WEBP":
        options = {"quality": 90}
    upright.save(out, format=image_format, **options)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    thumb = ImageOps.exif_transpose(image)
    thumb = thumb.convert("RGBA" if thumb.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    thumb.info = {}
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()
