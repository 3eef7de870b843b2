"""Case studies: the consultant's past projects as proof of work, shown at /case-studies/<slug>."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import RenderedMarkdown, UTCDateTime, utcnow
from models.content import Service
from models.media import MediaFile
from models.transactions import NotAllowed

case_study_services = Table(
    "case_study_services",
    db.Model.metadata,
    Column("case_study_id", ForeignKey("case_studies.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CaseStudy(RenderedMarkdown, db.Model):
    """One past project: who it was for, the problem, what was done, the result; a draft until published."""

    __tablename__ = "case_studies"
    markdown_columns = {"problem": "problem_html", "work": "work_html", "result": "result_html"}

    DRAFT = "draft"
    PUBLISHED = "published"
    STATUSES = (DRAFT, PUBLISHED)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # The client's name, or a description of them ("a telecom operator") when they are not to be named.
    client: Mapped[str] = mapped_column(String(200), default="")
    client_named: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(String(300), default="")
    problem: Mapped[str] = mapped_column(Text, default="")
    problem_html: Mapped[str] = mapped_column(Text, default="")
    work: Mapped[str] = mapped_column(Text, default="")
    work_html: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    result_html: Mapped[str] = mapped_column(Text, default="")
    technologies: Mapped[list] = mapped_column(JSON, default=list)
    # What someone at the client said, and who (their role, or their name and role): optional.
    quote: Mapped[str] = mapped_column(Text, default="")
    quote_by: Mapped[str] = mapped_column(String(200), default="")
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    services: Mapped[list[Service]] = relationship(secondary=case_study_services, order_by=(Service.position, Service.title),
                                                   lazy="selectin")
    image: Mapped[MediaFile | None] = relationship()

    @property
    def is_published(self) -> bool:
        return self.status == self.PUBLISHED

    def state(self) -> str:
        return self.status

    def can_publish(self) -> bool:
        return not self.is_published

    def can_unpublish(self) -> bool:
        return self.is_published

    def publish(self, now: datetime | None = None) -> None:
        """Shown from now; one published before keeps its first date."""
        if not self.can_publish():
            raise NotAllowed("This case study is already published; nothing was changed.")
        self.status = self.PUBLISHED
        self.published_at = self.published_at or now or utcnow()

    def unpublish(self) -> None:
        if not self.can_unpublish():
            raise NotAllowed("This case study is already a draft; nothing was changed.")
        self.status = self.DRAFT

    @classmethod
    def published(cls):
        """Published case studies, newest first."""
        return select(cls).where(cls.status == cls.PUBLISHED).order_by(cls.published_at.desc(), cls.id.desc())

    @classmethod
    def published_for(cls, service: Service):
        return cls.published().where(cls.id.in_(
            select(case_study_services.c.case_study_id).where(case_study_services.c.service_id == service.id)))
