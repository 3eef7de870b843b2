"""Case studies: drafted, previewed and published in the admin; listed at /case-studies, each at its slug, on the
pages of their services and in the sitemap, with structured data that says only what the page says."""
from __future__ import annotations

import io
import json
import re

from sqlalchemy import select

from models import AuditLog, CaseStudy
from tests.factories import make_case_study, make_service

BASE = {"title": "Private Cloud für einen Netzbetreiber", "slug": "", "client": "Ein Netzbetreiber",
        "summary": "Von zwei Wochen auf eine Stunde.", "problem": "Hand-built **VMs**.", "work": "OpenStack and Ceph.",
        "result": "New environments in an hour.", "technologies": "OpenStack, Ceph, openstack, Ansible",
        "quote": "", "quote_by": ""}


def saved(db_session, title=BASE["title"]) -> CaseStudy:
    db_session.expire_all()
    return db_session.scalar(select(CaseStudy).where(CaseStudy.title == title))


def structured(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))


def test_a_new_case_study_is_a_draft_with_a_slug_from_its_title(admin_client, client, db_session):
    cloud = make_service(slug="private-cloud", title="Private Cloud")
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "services": [str(cloud.id)]})
    assert response.status_code == 303
    item = saved(db_session)
    assert item.slug == "private-cloud-fur-einen-netzbetreiber" and item.status == CaseStudy.DRAFT
    assert item.technologies == ["OpenStack", "Ceph", "Ansible"]  # each once, as first typed
    assert [s.slug for s in item.services] == ["private-cloud"]
    assert "<strong>VMs</strong>" in item.problem_html
    assert client.get(f"/case-studies/{item.slug}").status_code == 404
    assert item.slug not in client.get("/case-studies").text
    assert "Private Cloud für einen" not in client.get("/services/private-cloud").text

    preview = admin_client.get(f"/admin/case-studies/{item.id}/preview")
    assert preview.status_code == 200 and "a draft, not published" in preview.text
    assert '<meta name="robots" content="noindex, nofollow">' in preview.text and "application/ld+json" not in preview.text
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "case_study.create"))
    assert entry.target_id == item.id and entry.detail["services"] == ["private-cloud"]


def test_publishing_shows_it_everywhere_and_unpublishing_hides_it(admin_client, client, db_session):
    cloud = make_service(slug="private-cloud", title="Private Cloud")
    admin_client.post("/admin/case-studies/new", data={**BASE, "services": [str(cloud.id)]})
    item = saved(db_session)
    assert admin_client.post(f"/admin/case-studies/{item.id}/publish").status_code == 303
    page = client.get(f"/case-studies/{item.slug}")
    assert page.status_code == 200
    assert "The problem" in page.text and "What was done" in page.text and "The result" in page.text
    assert 'href="/services/private-cloud"' in page.text
    assert f'href="/case-studies/{item.slug}"' in client.get("/case-studies").text
    service_page = client.get("/services/private-cloud").text
    assert 'id="case-studies-heading"' in service_page and f'href="/case-studies/{item.slug}"' in service_page
    assert f"http://localhost/case-studies/{item.slug}</loc>" in client.get("/sitemap.xml").text
    assert "http://localhost/case-studies</loc>" in client.get("/sitemap.xml").text

    # Publishing twice changes nothing and says so.
    again = admin_client.post(f"/admin/case-studies/{item.id}/publish", follow_redirects=True)
    assert "already published" in again.text
    assert admin_client.post(f"/admin/case-studies/{item.id}/unpublish").status_code == 303
    assert client.get(f"/case-studies/{item.slug}").status_code == 404
    assert f"/case-studies/{item.slug}<" not in client.get("/sitemap.xml").text
    actions = db_session.scalars(select(AuditLog.action).where(AuditLog.target_type == "CaseStudy")).all()
    assert actions == ["case_study.create", "case_study.publish", "case_study.unpublish"]


def test_structured_data_is_an_article_with_no_reviews_and_names_only_a_named_client(client, db_session):
    service = make_service(slug="netzwerk", title="Netzwerk")
    anonymous = make_case_study(slug="anonym", title="SDN rollout", client="a telecom operator", services=[service],
                                quote="It just worked.", quote_by="Head of networks")
    page = client.get("/case-studies/anonym").text
    data = structured(page)
    assert data["@type"] == "Article" and data["headline"] == "SDN rollout"
    assert data["about"] == [{"@type": "Service", "name": "Netzwerk", "url": "http://localhost/services/netzwerk"}]
    assert "sourceOrganization" not in data
    text = json.dumps(data)
    for invented in ("Review", "rating", "AggregateRating", "It just worked"):
        assert invented not in text  # the quote stays on the page, never dressed up as a review
    assert "<blockquote" in page and "It just worked." in page and "Head of networks" in page
    assert anonymous.slug in client.get("/services/netzwerk").text

    make_case_study(slug="benannt", title="Named", client="Nordlicht GmbH", client_named=True)
    named = structured(client.get("/case-studies/benannt").text)
    assert named["sourceOrganization"] == {"@type": "Organization", "name": "Nordlicht GmbH"}


def test_a_quote_needs_who_said_it_and_a_speaker_needs_a_quote(admin_client, db_session):
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "quote": "Sehr gut."})
    assert response.status_code == 422 and 'id="quote_by-error"' in response.text
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "quote_by": "CTO"})
    assert response.status_code == 422 and "no quote to attribute" in response.text
    assert saved(db_session) is None


def test_required_parts_and_a_taken_slug_are_form_errors(admin_client, db_session):
    make_case_study(slug="taken")
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "problem": "", "slug": "taken"})
    assert response.status_code == 422 and 'id="problem-error"' in response.text
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "slug": "taken"})
    assert response.status_code == 422 and "Another case study already uses this slug." in response.text
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "title": "مشروع الشبكة"})
    assert response.status_code == 422 and 'id="slug-error"' in response.text  # nothing Latin to make a slug from
    response = admin_client.post("/admin/case-studies/new", data={**BASE, "services": ["987654"]})
    assert response.status_code == 422
    assert saved(db_session) is None


def test_right_to_left_text_is_kept_and_marked_auto(admin_client, client, db_session):
    response = admin_client.post("/admin/case-studies/new", data={
        **BASE, "title": "مشروع الشبكة", "slug": "shabaka", "client": "شركة اتصالات", "quote": "عمل رائع",
        "quote_by": "مدير الشبكة"})
    assert response.status_code == 303
    item = saved(db_session, "مشروع الشبكة")
    item.publish()
    db_session.commit()
    page = client.get("/case-studies/shabaka").text
    assert '<h1 id="case-title" dir="auto">مشروع الشبكة</h1>' in page and '<dd dir="auto">شركة اتصالات</dd>' in page


def test_an_image_for_a_case_study_shows_on_its_page_and_in_the_list(admin_client, client, db_session):
    from tests.site.test_images import jpeg_with_gps

    item = make_case_study(slug="mit-bild")
    response = admin_client.post(f"/admin/case-studies/{item.id}/image", content_type="multipart/form-data", data={
        "alt": "Serverschrank", "image": (io.BytesIO(jpeg_with_gps(1200, 800, 1)), "s.jpg")})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/case-studies/{item.id}#image-section")
    page = client.get("/case-studies/mit-bild").text
    assert re.search(r'<picture class="lead-image"><source type="image/webp" srcset="[^"]+ 480w, [^"]+ 960w, '
                     r'[^"]+ 1200w"', page)
    assert 'alt="Serverschrank" width="1200" height="800"' in page
    assert '<meta property="og:image" content="http://localhost/media/i/' in page
    assert structured(page)["image"].startswith("http://localhost/media/i/")
    assert 'class="case-thumb"' in client.get("/case-studies").text


def test_the_admin_lists_them_under_content(admin_client, db_session):
    make_case_study(slug="draft-one", title="Entwurf", published=False)
    content = admin_client.get("/admin/content").text
    assert 'href="/admin/case-studies"' in content
    listing = admin_client.get("/admin/case-studies").text
    assert "Entwurf" in listing and "Publish now" in listing
    assert 'aria-current="page">Content<' in listing


def test_the_demo_seed_adds_one_example_marked_as_such(app, db_session):
    from cli.seeding import seed_all

    with app.app_context():
        seed_all()
        assert db_session.scalar(select(CaseStudy.id)) is None  # the consultant's own site: no invented work
        seed_all(demo=True)
        seed_all(demo=True)
        items = db_session.scalars(select(CaseStudy)).all()
        assert len(items) == 1 and items[0].title.startswith("Demo example") and "invented" in items[0].client
        assert [s.slug for s in items[0].services] == ["private-cloud", "network"]
