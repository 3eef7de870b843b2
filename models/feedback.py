"""Feedback after a session: ratings per question, free text, and a quote the consultant may approve for the site."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow

# (column, question): every question is a 1-5 rating; "overall" is the one a Review's rating shows.
QUESTIONS = (
    ("rating_overall", "Overall, how would you rate the course?"),
    ("rating_content", "How useful was the content for your work?"),
    ("rating_trainer", "How clear was the trainer?"),
)
# The fewest overall ratings for a course's AggregateRating: fewer would claim more than they show.
AGGREGATE_MIN = 5


class Feedback(db.Model):
    """One booking's answer (one row per booking: answering again updates it)."""

    __tablename__ = "feedback"

    NONE = "none"  # no permission to quote
    PENDING = "pending"  # may be quoted; the consultant has not looked yet
    APPROVED = "approved"
    DECLINED = "declined"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating_overall: Mapped[int | None] = mapped_column(Integer)
    rating_content: Mapped[int | None] = mapped_column(Integer)
    rating_trainer: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    may_quote: Mapped[bool] = mapped_column(Boolean, default=False)
    quote_name: Mapped[str] = mapped_column(String(100), default="")
    quote_company: Mapped[str] = mapped_column(String(150), default="")
    quote_status: Mapped[str] = mapped_column(String(10), default=NONE, index=True)
    quote_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    booking = relationship("Booking")
    session = relationship("TrainingSession")
    course = relationship("Course")

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def ratings(self) -> dict[str, int | None]:
        return {column: getattr(self, column) for column, _ in QUESTIONS}

    @property
    def quotable(self) -> bool:
        return self.answered and self.may_quote and bool(self.comment.strip())

    @classmethod
    def approved_quotes(cls, course_ids=None, limit: int = 6) -> list[Feedback]:
        query = select(cls).where(cls.quote_status == cls.APPROVED, cls.may_quote.is_(True))
        if course_ids is not None:
            query = query.where(cls.course_id.in_(list(course_ids)))
        return list(db.session.scalars(query.order_by(cls.answered_at.desc(), cls.id.desc()).limit(limit)))

    @classmethod
    def summary(cls, *conditions) -> dict:
        """Answers, requests and the average of each question over the feedback matching `conditions`."""
        answered = (cls.answered_at.is_not(None), *conditions)
        row = db.session.execute(select(
            func.count(cls.id), *(func.avg(getattr(cls, column)) for column, _ in QUESTIONS),
            *(func.count(getattr(cls, column)) for column, _ in QUESTIONS)).where(*answered)).one()
        requested = db.session.scalar(select(func.count(cls.id)).where(*conditions))
        n = len(QUESTIONS)
        return {"answers": row[0], "requested": requested,
                "averages": {column: (round(float(row[1 + i]), 1) if row[1 + i] is not None else None)
                             for i, (column, _) in enumerate(QUESTIONS)},
                "counts": {column: row[1 + n + i] for i, (column, _) in enumerate(QUESTIONS)}}
