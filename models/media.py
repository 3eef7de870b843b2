"""Images the site serves itself (at /media/<name>), re-encoded when they come in.

The bytes live in the database, not on one machine's disk, so every web process on every host
serves the same files and a backup of the database holds them too.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow

# What an image may be before it is even opened, and after decoding: a small file can unpack into
# gigabytes (a decompression bomb), so the pixel count is checked before the pixels are read.
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# The longest side kept: wider than any column the site shows, at twice the density.
MAX_EDGE = 2400
# What comes in -> what is stored. GIF becomes PNG (its first frame), as a still image.
FORMATS = {"JPEG": ("JPEG", "image/jpeg", "jpg"), "PNG": ("PNG", "image/png", "png"),
           "GIF": ("PNG", "image/png", "png"), "WEBP": ("WEBP", "image/webp", "webp")}


class ImageRefused(ValueError):
    """The file is not an image this site stores; the message says why, in words."""


@dataclass
class Encoded:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    note: str = ""  # what re-encoding changed that a person may want to know (resized, animation dropped)


def reencode_image(raw: bytes) -> Encoded:
    """Decode and encode again: only the pixels survive (no EXIF, GPS position or comments), within the size limits."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(raw) > MAX_BYTES:
        raise ImageRefused(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            if image.format not in FORMATS:
                raise ImageRefused(f"{image.format or 'unknown'} images are not stored here (JPEG, PNG, GIF, WebP are)")
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(f"{image.width}×{image.height} pixels is more than {MAX_PIXELS // 1_000_000} megapixels")
            animated = getattr(image, "is_animated", False)
            image.load()
    except ImageRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("not a readable image") from None
    except (OSError, SyntaxError, ValueError) as error:  # a truncated or corrupt file
        raise ImageRefused(f"not a readable image ({error})") from None

    save_format, content_type, extension = FORMATS[image.format]
    notes = ["animation dropped: first frame kept"] if animated else []
    icc = image.info.get("icc_profile")  # colours, not metadata about the person: kept
    image = ImageOps.exif_transpose(image)  # the orientation EXIF described is applied to the pixels
    if max(image.size) > MAX_EDGE:
        notes.append(f"resized from {image.width}×{image.height}")
        image.thumbnail((MAX_EDGE, MAX_EDGE))
    if save_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif save_format == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    image.info = {}  # Pillow would write a JPEG comment or PNG text it read back into the new file
    options = {"JPEG": {"quality": 85, "optimize": True, "progressive": True},
               "PNG": {"optimize": True}, "WEBP": {"quality": 85}}[save_format]
    if icc:
        options["icc_profile"] = icc
    out = io.BytesIO()
    image.save(out, save_format, **options)
    return Encoded(out.getvalue(), content_type, extension, image.width, image.height, "; ".join(notes))


class MediaFile(db.Model):
    """One stored image, served at /media/<name> (name like 2019/05/diagram.png)."""

    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Where it came from (the old site's URL), for the report and the redirect from it.
    source_url: Mapped[str] = mapped_column(String(1000), default="")
    alt: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def store(self, encoded: Encoded) -> None:
        self.data, self.content_type = encoded.data, encoded.content_type
        self.width, self.height, self.size = encoded.width, encoded.height, len(encoded.data)
        self.sha256 = hashlib.sha256(encoded.data).hexdigest()
