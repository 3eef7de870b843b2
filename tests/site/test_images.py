"""Images uploaded in the editors: checked by content, re-encoded without metadata, turned upright, resized to the
widths the pages use, served under their hash for ever, shown with srcset, sizes, width, height and alt text."""
from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from models import AuditLog, MediaFile, Post
from tests.factories import make_course, make_post, make_service

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(width=1600, height=900, orientation=6) -> bytes:
    """A real camera-like JPEG: EXIF with a GPS position (Berlin), the camera's make, and an orientation."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    for x in range(0, width, 50):  # something to compress, and to see which way is up
        image.paste((20, 20, 200), (x, 0, x + 10, height // 3))
    exif = Image.Exif()
    exif[0x010F] = "Camerafabrik Jena"  # Make
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 18.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width=64, height=48, mode="RGBA", **info) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, (width, height), (10, 120, 60, 128) if mode == "RGBA" else (10, 120, 60))
    if info:
        from PIL.PngImagePlugin import PngInfo

        meta = PngInfo()
        for key, value in info.items():
            meta.add_text(key, value)
        image.save(out, "PNG", pnginfo=meta)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says it is width × height: a decompression bomb's shape, without the memory."""
    data = bytearray(png(8, 8, "RGB"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def upload(client, kind: str, item_id: int, data: bytes, filename="photo.jpg", **fields):
    form = {"alt": "Rack of servers in Zürich, cables labelled by VLAN", **fields,
            "image": (io.BytesIO(data), filename)}
    return client.post(f"/admin/{kind}/{item_id}/image", data=form, content_type="multipart/form-data")


def stored(db_session, name: str) -> MediaFile:
    db_session.expire_all()
    return db_session.scalar(select(MediaFile).where(MediaFile.name == name))


def test_a_jpeg_with_gps_comes_back_upright_without_any_metadata(admin_client, db_session):
    post = make_post(title="Rechenzentrum in Zürich")
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the test's file really has a position
    response = upload(admin_client, "posts", post.id, raw, preview="y")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/posts/{post.id}#image-section")

    db_session.expire_all()
    image = db_session.get(Post, post.id).image
    assert image is not None and image.alt == "Rack of servers in Zürich, cables labelled by VLAN"
    # Orientation 6 (turn 90° clockwise) was applied to the pixels: 1600×900 comes back 900×1600.
    assert (image.width, image.height) == (900, 1600)
    assert image.content_type == "image/jpeg" and image.name.endswith("-900.jpg")
    assert [v.width for v in image.variants] == [480, 900] and {v.content_type for v in image.variants} == {"image/webp"}

    for media in (image, *image.variants):
        served = admin_client.get(f"/media/{media.name}")
        assert served.status_code == 200 and served.mimetype == media.content_type
        body = served.data
        assert hashlib.sha256(body).hexdigest()[:20] in media.name  # the name is the content's hash
        decoded = Image.open(io.BytesIO(body))
        assert dict(decoded.getexif()) == {} and not decoded.getexif().get_ifd(GPS_IFD)
        assert b"Exif" not in body and b"Camerafabrik" not in body and b"GPS" not in body
        assert decoded.size == (media.width, media.height)
        cache = served.headers["Cache-Control"]
        assert "immutable" in cache and "max-age=31536000" in cache and "public" in cache
    upright = Image.open(io.BytesIO(admin_client.get(f"/media/{image.name}").data)).convert("RGB")
    assert upright.getpixel((upright.width - 5, 5))[2] > 150  # the blue stripes now run down the right side
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "image.upload"))
    assert entry.target_id == post.id and entry.detail["media"] == image.name


def test_the_article_shares_its_image_and_shows_it_inline_with_its_widths(admin_client, client, db_session):
    post = make_post(slug="ceph-im-rechenzentrum", title="Ceph im Rechenzentrum")
    upload(admin_client, "posts", post.id, jpeg_with_gps(orientation=1), preview="y")
    db_session.expire_all()
    image = db_session.get(Post, post.id).image
    editor = admin_client.get(f"/admin/posts/{post.id}").text
    assert image.markdown in editor and image.markdown == f"![Rack of servers in Zürich, cables labelled by VLAN](/media/{image.name})"

    # The Markdown the editor offers, pasted into the body and saved.
    admin_client.post(f"/admin/posts/{post.id}", data={
        "title": post.title, "slug": post.slug, "summary": "", "body": f"Intro.\n\n{image.markdown}\n", "tags": "",
        "status": "published", "published_at": "", "action": "save"})
    page = client.get("/blog/ceph-im-rechenzentrum").text
    picture = re.search(r"<picture>.*?</picture>", page, re.S).group(0)
    assert f'srcset="/media/{image.variants[0].name} 480w, /media/{image.variants[1].name} 960w, ' in picture
    assert 'sizes="(min-width: 48.5rem) 46rem' in picture and 'type="image/webp"' in picture
    assert f'src="/media/{image.name}"' in picture and 'width="1440" height="810"' in picture
    assert 'alt="Rack of servers in Zürich, cables labelled by VLAN"' in picture and 'loading="lazy"' in picture
    absolute = f"http://localhost/media/{image.name}"
    assert f'<meta property="og:image" content="{absolute}">' in page
    assert f'<meta name="twitter:image" content="{absolute}">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page
    assert '<meta property="og:image:width" content="1440">' in page
    assert f'"image": "{absolute}"' in page  # in the BlogPosting structured data


def test_a_service_and_a_course_show_their_image_with_srcset_sizes_and_dimensions(admin_client, client, db_session):
    service = make_service(slug="netz")
    course = make_course(slug="kurs")
    assert upload(admin_client, "services", service.id, png(), filename="diagram.png", alt="Netzplan").status_code == 303
    assert upload(admin_client, "courses", course.id, jpeg_with_gps(500, 300, 1), alt="Schulungsraum").status_code == 303
    service_page = client.get("/services/netz").text
    # Transparency kept: the fallback is a PNG, the widths WebP.
    assert re.search(r'<picture class="lead-image"><source type="image/webp" srcset="/media/i/\w+-64\.webp 64w" '
                     r'sizes="[^"]+"><img src="/media/i/\w+-64\.png" alt="Netzplan" width="64" height="48"', service_page)
    course_page = client.get("/training/kurs").text
    assert re.search(r'srcset="/media/i/\w+-480\.webp 480w, /media/i/\w+-500\.webp 500w"', course_page)
    assert 'alt="Schulungsraum" width="500" height="300"' in course_page


def test_alt_text_is_required_unless_the_image_is_decorative(admin_client, db_session):
    post = make_post()
    response = upload(admin_client, "posts", post.id, png(), filename="a.png", alt="  ")
    assert response.status_code == 422
    assert 'id="alt-error"' in response.text and 'aria-invalid="true"' in response.text
    assert 'Alt text <span class="optional">(required unless decorative)</span>' in response.text
    assert db_session.scalar(select(MediaFile.id).limit(1)) is None

    response = upload(admin_client, "posts", post.id, png(), filename="a.png", alt="", decorative="y", preview="y")
    assert response.status_code == 303
    db_session.expire_all()
    image = db_session.get(Post, post.id).image
    assert image.decorative and image.alt == "" and 'alt=""' in str(image.picture())


def test_a_post_image_can_be_for_inline_use_only(admin_client, db_session):
    post = make_post()
    assert upload(admin_client, "posts", post.id, png(), filename="a.png").status_code == 303  # preview unticked
    db_session.expire_all()
    assert db_session.get(Post, post.id).image is None
    assert db_session.scalar(select(MediaFile).where(MediaFile.used_for == f"posts:{post.id}")) is not None


def test_removing_the_image_stops_showing_it(admin_client, client, db_session):
    service = make_service(slug="ohne-bild")
    upload(admin_client, "services", service.id, png(), filename="a.png")
    assert "<picture" in client.get("/services/ohne-bild").text
    assert admin_client.post(f"/admin/services/{service.id}/image/remove").status_code == 303
    assert "<picture" not in client.get("/services/ohne-bild").text


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def jpeg_with_comment(comment: bytes) -> bytes:
    data = jpeg_with_gps(64, 64, 1)
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:2] + segment + data[2:]


@pytest.mark.parametrize(("data", "filename", "said"), [
    (jpeg_with_gps(64, 64, 1) + b"<html><script>alert(document.cookie)</script></html>", "x.jpg", "other data after the end of the JPEG"),
    (jpeg_with_gps(64, 64, 1) + b"PK\x03\x04" + b"\x00" * 40, "x.jpg", "other data after the end of the JPEG"),
    (png() + b"<?php system($_GET['c']); ?>", "x.png", "other data after the end of the PNG"),
    (png(Comment="<script>alert(1)</script>"), "x.png", "metadata holds HTML or script"),
    (jpeg_with_comment(b"<svg onload=alert(1)>"), "x.jpg", "metadata holds HTML or script"),
    (SVG, "x.svg", "not a readable image"),
    (GIF, "x.gif", "GIF images are not stored here (JPEG, PNG, WebP are)"),
    (b"\xff\xd8\xff\xe0 this is not really a JPEG", "x.jpg", "not a readable image"),
    (jpeg_with_gps(64, 64, 1)[:300], "cut.jpg", "not a readable image"),
    (b"", "empty.jpg", ""),
], ids=["jpeg+html", "jpeg+zip", "png+php", "png-text-script", "jpeg-comment-svg", "svg", "gif", "fake-jpeg", "truncated", "empty"])
def test_what_is_not_one_plain_image_is_refused_with_a_form_error(admin_client, db_session, data, filename, said):
    post = make_post()
    response = upload(admin_client, "posts", post.id, data, filename=filename)
    assert response.status_code == 422
    assert 'id="image-error"' in response.text and said in response.text.replace("&#39;", "'")
    db_session.expire_all()
    assert db_session.scalar(select(MediaFile.id).limit(1)) is None and db_session.get(Post, post.id).image is None


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(admin_client, db_session):
    post = make_post()
    for width, height in ((10_000, 10_000), (60_000, 60_000)):  # over the limit; over Pillow's own bomb limit too
        response = upload(admin_client, "posts", post.id, png_claiming(width, height), filename="bomb.png")
        assert response.status_code == 422 and "megapixels" in response.text
    assert db_session.scalar(select(MediaFile.id).limit(1)) is None


@pytest.fixture
def app_config():
    return {"IMAGE_MAX_BYTES": 100 * 1024}


def noise_jpeg(size: int) -> bytes:
    """A valid JPEG of at least `size` bytes (random pixels barely compress)."""
    import os

    side = 64
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        if len(out.getvalue()) >= size:
            return out.getvalue()
        side *= 2


def test_an_oversize_file_is_a_form_error_or_a_413_never_a_500(admin_client, db_session):
    post = make_post()
    # Over IMAGE_MAX_BYTES but within the request's room for the other fields: the form says why.
    response = upload(admin_client, "posts", post.id, noise_jpeg(110 * 1024)[: 130 * 1024], filename="big.jpg")
    assert response.status_code == 422 and "larger than" in response.text
    # Far over: refused before the body is read (encoded here, in memory: the test client would spool it to a file).
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"alt": "Groß", "image": FileStorage(io.BytesIO(noise_jpeg(400 * 1024)), "huge.jpg")})
    response = admin_client.post(f"/admin/posts/{post.id}/image", data=body,
                                 content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert db_session.scalar(select(MediaFile.id).limit(1)) is None


def test_only_the_upload_route_takes_a_large_body(admin_client, app):
    post = make_post()
    too_big = "x" * (app.config["ADMIN_MAX_CONTENT_LENGTH"] + 10)
    response = admin_client.post(f"/admin/posts/{post.id}", data={"title": "T", "body": too_big})
    assert response.status_code == 413


def test_signed_out_nobody_can_upload(client, app):
    post = make_post()
    response = upload(client, "posts", post.id, png(), filename="a.png")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]


def test_the_same_file_twice_is_one_stored_image(admin_client, db_session):
    post = make_post()
    raw = jpeg_with_gps(700, 400, 1)
    upload(admin_client, "posts", post.id, raw, preview="y")
    upload(admin_client, "posts", post.id, raw, preview="y", alt="Zweite Beschreibung")
    db_session.expire_all()
    rows = db_session.scalars(select(MediaFile).where(MediaFile.variant_of_id.is_(None))).all()
    assert len(rows) == 1 and rows[0].alt == "Zweite Beschreibung"


def test_an_imported_file_keeps_a_days_cache(client, db_session):
    from models.media import reencode_image

    media = MediaFile(name="2019/05/diagram.png", alt="")
    media.store(reencode_image(png()))
    db_session.add(media)
    db_session.commit()
    response = client.get("/media/2019/05/diagram.png")
    assert response.headers["Cache-Control"] == "public, max-age=86400"


def test_every_upload_endpoint_is_one_the_request_checks_let_a_file_through_to():
    from blueprints.admin.images import UPLOAD_ENDPOINTS
    from web.security import UPLOAD_ENDPOINTS as ALLOWED

    assert UPLOAD_ENDPOINTS == ALLOWED
