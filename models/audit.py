"""A record of every action that changes data: who (an admin, a client through their booking link, or the
system), when, what."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow


@dataclass(frozen=True)
class ClientActor:
    """A client acting through their booking link. Named by the booking, not by name or address, so the log
    holds no personal data for an erasure to chase (the booking row says who it was while it exists)."""

    booking_id: int

    @property
    def label(self) -> str:
        return f"client (booking #{self.booking_id})"


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"))
    # Who acted, as shown in the admin: an admin's email (kept if the account goes), a client's
    # ClientActor.label, or empty for the system (cron, retention).
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(80), index=True)  # e.g. "booking.confirm"
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[int | None] = mapped_column()
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = relationship("AdminUser")

    @classmethod
    def record(cls, actor, action: str, target=None, **detail) -> AuditLog:
        """Add an entry to the current session; it commits with the change it describes."""
        entry = cls(
            actor_id=getattr(actor, "id", None),
            actor_email=actor.label if isinstance(actor, ClientActor) else getattr(actor, "email", "") or "",
            action=action,
            target_type=type(target).__name__ if target is not None else "",
            target_id=getattr(target, "id", None),
            detail=detail,
        )
        db.session.add(entry)
        return entry

    @property
    def who(self) -> str:
        return self.actor_email or "system"
