"""Archiving and deleting: one rule for what may go, and what must be kept.

An archived row (`archived_at` set) is hidden from every public page and from the admin's default
lists, and comes back with Restore. Deleting is for good, so it is refused while a row that must be
kept refers to it: an issued invoice is kept as issued for years, and with it the booking it bills
(and so that booking's session and course). KEEPERS names those tables; each is one line.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, utcnow
from models.transactions import NotAllowed

ARCHIVE = "archive"
DELETE = "delete"


@dataclass(frozen=True)
class Keeper:
    """A table whose rows must outlive the bookings they refer to."""

    one: str
    many: str
    why: str
    column: str  # "module:Model.attribute", the foreign key to bookings.id (read when asked: no import cycle)

    def booking_column(self):
        from importlib import import_module

        module, attribute = self.column.split(":")
        model, name = attribute.split(".")
        return getattr(getattr(import_module(module), model), name)


# Everything that must be kept with the bookings it refers to, one line each.
KEEPERS: tuple[Keeper, ...] = (
    Keeper("invoice", "invoices", "an issued invoice is kept as it was issued", "models.invoices:Invoice.booking_id"),
    Keeper("certificate", "certificates", "it proves someone attended", "models.certificates:Certificate.booking_id"),
)


def kept_references(booking_ids) -> list[str]:
    """Why the bookings `booking_ids` (a select of ids, or None) cannot be deleted: one sentence per keeper that refers to them."""
    if booking_ids is None:
        return []
    from extensions import db

    reasons = []
    for keeper in KEEPERS:
        column = keeper.booking_column()
        n = db.session.scalar(select(func.count()).where(column.in_(booking_ids))) or 0
        if n:
            reasons.append(f"{n} {keeper.one if n == 1 else keeper.many} {'refers' if n == 1 else 'refer'} to "
                           f"its bookings, and {keeper.why}: archive it instead.")
    return reasons


class Archivable:
    """A row that can be archived (hidden, restorable) or deleted, when `blocked_by` says nothing stands in the way."""

    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What the admin calls one of these ("article", "session"…).
    noun = "item"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @classmethod
    def live(cls):
        """The condition every public and default admin query adds: not archived."""
        return cls.archived_at.is_(None)

    def booking_ids(self):
        """A select of the ids of the bookings that go with this row when it is deleted (None: it has none)."""
        return None

    def refusals(self, action: str) -> Iterable[str]:
        """The model's own reasons why `action` may not happen now (e.g. people are booked)."""
        return ()

    def blocked_by(self, action: str = DELETE) -> list[str]:
        """Why `action` ("archive" or "delete") may not happen now, one sentence each; empty when it may."""
        reasons = list(self.refusals(action))
        if action == DELETE:
            reasons += kept_references(self.booking_ids())
        return reasons

    def can_archive(self) -> bool:
        return not self.is_archived and not self.blocked_by(ARCHIVE)

    def can_delete(self) -> bool:
        return not self.blocked_by(DELETE)

    def archive(self, now: datetime | None = None) -> None:
        if self.is_archived:
            raise NotAllowed(f"This {self.noun} is already archived; nothing was changed.")
        reasons = self.blocked_by(ARCHIVE)
        if reasons:
            raise NotAllowed(reasons[0])
        self.archived_at = now or utcnow()

    def restore(self) -> None:
        if not self.is_archived:
            raise NotAllowed(f"This {self.noun} is not archived; nothing was changed.")
        self.archived_at = None

    def check_deletable(self) -> None:
        reasons = self.blocked_by(DELETE)
        if reasons:
            raise NotAllowed(reasons[0])
