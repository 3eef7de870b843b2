"""Images and case studies in Chromium at 390 and 1280 px: the upload in the editors (a refused file, a missing alt
text, then a real photo), the case study editor, preview and publishing, and the public pages; axe and the HTML
checker clean on each. Screenshots: reports/screenshots/cases-<page>-<width>.png."""
from __future__ import annotations

import io
import re
import uuid

import pytest
from PIL import Image

from tests.browser.helpers import WIDTHS, log_in, new_context, screenshot

pytestmark = pytest.mark.browser

SLICE = "cases"


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def admin_page(browser, live_server, width):
    context = new_context(browser, live_server, width)
    page = context.new_page()
    log_in(page, live_server)
    yield page
    context.close()


OVERFLOW_JS = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 6)
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)); }"""


def check_page(page, axe, vnu, name: str, width: str) -> None:
    """No axe violation, valid HTML, nothing wider than the screen; saves the screenshot."""
    assert axe(page) == [], f"axe on {name} at {width}"
    problems = vnu({name: page.content()})
    assert problems[name] == [], f"HTML checker on {name}: {problems[name]}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate(OVERFLOW_JS) if overflow > 0 else []
    assert overflow <= 0, f"{name} is {overflow}px wider than the {width} screen: {wide}"
    screenshot(page, f"{SLICE}-{name}-{WIDTHS[width][0]}")


def photo() -> bytes:
    """A phone photo: 2000×1500, EXIF with a GPS position and orientation 6 (held upright)."""
    image = Image.new("RGB", (2000, 1500), (40, 90, 160))
    image.paste((230, 200, 40), (0, 0, 400, 1500))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 52.0, 4.0), 3: "E", 4: (151.0, 12.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_case_study_is_written_given_an_image_previewed_and_published(admin_page, live_server, axe, vnu, width):
    page = admin_page
    tag = uuid.uuid4().hex[:6]
    title = f"Réseau SDN pour un opérateur {tag}"
    page.goto("/admin/")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Content").click()
    page.get_by_role("navigation", name="More content").get_by_role("link", name="Case studies").click()
    check_page(page, axe, vnu, "admin-list", width)
    page.get_by_role("link", name="New case study").click()

    # Saved without its parts: each error is beside its field.
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Save as a draft").click()
    assert page.get_by_label("The problem (Markdown)").get_attribute("aria-invalid") == "true"
    check_page(page, axe, vnu, "editor-errors", width)

    page.get_by_label("Client", exact=True).fill("un opérateur télécom")
    page.get_by_label("Summary").fill("Un réseau défini par logiciel, livré en six semaines.")
    page.get_by_label("The problem (Markdown)").fill("Les VLAN étaient configurés **à la main**.")
    page.get_by_label("What was done (Markdown)").fill("Nuage SDN, automatisé avec Ansible.")
    page.get_by_label("The result (Markdown)").fill("Un nouveau client en une heure, plus en deux semaines.")
    page.get_by_label("Network").check()
    page.get_by_label("Technologies (comma-separated)").fill("Nokia Nuage, Ansible")
    page.get_by_role("textbox", name="Quote (optional)").fill("Nous ne touchons plus aux switchs.")
    page.get_by_label("Who said it").fill("Responsable réseau")
    page.get_by_role("button", name="Save as a draft").click()
    assert page.get_by_text("Case study saved (draft)").is_visible()
    slug = page.get_by_label("Slug").input_value()
    assert slug == f"reseau-sdn-pour-un-operateur-{tag}"

    # The image: first a file that is not an image, then no alt text, then the photo.
    section = page.locator("#image-section")
    section.get_by_label("Image file (JPEG, PNG or WebP)").set_input_files(
        {"name": "diagram.svg", "mimeType": "image/svg+xml", "buffer": b'<svg xmlns="http://www.w3.org/2000/svg"/>'})
    section.get_by_role("textbox", name="Alt text").fill("Armoire réseau")
    section.get_by_role("button", name="Upload image").click()
    assert page.get_by_text("This file was not stored: not a readable image.").is_visible()
    assert page.get_by_label("Image file (JPEG, PNG or WebP)").get_attribute("aria-invalid") == "true"
    check_page(page, axe, vnu, "upload-refused", width)
    page.get_by_label("Image file (JPEG, PNG or WebP)").set_input_files(
        {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": photo()})
    page.get_by_role("textbox", name="Alt text").fill("")
    page.get_by_role("button", name="Upload image").click()
    assert page.get_by_text("Describe what the image shows").is_visible()
    page.get_by_label("Image file (JPEG, PNG or WebP)").set_input_files(
        {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": photo()})
    page.get_by_role("textbox", name="Alt text").fill("Armoire réseau, câbles étiquetés par VLAN")
    page.get_by_role("button", name="Upload image").click()
    assert page.get_by_text("Image stored as /media/i/").is_visible()
    current = page.locator("#image-section figure img")
    assert current.get_attribute("alt") == "Armoire réseau, câbles étiquetés par VLAN"
    assert (current.get_attribute("width"), current.get_attribute("height")) == ("1440", "1920")  # turned upright
    check_page(page, axe, vnu, "editor", width)

    page.get_by_role("link", name="Preview it as on the site").click()
    assert page.get_by_role("note").get_by_text("a draft, not published").is_visible()
    check_page(page, axe, vnu, "preview", width)
    page.get_by_role("link", name="Back to the editor").click()
    page.get_by_role("button", name="Publish now").click()
    assert page.get_by_text(f"“{title}” is now published.").is_visible()

    page.goto(f"/case-studies/{slug}")
    assert page.get_by_role("heading", level=1).inner_text() == title
    image = page.locator("picture.lead-image img")
    assert image.evaluate("i => i.complete && i.naturalWidth > 0")  # the browser chose a width and loaded it
    assert re.search(r"-(480|960|1440)\.webp$", image.evaluate("i => i.currentSrc"))
    assert page.locator("blockquote").inner_text().strip() == "Nous ne touchons plus aux switchs."
    check_page(page, axe, vnu, "case-study", width)
    page.get_by_role("link", name="Network").first.click()
    assert page.get_by_role("heading", name="Case studies").is_visible()
    check_page(page, axe, vnu, "service", width)
    page.get_by_role("link", name=title).click()
    assert page.url.endswith(f"/case-studies/{slug}")
    page.goto("/case-studies")
    assert page.get_by_role("link", name=title).is_visible()
    check_page(page, axe, vnu, "list", width)


def test_an_article_image_for_sharing_and_inline(admin_page, live_server, axe, vnu, width):
    page = admin_page
    tag = uuid.uuid4().hex[:6]
    page.goto("/admin/posts/new")
    page.get_by_label("Title").fill(f"Ceph im Rechenzentrum {tag}")
    page.get_by_label("Body (Markdown)").fill("Erster Absatz.")
    page.get_by_label("Status").select_option("published")
    page.get_by_role("button", name="Save", exact=True).click()
    section = page.locator("#image-section")
    section.get_by_label("Image file (JPEG, PNG or WebP)").set_input_files(
        {"name": "rack.jpg", "mimeType": "image/jpeg", "buffer": photo()})
    section.get_by_role("textbox", name="Alt text").fill("Speicherknoten im Rack")
    assert section.get_by_label("Use it as the article's image when the article is shared (social preview)").is_checked()
    section.get_by_role("button", name="Upload image").click()
    snippet = page.locator(".image-list code").first.inner_text()
    assert snippet.startswith("![Speicherknoten im Rack](/media/i/")
    check_page(page, axe, vnu, "post-editor", width)

    page.get_by_label("Body (Markdown)").fill(f"Erster Absatz.\n\n{snippet}\n")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("link", name="View on the site").click()
    inline = page.locator(".post-body picture img")
    assert inline.get_attribute("alt") == "Speicherknoten im Rack" and inline.get_attribute("width") == "1440"
    og = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og.startswith(live_server.url + "/media/i/") and og.endswith(".jpg")
    check_page(page, axe, vnu, "post", width)
