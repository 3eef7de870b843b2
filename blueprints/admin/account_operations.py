"""Account security workflows: finishing a sign-in (with its second step), two-factor codes, emailed password
links, other admins, and the sessions list. Shared by the admin views and `flask admin …`.

Functions flush at most; the view or command commits once, with the audit entry.
"""
from __future__ import annotations

import hmac
import time
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app, g, render_template, request, session, url_for
from flask_login import login_user
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update

from extensions import db
from mail.compose import queue_email
from models import AdminSession, AdminToken, AdminUser, AuditLog, LoginFailure, RecoveryCode, utcnow
from models.account import SESSION_KEY

# --- finishing a sign-in ---------------------------------------------------------------------------

# The session key of a sign-in whose password was right and whose code is still to come.
PENDING = "pending_2fa"
PENDING_SECONDS = 300  # the code must follow the password within five minutes
PENDING_TRIES = 5  # wrong codes before the password has to be typed again
STEP = 30  # seconds per TOTP code
clock = time.time  # the codes' clock (tests move it without touching the session signatures')


def complete_sign_in(user: AdminUser, *, second_factor: str | None = None) -> AdminSession:
    """Sign in now: a fresh Flask session, its own AdminSession row, the audit entry. The caller commits."""
    from blueprints.admin import SIGNED_IN_AT

    # A fresh session at sign-in, so an identifier planted before login is worthless.
    session.clear()
    row, token = AdminSession.begin(user, request.user_agent.string, request.remote_addr)
    login_user(user)
    session.permanent = True  # expires after SESSION_IDLE_MINUTES without a request
    session[SIGNED_IN_AT] = int(time.time())  # and ADMIN_SESSION_MAX_HOURS after this, however busy
    session[SESSION_KEY] = token
    g.admin_session = row
    detail = {"second_factor": second_factor} if second_factor else {}
    AuditLog.record(user, "admin.login", **detail)
    return row


def begin_second_step(user: AdminUser, target: str) -> None:
    """The password was right: remember that (not signed in) until the code comes."""
    session.clear()
    session[PENDING] = {"user": user.id, "token": user.session_token, "at": int(time.time()), "next": target,
                        "tries": 0}


def pending_user() -> AdminUser | None:
    """The account waiting for its code, if the password was typed recently (and nothing changed since)."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    if not 0 <= time.time() - (pending.get("at") or 0) <= PENDING_SECONDS:
        return None
    user = db.session.get(AdminUser, pending["user"])
    if user is None or user.session_token != pending.get("token") or not user.two_factor_enabled:
        return None
    return user


def pending_next() -> str:
    pending = session.get(PENDING)
    return pending.get("next") or "" if isinstance(pending, dict) else ""


def count_wrong_code() -> bool:
    """One more wrong code; True when the sign-in has to start again from the password."""
    pending = dict(session.get(PENDING) or {})
    pending["tries"] = int(pending.get("tries") or 0) + 1
    if pending["tries"] >= PENDING_TRIES:
        session.pop(PENDING, None)
        return True
    session[PENDING] = pending
    return False


# --- codes -------------------------------------------------------------------------------------------

def _step(now: float | None = None) -> int:
    return int((clock() if now is None else now) // STEP)


def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")


def totp_step_matching(secret: str, code: str, now: float | None = None) -> int | None:
    """The step whose code this is: the current one, or the one before (a code typed as it rolled over)."""
    code = _digits(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = _step(now)
    for step in (current, current - 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def use_totp(user: AdminUser, code: str, now: float | None = None) -> bool:
    """A right code for a step later than the last one used: each code works once, also from two requests at once."""
    if not user.two_factor_enabled:
        return False
    step = totp_step_matching(user.totp_secret, code, now)
    if step is None:
        return False
    result = db.session.execute(
        update(AdminUser).where(AdminUser.id == user.id,
                                or_(AdminUser.totp_last_step.is_(None), AdminUser.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    user.totp_last_step = step
    return True


def use_second_factor(user: AdminUser, code: str) -> str | None:
    """"totp" or "recovery code" when the code signs in (and is used up), None otherwise."""
    if len(code or "") > 40:
        return None
    digits = _digits(code)
    if digits.isascii() and digits.isdigit():
        return "totp" if use_totp(user, digits) else None
    return "recovery code" if RecoveryCode.redeem(user, code) else None


def record_wrong_code(user: AdminUser) -> None:
    """A wrong code counts like a wrong password against this network (the same slowdown), and is committed."""
    from blueprints.admin.operations import _record_failure
    from models.users import client_network

    _record_failure(user, client_network(request.remote_addr), utcnow())


def network_waiting(user: AdminUser) -> bool:
    from models.users import client_network

    failure = db.session.scalar(select(LoginFailure).where(LoginFailure.user_id == user.id,
                                                           LoginFailure.network == client_network(request.remote_addr)))
    return failure is not None and failure.is_locked(utcnow())


# --- setting up two-factor sign-in ------------------------------------------------------------------

def issuer() -> str:
    return current_app.config.get("SITE_NAME") or "Portico"


def provisioning_uri(user: AdminUser) -> str:
    return pyotp.TOTP(user.totp_pending_secret).provisioning_uri(name=user.email, issuer_name=issuer())


def qr_svg(data: str) -> Markup:
    """The QR code as inline SVG (no image request, no script): dark modules on white, scaled by CSS."""
    qr = segno.make(data, error="m")
    svg = qr.svg_inline(scale=4, dark="#000", light="#fff", title="QR code of the authenticator setup key",
                        svgclass="qr-code", lineclass=None, omitsize=True)
    # segno writes only its own markup (paths, a fixed title): the data is encoded in the modules, never echoed.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704  (named by its <title>)


def start_setup(user: AdminUser) -> None:
    """A new secret to scan; the one in use (if any) keeps working until the new one is confirmed."""
    user.totp_pending_secret = pyotp.random_base32()
    AuditLog.record(user, "account.2fa_setup", user)


def confirm_setup(user: AdminUser, code: str, current: AdminSession | None) -> list[str] | None:
    """Turn the new secret on when the code is right; the recovery codes to show once (new ones the first time)."""
    if not user.totp_pending_secret:
        return None
    step = totp_step_matching(user.totp_pending_secret, code)
    if step is None:
        return None
    first = not user.two_factor_enabled
    user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step  # this code has been used
    codes = RecoveryCode.replace_all(user) if first else []
    # A session opened before the second factor (perhaps not by its owner) should not outlive it.
    AdminSession.end_all(user, keep=current)
    AuditLog.record(user, "account.2fa_enable" if first else "account.2fa_change", user)
    return codes


def disable_two_factor(user: AdminUser, actor: AdminUser | None, action: str = "account.2fa_disable") -> None:
    user.totp_secret = user.totp_pending_secret = None
    user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    AuditLog.record(actor, action, user, email=user.email)


def regenerate_codes(user: AdminUser) -> list[str]:
    codes = RecoveryCode.replace_all(user)
    AuditLog.record(user, "account.recovery_codes", user)
    return codes


def reset_two_factor(user: AdminUser) -> None:
    """`flask admin reset-2fa`: the owner lost the authenticator and the codes; every session ends too."""
    disable_two_factor(user, None, "account.2fa_reset")
    user.rotate_session_token()


# --- emailed password links -------------------------------------------------------------------------

def _link_lifetime(purpose: str) -> timedelta:
    config = current_app.config
    if purpose == AdminToken.INVITE:
        return timedelta(hours=config.get("ADMIN_INVITE_HOURS", 72))
    return timedelta(minutes=config.get("ADMIN_RESET_MINUTES", 30))


def _link_context(token: str, purpose: str) -> dict:
    lifetime = _link_lifetime(purpose)
    return {"link": url_for("admin.password_reset", token=token, _external=True),
            "minutes": int(lifetime.total_seconds() // 60), "hours": int(lifetime.total_seconds() // 3600)}


RESETS_PER_HOUR = 3  # emails to one account per hour, whoever asks


def request_password_reset(email: str, now: datetime | None = None) -> None:
    """Email a reset link if the address is an admin's; the same work and answer when it is not."""
    now = now or utcnow()
    email = (email or "").strip().lower()
    user = db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email)) if email else None
    recent = 0
    if user is not None:
        recent = db.session.scalar(select(func.count()).select_from(AdminToken).where(
            AdminToken.user_id == user.id, AdminToken.purpose == AdminToken.RESET,
            AdminToken.created_at > now - timedelta(hours=1))) or 0
    if user is None or recent >= RESETS_PER_HOUR:
        # Render the email all the same (the costly part), so the answer takes the time a real one does.
        context = _link_context(pyotp.random_base32(), AdminToken.RESET)
        for suffix in ("subject.txt", "txt", "html"):
            render_template(f"email/admin_password_reset.{suffix}", email=email, site_name=issuer(), **context)
        return
    token = AdminToken.issue(user, AdminToken.RESET, _link_lifetime(AdminToken.RESET), now)
    queue_email("admin_password_reset", to=user.email, related=f"admin:{user.id}", email=user.email,
                **_link_context(token, AdminToken.RESET))
    AuditLog.record(None, "account.password_reset_requested", user, email=user.email)


def set_password_from_link(link: AdminToken, password: str) -> AdminUser | None:
    """Set the password once per link; every session of the account ends (a reset is often after a theft)."""
    if not link.use():
        return None
    user = link.user
    user.set_password(password)
    user.rotate_session_token()
    db.session.execute(delete(LoginFailure).where(LoginFailure.user_id == user.id))
    AuditLog.record(user, "account.password_set" if link.purpose == AdminToken.INVITE else "account.password_reset",
                    user)
    return user


# --- other admins -----------------------------------------------------------------------------------

class AccountError(Exception):
    """An account change that is not allowed (the message says why)."""


def invite_admin(actor: AdminUser, email: str) -> AdminUser:
    email = (email or "").strip().lower()
    if db.session.scalar(select(AdminUser.id).where(func.lower(AdminUser.email) == email)) is not None:
        raise AccountError("There is already an admin with this address.")
    user = AdminUser(email=email, invited_by_id=actor.id)
    user.set_unusable_password()
    db.session.add(user)
    db.session.flush()
    token = AdminToken.issue(user, AdminToken.INVITE, _link_lifetime(AdminToken.INVITE))
    queue_email("admin_invite", to=user.email, related=f"admin:{user.id}", email=user.email, inviter=actor.email,
                **_link_context(token, AdminToken.INVITE))
    AuditLog.record(actor, "account.admin_invite", user, email=user.email)
    return user


def can_remove(actor: AdminUser, user: AdminUser) -> str | None:
    """Why this admin cannot be removed by this one, or None."""
    if user.id == actor.id:
        return "You cannot remove your own account."
    if (db.session.scalar(select(func.count()).select_from(AdminUser)) or 0) <= 1:
        return "The last admin account cannot be removed."
    return None


def remove_admin(actor: AdminUser, user: AdminUser) -> None:
    reason = can_remove(actor, user)
    if reason:
        raise AccountError(reason)
    AuditLog.record(actor, "account.admin_remove", user, email=user.email)
    db.session.delete(user)  # its links, codes and sessions go with it (ON DELETE CASCADE)


def end_other_sessions(user: AdminUser, current: AdminSession | None) -> int:
    ended = AdminSession.end_all(user, keep=current)
    AuditLog.record(user, "account.sessions_end", user, ended=ended)
    return ended


def live_sessions(user: AdminUser) -> list[AdminSession]:
    config = current_app.config
    idle = config["PERMANENT_SESSION_LIFETIME"]
    idle = idle if isinstance(idle, timedelta) else timedelta(seconds=idle)
    max_age = timedelta(hours=config.get("ADMIN_SESSION_MAX_HOURS", 12))
    return list(db.session.scalars(AdminSession.live_query(user, idle, max_age)))
