"""Account security of the admins: emailed single-use links, recovery codes, and the signed-in sessions.

Every secret here is stored as a SHA-256 hash only: the links and codes carry at least 50 random bits
(the links 256), so a slow password hash would add nothing but time, and a stolen database opens nothing.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.users import AdminUser

# The Flask session key holding the token of this sign-in's AdminSession row.
SESSION_KEY = "admin_session"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class AdminToken(db.Model):
    """A link emailed to an admin: set a new password (reset) or a first one (invite). Works once, expires."""

    __tablename__ = "admin_tokens"

    RESET = "reset"
    INVITE = "invite"
    PURPOSES = (RESET, INVITE)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[AdminUser] = relationship()

    @classmethod
    def issue(cls, user: AdminUser, purpose: str, lifetime: timedelta, now: datetime | None = None) -> str:
        """A new link's token (returned once, never stored); earlier unused links of that kind stop working."""
        now = now or utcnow()
        db.session.execute(update(cls).where(cls.user_id == user.id, cls.purpose == purpose, cls.used_at.is_(None))
                           .values(used_at=now))
        token = secrets.token_urlsafe(32)
        db.session.add(cls(user_id=user.id, purpose=purpose, token_hash=token_hash(token), created_at=now,
                           expires_at=now + lifetime))
        return token

    @classmethod
    def find(cls, token: str, now: datetime | None = None) -> AdminToken | None:
        """The live link for this token: not used, not expired, its account still there."""
        if not token or len(token) > 200:
            return None
        row = db.session.scalar(select(cls).where(cls.token_hash == token_hash(token)))
        if row is None or row.used_at is not None or row.expires_at <= (now or utcnow()):
            return None
        return row

    def use(self, now: datetime | None = None) -> bool:
        """Mark it used; False when another request used it first (two clicks at once)."""
        result = db.session.execute(update(AdminToken).where(AdminToken.id == self.id, AdminToken.used_at.is_(None))
                                    .values(used_at=now or utcnow()).execution_options(synchronize_session=False))
        return result.rowcount == 1


class RecoveryCode(db.Model):
    """One of the ten codes that sign in when the authenticator is lost; each works once."""

    __tablename__ = "admin_recovery_codes"

    COUNT = 10
    ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @staticmethod
    def normalise(code: str) -> str:
        return re.sub(r"[\s-]", "", (code or "").lower())

    @classmethod
    def replace_all(cls, user: AdminUser) -> list[str]:
        """Ten new codes (returned once, to show), the old ones gone."""
        db.session.execute(cls.__table__.delete().where(cls.__table__.c.user_id == user.id))
        codes = []
        for _ in range(cls.COUNT):
            raw = "".join(secrets.choice(cls.ALPHABET) for _ in range(10))  # 49 bits
            codes.append(f"{raw[:5]}-{raw[5:]}")
            db.session.add(cls(user_id=user.id, code_hash=token_hash(raw)))
        return codes

    @classmethod
    def redeem(cls, user: AdminUser, code: str, now: datetime | None = None) -> bool:
        """Use one code; a used, unknown or concurrently used code is refused."""
        raw = cls.normalise(code)
        if not 8 <= len(raw) <= 20:
            return False
        result = db.session.execute(
            update(cls).where(cls.user_id == user.id, cls.code_hash == token_hash(raw), cls.used_at.is_(None))
            .values(used_at=now or utcnow()).execution_options(synchronize_session=False))
        return result.rowcount == 1

    @classmethod
    def left(cls, user: AdminUser) -> int:
        return db.session.scalar(select(func.count()).select_from(cls).where(cls.user_id == user.id,
                                                                           cls.used_at.is_(None))) or 0


def session_network(address: str | None) -> str:
    """What the sessions list shows of an address: its /24 (IPv4) or /48 (IPv6), never the address itself."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0].strip())
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_summary(user_agent: str | None) -> str:
    """"Firefox on Linux": enough to recognise a device, without keeping the whole user-agent string."""
    ua = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in ua), "")
    system = next((name for marker, name in _SYSTEMS if marker in ua), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


class AdminSession(db.Model):
    """One sign-in: the Flask session holds its token, this row says whether it is still allowed."""

    __tablename__ = "admin_sessions"

    # A session's last_seen_at is written at most this often (not on every request).
    TOUCH_EVERY = timedelta(minutes=1)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device: Mapped[str] = mapped_column(String(80), default="")
    network: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[AdminUser] = relationship()

    @classmethod
    def begin(cls, user: AdminUser, user_agent: str | None, address: str | None,
              now: datetime | None = None) -> tuple[AdminSession, str]:
        """A new row and its token (for the Flask session); this account's long-dead rows are forgotten."""
        now = now or utcnow()
        db.session.execute(cls.__table__.delete().where(cls.__table__.c.user_id == user.id,
                                                        cls.__table__.c.last_seen_at < now - timedelta(days=2)))
        token = secrets.token_urlsafe(32)
        row = cls(user_id=user.id, token_hash=token_hash(token), device=device_summary(user_agent)[:80],
                  network=session_network(address), created_at=now, last_seen_at=now)
        db.session.add(row)
        return row, token

    @classmethod
    def find_live(cls, user_id: int, token: str | None) -> AdminSession | None:
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        row = db.session.scalar(select(cls).where(cls.token_hash == token_hash(token), cls.user_id == user_id))
        return row if row is not None and row.ended_at is None else None

    @classmethod
    def live_query(cls, user: AdminUser, idle: timedelta, max_age: timedelta, now: datetime | None = None):
        now = now or utcnow()
        return (select(cls).where(cls.user_id == user.id, cls.ended_at.is_(None), cls.last_seen_at > now - idle,
                                  cls.created_at > now - max_age)
                .order_by(cls.last_seen_at.desc(), cls.id.desc()))

    @classmethod
    def end_all(cls, user: AdminUser, keep: AdminSession | None = None, now: datetime | None = None) -> int:
        """End every live session of the account (but `keep`); each is signed out at its next request."""
        if user.id is None:
            return 0
        statement = update(cls).where(cls.user_id == user.id, cls.ended_at.is_(None))
        if keep is not None:
            statement = statement.where(cls.id != keep.id)
        result = db.session.execute(statement.values(ended_at=now or utcnow())
                                    .execution_options(synchronize_session=False))
        return result.rowcount or 0

    def touch(self, now: datetime | None = None) -> bool:
        """Note activity; True when the row changed (the caller commits)."""
        now = now or utcnow()
        if now - self.last_seen_at < self.TOUCH_EVERY:
            return False
        self.last_seen_at = now
        return True
