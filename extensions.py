"""Every extension instance lives here, so nothing needs to import the app."""
from __future__ import annotations

import ipaddress

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from mail.transport import Mail  # Flask-Mail's, set up for the outbox

# Stable constraint names, so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_address() -> str:
    """Who a rate limit counts: an IPv4 address, or an IPv6 client's /64 (see client_network).

    ProxyFix (set up from PROXY_COUNT) has already made the address trustworthy.
    """
    return client_network(request.remote_addr or "unknown")


def client_network(address: str) -> str:
    """An IPv4 address as it is, an IPv6 address as its /64: one IPv6 subscriber or host gets a whole /64 and
    can pick any address in it, so counting addresses would count nothing. Rate limits and visit statistics."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 from a dual-stack socket is that IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
mail = Mail()
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"
limiter = Limiter(key_func=client_address)


@login_manager.user_loader
def load_user(user_id: str):
    """The id carries the user's session token, so rotating the token ends every session of the account;
    the Flask session also names its own sign-in (models/account.py AdminSession), which can be ended alone."""
    from flask import g, session

    from models import AdminSession, AdminUser  # models import `db` from here
    from models.account import SESSION_KEY

    pk, _, token = user_id.partition(":")
    if not pk.isdigit() or not token or len(pk) > 12:
        return None
    user = db.session.get(AdminUser, int(pk))
    if user is None or user.session_token != token:
        return None
    row = AdminSession.find_live(user.id, session.get(SESSION_KEY))
    if row is None:
        return None
    g.admin_session = row
    return user
