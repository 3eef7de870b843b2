"""Shared pieces of the aftercare tests (#16): sessions in the past, confirmed attendees, the emails queued."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from extensions import db
from models import Booking, OutboxMessage
from tests.factories import make_booking, make_course, make_session

LONDON = ZoneInfo("Europe/London")


def block_session(first_day, days: int = 3, zone: str = "Europe/London", start=(9, 0), end=(17, 0), course=None,
                  **fields):
    """A session stored as one block from `start` on its first local day to `end` on its last."""
    tz = ZoneInfo(zone)
    starts = datetime(first_day.year, first_day.month, first_day.day, *start, tzinfo=tz)
    last = first_day + timedelta(days=days - 1)
    ends = datetime(last.year, last.month, last.day, *end, tzinfo=tz)
    return make_session(course or make_course(duration_days=days), starts_at=starts.astimezone(UTC),
                        ends_at=ends.astimezone(UTC), timezone=zone, **fields)


def past_session(days: int = 2, ago: int = 5, **fields):
    """A session that began `ago` days ago (local London dates) and lasted `days` days."""
    first = (datetime.now(LONDON) - timedelta(days=ago)).date()
    return block_session(first, days=days, **fields)


def confirmed(session, **fields) -> Booking:
    return make_booking(session, status=Booking.CONFIRMED, **fields)


def emails(template: str, to: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    if to is not None:
        query = query.where(OutboxMessage.to_addr == to)
    return list(db.session.scalars(query))


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
