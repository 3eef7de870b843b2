"""The consultant's admin accounts."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column
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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self) -> None:
        self.session_token = secrets.token_hex(16)

    # --- sign-in lockout: rules that guard the account live next to it ---------------------

    def is_locked(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.locked_until is not None and self.locked_until > now

    def record_failed_login(self, max_failures: int = 5, lock_minutes: int = 15, now: datetime | None = None) -> None:
        """Count a wrong password; the account locks for a while once there are too many in a row."""
        now = now or utcnow()
        if self.locked_until is not None and self.locked_until <= now:
            self.failed_logins = 0  # an old lock has lifted: start counting afresh
            self.locked_until = None
        self.failed_logins = (self.failed_logins or 0) + 1
        if self.failed_logins >= max_failures:
            self.locked_until = now + timedelta(minutes=lock_minutes)

    def record_login(self, now: datetime | None = None) -> None:
        self.failed_logins = 0
        self.locked_until = None
        self.last_login_at = now or utcnow()
