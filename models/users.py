"""The consultant's admin accounts, and the wrong passwords tried on them from each client network."""
from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models.base import UTCDateTime, utcnow


def password_hash_method() -> str:
    """scrypt in production; testing sets a cheap method so sign-in tests are not dominated by hashing."""
    return current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt"


class AdminUser(UserMixin, db.Model):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Part of the login session's identity: rotating it ends every session for this user.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-factor sign-in (models/account.py): the authenticator's base32 secret once confirmed, a new one
    # being set up (kept apart, so moving to a new phone leaves the old one working until the new one is
    # confirmed), and the last 30-second step a code was accepted for (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Who added this account (None: the first, made with `flask admin create`).
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"))

    @property
    def two_factor_enabled(self) -> bool:
        return bool(self.totp_secret and self.totp_enabled_at)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self) -> None:
        """Ends every session of this account: the Flask-Login id carries the token, and the session rows go too."""
        self.session_token = secrets.token_hex(16)
        from models.account import AdminSession  # the rows are the sessions list of the Account page

        AdminSession.end_all(self)

    def set_unusable_password(self) -> None:
        """An invited admin has no password until they follow the emailed link."""
        self.set_password(secrets.token_urlsafe(32))

    def record_login(self, now: datetime | None = None) -> None:
        self.last_login_at = now or utcnow()


def client_network(address: str | None) -> str:
    """The unit a sign-in slowdown applies to: the IPv4 address, or the /64 an IPv6 client may roam within."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown")[:64]
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class LoginFailure(db.Model):
    """Wrong passwords for one account from one client network.

    Only that network is slowed down (an escalating lock), so an attacker hammering the login
    cannot lock the consultant out from everywhere else.
    """

    __tablename__ = "admin_login_failures"
    __table_args__ = (UniqueConstraint("user_id", "network", name="uq_admin_login_failures_user_network"),)

    # Failures further apart than this start a fresh count.
    WINDOW = timedelta(hours=24)
    # The first lock, doubled with each failure past the allowance, up to ADMIN_LOCK_MINUTES.
    FIRST_LOCK = timedelta(minutes=1)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[AdminUser] = relationship()

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def record(self, now: datetime, max_failures: int = 5, max_lock_minutes: int = 15) -> None:
        """Count a wrong password; past the allowance this network waits, longer each time."""
        if self.last_at is not None and now - self.last_at > self.WINDOW:
            self.failures, self.first_at, self.locked_until = 0, now, None
        self.failures = (self.failures or 0) + 1
        self.first_at = self.first_at or now
        self.last_at = now
        if self.failures >= max_failures:
            lock = self.FIRST_LOCK * 2 ** min(self.failures - max_failures, 20)
            self.locked_until = now + min(lock, timedelta(minutes=max_lock_minutes))
