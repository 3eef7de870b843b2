"""Images the site serves itself (at /media/<name>), re-encoded when they come in.

The bytes live in the database, not on one machine's disk, so every web process on every host
serves the same files and a backup of the database holds them too.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from html import unescape as html_unescape

from markupsafe import Markup
from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

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


def _open_image(raw: bytes, formats, max_bytes: int, max_pixels: int):
    """Pillow's reading of `raw`, verified and decoded, or ImageRefused saying why (never a bare Pillow error)."""
    from PIL import Image, UnidentifiedImageError

    if len(raw) > max_bytes:
        raise ImageRefused(f"larger than {_megabytes(max_bytes)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(raw)).verify()  # the structure and checksums, before any pixel is decoded
            image = Image.open(io.BytesIO(raw))
            if image.format not in formats:
                allowed = ", ".join(sorted(formats)).replace("WEBP", "WebP")
                raise ImageRefused(f"{image.format or 'unknown'} images are not stored here ({allowed} are)")
            if image.width * image.height > max_pixels:
                raise ImageRefused(f"{image.width}×{image.height} pixels is more than {max_pixels / 1_000_000:g} megapixels")
            animated = getattr(image, "is_animated", False)
            image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(f"more than {max_pixels / 1_000_000:g} megapixels") from None
    except UnidentifiedImageError:
        raise ImageRefused("not a readable image") from None
    except (OSError, SyntaxError, ValueError) as error:  # a truncated or corrupt file
        raise ImageRefused(f"not a readable image ({error})") from None
    return image, animated


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def reencode_image(raw: bytes) -> Encoded:
    """Decode and encode again: only the pixels survive (no EXIF, GPS position or comments), within the size limits."""
    from PIL import ImageOps

    image, animated = _open_image(raw, FORMATS, MAX_BYTES, MAX_PIXELS)
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
    data = _encode(image, save_format, icc)
    return Encoded(data, content_type, extension, image.width, image.height, "; ".join(notes))


def _encode(image, save_format: str, icc: bytes | None = None) -> bytes:
    image.info = {}  # Pillow would write a JPEG comment or PNG text it read back into the new file
    options = {"JPEG": {"quality": 85, "optimize": True, "progressive": True},
               "PNG": {"optimize": True}, "WEBP": {"quality": 82, "method": 4}}[save_format]
    if icc:
        options["icc_profile"] = icc
    out = io.BytesIO()
    image.save(out, save_format, **options)
    return out.getvalue()


# --- uploads from the admin (an image for a post, a service, a course, a case study) ---------------

# Only these come in through the editors: no GIF (animation), no SVG (a document that can hold script).
UPLOAD_FORMATS = {"JPEG", "PNG", "WEBP"}
# The widths the pages show an image at (a phone, a column at 2×, a wide column at 2×), as WebP;
# the fallback (JPEG, or PNG when the image has transparency) is the widest of them.
UPLOAD_WIDTHS = (480, 960, 1440)
# Names under this prefix hold their content's hash: a name never changes content, so caches keep it for ever.
FINGERPRINTED = "i/"
# Markup that has no business in an image's metadata: a file carrying it is a polyglot (an image that is
# also an HTML page or a script to a browser that sniffs), refused even though re-encoding would drop it.
_MARKUP = re.compile(rb"<\s*(?:script|html|body|svg|iframe|object|embed|\?php|!doctype)\b|javascript:", re.IGNORECASE)


def _check_single_file(raw: bytes, image) -> None:
    """The bytes are one image and nothing else: no data after its end, no markup in its metadata."""
    fmt = image.format
    if fmt == "JPEG":
        end = raw.rfind(b"\xff\xd9")
        trailing = raw[end + 2:] if end >= 0 else b"x"
        if trailing.strip(b"\x00"):
            raise ImageRefused("there is other data after the end of the JPEG image (a file that is two things at once)")
        metadata = b"".join(segment for _marker, segment in getattr(image, "applist", []))
        metadata += image.info.get("comment", b"") if isinstance(image.info.get("comment"), bytes) else b""
    elif fmt == "PNG":
        if not raw.endswith(b"IEND\xaeB`\x82"):
            raise ImageRefused("there is other data after the end of the PNG image (a file that is two things at once)")
        metadata = "".join(str(v) for v in (getattr(image, "text", None) or {}).values()).encode("utf-8", "replace")
        metadata += b"".join(v for v in image.info.values() if isinstance(v, bytes))
    else:  # WebP: a RIFF container says its own length
        declared = int.from_bytes(raw[4:8], "little") + 8
        if raw[:4] != b"RIFF" or len(raw) not in (declared, declared + 1):
            raise ImageRefused("there is other data after the end of the WebP image (a file that is two things at once)")
        metadata = b"".join(v for v in image.info.values() if isinstance(v, bytes))
    if _MARKUP.search(metadata):
        raise ImageRefused("its metadata holds HTML or script (a file that is two things at once)")


@dataclass
class Rendition:
    encoded: Encoded
    name: str


def prepare_upload(raw: bytes, *, max_bytes: int, max_pixels: int) -> list[Rendition]:
    """An uploaded file as the site stores it: checked, turned upright, re-encoded without metadata, resized.

    The first rendition is the fallback (JPEG, or PNG with transparency, at the widest width); then one
    WebP per width in UPLOAD_WIDTHS up to the image's own. Every name holds the hash of its bytes.
    """
    from PIL import Image, ImageOps

    image, _animated = _open_image(raw, UPLOAD_FORMATS, max_bytes, max_pixels)
    _check_single_file(raw, image)
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if alpha else "RGB")
    widths = sorted({min(w, image.width) for w in UPLOAD_WIDTHS})

    def scaled(width: int):
        if width == image.width:
            return image.copy()
        height = max(1, round(image.height * width / image.width))
        return image.resize((width, height), Image.Resampling.LANCZOS)

    renditions = []
    fallback = scaled(widths[-1])
    fmt, content_type, extension = ("PNG", "image/png", "png") if alpha else ("JPEG", "image/jpeg", "jpg")
    renditions.append(_rendition(fallback, fmt, content_type, extension, icc))
    for width in widths:
        renditions.append(_rendition(scaled(width), "WEBP", "image/webp", "webp", icc))
    return renditions


def _rendition(image, fmt: str, content_type: str, extension: str, icc: bytes | None) -> Rendition:
    data = _encode(image, fmt, icc)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{FINGERPRINTED}{digest[:20]}-{image.width}.{extension}"
    return Rendition(Encoded(data, content_type, extension, image.width, image.height), name)


# What the prose column is wide at each screen (site.css: --narrow 46rem, 1.25rem padding each side).
PROSE_SIZES = "(min-width: 48.5rem) 46rem, calc(100vw - 2.5rem)"
# The main column beside an aside (service, course, case study pages: --wrap 72rem, a 16rem aside, a 2rem gap).
ASIDE_SIZES = "(min-width: 72rem) 51.5rem, (min-width: 48rem) calc(100vw - 20.5rem), calc(100vw - 2.5rem)"


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
    # An uploaded image is the fallback row (JPEG/PNG) with its WebP widths as variants of it.
    variant_of_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"), index=True)
    # Marked decorative when uploaded: shown with alt="" (screen readers skip it); otherwise `alt` is required.
    decorative: Mapped[bool] = mapped_column(Boolean, default=False)
    # What it was uploaded for ("post:12"): the editor lists the images of that post with their Markdown.
    used_for: Mapped[str] = mapped_column(String(40), default="", index=True)

    variants: Mapped[list[MediaFile]] = relationship(
        order_by="MediaFile.width", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def url(self) -> str:
        from flask import has_request_context, url_for

        return url_for("blog.media", name=self.name) if has_request_context() else f"/media/{self.name}"

    @property
    def alt_text(self) -> str:
        return "" if self.decorative else self.alt

    @property
    def markdown(self) -> str:
        """What to paste into a Markdown body to show it inline (rendered with its widths: see enrich_images)."""
        alt = self.alt_text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f"![{alt}]({self.url})"

    def srcset(self) -> str:
        return ", ".join(f"{v.url} {v.width}w" for v in self.variants)

    def picture(self, sizes: str = PROSE_SIZES, *, alt: str | None = None, loading: str = "lazy",
                class_: str = "") -> Markup:
        """<picture>: WebP at each width for browsers to choose from, the fallback with its width and height."""
        alt = self.alt_text if alt is None or (not alt and not self.decorative) else alt
        css = Markup(' class="{}"').format(class_) if class_ else ""
        source = Markup('<source type="image/webp" srcset="{}" sizes="{}">').format(self.srcset(), sizes) if self.variants else ""
        return Markup('<picture{}>{}<img src="{}" alt="{}" width="{}" height="{}" loading="{}" decoding="async"></picture>').format(
            css, source, self.url, alt, self.width, self.height, loading)

    @classmethod
    def from_upload(cls, renditions: list[Rendition], *, alt: str, decorative: bool, used_for: str) -> MediaFile:
        """Store an upload (see prepare_upload); the same bytes uploaded again are the same row, its alt text updated."""
        fallback, *widths = renditions
        item = db.session.scalar(select(cls).where(cls.name == fallback.name))
        if item is None:
            item = cls(name=fallback.name)
            item.store(fallback.encoded)
            for rendition in widths:
                variant = cls(name=rendition.name, alt="", used_for="")
                variant.store(rendition.encoded)
                item.variants.append(variant)
            db.session.add(item)
        item.alt, item.decorative, item.used_for = ("" if decorative else alt), decorative, used_for
        return item

    def store(self, encoded: Encoded) -> None:
        self.data, self.content_type = encoded.data, encoded.content_type
        self.width, self.height, self.size = encoded.width, encoded.height, len(encoded.data)
        self.sha256 = hashlib.sha256(encoded.data).hexdigest()


_MEDIA_IMG = re.compile(r'<img\b[^>]*?\ssrc="/media/(' + FINGERPRINTED + r'[^"]+)"[^>]*>')
_ALT = re.compile(r'\salt="([^"]*)"')


def enrich_images(html: str) -> str:
    """Inline uploaded images (sanitised <img src="/media/i/…">) become <picture> with their widths and size.

    Runs when Markdown is rendered (on save), after sanitising: what it adds comes from the stored rows.
    """
    if f'src="/media/{FINGERPRINTED}' not in html:
        return html
    names = set(_MEDIA_IMG.findall(html))
    with db.session.no_autoflush:
        found = {m.name: m for m in db.session.scalars(select(MediaFile).where(MediaFile.name.in_(names)))}

    def replace(match: re.Match) -> str:
        item = found.get(match.group(1))
        if item is None or item.variant_of_id is not None:
            return match.group(0)
        alt = _ALT.search(match.group(0))
        written = alt.group(1) if alt else ""
        return str(item.picture(alt=html_unescape(written) if written else None))

    return _MEDIA_IMG.sub(replace, html)
