"""Case study workflows shared by the public pages, the admin editor and `flask seed --demo`."""
from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from blueprints.blog.operations import slugify
from extensions import db
from models import AuditLog, CaseStudy, Service, site_settings
from models.base import slug_taken


def visible_case_study(slug: str) -> CaseStudy | None:
    item = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug))
    return item if item is not None and item.is_published else None


def published_case_studies() -> list[CaseStudy]:
    return list(db.session.scalars(CaseStudy.published()))


def case_studies_for(service: Service) -> list[CaseStudy]:
    """The published case studies of a service page, newest first."""
    return list(db.session.scalars(CaseStudy.published_for(service)))


def propose_slug(title: str, case_id: int | None) -> str:
    """A free slug made from the title ('' when it has no Latin letters or digits to make one from)."""
    base = slugify(title or "", max_length=110, fallback="")
    slug, n = base, 1
    while slug and slug_taken(CaseStudy, slug, case_id):
        n += 1
        slug = f"{base}-{n}"
    return slug


def save_case_study(item: CaseStudy | None, data: dict, actor) -> CaseStudy:
    """Create or update from the editor's cleaned data; the caller commits."""
    created = item is None
    services = list(db.session.scalars(select(Service).where(Service.id.in_(data.pop("service_ids") or []))))
    if created:
        item = CaseStudy()
        db.session.add(item)
    for name, value in data.items():
        setattr(item, name, value)
    item.services = services
    db.session.flush()
    AuditLog.record(actor, "case_study.create" if created else "case_study.update", item, status=item.status,
                    services=[s.slug for s in services])
    return item


def publish(item: CaseStudy, actor) -> None:
    item.publish()
    AuditLog.record(actor, "case_study.publish", item, published_at=item.published_at.isoformat())


def unpublish(item: CaseStudy, actor) -> None:
    item.unpublish()
    AuditLog.record(actor, "case_study.unpublish", item)


ACTIONS = {"publish": publish, "unpublish": unpublish}


def structured_data(item: CaseStudy) -> dict:
    """schema.org Article: what the page says and nothing more (no ratings or reviews; the quote stays on the page)."""
    url = url_for("cases.case_study", slug=item.slug, _external=True)
    consultant = {"@type": "Person", "name": site_settings.current().consultant_name, "url": url_for("site.home", _external=True)}
    data = {
        "@context": "https://schema.org",
        "@type": "Article",
        "articleSection": "Case study",
        "headline": item.title,
        "description": item.summary,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "datePublished": item.published_at.replace(microsecond=0).isoformat(),
        "dateModified": max(item.published_at, item.updated_at or item.published_at).replace(microsecond=0).isoformat(),
        "author": consultant,
        "publisher": consultant,
        "keywords": list(item.technologies or []),
        "about": [{"@type": "Service", "name": s.title, "url": url_for("site.service", slug=s.slug, _external=True)}
                  for s in item.services],
        "inLanguage": "en",
    }
    if item.client_named and item.client:
        data["sourceOrganization"] = {"@type": "Organization", "name": item.client}
    if item.image is not None:
        data["image"] = url_for("blog.media", name=item.image.name, _external=True)
    return data
