"""The admin area: one blueprint under /admin, one sign-in guard for all of it.

The shell (sign-in, dashboard, content overview, audit log, outbox, privacy, site settings) lives here; each
feature's admin screens live with the feature (blueprints/<feature>/admin.py) and register on
this blueprint, so they share its guard, its rate limit and its `admin.*` endpoint names.
"""
import time

from flask import Blueprint, current_app, g, request, session
from flask_login import current_user, login_fresh, logout_user

from extensions import db, login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Further than any admin list goes; a larger ?page= would overflow the database's OFFSET (a 500).
MAX_PAGE = 100_000

# The session key holding when the consultant signed in (epoch seconds), for the absolute lifetime.
SIGNED_IN_AT = "signed_in_at"

# Endpoints anyone may reach; every other /admin endpoint requires a signed-in consultant.
PUBLIC_ENDPOINTS = {"admin.login", "admin.login_code", "admin.password_forgot", "admin.password_reset"}


@bp.before_request
def require_login():
    """One guard for the whole area, so a new admin route cannot be left open by mistake."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not login_fresh():
        # Flask-Login only marks a *permanent* session non-fresh when the browser's address or
        # user agent changes (its "strong" mode applies to non-permanent sessions); a cookie
        # replayed from elsewhere is treated as signed out.
        logout_user()
        session.clear()
        return login_manager.unauthorized()
    if session_too_old():
        # The idle expiry alone lets a session kept busy (or a stolen cookie kept warm) live for ever.
        logout_user()
        session.clear()
        return login_manager.unauthorized()
    row = g.get("admin_session")  # set by the user loader: this sign-in's row (models/account.py)
    if row is not None and row.touch():
        db.session.commit()  # "last seen" on the Account page, written at most once a minute
    return None


def session_too_old() -> bool:
    """Signed in longer ago than ADMIN_SESSION_MAX_HOURS, or at an unknown time (a session from before the limit)."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, (int, float)):
        return True
    max_age = current_app.config.get("ADMIN_SESSION_MAX_HOURS", 12) * 3600
    return not 0 <= time.time() - signed_in_at <= max_age


def paginate(query, per_page: int):
    """db.paginate at ?page=: nonsense or < 1 is page 1, past the end an empty page, never a 500."""
    page = min(request.args.get("page", 1, type=int), MAX_PAGE)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# The admin shell's own screens, then each feature's admin screens, which live with the feature.
from blueprints.admin import account, archive, exports, images, outbox, privacy, routes, search, settings, stats  # noqa: E402,F401
from blueprints.blog import admin as blog_admin  # noqa: E402,F401
from blueprints.blog.wordpress import admin as wordpress_admin  # noqa: E402,F401
from blueprints.cases import admin as cases_admin  # noqa: E402,F401
from blueprints.enquiries import admin as enquiries_admin  # noqa: E402,F401
from blueprints.invoices import admin as invoices_admin  # noqa: E402,F401
from blueprints.site import admin as site_admin  # noqa: E402,F401
from blueprints.training import admin as training_admin  # noqa: E402,F401
